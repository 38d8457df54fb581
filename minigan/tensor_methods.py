"""Where Tensor gets its operators and methods.

autograd.py defines Tensor without arithmetic, because arithmetic lives in ops/,
and ops/ need Tensor. Rather than scatter local imports, this module binds every
operator and method onto Tensor in one visible place; ``minigan/__init__.py``
imports it once, right after ``minigan.ops``.
"""
from __future__ import annotations

import numpy

from . import backend, ops
from .autograd import Config, Tensor, no_grad


def _compare(symbol, op):
    def method(self, other):  # comparisons give data (bool tensors), never gradients
        other = other.data if isinstance(other, Tensor) else other
        if hasattr(other, "shape"):  # an array: both sides must live on one backend
            backend.check_same_backend(f"comparison {symbol}", [self.data, other])
        return Tensor(op(self.data, other))

    return method


def _reflected(fn):
    return lambda self, other: fn(other, self)


def _inplace(op, symbol):
    """``x op= other``, as PyTorch's in-place operators behave, in three cases:

    * nothing is recorded (no gradient involved, or inside ``no_grad()``): the result is
      written into x's own array and x is returned. Without this, Python would fall back
      to ``x = x op other`` and ``for p in params: p -= lr * p.grad`` would rebind the
      loop variable and leave every parameter unchanged;
    * x is a leaf that requires grad (a parameter) and gradients are recorded: refused,
      as in PyTorch, because the graph would lose the value it recorded;
    * otherwise (``loss += term`` while building a graph) the op is recorded and its
      result, a new Tensor, is bound to the name: the same as ``loss = loss + term``.
    """
    def method(self, other):
        other_grad = isinstance(other, Tensor) and other.requires_grad
        if Config.grad_enabled and (self.requires_grad or other_grad):
            if self.requires_grad and self.creator is None:
                raise RuntimeError(
                    f"in-place {symbol}= on a leaf tensor that requires grad while gradients are recorded; "
                    f"for an update write `with minigan.no_grad(): p {symbol}= ...` (as in PyTorch), "
                    f"for a new tensor in the graph write `x = x {symbol} ...`"
                )
            return op(self, other)
        with no_grad():
            result = op(self, other).data
        if result.shape != self.data.shape:
            raise ValueError(f"in-place {symbol}=: the result has shape {result.shape}, the tensor {self.shape}; "
                             "an in-place op cannot change a tensor's shape")
        if not numpy.can_cast(result.dtype, self.data.dtype, casting="same_kind"):
            raise TypeError(f"in-place {symbol}=: the result is {result.dtype}, which cannot be stored in this "
                            f"{self.data.dtype} tensor; write `x = x {symbol} ...` for a new tensor")
        self.data[...] = result
        self._bump_version()  # a graph that saved x would otherwise differentiate at the new values
        return self

    return method


def _cast(dtype):
    return lambda self: ops.astype(self, dtype)


def _clamp(self, min=None, max=None):  # noqa: A002 - PyTorch's argument names
    """PyTorch's clamp(min=, max=): ``clip(x, lo, hi)``."""
    return ops.clip(self, min, max)


def _t(self):
    """PyTorch's ``t()``: the transpose of a tensor with at most 2 dims."""
    if self.ndim > 2:
        raise ValueError(f"t: expects a tensor with at most 2 dims, got shape {self.shape}; use permute()")
    return ops.transpose(self)


# PyTorch spellings minigan does not have, with the minigan way (an AttributeError with a hint
# instead of a bare one); docs/coming-from-pytorch.md lists them all.
_TORCH_HINTS = {
    "cuda": "x.to('cupy')",
    "cpu": "x.to('numpy')",
    "type": "x.astype(numpy.float64)",
    "new_zeros": "minigan.zeros(*size, dtype=x.dtype)",
    "new_ones": "minigan.ones(*size, dtype=x.dtype)",
    "masked_fill": "minigan.where(mask, value, x)",
    "norm": "(x * x).sum().sqrt()",
    "repeat": "minigan.cat([x] * n, dim=d)",
    "expand": "x.broadcast_to(shape)",
    "expand_as": "x.broadcast_to(other.shape)",
    "zero_": "with minigan.no_grad(): x *= 0  (or p.grad = None, as zero_grad does)",
    "fill_": "with minigan.no_grad(): x.data[...] = value",
    "copy_": "with minigan.no_grad(): x.data[...] = other.data",
    "add_": "with minigan.no_grad(): x += other",
    "sub_": "with minigan.no_grad(): x -= other",
    "mul_": "with minigan.no_grad(): x *= other",
    "div_": "with minigan.no_grad(): x /= other",
    "eq": "x == other",
    "data_ptr": "x.data (the NumPy or CuPy array itself)",
}


def _missing(self, name):
    hint = _TORCH_HINTS.get(name)
    if hint is None:
        raise AttributeError(f"'Tensor' object has no attribute {name!r}")
    raise AttributeError(f"Tensor has no {name!r} (a PyTorch name); in minigan write {hint}")


def _bind():
    T = Tensor
    T.__add__ = ops.add
    T.__radd__ = _reflected(ops.add)
    T.__sub__ = ops.sub
    T.__rsub__ = _reflected(ops.sub)
    T.__mul__ = ops.mul
    T.__rmul__ = _reflected(ops.mul)
    T.__truediv__ = ops.div
    T.__rtruediv__ = _reflected(ops.div)
    T.__neg__ = ops.neg
    T.__pow__ = ops.pow
    T.__rpow__ = lambda self, other: ops.pow(ops.as_tensor(other, self), self)
    T.__matmul__ = ops.matmul
    T.__rmatmul__ = _reflected(ops.matmul)
    T.__getitem__ = ops.getitem
    T.__lt__ = _compare("<", lambda a, b: a < b)
    T.__le__ = _compare("<=", lambda a, b: a <= b)
    T.__gt__ = _compare(">", lambda a, b: a > b)
    T.__ge__ = _compare(">=", lambda a, b: a >= b)
    T.__eq__ = _compare("==", lambda a, b: a == b)
    T.__ne__ = _compare("!=", lambda a, b: a != b)
    T.__abs__ = ops.abs
    T.__iadd__ = _inplace(ops.add, "+")
    T.__isub__ = _inplace(ops.sub, "-")
    T.__imul__ = _inplace(ops.mul, "*")
    T.__itruediv__ = _inplace(ops.div, "/")

    for name in ("exp", "log", "log1p", "sqrt", "abs", "sum", "mean", "max", "min", "var", "clip",
                 "relu", "sigmoid", "tanh", "softplus", "astype", "to", "broadcast_to", "sum_to",
                 "permute", "logsumexp", "matmul", "std", "argmax", "argmin", "view", "squeeze", "unsqueeze",
                 "flatten", "clone", "softmax", "log_softmax"):
        setattr(T, name, getattr(ops, name))
    # PyTorch's spellings of facts NumPy spells otherwise (``size`` stays NumPy's int)
    T.numel = lambda self: self.data.size
    T.dim = lambda self: self.data.ndim
    T.float = _cast(numpy.float32)
    T.double = _cast(numpy.float64)
    T.clamp = _clamp
    T.t = _t
    T.mm = ops.matmul
    T.grad_fn = property(lambda self: self.creator)  # PyTorch's name for the Function that made a tensor
    T.__getattr__ = _missing
    T.reshape = ops.reshape
    T.transpose = ops.transpose
    T.pow = ops.pow
    T.T = property(lambda self: ops.transpose(self))


_bind()
