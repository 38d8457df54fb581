"""Ops that move elements without changing their values: reshape, transpose,
broadcast_to / sum_to, indexing, concatenate, stack and pad.

Each one's derivative is another member of this family: the adjoint of a reshape
is a reshape back, of a broadcast is a sum, of a gather is a scatter-add.
"""
from __future__ import annotations

import math

import numpy

from .. import backend
from ..autograd import Function, Tensor
from ..backend import Array


def sum_to_array(xp_array, shape) -> Array:
    """Sum an array down to ``shape`` (the reverse of NumPy broadcasting), on raw arrays."""
    if xp_array.shape == shape:
        return xp_array
    lead = xp_array.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and xp_array.shape[i + lead] != 1
    )
    y = xp_array.sum(axis=axes, keepdims=True)
    if lead:
        y = y.reshape(y.shape[lead:])
    return y


class Reshape(Function):
    """y = x viewed with a new shape.   dL/dx = reshape(dL/dy, x.shape)."""

    shape: tuple  # the shape of y (no -1 left)

    def forward(self, x) -> Array:
        return x.reshape(self.shape)

    def backward(self, gy) -> Tensor:
        return reshape(gy, self.inputs[0].shape)


class Transpose(Function):
    """y = x with axes permuted by p.   dL/dx = transpose(dL/dy, p^-1)."""

    axes: tuple  # the permutation p: y.shape[i] = x.shape[p[i]]

    def forward(self, x) -> Array:
        return x.transpose(self.axes)

    def backward(self, gy) -> Tensor:
        inverse = tuple(numpy.argsort(self.axes))
        return transpose(gy, inverse)


class BroadcastTo(Function):
    """y = x repeated along broadcast axes.   dL/dx = sum_to(dL/dy, x.shape)."""

    shape: tuple  # the shape of y

    def forward(self, x) -> Array:
        try:  # xp checks NumPy's broadcasting rule itself; name the op in its refusal
            return _broadcast_array(x, self.shape)
        except ValueError:
            raise ValueError(f"broadcast_to: shape {x.shape} cannot be broadcast to {self.shape}") from None

    def backward(self, gy) -> Tensor:
        return sum_to(gy, self.inputs[0].shape)


SMALL_BROADCAST = 4096  # elements: below this, _broadcast_array writes the result out


def _broadcast_array(x, shape) -> Array:
    """x broadcast to ``shape``: xp.broadcast_to's read-only view, or a new array when the result is small.

    The one speed shortcut among the shape ops. NumPy builds a broadcast view through a
    Python-level iterator, about 3 microseconds a call: more than the rest of a tiny op,
    and every summed loss's backward starts with one (the seed 1 spread over the summed
    elements). Writing a result of up to SMALL_BROADCAST elements costs less than that;
    a larger one stays a view, which costs no memory. ``python3 benchmarks/bench_autograd.py
    --shortcuts`` times ``(a * b + a).sum().backward()`` with and without it.
    """
    xp = backend.array_module(x)
    if math.prod(shape) > SMALL_BROADCAST or x.ndim > len(shape):  # assignment would drop leading 1s
        return xp.broadcast_to(x, shape)
    out = xp.empty(shape, x.dtype)
    out[...] = x  # raises ValueError where the broadcasting rule does
    return out


class SumTo(Function):
    """y = x summed over the axes that broadcasting would add.   dL/dx = broadcast_to(dL/dy, x.shape)."""

    shape: tuple  # the shape of y: x.shape with broadcast axes summed away

    def forward(self, x) -> Array:
        return sum_to_array(x, self.shape)

    def backward(self, gy) -> Tensor:
        return broadcast_to(gy, self.inputs[0].shape)


def _is_advanced(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(not (isinstance(i, (int, slice)) or i is None or i is Ellipsis) for i in items)


def _normalise_index(index):
    """Tensors inside an index become raw arrays; lists become arrays."""
    if isinstance(index, tuple):
        return tuple(_normalise_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return numpy.asarray(index)
    return index


class GetItem(Function):
    """y = x[index] (basic slicing or integer/boolean arrays).

    dL/dx = scatter-add of dL/dy into zeros shaped like x: repeated indices add up.
    """

    index: object  # the index, with Tensors replaced by their arrays

    def forward(self, x) -> Array:
        return x[self.index]

    def backward(self, gy) -> Tensor:
        return GetItemGrad.apply(gy, index=self.index, in_shape=self.inputs[0].shape)


class GetItemGrad(Function):
    """The scatter-add that is GetItem's adjoint.   Its own derivative is the gather g[index]."""

    index: object  # the index of the GetItem whose adjoint this is
    in_shape: tuple  # the shape of that GetItem's input, the shape of y

    def forward(self, gy) -> Array:
        xp = backend.array_module(gy)
        gx = xp.zeros(self.in_shape, dtype=gy.dtype)
        index = self.index
        if _is_advanced(index):
            xp.add.at(gx, index, gy)  # unbuffered: repeated indices accumulate (gx[index] += gy would not)
        else:  # basic indexing selects each element at most once: plain assignment suffices
            gx[index] = gy
        return gx

    def backward(self, ggx) -> Tensor:
        return getitem(ggx, self.index)


class Concatenate(Function):
    """y = [x_1, ..., x_n] joined along an axis.   dL/dx_i = the slice of dL/dy that x_i filled."""

    axis: int  # the axis the inputs are joined along (non-negative)

    def forward(self, *xs) -> Array:
        xp = backend.array_module(*xs)
        return xp.concatenate(xs, axis=self.axis)

    def backward(self, gy) -> tuple[Tensor, ...]:
        grads, start = [], 0
        axis = self.axis % gy.ndim
        for x in self.inputs:
            stop = start + x.shape[axis]
            index = (slice(None),) * axis + (slice(start, stop),)
            grads.append(getitem(gy, index))
            start = stop
        return tuple(grads)


class Stack(Function):
    """y = [x_1, ..., x_n] stacked on a new axis.   dL/dx_i = dL/dy taken at position i of that axis."""

    axis: int  # the new axis of y (non-negative)

    def forward(self, *xs) -> Array:
        xp = backend.array_module(*xs)
        return xp.stack(xs, axis=self.axis)

    def backward(self, gy) -> tuple[Tensor, ...]:
        axis = self.axis % gy.ndim
        return tuple(getitem(gy, (slice(None),) * axis + (i,)) for i in range(len(self.inputs)))


class Pad(Function):
    """y = x surrounded by a constant border.   dL/dx = dL/dy with the border cut off."""

    pad_width: tuple  # ((before, after), ...) per axis, as numpy.pad
    value: float  # the constant put in the border

    def forward(self, x) -> Array:
        xp = backend.array_module(x)
        return xp.pad(x, self.pad_width, mode="constant", constant_values=self.value)

    def backward(self, gy) -> Tensor:
        index = tuple(slice(before, gy.shape[i] - after) for i, (before, after) in enumerate(self.pad_width))
        return getitem(gy, index)


# -- the user's face of this family -------------------------------------------------------

def reshape(x, *shape) -> Tensor:
    """x with a new shape of the same size; one entry may be -1 ("whatever is left")."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    x = x if isinstance(x, Tensor) else Tensor(x)
    if shape == x.data.shape:
        return x
    shape = tuple(int(n) for n in shape)
    size = x.data.size
    resolved = shape
    if shape.count(-1) == 1:
        known = math.prod(n for n in shape if n != -1)
        if known > 0 and size % known == 0:
            resolved = tuple(size // known if n == -1 else n for n in shape)
    if any(n < 0 for n in resolved) or math.prod(resolved) != size:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} ({size} elements) into {shape}")
    if resolved == x.data.shape:
        return x
    return Reshape.apply(x, shape=resolved)


def permute(x, *axes) -> Tensor:
    """x with its axes reordered: ``axes`` is a permutation, as ``x.permute(0, 2, 1)`` or ``((0, 2, 1))``."""
    return _permute("permute", x, axes)


def transpose(x, *axes) -> Tensor:
    """x transposed, in NumPy's or PyTorch's sense, which agree except where one of them would fail.

    ``transpose(x)`` reverses the axes; ``transpose(x, a, b)`` with two different axes swaps
    those two (PyTorch's meaning: on a 2-D tensor ``transpose(0, 1)`` is the transpose, not
    NumPy's identity); a tuple, or as many axes as x has, is a permutation (NumPy's meaning).
    """
    x = x if isinstance(x, Tensor) else Tensor(x)
    if len(axes) == 2 and all(isinstance(a, int) for a in axes) and axes[0] != axes[1] and x.ndim > 0:
        a, b = axes
        if not (-x.ndim <= a < x.ndim and -x.ndim <= b < x.ndim):
            raise ValueError(f"transpose: axes {axes} are out of range for shape {x.shape}")
        order = list(range(x.ndim))
        order[a % x.ndim], order[b % x.ndim] = order[b % x.ndim], order[a % x.ndim]
        axes = (tuple(order),)
    return _permute("transpose", x, axes)


def _permute(name, x, axes):
    x = x if isinstance(x, Tensor) else Tensor(x)
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    if not axes:
        axes = tuple(reversed(range(x.ndim)))
    if sorted(a % x.ndim for a in axes) != list(range(x.ndim)):
        raise ValueError(f"{name}: axes {axes} are not a permutation of the {x.ndim} axes of shape {x.shape}")
    return Transpose.apply(x, axes=tuple(a % x.ndim for a in axes))


def broadcast_to(x, shape) -> Tensor:
    x = x if isinstance(x, Tensor) else Tensor(x)
    shape = tuple(shape)
    if x.shape == shape:
        return x
    return BroadcastTo.apply(x, shape=shape)


def sum_to(x, shape) -> Tensor:
    """x summed down to ``shape``; x itself when nothing was broadcast (the common case)."""
    if x.data.shape == shape:
        return x
    shape = tuple(shape)
    if x.data.shape == shape:
        return x
    return SumTo.apply(x, shape=shape)


def _index_on(xp, index):
    """Index arrays moved to x's backend, so the gather and its scatter-add run where x lives."""
    if isinstance(index, tuple):
        return tuple(_index_on(xp, i) for i in index)
    if isinstance(index, numpy.ndarray) and xp is not numpy:
        return xp.asarray(index)
    return index


def getitem(x, index) -> Tensor:
    index = _normalise_index(index)
    if isinstance(x, Tensor) and x.backend != "numpy":
        index = _index_on(backend.array_module(x.data), index)
    return GetItem.apply(x, index=index)


def _axis_or_dim(name, axis, dim):
    """NumPy's ``axis`` or PyTorch's ``dim`` (one of them), 0 by default."""
    if dim is None:
        return 0 if axis is None else axis
    if axis is not None:
        raise TypeError(f"{name}: give axis= (NumPy) or dim= (PyTorch), not both")
    return dim


def concatenate(tensors, axis=None, *, dim=None) -> Tensor:
    """The tensors joined along an existing axis (``axis`` or PyTorch's ``dim``, 0 by default)."""
    axis = _axis_or_dim("concatenate", axis, dim)
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("concatenate: needs at least one tensor")
    ref = tensors[0]
    for t in tensors[1:]:
        if t.ndim != ref.ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, ref.shape))
                                     if i != axis % ref.ndim):
            raise ValueError(
                f"concatenate: shapes {[tuple(u.shape) for u in tensors]} differ outside axis {axis}"
            )
    return Concatenate.apply(*tensors, axis=axis)


cat = concatenate


def stack(tensors, axis=None, *, dim=None) -> Tensor:
    """The tensors (all of one shape) joined along a new axis (``axis`` or PyTorch's ``dim``, 0 by default)."""
    axis = _axis_or_dim("stack", axis, dim)
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors or any(t.shape != tensors[0].shape for t in tensors):
        raise ValueError(f"stack: needs tensors of one shape, got {[tuple(t.shape) for t in tensors]}")
    return Stack.apply(*tensors, axis=axis)


def pad(x, pad_width, value=0.0) -> Tensor:
    """Constant padding; ``pad_width`` as in numpy.pad: ((before, after), ...) per axis, or an int."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    if isinstance(pad_width, int):
        pad_width = ((pad_width, pad_width),) * x.ndim
    pad_width = tuple((int(a), int(b)) for a, b in pad_width)
    if len(pad_width) != x.ndim or any(a < 0 or b < 0 for a, b in pad_width):
        raise ValueError(f"pad: pad_width {pad_width} must give (before, after) >= 0 for each of the {x.ndim} axes")
    return Pad.apply(x, pad_width=pad_width, value=value)
