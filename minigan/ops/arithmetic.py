"""Elementwise arithmetic: + - * / negation, powers, exp/log family, abs, maximum/minimum,
where, clip, and the two conversions (dtype, backend).

Binary ops broadcast like NumPy. Their backward therefore ends with ``sum_to``: a
gradient that flowed into a broadcast copy is summed back to the input's own shape.
"""
from __future__ import annotations

import numbers

import numpy

from .. import backend
from ..autograd import Function, Tensor
from .shape import sum_to


def as_tensor(x, like: Tensor | None = None) -> Tensor:
    """A Tensor for x; Python numbers take the dtype and backend of ``like`` (no float32 -> 64 upcast)."""
    if isinstance(x, Tensor):
        return x
    if like is not None and isinstance(x, numbers.Number):
        # full() writes the number from a kernel argument: on CuPy no host-to-device copy
        xp = backend.array_module(like.data)
        return Tensor(xp.full((), x, dtype=like.data.dtype))
    return Tensor(x)


def _as_tensors(a, b):
    """Both operands as Tensors: a constant (array or number) is wrapped like the Tensor beside it."""
    a = a if isinstance(a, Tensor) else as_tensor(a, b if isinstance(b, Tensor) else None)
    b = b if isinstance(b, Tensor) else as_tensor(b, a)
    return a, b


class Add(Function):
    """y = a + b.   dL/da = sum_to(g), dL/db = sum_to(g)."""

    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        a, b = self.inputs
        return sum_to(gy, a.shape), sum_to(gy, b.shape)


class Sub(Function):
    """y = a - b.   dL/da = sum_to(g), dL/db = -sum_to(g)."""

    def forward(self, a, b):
        return a - b

    def backward(self, gy):
        a, b = self.inputs
        return sum_to(gy, a.shape), sum_to(-gy, b.shape)


class Mul(Function):
    """y = a * b.   dL/da = sum_to(g * b), dL/db = sum_to(g * a)."""

    def forward(self, a, b):
        return a * b

    def backward(self, gy):
        a, b = self.inputs
        ga = sum_to(gy * b, a.shape) if self.needs_grad[0] else None
        gb = sum_to(gy * a, b.shape) if self.needs_grad[1] else None
        return ga, gb


class Div(Function):
    """y = a / b.   dL/da = sum_to(g / b), dL/db = sum_to(-g * a / b^2)."""

    def forward(self, a, b):
        return a / b

    def backward(self, gy):
        a, b = self.inputs
        ga = sum_to(gy / b, a.shape) if self.needs_grad[0] else None
        gb = sum_to(-gy * a / (b * b), b.shape) if self.needs_grad[1] else None
        return ga, gb


class AddScalar(Function):
    """y = x + c for a Python number c.   dL/dx = g."""

    c: float  # the Python number added

    def forward(self, x):
        return x + self.c

    def backward(self, gy):
        return gy


class RSubScalar(Function):
    """y = c - x for a Python number c.   dL/dx = -g."""

    c: float  # the Python number x is subtracted from

    def forward(self, x):
        return self.c - x

    def backward(self, gy):
        return -gy


class MulScalar(Function):
    """y = c x for a Python number c.   dL/dx = c g."""

    c: float  # the Python number x is multiplied by

    def forward(self, x):
        return x * self.c

    def backward(self, gy):
        return gy * self.c


class DivScalar(Function):
    """y = x / c for a Python number c.   dL/dx = g / c."""

    c: float  # the Python number x is divided by

    def forward(self, x):
        return x / self.c

    def backward(self, gy):
        return gy / self.c


class RDivScalar(Function):
    """y = c / x for a Python number c.   dL/dx = -g c / x^2."""

    c: float  # the Python number divided by x

    def forward(self, x):
        return self.c / x

    def backward(self, gy):
        (x,) = self.inputs
        return gy * (-self.c) / (x * x)


class Neg(Function):
    """y = -x.   dL/dx = -g."""

    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class PowScalar(Function):
    """y = x^c for a constant c.   dL/dx = g * c * x^(c-1)."""

    c: float  # the exponent

    def forward(self, x):
        return x ** self.c

    def backward(self, gy):
        (x,) = self.inputs
        if self.c == 2:
            return gy * x * 2.0
        return gy * self.c * x ** (self.c - 1)


class Pow(Function):
    """y = a^b, both tensors (a > 0 where b is differentiated).
    dL/da = sum_to(g * b * a^(b-1)),  dL/db = sum_to(g * y * log a)."""

    def forward(self, a, b):
        return a ** b

    def backward(self, gy):
        a, b = self.inputs
        ga = sum_to(gy * b * a ** (b - 1.0), a.shape) if self.needs_grad[0] else None
        gb = sum_to(gy * self.output() * log(a), b.shape) if self.needs_grad[1] else None
        return ga, gb


class Exp(Function):
    """y = e^x.   dL/dx = g * y."""

    def forward(self, x):
        return backend.array_module(x).exp(x)

    def backward(self, gy):
        return gy * self.output()


class Log(Function):
    """y = log x.   dL/dx = g / x."""

    def forward(self, x):
        return backend.array_module(x).log(x)

    def backward(self, gy):
        return gy / self.inputs[0]


class Log1p(Function):
    """y = log(1 + x), accurate for small x.   dL/dx = g / (1 + x)."""

    def forward(self, x):
        return backend.array_module(x).log1p(x)

    def backward(self, gy):
        return gy / (self.inputs[0] + 1.0)


class Sqrt(Function):
    """y = sqrt(x).   dL/dx = g / (2 y)."""

    def forward(self, x):
        return backend.array_module(x).sqrt(x)

    def backward(self, gy):
        return gy / (self.output() * 2.0)


class Abs(Function):
    """y = |x|.   dL/dx = g * sign(x) (0 at the kink x = 0)."""

    def forward(self, x):
        return backend.array_module(x).abs(x)

    def backward(self, gy):
        x = self.inputs[0].data
        return gy * Tensor(backend.array_module(x).sign(x))


def _split_at_ties(gy, a, b, a_wins):
    """(dL/da, dL/db) of max(a, b) or min(a, b): a's share s of g is 1 where a wins, 1/2 at a tie,
    else 0, and b gets 1 - s; each summed back to its input's shape."""
    xp = backend.array_module(a_wins)
    share_a = Tensor(xp.where(a.data == b.data, 0.5, a_wins).astype(gy.dtype))
    return sum_to(gy * share_a, a.shape), sum_to(gy * (1.0 - share_a), b.shape)


class Maximum(Function):
    """y = max(a, b) elementwise.
    dL/da = sum_to(g * s), dL/db = sum_to(g * (1 - s)), s = [a > b] + [a = b] / 2.

    At a tie a and b share g equally, as tied winners do in the max/min reductions and in
    maxout (and as in PyTorch), so that max(a, b) and max(b, a) have the same gradients.
    """

    def forward(self, a, b):
        return backend.array_module(a, b).maximum(a, b)

    def backward(self, gy):
        a, b = self.inputs
        return _split_at_ties(gy, a, b, a.data > b.data)


class Minimum(Function):
    """y = min(a, b) elementwise.
    dL/da = sum_to(g * s), dL/db = sum_to(g * (1 - s)), s = [a < b] + [a = b] / 2 (ties share g, as in Maximum)."""

    def forward(self, a, b):
        return backend.array_module(a, b).minimum(a, b)

    def backward(self, gy):
        a, b = self.inputs
        return _split_at_ties(gy, a, b, a.data < b.data)


class Where(Function):
    """y = cond ? a : b (cond is data, not differentiated).
    dL/da = sum_to(cond ? g : 0), dL/db = sum_to(cond ? 0 : g)."""

    cond: object  # boolean array (same backend as a and b): where y takes a

    def forward(self, a, b):
        return backend.array_module(a, b).where(self.cond, a, b)

    def backward(self, gy):
        a, b = self.inputs
        zero = Tensor(backend.array_module(gy.data).zeros((), gy.dtype))
        ga = sum_to(where(self.cond, gy, zero), a.shape) if self.needs_grad[0] else None
        gb = sum_to(where(self.cond, zero, gy), b.shape) if self.needs_grad[1] else None
        return ga, gb


class Clip(Function):
    """y = min(max(x, lo), hi).   dL/dx = g * [lo <= x <= hi]."""

    lo: float | None  # lower bound, or None for none
    hi: float | None  # upper bound, or None for none

    def forward(self, x):
        return backend.array_module(x).clip(x, self.lo, self.hi)

    def backward(self, gy):
        x = self.inputs[0].data
        inside = x == x  # all True, then narrowed by the bounds that are set
        if self.lo is not None:
            inside = inside & (x >= self.lo)
        if self.hi is not None:
            inside = inside & (x <= self.hi)
        return gy * Tensor(inside.astype(gy.dtype))


class Cast(Function):
    """y = x converted to another dtype.   dL/dx = g converted back to x's dtype."""

    dtype: object  # the dtype of y

    def forward(self, x):
        return x.astype(self.dtype)

    def backward(self, gy):
        return astype(gy, self.inputs[0].dtype)


class ToBackend(Function):
    """y = x copied to another backend (numpy <-> cupy).   dL/dx = g copied back."""

    target: str  # the backend y lives on: 'numpy' or 'cupy'

    def forward(self, x):
        return backend.to_backend(x, self.target)

    def backward(self, gy):
        return to(gy, self.inputs[0].backend)


# -- the user's face of this family -------------------------------------------------------

# A Python number meets a Tensor through the scalar ops above: no constant Tensor is built,
# and NumPy keeps the Tensor's dtype (a float32 tensor times 0.5 stays float32).
_SCALARS = (int, float)


def _binary(a, b, tensor_op, number_right, number_left):
    """a (op) b: ``number_right.apply(a, c=b)`` when b is a Python number, ``number_left.apply(b, c=a)``
    when a is, else ``tensor_op`` on the two as Tensors."""
    if type(b) in _SCALARS:
        return number_right.apply(a, c=b)
    if type(a) in _SCALARS:
        return number_left.apply(b, c=a)
    return tensor_op.apply(*_as_tensors(a, b))


def add(a, b):
    return _binary(a, b, Add, AddScalar, AddScalar)


def sub(a, b):
    if type(b) in _SCALARS:
        return AddScalar.apply(a, c=-b)  # a + (-c) is exactly a - c in IEEE arithmetic
    return _binary(a, b, Sub, None, RSubScalar)  # b is not a number here: no number_right needed


def mul(a, b):
    return _binary(a, b, Mul, MulScalar, MulScalar)


def div(a, b):
    return _binary(a, b, Div, DivScalar, RDivScalar)


def neg(x):
    return Neg.apply(x)


def pow(a, b):  # noqa: A001 - the op is called pow, as in PyTorch
    if isinstance(b, numbers.Number):
        return PowScalar.apply(a, c=b)
    return Pow.apply(*_as_tensors(a, b))


def exp(x):
    return Exp.apply(x)


def log(x):
    return Log.apply(x)


def log1p(x):
    return Log1p.apply(x)


def sqrt(x):
    return Sqrt.apply(x)


def abs(x):  # noqa: A001
    return Abs.apply(x)


def maximum(a, b):
    return Maximum.apply(*_as_tensors(a, b))


def minimum(a, b):
    return Minimum.apply(*_as_tensors(a, b))


def where(cond, a, b):
    """Elementwise choice: a where cond holds, else b (cond: bool array or Tensor)."""
    a, b = _as_tensors(a, b)
    cond = cond.data if isinstance(cond, Tensor) else cond
    if hasattr(cond, "shape"):  # an array: it must live where a and b do, like any op's input
        backend.check_same_backend("where", [cond, a.data, b.data])
    xp = backend.array_module(a.data, b.data)
    cond = xp.asarray(cond, dtype=bool)
    return Where.apply(a, b, cond=cond)


def clip(x, lo=None, hi=None):
    if lo is None and hi is None:
        raise ValueError("clip: give at least one of lo and hi")
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"clip: lo={lo} is greater than hi={hi}")
    return Clip.apply(x, lo=lo, hi=hi)


def astype(x, dtype):
    """x converted to ``dtype``. A cast to a floating type is differentiable; a cast to an
    integer or boolean type is a step function (zero derivative almost everywhere), so its
    result is a constant, cut from the graph, as in PyTorch."""
    x = as_tensor(x)
    if x.dtype == dtype:
        return x
    if numpy.dtype(dtype).kind != "f":
        return Tensor(x.data.astype(dtype))
    return Cast.apply(x, dtype=dtype)


def to(x, target: str):
    """Copy to backend ``target`` ('numpy' or 'cupy'); differentiable."""
    backend.module_for(target)
    x = as_tensor(x)
    if x.backend == target:
        return x
    return ToBackend.apply(x, target=target)
