"""Factories for new tensors; they place data on the default backend (see backend.py)."""
from __future__ import annotations

import numpy

from . import backend
from .autograd import Tensor


def tensor(data, requires_grad=False, dtype=None) -> Tensor:
    """A new leaf Tensor from a list, scalar or array, on the default backend. Python floats become float32.

    A host (NumPy) array is copied to the default backend, so ``tensor(images)`` after
    ``use_backend("cupy")`` lives on the GPU. ``Tensor(array)`` instead wraps an array where it lives.
    """
    if isinstance(data, numpy.ndarray) and backend.default_backend() != "numpy":
        data = backend.to_backend(data, backend.default_backend())
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def _fill(kind, shape, dtype, requires_grad, value=None):
    xp = backend.default_module()
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    data = getattr(xp, kind)(shape, dtype=dtype) if value is None else xp.full(shape, value, dtype=dtype)
    return Tensor(data, requires_grad=requires_grad)


def zeros(shape, dtype=numpy.float32, requires_grad=False) -> Tensor:
    return _fill("zeros", shape, dtype, requires_grad)


def ones(shape, dtype=numpy.float32, requires_grad=False) -> Tensor:
    return _fill("ones", shape, dtype, requires_grad)


def full(shape, value, dtype=numpy.float32, requires_grad=False) -> Tensor:
    return _fill("full", shape, dtype, requires_grad, value)


def zeros_like(t: Tensor, requires_grad=False) -> Tensor:
    return Tensor(backend.array_module(t.data).zeros_like(t.data), requires_grad=requires_grad)


def ones_like(t: Tensor, requires_grad=False) -> Tensor:
    return Tensor(backend.array_module(t.data).ones_like(t.data), requires_grad=requires_grad)


def arange(*args, dtype=None) -> Tensor:
    return Tensor(backend.default_module().arange(*args, dtype=dtype))
