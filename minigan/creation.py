"""Factories for new tensors; they place data on the default backend (see backend.py).

Shapes are given as NumPy does, ``zeros((2, 3))``, or as PyTorch does, ``zeros(2, 3)``.
``rand``/``randn`` draw from ``generator=`` or, without one, from the default Generator
that ``minigan.manual_seed`` reseeds.
"""
from __future__ import annotations

import numpy

from . import backend
from .autograd import Tensor
from .random import resolve


def tensor(data, requires_grad=False, dtype=None, name=None) -> Tensor:
    """A new leaf Tensor from a list, scalar or array, on the default backend. Python floats become float32.

    A host (NumPy) array or NumPy scalar is copied to the default backend, so ``tensor(images)``
    after ``use_backend("cupy")`` lives on the GPU. ``Tensor(array)`` instead wraps an array where it lives.
    ``name`` labels the tensor in drawings of the graph (minigan.to_dot).
    """
    if isinstance(data, (numpy.ndarray, numpy.generic)) and backend.default_backend() != "numpy":
        data = backend.to_backend(data, backend.default_backend())
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


def _shape(name, size):
    """(2, 3) from ``(2, 3)``, ``[2, 3]`` or the PyTorch varargs ``2, 3``."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    if not all(isinstance(n, (int, numpy.integer)) and not isinstance(n, bool) and n >= 0 for n in size):
        raise TypeError(f"{name}: a shape is non-negative ints, e.g. {name}(2, 3) or {name}((2, 3)); got {size!r}")
    return tuple(int(n) for n in size)


def _fill(kind, shape, dtype, requires_grad, value=None):
    xp = backend.default_module()
    data = getattr(xp, kind)(shape, dtype=dtype) if value is None else xp.full(shape, value, dtype=dtype)
    return Tensor(data, requires_grad=requires_grad)


def zeros(*size, dtype=numpy.float32, requires_grad=False) -> Tensor:
    return _fill("zeros", _shape("zeros", size), dtype, requires_grad)


def ones(*size, dtype=numpy.float32, requires_grad=False) -> Tensor:
    return _fill("ones", _shape("ones", size), dtype, requires_grad)


def full(size, fill_value, dtype=numpy.float32, requires_grad=False) -> Tensor:
    """A tensor of shape ``size`` (a tuple, or one int) filled with ``fill_value`` (PyTorch's order)."""
    size = size if isinstance(size, (tuple, list)) else (size,)
    return _fill("full", _shape("full", (size,)), dtype, requires_grad, fill_value)


def rand(*size, generator=None, dtype=numpy.float32, requires_grad=False) -> Tensor:
    """Uniform numbers in [0, 1) of shape ``size``."""
    t = resolve(generator, "rand").uniform(_shape("rand", size), dtype=dtype)
    return t.requires_grad_(requires_grad)


def randn(*size, generator=None, dtype=numpy.float32, requires_grad=False) -> Tensor:
    """Standard normal numbers of shape ``size``."""
    t = resolve(generator, "randn").normal(_shape("randn", size), dtype=dtype)
    return t.requires_grad_(requires_grad)


def zeros_like(t: Tensor, requires_grad=False) -> Tensor:
    return Tensor(backend.array_module(t.data).zeros_like(t.data), requires_grad=requires_grad)


def ones_like(t: Tensor, requires_grad=False) -> Tensor:
    return Tensor(backend.array_module(t.data).ones_like(t.data), requires_grad=requires_grad)


def arange(*args, dtype=None) -> Tensor:
    return Tensor(backend.default_module().arange(*args, dtype=dtype))
