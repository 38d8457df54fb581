"""Random numbers for experiments: one seedable Generator per experiment.

Numbers are drawn on the host with NumPy's PCG64 and then placed on the default (or a
named) backend. Drawing on the host costs a copy on GPU runs but makes a seed mean the
same numbers on NumPy and CuPy, and the state is a small JSON-able dict that a
checkpoint can store and restore exactly.

Where no ``generator=`` is passed (layer construction, init, dropout, ``rand``/``randn``)
the draw comes from one module-level *default* Generator, as in PyTorch: it starts from
OS entropy, and ``manual_seed(s)`` reseeds it, so that

    mg.manual_seed(0); D1 = nn.Linear(3, 2)
    mg.manual_seed(0); D2 = nn.Linear(3, 2)      # D2's weights equal D1's

An explicit ``generator=`` always wins over the default. Checkpoints store the
experiment's own Generators, never the default one.
"""
from __future__ import annotations

import numpy

from . import backend
from .autograd import Tensor


class Generator:
    """A seeded source of random Tensors (normal, uniform, integers, permutations, Bernoulli masks)."""

    def __init__(self, seed=None):
        self.np = numpy.random.default_rng(seed)

    def manual_seed(self, seed) -> "Generator":
        """Restart this generator from ``seed`` (in place); returns it, as torch.Generator.manual_seed."""
        self.np = numpy.random.default_rng(seed)
        return self

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
