"""cupy.linalg: numpy.linalg's functions on device arrays (host arrays refused)."""
from __future__ import annotations

import numpy

from ._array import wrap_function


def __getattr__(name):
    value = getattr(numpy.linalg, name)
    if isinstance(value, type) or not callable(value):
        return value
    return wrap_function(value, f"linalg.{name}")
