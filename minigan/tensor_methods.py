"""Where Tensor gets its operators and methods.

autograd.py defines Tensor without arithmetic, because arithmetic lives in ops/,
and ops/ need Tensor. Rather than scatter local imports, this module binds every
operator and method onto Tensor in one visible place; ``minigan/__init__.py``
imports it once, right after ``minigan.ops``.
"""
from __future__ import annotations

from . import backend, ops
from .autograd import Tensor


def _compare(symbol, op):
    def method(self, other):  # comparisons give data (bool tensors), never gradients
        other = other.data if isinstance(other, Tensor) else other
        if hasattr(other, "shape"):  # an array: both sides must live on one backend
            backend.check_same_backend(f"comparison {symbol}", [self.data, other])
        return Tensor(op(self.data, other))

    return method


def _reflected(fn):
    return lambda self, other: fn(other, self)


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

    for name in ("exp", "log", "log1p", "sqrt", "abs", "sum", "mean", "max", "min", "var", "clip",
                 "relu", "sigmoid", "tanh", "softplus", "astype", "to", "broadcast_to", "sum_to",
                 "permute", "logsumexp", "matmul"):
        setattr(T, name, getattr(ops, name))
    T.reshape = ops.reshape
    T.transpose = ops.transpose
    T.pow = ops.pow
    T.T = property(lambda self: ops.transpose(self))


_bind()
