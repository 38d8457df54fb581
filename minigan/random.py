"""Random numbers for experiments: one seedable Generator per experiment.

A Generator holds two streams, both fixed by its seed:

* the **host stream**, NumPy's PCG64 (``generator.np``): every draw for the NumPy backend,
  and weight initialisation on any backend (drawn on the host, then copied once);
* the **device stream** (:class:`CounterStream`), used for draws on the CuPy backend: z,
  minibatch indices, dropout masks and noise of a GPU run are computed where they are used,
  so a training iteration copies nothing from the host.

The device stream is counter-based: the i-th number is a hash of (seed, i), SplitMix64's
mixing function (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number
generators"), computed elementwise by the array library itself. Its whole state is two
integers, so a checkpoint saves it exactly, and it gives the same numbers on any GPU and
CuPy version (and on NumPy arrays: the tests check it there).

What a seed reproduces, therefore: on NumPy, every number of a run; on CuPy, every number
of a GPU run, but not the NumPy run's (the two backends draw from different streams). On
both, a run resumed from a checkpoint continues exactly as if it had not stopped.

Where no ``generator=`` is passed (layer construction, init, dropout, ``rand``/``randn``)
the draw comes from one module-level *default* Generator, as in PyTorch: it starts from
OS entropy, and ``manual_seed(s)`` reseeds it, so that

    mg.manual_seed(0); D1 = nn.Linear(3, 2)
    mg.manual_seed(0); D2 = nn.Linear(3, 2)      # D2's weights equal D1's

An explicit ``generator=`` always wins over the default. Checkpoints store the
experiment's own Generators, never the default one.
"""
from __future__ import annotations

import math

import numpy

from . import backend
from .autograd import Tensor
from .backend import Array

_DEVICE_KEY = 0x6D67  # spawn key: the device stream's seed is a child of the Generator's seed
_MASK64 = (1 << 64) - 1


class CounterStream:
    """Uniform 64-bit words u_i = mix(seed + (i + 1) * golden), i = counter, counter + 1, ... (SplitMix64).

    Works on any array module ``xp`` (NumPy, CuPy): unsigned 64-bit arithmetic wraps around
    modulo 2^64 on both, which is what the mixing function needs. State: (seed, counter).
    """

    GOLDEN = 0x9E3779B97F4A7C15
    M1, M2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB

    def __init__(self, seed: int, counter: int = 0):
        self.seed, self.counter = int(seed) & _MASK64, int(counter)

    def words(self, xp, n: int) -> Array:
        """n words, as a uint64 array of xp; advances the counter by n."""
        u64 = xp.uint64
        i = xp.arange(1, n + 1, dtype=u64) + u64(self.counter % (1 << 64))
        self.counter += n
        z = u64(self.seed) + i * u64(self.GOLDEN)
        z = (z ^ (z >> u64(30))) * u64(self.M1)
        z = (z ^ (z >> u64(27))) * u64(self.M2)
        return z ^ (z >> u64(31))

    def random(self, xp, shape) -> Array:
        """Uniform on [0, 1) in float64: the top 53 bits of each word, times 2^-53."""
        n = math.prod(shape)
        return ((self.words(xp, n) >> xp.uint64(11)).astype(xp.float64) * (2.0 ** -53)).reshape(shape)

    def normal(self, xp, shape) -> Array:
        """Standard normal in float64 by Box-Muller: sqrt(-2 log(1 - u1)) cos(2 pi u2), u1, u2 uniform."""
        u = self.random(xp, (2,) + tuple(shape))
        return xp.sqrt(-2.0 * xp.log1p(-u[0])) * xp.cos(2.0 * math.pi * u[1])

    def integers(self, xp, low, high, shape) -> Array:
        """Uniform on {low, ..., high - 1}: floor(u (high - low)) + low (bias below 2^-53 relative per value)."""
        span = int(high) - int(low)
        if span < 1:
            raise ValueError(f"Generator.integers: need low < high, got low={low}, high={high}")
        k = xp.floor(self.random(xp, shape) * span).astype(xp.int64)
        return xp.minimum(k, span - 1) + int(low)


class Generator:
    """A seeded source of random Tensors (normal, uniform, integers, permutations, Bernoulli masks)."""

    def __init__(self, seed=None):
        self.manual_seed(seed)

    def _target(self, backend_name):
        return backend_name or backend.default_backend()

    def manual_seed(self, seed) -> "Generator":
        """Restart both streams from ``seed`` (in place); returns it, as torch.Generator.manual_seed."""
        seq = seed if isinstance(seed, numpy.random.SeedSequence) else numpy.random.SeedSequence(seed)
        self.np = numpy.random.default_rng(seq)  # the same stream as default_rng(seed)
        device_seed = numpy.random.SeedSequence(seq.entropy, spawn_key=(_DEVICE_KEY,)).generate_state(1, numpy.uint64)
        self.device = CounterStream(int(device_seed[0]))
        return self

    def _place(self, array, dtype, backend_name):
        array = array.astype(dtype, copy=False)
        return Tensor(backend.to_backend(array, self._target(backend_name)))

    def normal(self, shape, mean=0.0, std=1.0, dtype=numpy.float32, backend_name=None) -> Tensor:
        if self._target(backend_name) == "cupy":
            xp = backend.get_cupy()
            return Tensor((self.device.normal(xp, _shape(shape)) * std + mean).astype(dtype))
        return self._place(self.np.normal(mean, std, size=shape), dtype, backend_name)

    def uniform(self, shape, low=0.0, high=1.0, dtype=numpy.float32, backend_name=None) -> Tensor:
        if self._target(backend_name) == "cupy":
            xp = backend.get_cupy()
            return Tensor((self.device.random(xp, _shape(shape)) * (high - low) + low).astype(dtype))
        return self._place(self.np.uniform(low, high, size=shape), dtype, backend_name)

    def integers(self, low, high, shape, backend_name=None) -> Tensor:
        if self._target(backend_name) == "cupy":
            return Tensor(self.device.integers(backend.get_cupy(), low, high, _shape(shape)))
        return self._place(self.np.integers(low, high, size=shape), numpy.int64, backend_name)

    def permutation(self, n) -> numpy.ndarray:
        """A permutation of range(n) on the host (for splitting data sets, not per-iteration work)."""
        return self.np.permutation(n)

    def bernoulli(self, p, shape, dtype=numpy.float32, backend_name=None) -> Tensor:
        """1 with probability p, else 0."""
        if self._target(backend_name) == "cupy":
            return Tensor((self.device.random(backend.get_cupy(), _shape(shape)) < p).astype(dtype))
        return self._place(self.np.random(size=shape) < p, dtype, backend_name)

    def state_dict(self) -> dict:
        """Both streams' full state (plain ints and strings: JSON-able).

        The device part is saved even before the device stream's first draw: its seed comes from
        this Generator's seed, so another Generator loading the state needs it to draw the same numbers.
        """
        state = dict(self.np.bit_generator.state)
        state["device"] = {"seed": self.device.seed, "counter": self.device.counter}
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
            self.device = CounterStream(int(device["seed"]), int(device["counter"]))


def _shape(shape) -> tuple:
    return tuple(shape) if isinstance(shape, (tuple, list)) else (int(shape),)


_default = Generator()


def default_generator() -> Generator:
    """The Generator used wherever no ``generator=`` is given (see the module docstring)."""
    return _default


def manual_seed(seed) -> Generator:
    """Reseed the default Generator with ``seed`` and return it (torch.manual_seed's behaviour).

    Layers, init functions, dropout and ``rand``/``randn`` built or called without
    ``generator=`` then draw reproducibly from it.
    """
    return _default.manual_seed(seed)


def resolve(generator, where: str) -> Generator:
    """``generator`` itself, or the default Generator when it is None; ``where`` names the caller in errors."""
    if generator is None:
        return _default
    if not isinstance(generator, Generator):
        raise TypeError(f"{where}: generator must be a minigan.Generator or None, got {type(generator).__name__}")
    return generator
