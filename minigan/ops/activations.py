"""Activations and the softmax family, written to stay finite for logits up to |a| = 1e4.

The trick throughout: never form exp(a) for large positive a. With e = exp(-|a|) <= 1,
  sigmoid(a)     = 1 / (1 + e)            if a >= 0,   e / (1 + e)       if a < 0
  softplus(a)    = max(a, 0) + log1p(e)   (= log(1 + exp(a)))
  log_sigmoid(a) = -softplus(-a)          = min(a, 0) - log1p(e)
"""
from __future__ import annotations

from .. import backend
from ..autograd import Function, Tensor
from ..backend import Array
from .arithmetic import exp
from .reductions import sum as reduce_sum


def _sigmoid_array(x):
    """sigmoid(x) = exp(min(x, 0)) / (1 + exp(-|x|)): 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0
    with e = exp(-|x|) <= 1, in one expression. Choosing between the two forms with ``where`` would
    branch on the sign of every element, which on mixed signs (G's output layer) costs three times
    as much as the second exp."""
    xp = backend.array_module(x)
    denominator = xp.abs(x, out=xp.empty_like(x))  # out=: an array even for 0-d x
    xp.negative(denominator, out=denominator)
    xp.exp(denominator, out=denominator)
    denominator += 1
    y = xp.minimum(x, 0, out=xp.empty_like(x))
    xp.exp(y, out=y)
    y /= denominator
    return y


class ReLU(Function):
    """y = max(x, 0).   dL/dx = g * [x > 0]."""

    def forward(self, x) -> Array:
        return backend.array_module(x).maximum(x, 0)

    def backward(self, gy) -> Tensor:
        return gy * Tensor((self.inputs[0].data > 0).astype(gy.dtype))


class LeakyReLU(Function):
    """y = x if x > 0 else s x.   dL/dx = g * (1 if x > 0 else s).

    Both passes avoid ``where`` on a data-dependent mask, which NumPy evaluates with a branch
    per element and runs ~10x slower on mixed signs (DCGAN's D applies this to 800,000 values
    six times an iteration): for s <= 1 the forward is max(x, s x) (min for s > 1), and the
    backward's factor is s + (1 - s) [x > 0].
    """

    slope: float  # the slope for x < 0

    def forward(self, x) -> Array:
        xp = backend.array_module(x)
        y = xp.multiply(x, x.dtype.type(self.slope), out=xp.empty_like(x))  # s x (an array even for 0-d x)
        return (xp.maximum if self.slope <= 1.0 else xp.minimum)(x, y, out=y)

    def backward(self, gy) -> Tensor:
        x = self.inputs[0].data
        # asarray, not astype: for a 0-d x, (x > 0) is a NumPy scalar, which Tensor() would read as
        # a Python float and round to float32 (the slope 0.01 to 0.0099999998 in a float64 graph)
        factor = backend.array_module(x).asarray(x > 0, dtype=gy.dtype)
        factor *= 1.0 - self.slope
        factor += self.slope
        return gy * Tensor(factor)


class Sigmoid(Function):
    """y = 1 / (1 + e^-x).   dL/dx = g * y (1 - y)."""

    def forward(self, x) -> Array:
        return _sigmoid_array(x)

    def backward(self, gy) -> Tensor:
        y = self.output()
        return gy * y * (1.0 - y)


class Tanh(Function):
    """y = tanh x.   dL/dx = g * (1 - y^2)."""

    def forward(self, x) -> Array:
        return backend.array_module(x).tanh(x)

    def backward(self, gy) -> Tensor:
        y = self.output()
        return gy * (1.0 - y * y)


class Softplus(Function):
    """y = log(1 + e^x) = max(x, 0) + log1p(e^-|x|).   dL/dx = g * sigmoid(x)."""

    def forward(self, x) -> Array:
        xp = backend.array_module(x)
        return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, gy) -> Tensor:
        return gy * sigmoid(self.inputs[0])


class LogSigmoid(Function):
    """y = log sigmoid(x) = min(x, 0) - log1p(e^-|x|).   dL/dx = g * (1 - sigmoid(x)) = g * sigmoid(-x)."""

    def forward(self, x) -> Array:
        xp = backend.array_module(x)
        return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, gy) -> Tensor:
        return gy * sigmoid(-self.inputs[0])


class Softmax(Function):
    """y_i = e^{x_i} / sum_j e^{x_j} along an axis.   dL/dx = y * (g - sum(g * y))."""

    axis: int  # the axis the probabilities sum to 1 along (non-negative)

    def forward(self, x) -> Array:
        xp = backend.array_module(x)
        e = xp.exp(x - x.max(axis=self.axis, keepdims=True))
        return e / e.sum(axis=self.axis, keepdims=True)

    def backward(self, gy) -> Tensor:
        y = self.output()
        return y * (gy - reduce_sum(gy * y, self.axis, keepdims=True))


class LogSoftmax(Function):
    """y = x - logsumexp(x) along an axis.   dL/dx = g - softmax(x) * sum(g)."""

    axis: int  # the axis of the logsumexp (non-negative)

    def forward(self, x) -> Array:
        xp = backend.array_module(x)
        shifted = x - x.max(axis=self.axis, keepdims=True)
        return shifted - xp.log(xp.exp(shifted).sum(axis=self.axis, keepdims=True))

    def backward(self, gy) -> Tensor:
        return gy - exp(self.output()) * reduce_sum(gy, self.axis, keepdims=True)


def relu(x) -> Tensor:
    return ReLU.apply(x)


def leaky_relu(x, negative_slope=0.01) -> Tensor:
    return LeakyReLU.apply(x, slope=float(negative_slope))


def sigmoid(x) -> Tensor:
    return Sigmoid.apply(x)


def tanh(x) -> Tensor:
    return Tanh.apply(x)


def softplus(x) -> Tensor:
    return Softplus.apply(x)


def log_sigmoid(x) -> Tensor:
    return LogSigmoid.apply(x)


def _check_axis(name, x, axis):
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{name}: axis {axis} out of range for shape {x.shape}")
    return axis % x.ndim


def _axis_or_dim(name, axis, dim):
    if dim is None:
        return -1 if axis is None else axis
    if axis is not None:
        raise TypeError(f"{name}: give axis= (NumPy) or dim= (PyTorch), not both")
    return dim


def softmax(x, axis=None, *, dim=None) -> Tensor:
    """exp(x) / sum exp(x) along ``axis`` (or PyTorch's ``dim``), the last one by default."""
    return Softmax.apply(x, axis=_check_axis("softmax", x, _axis_or_dim("softmax", axis, dim)))


def log_softmax(x, axis=None, *, dim=None) -> Tensor:
    """x - logsumexp(x) along ``axis`` (or PyTorch's ``dim``), the last one by default."""
    return LogSoftmax.apply(x, axis=_check_axis("log_softmax", x, _axis_or_dim("log_softmax", axis, dim)))


__all__ = [
    "relu", "leaky_relu", "sigmoid", "tanh", "softplus", "log_sigmoid", "softmax", "log_softmax",
]
