"""Reductions: sum, mean, max, min, var over an axis (or all axes), with keepdims.

A reduction's backward spreads the output gradient back over the reduced axes:
evenly (sum: each input contributed with weight 1) or onto the winners (max/min).
"""
from __future__ import annotations

from .. import backend
from ..autograd import Function, Tensor
from .arithmetic import exp, log
from .shape import broadcast_to, reshape


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"reduction: axis {a} is out of range for a tensor with {ndim} dims")
        out.append(a % ndim)
    return tuple(sorted(set(out)))


def _kept_shape(shape, axes):
    """The shape the output would have with keepdims=True."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    """y = sum of x over axes.   dL/dx = broadcast_to(dL/dy with the axes kept as 1, x.shape)."""

    axes: tuple  # the axes summed over (non-negative, sorted)
    keepdims: bool  # keep them as axes of length 1

    def forward(self, x):
        return x.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        shape = self.inputs[0].shape
        return broadcast_to(reshape(gy, _kept_shape(shape, self.axes)), shape)


class MaxMin(Function):
    """y = max (or min) of x over axes.
    dL/dx = g * [x == y] / (number of ties): the winners share the gradient equally."""

    axes: tuple  # the axes reduced over (non-negative, sorted)
    keepdims: bool  # keep them as axes of length 1
    mode: str  # 'max' or 'min'

    def forward(self, x):
        reduce = x.max if self.mode == "max" else x.min
        return reduce(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        x = self.inputs[0]
        kept = _kept_shape(x.shape, self.axes)
        y = self.output().data.reshape(kept)
        winners = (x.data == y).astype(gy.dtype)
        share = Tensor(winners / winners.sum(axis=self.axes, keepdims=True))
        return broadcast_to(reshape(gy, kept), x.shape) * share


def sum(x, axis=None, keepdims=False):  # noqa: A001 - the op's name
    axes = _axes(axis, x.ndim)
    if not axes:
        return x
    return Sum.apply(x, axes=axes, keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    axes = _axes(axis, x.ndim)
    count = 1
    for a in axes:
        count *= x.shape[a]
    if count == 0:
        raise ValueError(f"mean: reducing a tensor of shape {x.shape} over axes {axes} with no elements")
    return sum(x, axes, keepdims) * (1.0 / count)


def _extreme(x, axis, keepdims, mode):
    axes = _axes(axis, x.ndim)
    if any(x.shape[a] == 0 for a in axes):
        raise ValueError(f"{mode}: cannot reduce an empty axis of a tensor of shape {x.shape}")
    return MaxMin.apply(x, axes=axes, keepdims=keepdims, mode=mode)


def max(x, axis=None, keepdims=False):  # noqa: A001
    return _extreme(x, axis, keepdims, "max")


def min(x, axis=None, keepdims=False):  # noqa: A001
    return _extreme(x, axis, keepdims, "min")


def var(x, axis=None, keepdims=False, ddof=0):
    """Variance, mean((x - mean x)^2) * n / (n - ddof), built from differentiable ops.

    ddof=0 as NumPy (the biased estimator batch norm uses); ddof=1 gives PyTorch's default.
    """
    axes = _axes(axis, x.ndim)
    count = 1
    for a in axes:
        count *= x.shape[a]
    if count - ddof <= 0:
        raise ValueError(f"var: {count} elements over axes {axes} with ddof={ddof}")
    centred = x - mean(x, axes, keepdims=True)
    return sum(centred * centred, axes, keepdims) * (1.0 / (count - ddof))


def logsumexp(x, axis=None, keepdims=False):
    """log sum exp x over axes, computed stably as m + log sum exp(x - m) with m = max x (held constant)."""
    axes = _axes(axis, x.ndim)
    m = Tensor(x.data.max(axis=axes, keepdims=True))
    xp = backend.array_module(x.data)
    m = Tensor(xp.where(xp.isfinite(m.data), m.data, 0))
    out = log(sum(exp(x - m), axes, keepdims=True)) + m
    return out if keepdims else reshape(out, tuple(n for i, n in enumerate(out.shape) if i not in axes))
