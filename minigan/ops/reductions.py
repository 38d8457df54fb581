"""Reductions: sum, mean, max, min, var, std over an axis (or all axes), with keepdims.

Each takes NumPy's spelling (``axis=``, ``keepdims=``) or PyTorch's (``dim=``,
``keepdim=``). ``max``/``min`` with ``dim=`` return PyTorch's (values, indices) pair;
with ``axis=`` (or neither) they return the values only, as NumPy does.

A reduction's backward spreads the output gradient back over the reduced axes:
evenly (sum: each input contributed with weight 1) or onto the winners (max/min).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy

from .. import backend
from ..autograd import Function, Tensor
from ..backend import Array
from .arithmetic import astype, exp, log, sqrt
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

    def forward(self, x) -> Array:
        if x.dtype == numpy.float16:  # float16 has 11 significant bits: accumulate in float32
            return x.sum(axis=self.axes, keepdims=self.keepdims, dtype=numpy.float32).astype(numpy.float16)
        return x.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy) -> Tensor:
        shape = self.inputs[0].shape
        if gy.ndim > 0:  # put the summed axes back as 1s (a 0-d gradient broadcasts as it is)
            gy = reshape(gy, _kept_shape(shape, self.axes))
        return broadcast_to(gy, shape)


class MaxMin(Function):
    """y = max (or min) of x over axes.
    dL/dx = g * [x == y] / (number of ties): the winners share the gradient equally."""

    axes: tuple  # the axes reduced over (non-negative, sorted)
    keepdims: bool  # keep them as axes of length 1
    mode: str  # 'max' or 'min'

    def forward(self, x) -> Array:
        reduce = x.max if self.mode == "max" else x.min
        return reduce(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy) -> Tensor:
        x = self.inputs[0]
        kept = _kept_shape(x.shape, self.axes)
        y = self.output().data.reshape(kept)
        winners = (x.data == y).astype(gy.dtype)
        share = Tensor(winners / winners.sum(axis=self.axes, keepdims=True))
        return broadcast_to(reshape(gy, kept), x.shape) * share


def _torch_names(name, axis, keepdims, dim, keepdim):
    """Merge PyTorch's ``dim``/``keepdim`` into NumPy's ``axis``/``keepdims`` (one spelling each)."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{name}: give axis= (NumPy) or dim= (PyTorch), not both")
        axis = dim
    if keepdim is not None:
        if keepdims:
            raise TypeError(f"{name}: give keepdims= (NumPy) or keepdim= (PyTorch), not both")
        keepdims = keepdim
    return axis, bool(keepdims)


def sum(x, axis=None, keepdims=False, *, dim=None, keepdim=None) -> Tensor:  # noqa: A001 - the op's name
    axis, keepdims = _torch_names("sum", axis, keepdims, dim, keepdim)
    axes = _axes(axis, x.ndim)
    if not axes:
        return x
    return Sum.apply(x, axes=axes, keepdims=keepdims)


def mean(x, axis=None, keepdims=False, *, dim=None, keepdim=None) -> Tensor:
    axis, keepdims = _torch_names("mean", axis, keepdims, dim, keepdim)
    axes = _axes(axis, x.ndim)
    count = 1
    for a in axes:
        count *= x.shape[a]
    if count == 0:
        raise ValueError(f"mean: reducing a tensor of shape {x.shape} over axes {axes} with no elements")
    if x.dtype == numpy.float16:  # the sum may pass float16's largest value (65504) though the mean does not
        return astype(sum(astype(x, numpy.float32), axes, keepdims) * (1.0 / count), numpy.float16)
    return sum(x, axes, keepdims) * (1.0 / count)


def _extreme(x, axis, keepdims, mode):
    axes = _axes(axis, x.ndim)
    if any(x.shape[a] == 0 for a in axes):
        raise ValueError(f"{mode}: cannot reduce an empty axis of a tensor of shape {x.shape}")
    return MaxMin.apply(x, axes=axes, keepdims=keepdims, mode=mode)


class ValuesIndices(NamedTuple):
    """What ``max``/``min`` return when called with PyTorch's ``dim=``: torch.return_types.max's fields."""

    values: Tensor
    indices: Tensor


def _extreme_or_pair(x, axis, keepdims, dim, keepdim, mode):
    pair = dim is not None
    axis, keepdims = _torch_names(mode, axis, keepdims, dim, keepdim)
    values = _extreme(x, axis, keepdims, mode)
    if not pair:
        return values
    if not isinstance(axis, int):
        raise TypeError(f"{mode}: dim= must be one int (PyTorch returns values and indices along it), got {axis!r}")
    indices = argmax(x, axis, keepdims) if mode == "max" else argmin(x, axis, keepdims)
    return ValuesIndices(values, indices)


def max(x, axis=None, keepdims=False, *, dim=None, keepdim=None) -> Tensor | ValuesIndices:  # noqa: A001
    """Largest element over ``axis`` (values); with ``dim=``, the pair (values, indices) as PyTorch."""
    return _extreme_or_pair(x, axis, keepdims, dim, keepdim, "max")


def min(x, axis=None, keepdims=False, *, dim=None, keepdim=None) -> Tensor | ValuesIndices:  # noqa: A001
    """Smallest element over ``axis`` (values); with ``dim=``, the pair (values, indices) as PyTorch."""
    return _extreme_or_pair(x, axis, keepdims, dim, keepdim, "min")


def _arg(x, axis, keepdims, dim, keepdim, mode):
    axis, keepdims = _torch_names("arg" + mode, axis, keepdims, dim, keepdim)
    data = x.data
    if axis is None:  # the index into the flattened tensor, as both NumPy and PyTorch
        data, axis = data.reshape(-1), 0
    elif not -x.ndim <= axis < x.ndim:
        raise ValueError(f"arg{mode}: axis {axis} is out of range for a tensor with {x.ndim} dims")
    if data.shape[axis] == 0:
        raise ValueError(f"arg{mode}: cannot reduce an empty axis of a tensor of shape {x.shape}")
    pick = data.argmax if mode == "max" else data.argmin
    return Tensor(pick(axis=axis, keepdims=keepdims))


def argmax(x, axis=None, keepdims=False, *, dim=None, keepdim=None) -> Tensor:
    """Index of the largest element (int64, not differentiable: an index has no gradient)."""
    return _arg(x, axis, keepdims, dim, keepdim, "max")


def argmin(x, axis=None, keepdims=False, *, dim=None, keepdim=None) -> Tensor:
    """Index of the smallest element (int64, not differentiable: an index has no gradient)."""
    return _arg(x, axis, keepdims, dim, keepdim, "min")


def _correction(name, unbiased, correction, ddof):
    """The n - c divisor's c from PyTorch's ``unbiased``/``correction`` or NumPy's ``ddof`` (default 1)."""
    given = [k for k, v in (("unbiased", unbiased), ("correction", correction), ("ddof", ddof)) if v is not None]
    if len(given) > 1:
        raise TypeError(f"{name}: give one of unbiased=, correction=, ddof=; got {', '.join(given)}")
    if unbiased is not None:
        return 1 if unbiased else 0
    c = correction if correction is not None else ddof if ddof is not None else 1
    if isinstance(c, bool) or not isinstance(c, int) or c < 0:
        raise ValueError(f"{name}: correction/ddof must be an int >= 0, got {c!r}")
    return c


def var(x, axis=None, keepdims=False, *, dim=None, keepdim=None, unbiased=None, correction=None,
        ddof=None) -> Tensor:
    """Variance, sum((x - mean x)^2) / (n - c), built from differentiable ops.

    The default is PyTorch's: the unbiased estimator, c = 1 (NumPy's default is c = 0).
    Choose c with ``unbiased=False`` (c = 0), ``correction=c`` (PyTorch) or ``ddof=c``
    (NumPy). Batch norm normalises with the biased c = 0 and computes it itself.
    """
    axis, keepdims = _torch_names("var", axis, keepdims, dim, keepdim)
    ddof = _correction("var", unbiased, correction, ddof)
    axes = _axes(axis, x.ndim)
    count = 1
    for a in axes:
        count *= x.shape[a]
    if count - ddof <= 0:
        raise ValueError(f"var: {count} elements over axes {axes} with ddof={ddof}")
    centred = x - mean(x, axes, keepdims=True)
    return sum(centred * centred, axes, keepdims) * (1.0 / (count - ddof))


def std(x, axis=None, keepdims=False, *, dim=None, keepdim=None, unbiased=None, correction=None,
        ddof=None) -> Tensor:
    """Standard deviation, sqrt(var(x)) with var's arguments and its unbiased default.

    dL/dx = dL/dvar / (2 std) (the chain rule through sqrt, recorded by the ops).
    """
    return sqrt(var(x, axis, keepdims, dim=dim, keepdim=keepdim, unbiased=unbiased, correction=correction,
                    ddof=ddof))


def logsumexp(x, axis=None, keepdims=False, *, dim=None, keepdim=None) -> Tensor:
    """log sum exp x over axes, computed stably as m + log sum exp(x - m) with m = max x (held constant)."""
    axis, keepdims = _torch_names("logsumexp", axis, keepdims, dim, keepdim)
    axes = _axes(axis, x.ndim)
    m = Tensor(x.data.max(axis=axes, keepdims=True))
    xp = backend.array_module(x.data)
    m = Tensor(xp.where(xp.isfinite(m.data), m.data, 0))
    out = log(sum(exp(x - m), axes, keepdims=True)) + m
    return out if keepdims else reshape(out, tuple(n for i, n in enumerate(out.shape) if i not in axes))
