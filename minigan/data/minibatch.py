"""p_data for a data set held in memory: m examples drawn uniformly, where the data live.

``DataSampler(images)(generator, m)`` is the "sample minibatch of m examples from the data
generating distribution" of Algorithm 1 for a finite training set: m indices drawn uniformly
with replacement, and the rows they pick. The data set is placed on the default backend
once, when the sampler is made; the indices are drawn on that backend by the run's
minigan.Generator (its device stream on CuPy), so on a GPU a minibatch is gathered without
any copy from the host.
"""
from __future__ import annotations

from .. import backend
from ..autograd import Tensor
from ..random import Generator


class DataSampler:
    """Uniform minibatches (with replacement) of the rows of ``data`` (an array, first axis = examples)."""

    def __init__(self, data):
        if not hasattr(data, "shape") or len(data.shape) < 1 or data.shape[0] < 1:
            raise ValueError(f"DataSampler: data must be an array with at least one example, got "
                             f"{getattr(data, 'shape', type(data).__name__)}")
        self.data = backend.to_backend(data, backend.default_backend())  # one copy, at the start
        self.backend = backend.backend_of(self.data)
        self.n = int(data.shape[0])

    def __call__(self, generator, m) -> Tensor:
        if not isinstance(generator, Generator):
            raise TypeError(f"DataSampler: the first argument must be a minigan.Generator, "
                            f"got {type(generator).__name__}")
        if int(m) != m or m < 1:
            raise ValueError(f"DataSampler: m (the minibatch size) must be a positive integer, got {m!r}")
        idx = generator.integers(0, self.n, (int(m),), backend_name=self.backend).data
        return Tensor(self.data[idx])

    def __repr__(self):
        return f"DataSampler({self.n} examples of shape {tuple(self.data.shape[1:])} on {self.backend})"


__all__ = ["DataSampler"]
