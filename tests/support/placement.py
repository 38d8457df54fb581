"""Crossing between the host and minigan's default backend, as a user's own code would.

Tests compute their expected values with NumPy (or PyTorch) on the host, while minigan's
factories and modules put new arrays on the default backend: NumPy, CuPy, or the CuPy
stand-in under ``pytest --backend``. These two helpers are the only crossings a test needs.
"""
from __future__ import annotations

import numpy

from minigan import backend
from minigan.autograd import Tensor


def host(x):
    """A NumPy array for a Tensor or a NumPy/CuPy array; a dict (a state_dict) of them, key by key."""
    if isinstance(x, dict):
        return type(x)((k, host(v)) for k, v in x.items())
    if isinstance(x, Tensor):
        return x.numpy()
    return backend.as_numpy(x)


def on_default(a):
    """A host array copied to the default backend: where a module's parameters were made."""
    return backend.to_backend(numpy.asarray(a), backend.default_backend())
