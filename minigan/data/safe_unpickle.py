"""Read the classic ``mnist.pkl.gz`` without letting the pickle run code.

A pickle is a small program: its GLOBAL/STACK_GLOBAL opcodes name any importable callable
(``os.system``, ``builtins.eval``) and REDUCE calls it with arguments from the stream. So
``pickle.load`` on a file you did not write is arbitrary code execution. Every callable a
pickle can reach goes through ``Unpickler.find_class(module, name)``, the one door that
``RestrictedUnpickler`` guards: it admits exactly the globals a pickled NumPy array needs,

    numpy.core.multiarray._reconstruct   (or numpy._core.multiarray._reconstruct, NumPy 2's name)
    numpy.ndarray
    numpy.dtype

and raises ``UnsafePickleError`` naming any other global, before anything is called. The
admitted names are resolved from a fixed table, never by importing what the file asks for.
What they can do is limited to building arrays from the bytes in the file; object-dtype
arrays (which would hold further pickled Python objects) are refused after loading as well.

This module exists for one file format only; minigan's own files (checkpoints, the .npz
cache of MNIST) are loaded with ``numpy.load(allow_pickle=False)`` and never pickled.
"""
from __future__ import annotations

import pickle

import numpy

try:  # NumPy >= 2 keeps the implementation in numpy._core; numpy.core is a deprecated alias
    from numpy._core.multiarray import _reconstruct
except ImportError:  # NumPy 1.x
    from numpy.core.multiarray import _reconstruct

ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): numpy.ndarray,
    ("numpy", "dtype"): numpy.dtype,
}


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle asked for a global outside the allow-list (or produced a non-array object)."""


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that can only rebuild NumPy arrays (see the module docstring)."""

    def find_class(self, module, name):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except (KeyError, TypeError):
            allowed = ", ".join(f"{m}.{n}" for m, n in ALLOWED_GLOBALS)
            raise UnsafePickleError(
                f"refused to load global {module}.{name} from a pickle: only NumPy array "
                f"reconstruction is allowed ({allowed})"
            ) from None

    def persistent_load(self, pid):
        raise UnsafePickleError(f"refused persistent id {pid!r}: not part of a pickled NumPy array")


MAX_DEPTH = 100  # nesting of tuples/lists; mnist.pkl.gz has 2


def _check_arrays(obj, where="pickle", depth=0):
    """Raise unless ``obj`` is made only of tuples/lists of non-object NumPy arrays, at most MAX_DEPTH deep."""
    if depth > MAX_DEPTH:
        raise UnsafePickleError(f"{where[:200]}...: tuples/lists nested more than {MAX_DEPTH} levels deep; refused")
    if isinstance(obj, (tuple, list)):
        for i, item in enumerate(obj):
            _check_arrays(item, f"{where}[{i}]", depth + 1)
    elif isinstance(obj, numpy.ndarray):
        if obj.dtype.hasobject:
            raise UnsafePickleError(f"{where}: array of dtype {obj.dtype} holds Python objects; refused")
    else:
        raise UnsafePickleError(f"{where}: expected NumPy arrays in (nested) tuples, got {type(obj).__name__}")


def load_arrays(fileobj, encoding: str = "latin1"):
    """Unpickle ``fileobj`` (an open binary file) admitting only NumPy arrays in tuples/lists.

    ``encoding="latin1"`` reads pickles written by Python 2 (like mnist.pkl.gz), whose array
    bytes were stored as ``str``; latin-1 maps each byte to one character and back losslessly.
    """
    try:
        obj = RestrictedUnpickler(fileobj, encoding=encoding).load()
    except RecursionError:  # the pure-Python unpickler recurses on deep nesting
        raise UnsafePickleError("the pickle nests objects too deeply to load; refused") from None
    _check_arrays(obj)
    return obj
