"""Random numbers for experiments: one seedable Generator per experiment.

A Generator holds two streams, both fixed by its seed:

* the **host stream**, NumPy's PCG64 (``generator.np``): every draw for the NumPy backend,
  and weight initialisation on any backend (drawn on the host, then copied once);
* the **device stream**, CuPy's own generator (cuRAND), made on the first draw for the CuPy
  backend: z, minibatch indices, dropout masks and noise of a GPU run are drawn where they
  are used, so a training iteration copies nothing from the host.

What a seed reproduces, therefore: on NumPy, every number of a run, and a run resumed from a
checkpoint continues exactly as if it had not stopped. On CuPy, a run from its start (same
seed, CuPy version and GPU), but not the NumPy run's numbers; a resumed GPU run draws from a
device stream reseeded from the checkpoint (deterministic, yet not the uninterrupted run's
numbers), because cuRAND's state cannot be saved. The host stream's state is a small
JSON-able dict that a checkpoint stores and restores exactly.
"""
from __future__ import annotations

import numpy

from . import backend
from .autograd import Tensor

_DEVICE_KEY = 0x6D67  # spawn key: the device stream's seed is a child of the Generator's seed


class Generator:
    """A seeded source of random Tensors (normal, uniform, integers, permutations, Bernoulli masks)."""

    def __init__(self, seed=None):
        seq = numpy.random.SeedSequence(seed)
        self.np = numpy.random.default_rng(seq)  # the same stream as default_rng(seed)
        self._device_seed = int(numpy.random.SeedSequence(seq.entropy, spawn_key=(_DEVICE_KEY,))
                                .generate_state(1, numpy.uint32)[0])
        self._device = None       # cupy RandomState, made on the first device draw
        self._device_draws = 0    # draws from the device stream since it was (re)seeded

    def _target(self, backend_name):
        return backend_name or backend.default_backend()

    def _dev(self):
        if self._device is None:
            self._device = backend.get_cupy().random.RandomState(self._device_seed)
        self._device_draws += 1
        return self._device

    def _place(self, array, dtype, backend_name):
        array = array.astype(dtype, copy=False)
        return Tensor(backend.to_backend(array, self._target(backend_name)))

    def normal(self, shape, mean=0.0, std=1.0, dtype=numpy.float32, backend_name=None) -> Tensor:
        if self._target(backend_name) == "cupy":
            return Tensor(self._dev().normal(mean, std, size=shape, dtype=dtype))
        return self._place(self.np.normal(mean, std, size=shape), dtype, backend_name)

    def uniform(self, shape, low=0.0, high=1.0, dtype=numpy.float32, backend_name=None) -> Tensor:
        if self._target(backend_name) == "cupy":
            return Tensor(self._dev().uniform(low, high, size=shape, dtype=dtype))
        return self._place(self.np.uniform(low, high, size=shape), dtype, backend_name)

    def integers(self, low, high, shape, backend_name=None) -> Tensor:
        if self._target(backend_name) == "cupy":
            return Tensor(self._dev().randint(low, high, size=shape, dtype=numpy.int64))
        return self._place(self.np.integers(low, high, size=shape), numpy.int64, backend_name)

    def permutation(self, n) -> numpy.ndarray:
        """A permutation of range(n) on the host (for splitting data sets, not per-iteration work)."""
        return self.np.permutation(n)

    def bernoulli(self, p, shape, dtype=numpy.float32, backend_name=None) -> Tensor:
        """1 with probability p, else 0."""
        if self._target(backend_name) == "cupy":
            return Tensor((self._dev().random_sample(size=shape, dtype=numpy.float32) < p).astype(dtype))
        return self._place(self.np.random(size=shape) < p, dtype, backend_name)

    def state_dict(self) -> dict:
        """The host stream's full state (plain ints and strings: JSON-able), and where the device stream stands."""
        state = dict(self.np.bit_generator.state)
        if self._device is not None:
            state["device"] = {"seed": self._device_seed, "draws": self._device_draws}
        return state

    def load_state_dict(self, state: dict) -> None:
        if state.get("bit_generator") != type(self.np.bit_generator).__name__:
            raise ValueError(
                f"Generator.load_state_dict: state is for {state.get('bit_generator')!r}, "
                f"this generator uses {type(self.np.bit_generator).__name__!r}"
            )
        device = state.get("device")
        self.np.bit_generator.state = {k: v for k, v in state.items() if k != "device"}
        if device is not None:
            # cuRAND's state cannot be restored: continue on a stream seeded by where the saved one stood
            words = numpy.random.SeedSequence([int(device["seed"]), int(device["draws"])]).generate_state(1)
            self._device_seed, self._device_draws, self._device = int(words[0]), 0, None


def manual_seed(seed) -> Generator:
    """A new Generator seeded with ``seed`` (minigan keeps no hidden global generator)."""
    return Generator(seed)
