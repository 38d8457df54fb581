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
import importlib
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


# Which failure means what, and the fix to suggest (matched on the quoted error, lowercased).
_FIXES = (
    (("no module named", "importerror"),
     "install CuPy with the extra that matches the CUDA major version `nvidia-smi` reports: "
     "`pip install 'minigan[cuda12]'` or `pip install 'minigan[cuda13]'`"),
    (("insufficient", "driver version"),
     "the NVIDIA driver is older than this CuPy's CUDA: install the cuda12 extra instead of cuda13, "
     "or update the driver"),
    (("nvrtc", "cublas", "curand", "libcu", "cannot open shared object"),
     "a CUDA library is missing: install CuPy through minigan's extra (`minigan[cuda12]` brings "
     "cupy-cuda12x[ctk], whose ctk extra installs the CUDA libraries)"),
    (("no cuda-capable device", "nodevice", "0 cuda devices", "no device", "initialization error"),
     "no GPU answers: check that `nvidia-smi` lists one (and CUDA_VISIBLE_DEVICES does not hide it)"),
)


def _fix_for(err) -> str:
    text = f"{type(err).__name__}: {err}".lower()
    for needles, fix in _FIXES:
        if any(n in text for n in needles):
            return fix
    return "check `nvidia-smi` and the CuPy install (`python -c 'import cupy; cupy.show_config()'`)"


def _probe(cp) -> None:
    """Prove CuPy works before trusting it: a device answers, a kernel compiles and runs, a matmul runs.

    Importing cupy succeeds without a driver, and a driver without NVRTC or cuBLAS fails only at
    the first elementwise kernel or matmul; each stage is named in the error it raises.
    """
    stage = "counting CUDA devices"
    try:
        if cp.cuda.runtime.getDeviceCount() < 1:
            raise RuntimeError("cupy imported but reports 0 CUDA devices")
        stage = "running an elementwise kernel (compiled by NVRTC)"
        v = cp.arange(8, dtype=cp.float32)
        total = float((v * 2 + 1).sum())
        if total != 64.0:
            raise RuntimeError(f"2 * arange(8) + 1 summed to {total}, expected 64")
        stage = "running a matmul (cuBLAS)"
        a = cp.ones((16, 16), dtype=cp.float32)
        m = (a @ a).get()
        if not (m == 16.0).all():
            raise RuntimeError("ones(16, 16) @ ones(16, 16) is not all 16")
    except Exception as err:
        raise RuntimeError(f"while {stage}: {type(err).__name__}: {err}") from err


def _load_cupy():
    """Import cupy once and probe it (see _probe); remember any failure.

    The module imported is ``cupy``, or the one named by the environment variable
    ``MINIGAN_CUPY_MODULE``: the test suite points it at its CuPy stand-in
    (tests/support/fake_cupy) to run subprocesses such as the demos on it.
    """
    global _cupy, _cupy_error, _cupy_tried
    if _cupy_tried:
        return _cupy
    _cupy_tried = True
    try:
        cupy = importlib.import_module(os.environ.get("MINIGAN_CUPY_MODULE") or "cupy")
        _probe(cupy)
        _cupy = cupy
    except Exception as err:  # ImportError, CUDARuntimeError, missing libraries ...
        _cupy_error = err
        _cupy = None
    return _cupy


@contextlib.contextmanager
def cupy_stand_in(module) -> Iterator[ModuleType]:
    """Use ``module`` as CuPy inside the block (a test double for machines without a GPU).

    The module must pass the same probe as CuPy. The test suite uses this to run its tests on
    tests/support/fake_cupy; nothing in minigan calls it.
    """
    global _cupy, _cupy_error, _cupy_tried, _default
    _probe(module)
    saved = (_cupy, _cupy_error, _cupy_tried, _default)
    _cupy, _cupy_error, _cupy_tried = module, None, True
    try:
        yield module
    finally:
        _cupy, _cupy_error, _cupy_tried, _default = saved


def cupy_available() -> bool:
    """True when cupy imports and passes the probe (a device, a kernel, a matmul)."""
    return _load_cupy() is not None


def cupy_unavailable_reason() -> str:
    """Why cupy cannot be used (the original exception, quoted), or '' when it can."""
    if cupy_available():
        return ""
    return f"{type(_cupy_error).__name__}: {_cupy_error}"


def get_cupy() -> ModuleType:
    """The cupy module, or a BackendError that quotes why it could not be loaded and says the fix."""
    cp = _load_cupy()
    if cp is None:
        raise BackendError(
            "backend 'cupy' was requested but CuPy is not usable on this machine "
            f"({cupy_unavailable_reason()}). Fix: {_fix_for(_cupy_error)}; or use backend 'numpy'."
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


def recognise_cupy_array(a) -> bool:
    """is_cupy_array for an array CuPy made before minigan loaded CuPy (the user imported it first).

    Such an array's type lives in the ``cupy`` package; this loads CuPy (see _load_cupy) so that
    array_module and every later is_cupy_array recognise it. Kept apart from is_cupy_array, which
    ops call on every array and which must stay one isinstance test.
    """
    return type(a).__module__.split(".")[0] == "cupy" and _load_cupy() is not None and is_cupy_array(a)


def backend_of(a) -> str:
    """'numpy' or 'cupy' for one array."""
    if isinstance(a, numpy.ndarray) or numpy.isscalar(a):
        return "numpy"
    if is_cupy_array(a) or recognise_cupy_array(a):
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


def synchronize() -> None:
    """Wait until the GPU has finished the work queued so far (nothing to wait for on NumPy).

    CuPy launches kernels asynchronously: a clock read right after an op measures the launch,
    not the work. Benchmarks call this before reading the clock.
    """
    if _cupy is not None:
        _cupy.cuda.Device().synchronize()
