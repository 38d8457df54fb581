"""Averaging the parameters over training: an exponential moving average, or the plain mean, of the iterates.

SGD's last iterate θ_n still moves by about η times the gradient noise at every step, so samples
of G taken at θ_n carry that jitter. An average of the recent iterates cancels much of it without
slowing the learning itself (Polyak and Juditsky 1992; for GANs, Yazıcı et al., "The unusual
effectiveness of averaging in GAN training", ICLR 2019):

    θ̄ ← β θ̄ + (1 − β) θ          after every update of θ, starting from θ̄ = θ,

so θ̄_n = β^n θ_0 + (1 − β) Σ_{j=1..n} β^{n−j} θ_j: a weighted mean over roughly the last 1/(1 − β)
updates (β = 0.999: a thousand). Nothing here feeds back into training: θ̄ is read only when
G is evaluated (``swapped_in``). Starting from θ rather than from zero means no bias correction
is needed (Adam's zero start needs one, minigan/optim/adam.py).

The plain (Polyak) mean of every iterate since the start weighs old and new alike:

    θ̄ ← θ̄ + (θ − θ̄) / (n + 1)    after the n-th update since the start, θ̄ = θ at the start,

so θ̄_n = (θ_0 + θ_1 + ... + θ_n) / (n + 1) (``UniformAverage``). Its horizon grows with the run;
an exponential one forgets at a fixed rate. Which scores better is an empirical question
(docs/appendix-mnist.md A.3 compares exponential ones on MNIST).

Either average is tied to an optimizer like a schedule (``.optimizer``, ``step()`` after each of
its updates), so ``GAN(..., averages=[...])`` steps it and saves it in its checkpoints.

    G_avg = optim.ExponentialMovingAverage(opt_G, beta=0.999)
    gan = GAN(G, D, opt_D, opt_G, ..., averages=[G_avg])
    with G_avg.swapped_in():          # G's parameters hold θ̄ inside the block, θ after it
        samples = G(z)
"""
from __future__ import annotations

from contextlib import contextmanager

from .. import backend


class _ParameterAverage:
    """What both averages share: the copy θ̄ of the parameters, swapping it in, saving and restoring it."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.params = list(optimizer.params)
        self.reset()

    def reset(self):
        """Restart the average at the current parameters: θ̄ = θ, no updates counted."""
        self.average = [p.data.copy() for p in self.params]
        self._diff = [None] * len(self.params)  # one scratch array per parameter, made on the first step
        self.updates = 0

    def _follow_params(self):
        """Keep θ̄ on the parameters' backend: after ``module.to("cupy")`` the average moves too, as optimizer
        state does."""
        for i, (a, p) in enumerate(zip(self.average, self.params)):
            if backend.array_module(a) is not backend.array_module(p.data):
                self.average[i] = backend.to_backend(a, p.backend)
                self._diff[i] = None

    def _move_towards(self, rate):
        """θ̄ ← θ̄ + rate (θ − θ̄), in place, through a scratch array kept between steps."""
        self._follow_params()
        for i, (a, p) in enumerate(zip(self.average, self.params)):
            xp = backend.array_module(a)
            if self._diff[i] is None:
                self._diff[i] = xp.empty_like(a)
            diff = xp.subtract(p.data, a, out=self._diff[i])
            diff *= rate
            a += diff
        self.updates += 1

    @contextmanager
    def swapped_in(self):
        """Inside the block the parameters hold θ̄ (for sampling, scoring, saving a figure); θ is back after.

        They hold a copy of θ̄: an update made inside the block (by mistake, or by a layer that
        changes its own parameters) changes that copy and is dropped, never the average itself.
        """
        self._follow_params()
        held = [p.data for p in self.params]
        for a, p in zip(self.average, self.params):
            p.data = a.copy()
        try:
            yield self
        finally:
            for theta, p in zip(held, self.params):
                p.data = theta

    def _settings(self) -> dict:
        """What makes two averages the same average (a saved one may only be loaded into its like)."""
        return {}

    def state_dict(self) -> dict:
        return {"type": type(self).__name__, **self._settings(), "updates": self.updates,
                "average": [backend.as_numpy(a).copy() for a in self.average]}

    def load_state_dict(self, state: dict) -> None:
        name = type(self).__name__
        if not isinstance(state, dict) or state.get("type") != name:
            raise ValueError(f"{name}.load_state_dict: expected a dict from {name}.state_dict(), got "
                             f"{type(state).__name__} {state.get('type') if isinstance(state, dict) else ''}")
        for key, value in self._settings().items():
            if float(state[key]) != value:
                raise ValueError(f"{name}.load_state_dict: the saved average has {key} {state[key]}, this one "
                                 f"{value}; they are different averages")
        saved = state["average"]
        shapes = [tuple(p.data.shape) for p in self.params]
        if [tuple(a.shape) for a in saved] != shapes:
            raise ValueError(f"{name}.load_state_dict: saved shapes {[tuple(a.shape) for a in saved]} do not "
                             f"match the parameters' {shapes}")
        xp = backend.array_module(self.params[0].data) if self.params else None
        self.average = [xp.asarray(a, dtype=p.data.dtype).copy() for a, p in zip(saved, self.params)]
        self._diff = [None] * len(self.params)  # made again, like the new θ̄, on the next step
        self.updates = int(state["updates"])


class ExponentialMovingAverage(_ParameterAverage):
    """θ̄ ← β θ̄ + (1 − β) θ for every parameter of ``optimizer``, after each of its updates (``step()``)."""

    def __init__(self, optimizer, beta=0.999):
        if not 0.0 <= float(beta) < 1.0:
            raise ValueError(f"ExponentialMovingAverage: beta must be in [0, 1), got {beta!r}")
        self.beta = float(beta)
        super().__init__(optimizer)

    def step(self):
        """One update of the average: θ̄ ← θ̄ + (1 − β)(θ − θ̄), the same formula written in place."""
        self._move_towards(1.0 - self.beta)

    def _settings(self) -> dict:
        return {"beta": self.beta}


class UniformAverage(_ParameterAverage):
    """θ̄_n = (θ_0 + ... + θ_n) / (n + 1): the plain mean of the iterates since the start (``step()`` after each update)."""

    def step(self):
        """θ̄_{n+1} = θ̄_n + (θ_{n+1} − θ̄_n) / (n + 2): the running mean, one new iterate at a time."""
        self._move_towards(1.0 / (self.updates + 2))
