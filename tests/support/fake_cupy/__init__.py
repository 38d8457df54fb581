"""A strict stand-in for CuPy: NumPy underneath, CuPy's host/device rules on top.

CI machines have no GPU, yet minigan promises to run on CuPy arrays. This module lets
the test suite hold minigan to CuPy's rules without the hardware. A "device" array
(:class:`ndarray`) wraps a NumPy array but is *not* a ``numpy.ndarray``, and it behaves
as a CuPy array does where a host/device mix-up would show:

* implicit conversion to the host fails: ``numpy.asarray(dev)`` raises ``TypeError``
  (``__array__`` raises, with CuPy's message); ``.get()`` and ``asnumpy`` are the ways out;
* a host array (``numpy.ndarray`` with ndim >= 1) as an operand of a device op is refused,
  as is ``dev[...] = host_array``; Python and NumPy scalars are fine, as in CuPy;
* NumPy functions and ufuncs called on device arrays dispatch (``__array_function__``,
  ``__array_ufunc__``) to this module's namespace and return device arrays, the way
  ``numpy.sum(cupy_array)`` returns a CuPy array;
* reductions return 0-d device arrays, not host scalars; ``float(dev)``, ``.item()``,
  ``.tolist()`` and printing are device-to-host reads;
* ``cupyx.scatter_add`` does not exist here: use ``xp.add.at``.

Every host-to-device and device-to-host copy is counted by call site in :data:`transfers`,
so a test can assert that a training iteration stays on the device.

This is a test double for hardware absent from CI, not a substitute for running on a GPU:
it cannot show kernel compilation failures, asynchronous execution or memory limits.
minigan loads it in place of cupy through ``backend.cupy_stand_in(module)`` (in-process)
or the environment variable ``MINIGAN_CUPY_MODULE=fake_cupy`` (a subprocess, with
tests/support on PYTHONPATH).
"""
from __future__ import annotations

import sys

import numpy

from . import cuda, linalg, random  # noqa: F401 - submodules of the namespace, as in cupy
from ._array import ndarray, unwrap, wrap, wrap_function
from ._transfers import transfers

__version__ = "0.0-stand-in"

# Functions whose job is to bring data onto the device: host input is allowed and counted.
_FROM_HOST = ("array", "asarray", "ascontiguousarray", "asanyarray")


def _from_host(name):
    host_fn = getattr(numpy, name)

    def fn(obj, dtype=None, *args, **kwargs):
        if isinstance(obj, ndarray):
            out = host_fn(obj._a, dtype, *args, **kwargs)
            return obj if out is obj._a else wrap(out)
        if isinstance(obj, (list, tuple)) and any(isinstance(o, ndarray) for o in obj):
            return wrap(host_fn(unwrap(obj, "stack", strict=True), dtype, *args, **kwargs))
        transfers.record("h2d")
        return wrap(numpy.array(host_fn(obj, dtype, *args, **kwargs), copy=True))

    fn.__name__ = name
    return fn


array, asarray, ascontiguousarray, asanyarray = (_from_host(n) for n in _FROM_HOST)


def asnumpy(a, stream=None, order="C", out=None):
    """The host copy of a device array (a host input is returned as a NumPy array)."""
    if isinstance(a, ndarray):
        return a.get()
    return numpy.asarray(a, order=order)


def get_array_module(*args):
    return sys.modules[__name__] if any(isinstance(a, ndarray) for a in args) else numpy


# Names CuPy does not have, so that code relying on them fails here as it would on a GPU.
_ABSENT = {"errstate", "seterr", "geterr", "add_docstring", "testing", "matrix", "recarray", "ma"}


def __getattr__(name):
    if name in _ABSENT or name.startswith("__"):
        raise AttributeError(f"module 'fake_cupy' (a CuPy stand-in) has no attribute {name!r}")
    value = getattr(numpy, name)
    if isinstance(value, (numpy.ufunc, type)) or not callable(value):
        return value  # ufuncs dispatch through ndarray.__array_ufunc__; dtypes and constants as they are
    fn = wrap_function(value, name)
    globals()[name] = fn
    return fn
