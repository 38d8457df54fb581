"""PyTorch's shape helpers, each a reshape in disguise, and clone, a copy in the graph.

    view(x, *shape)        reshape (minigan has no strides to share, so a view is a reshape)
    squeeze(x, dim=None)   drop axes of length 1 (all of them, or the one named)
    unsqueeze(x, dim)      insert an axis of length 1 before position dim
    flatten(x, start_dim=0, end_dim=-1)   merge the axes start_dim..end_dim into one

Their derivatives are reshape's: the gradient is reshaped back to the input's shape.
"""
from __future__ import annotations

import math

from ..autograd import Function, Tensor
from .arithmetic import as_tensor
from .shape import reshape


def view(x, *shape) -> Tensor:
    """PyTorch's ``view``: here the same as ``reshape`` (the data is copied only if NumPy must)."""
    return reshape(x, *shape)


def _dim(name, dim, ndim):
    if isinstance(dim, bool) or not isinstance(dim, int) or not -ndim <= dim < ndim:
        raise ValueError(f"{name}: dim {dim!r} is out of range for a tensor with {ndim} dims")
    return dim % ndim


def squeeze(x, dim=None) -> Tensor:
    """x without its length-1 axes (all, or only ``dim``; a ``dim`` whose length is not 1 is kept, as PyTorch)."""
    x = as_tensor(x)
    if dim is None:
        return reshape(x, tuple(n for n in x.shape if n != 1))
    dims = {_dim("squeeze", d, x.ndim) for d in ((dim,) if isinstance(dim, int) else dim)}
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if not (i in dims and n == 1)))


def unsqueeze(x, dim) -> Tensor:
    """x with a new axis of length 1 at position ``dim`` (-1 appends one, as PyTorch)."""
    x = as_tensor(x)
    d = _dim("unsqueeze", dim, x.ndim + 1)
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


def flatten(x, start_dim=0, end_dim=-1) -> Tensor:
    """x with the axes start_dim..end_dim (inclusive) merged into one."""
    x = as_tensor(x)
    if x.ndim == 0:
        return reshape(x, (1,))
    s, e = _dim("flatten", start_dim, x.ndim), _dim("flatten", end_dim, x.ndim)
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {x.shape}")
    return reshape(x, x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:])


class Clone(Function):
    """y = a copy of x (new memory).   dL/dx = dL/dy."""

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


def clone(x) -> Tensor:
    """A copy of x in new memory that stays in the graph (``detach`` leaves it)."""
    return Clone.apply(as_tensor(x))


__all__ = ["view", "squeeze", "unsqueeze", "flatten", "clone"]
