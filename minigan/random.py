"""Random numbers for experiments: one seedable Generator per experiment.

Numbers are drawn on the host with NumPy's PCG64 and then placed on the default (or a
named) backend. Drawing on the host costs a copy on GPU runs but makes a seed mean the
same numbers on NumPy and CuPy, and the state is a small JSON-able dict that a
checkpoint can store and restore exactly.
"""
from __future__ import annotations

import numpy

from . import backend
from .autograd import Tensor


class Generator:
    """A seeded source of random Tensors (normal, uniform, integers, permutations, Bernoulli masks)."""

    def __init__(self, seed=None):
        self.np = numpy.random.default_rng(seed)

    def _place(self, array, dtype, backend_name):
        array = array.astype(dtype, copy=False)
        name = backend_name or backend.default_backend()
        return Tensor(backend.to_backend(array, name))

    def normal(self, shape, mean=0.0, std=1.0, dtype=numpy.float32, backend_name=None) -> Tensor:
        return self._place(self.np.normal(mean, std, size=shape), dtype, backend_name)

    def uniform(self, shape, low=0.0, high=1.0, dtype=numpy.float32, backend_name=None) -> Tensor:
        return self._place(self.np.uniform(low, high, size=shape), dtype, backend_name)

    def integers(self, low, high, shape, backend_name=None) -> Tensor:
        return self._place(self.np.integers(low, high, size=shape), numpy.int64, backend_name)

    def permutation(self, n) -> numpy.ndarray:
        return self.np.permutation(n)

    def bernoulli(self, p, shape, dtype=numpy.float32, backend_name=None) -> Tensor:
        """1 with probability p, else 0."""
        return self._place(self.np.random(size=shape) < p, dtype, backend_name)

    def state_dict(self) -> dict:
        """The bit generator's full state (plain ints and strings: JSON-able)."""
        return self.np.bit_generator.state

    def load_state_dict(self, state: dict) -> None:
        if state.get("bit_generator") != type(self.np.bit_generator).__name__:
            raise ValueError(
                f"Generator.load_state_dict: state is for {state.get('bit_generator')!r}, "
                f"this generator uses {type(self.np.bit_generator).__name__!r}"
            )
        self.np.bit_generator.state = state


def manual_seed(seed) -> Generator:
    """A new Generator seeded with ``seed`` (minigan keeps no hidden global generator)."""
    return Generator(seed)
