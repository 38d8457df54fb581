"""The NumPy/CuPy switch: the only module in minigan that imports cupy.

Two rules govern where arrays live:

* **Dispatch follows the data.** Every op asks ``array_module(*arrays)`` which
  library owns its inputs and computes with that one (``xp``). A computation on
  CuPy arrays stays on the GPU without any global setting.
* **New arrays go to the default backend.** Factories (``minigan.tensor`` of a
  Python list, parameter initialisation, random numbers) need a place to put
  fresh data. That place is set by ``use_backend("numpy" | "cupy")``, by a
  ``with backend_scope(...)`` block, or by the environment variable
  ``MINIGAN_BACKEND`` read at import time.

CuPy is optional. Importing it (or finding a GPU driver) may fail; the failure is
caught, kept, and quoted in the error raised when CuPy is actually asked for, so a
NumPy-only machine never notices CuPy exists.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from types import ModuleType

import numpy

BACKENDS = ("numpy", "cupy")

# The array a Tensor holds: a numpy.ndarray, or on the GPU a cupy.ndarray, which has the same
# interface. cupy is optional, so annotations name NumPy's class for both.
Array = numpy.ndarray

_cupy = None          # the cupy module, once successfully loaded
_cupy_error = None    # the exception that stopped cupy from loading, kept for error messages
_cupy_tried = False


class BackendError(RuntimeError):
    """Raised when a backend is unknown, unavailable, or two backends are mixed in one op."""


def _load_cupy():
    """Import cupy once and check that a CUDA device answers; remember any failure."""
    global _cupy, _cupy_error, _cupy_tried
    if _cupy_tried:
        return _cupy
    _cupy_tried = True
    try:
        import cupy  # the one guarded import of cupy in minigan

        # Importing cupy succeeds without a driver; touching the device is what fails.
        count = cupy.cuda.runtime.getDeviceCount()
        if count < 1:
            raise RuntimeError("cupy imported but reports 0 CUDA devices")
        _cupy = cupy
    except Exception as err:  # ImportError, CUDARuntimeError, missing libraries ...
        _cupy_error = err
        _cupy = None
    return _cupy


def cupy_available() -> bool:
    """True when cupy imports and a CUDA device answers."""
    return _load_cupy() is not None


def cupy_unavailable_reason() -> str:
    """Why cupy cannot be used (the original exception, quoted), or '' when it can."""
    if cupy_available():
        return ""
    return f"{type(_cupy_error).__name__}: {_cupy_error}"


def get_cupy() -> ModuleType:
    """The cupy module, or a BackendError that quotes why it could not be loaded."""
    cp = _load_cupy()
    if cp is None:
        raise BackendError(
            "backend 'cupy' was requested but CuPy is not usable on this machine "
            f"({cupy_unavailable_reason()}). Install it with `pip install minigan[cuda12]` "
            "or `minigan[cuda13]` on a machine with an NVIDIA GPU, or use backend 'numpy'."
        )
    return cp


def _check_name(name: str) -> str:
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}; expected one of {BACKENDS}")
    return name


def module_for(name: str) -> ModuleType:
    """The array module (numpy or cupy) for a backend name."""
    if _check_name(name) == "numpy":
        return numpy
    return get_cupy()


_default = _check_name(os.environ.get("MINIGAN_BACKEND", "numpy") or "numpy")


def default_backend() -> str:
    """The backend new arrays are created on."""
    return _default


def use_backend(name: str) -> None:
    """Set the default backend for new arrays ("numpy" or "cupy")."""
    global _default
    module_for(name)  # fail now, with the reason, rather than at the first factory call
    _default = name


@contextlib.contextmanager
def backend_scope(name: str) -> Iterator[None]:
    """``with backend_scope("cupy"):`` creates new arrays on cupy inside the block only."""
    global _default
    module_for(name)
    previous = _default
    _default = name
    try:
        yield
    finally:
        _default = previous


def default_module() -> ModuleType:
    """The array module of the default backend."""
    return numpy if _default == "numpy" else get_cupy()


def is_cupy_array(a) -> bool:
    return _cupy is not None and isinstance(a, _cupy.ndarray)


def backend_of(a) -> str:
    """'numpy' or 'cupy' for one array."""
    if isinstance(a, numpy.ndarray) or numpy.isscalar(a):
        return "numpy"
    if type(a).__module__.split(".")[0] == "cupy":
        _load_cupy()
        return "cupy"
    raise BackendError(f"expected a numpy or cupy array, got {type(a).__name__}")


def array_module(*arrays) -> ModuleType:
    """numpy or cupy, whichever owns the arrays. Without cupy loaded this is always numpy."""
    if _cupy is None:
        return numpy
    for a in arrays:
        if isinstance(a, _cupy.ndarray):
            return _cupy
    return numpy


def check_same_backend(op_name: str, arrays) -> None:
    """Raise a BackendError naming the op when NumPy and CuPy arrays meet in one op."""
    if _cupy is None:  # no cupy array can exist yet
        return
    kinds = ["cupy" if isinstance(a, _cupy.ndarray) else "numpy" for a in arrays]
    if len(set(kinds)) > 1:
        shapes = ", ".join(f"{kind}{tuple(a.shape)}" for kind, a in zip(kinds, arrays))
        raise BackendError(
            f"{op_name}: inputs live on different backends ({shapes}); "
            "move them to one backend first with Tensor.to('numpy') or Tensor.to('cupy')"
        )


def to_backend(a, name: str) -> Array:
    """Copy an array to the named backend (no copy when it is already there)."""
    if _check_name(name) == "numpy":
        return as_numpy(a)
    cp = get_cupy()
    return cp.asarray(a)


def as_numpy(a) -> numpy.ndarray:
    """A host numpy array for any numpy or cupy array."""
    if is_cupy_array(a):
        return a.get()
    return numpy.asarray(a)


def scatter_add(xp, target, index, values) -> None:
    """target[index] += values, accumulating over repeated indices (np.add.at)."""
    if xp is numpy:
        numpy.add.at(target, index, values)
    else:
        import cupyx  # only reached with cupy arrays

        cupyx.scatter_add(target, index, values)
