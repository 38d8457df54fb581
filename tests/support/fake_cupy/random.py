"""cupy.random: random numbers drawn on the device (here: NumPy's PCG64, wrapped as device arrays).

The stream differs from a NumPy Generator with the same seed on purpose: real CuPy draws
with cuRAND, so code must not expect a seed to give the same numbers on both backends.
"""
from __future__ import annotations

import numpy

from ._array import ndarray, wrap

_STAND_IN_KEY = 0x63757079  # mixes into the seed so this stream is not NumPy's own for the same seed


class RandomState:
    """The subset of cupy.random.RandomState that minigan uses; every result is a device array."""

    def __init__(self, seed=None):
        self._rng = numpy.random.default_rng(None if seed is None else [int(seed), _STAND_IN_KEY])

    def normal(self, loc=0.0, scale=1.0, size=None, dtype=float):
        return wrap(numpy.asarray(self._rng.normal(loc, scale, size), dtype=dtype))

    def standard_normal(self, size=None, dtype=float):
        return wrap(numpy.asarray(self._rng.standard_normal(size), dtype=dtype))

    def uniform(self, low=0.0, high=1.0, size=None, dtype=float):
        return wrap(numpy.asarray(self._rng.uniform(low, high, size), dtype=dtype))

    def random_sample(self, size=None, dtype=float):
        return wrap(numpy.asarray(self._rng.random(size), dtype=dtype))

    def randint(self, low, high=None, size=None, dtype=int):
        return wrap(numpy.asarray(self._rng.integers(low, high, size), dtype=dtype))

    def permutation(self, n):
        if isinstance(n, ndarray):
            return wrap(self._rng.permutation(n._a))
        return wrap(self._rng.permutation(int(n)))


def default_rng(seed=None):
    return RandomState(seed)
