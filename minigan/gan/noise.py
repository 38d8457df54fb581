"""Instance noise: blur both p_data and p_g with the same Gaussian before D sees them, less and less.

When p_data and p_g live on thin sets that do not overlap (the 2-D mixtures' modes have std
0.01; images lie near a low-dimensional manifold), a perfect D exists, the JSD is a constant
log 2 and D's gradients carry no information for G (Arjovsky and Bottou 2017, "Towards
principled methods for training GANs", section 3; Sønderby et al. 2017, "Amortised MAP
inference for image super-resolution", section 3.1). Adding noise e ~ N(0, sigma^2 I) to every
input of D -- real and generated alike -- makes D compare p_data * N(0, sigma^2) with
p_g * N(0, sigma^2), two densities with the same support, whose divergence is smooth in G's
parameters. Annealing sigma to 0 recovers the original game at the end:

    D sees x + e and G(z) + e',   e, e' ~ N(0, sigma_t^2 I),
    sigma_t = sigma_0 max(0, 1 - t / T)          (linear decay, reaching 0 at iteration T).

G's gradient goes through the noisy input (d(G(z) + e')/dG(z) = I), so G is trained on the
blurred game too.

Pieces: ``NoiseSchedule`` (sigma_t, stepped once per iteration by Algorithm 1 as one of its
``schedules``, saved in checkpoints) and ``InstanceNoise`` (a Module wrapping D).
"""
from __future__ import annotations

from ..autograd import Tensor
from ..nn.module import Module
from ..random import Generator


class NoiseSchedule:
    """sigma_t = sigma_0 max(0, 1 - t / decay_steps): linear decay to 0 at t = decay_steps, then 0.

    t counts calls to ``step()``. Given to ``GAN(..., schedules=[...])`` with ``optimizer=opt_G``,
    Algorithm 1 steps it after each generator update, i.e. once per iteration (opt_D would step it
    k times per iteration). Has state_dict/load_state_dict, so checkpoints resume it exactly.
    """

    def __init__(self, sigma0, decay_steps, optimizer=None):
        if not sigma0 >= 0:
            raise ValueError(f"NoiseSchedule: sigma0 (the initial noise std) must be >= 0, got {sigma0!r}")
        if int(decay_steps) != decay_steps or decay_steps < 1:
            raise ValueError(f"NoiseSchedule: decay_steps must be a positive integer, got {decay_steps!r}")
        self.sigma0, self.decay_steps, self.optimizer = float(sigma0), int(decay_steps), optimizer
        self.t = 0

    def value(self, t) -> float:
        """sigma after t steps."""
        return self.sigma0 * max(0.0, 1.0 - t / self.decay_steps)

    @property
    def sigma(self) -> float:
        return self.value(self.t)

    def step(self) -> float:
        """Advance one iteration; returns the new sigma."""
        self.t += 1
        return self.sigma

    def state_dict(self) -> dict:
        return {"type": "NoiseSchedule", "t": self.t, "sigma0": self.sigma0, "decay_steps": self.decay_steps}

    def load_state_dict(self, state) -> None:
        if not isinstance(state, dict) or state.get("type") != "NoiseSchedule":
            raise ValueError(f"NoiseSchedule.load_state_dict: expected a dict from NoiseSchedule.state_dict(), "
                             f"got {state!r}")
        if float(state["sigma0"]) != self.sigma0 or int(state["decay_steps"]) != self.decay_steps:
            raise ValueError(f"NoiseSchedule.load_state_dict: saved sigma0={state['sigma0']}, "
                             f"decay_steps={state['decay_steps']}; this schedule has {self.sigma0}, {self.decay_steps}")
        self.t = int(state["t"])


class InstanceNoise(Module):
    """D(x + e), e ~ N(0, sigma_t^2 I) drawn afresh at every call; sigma_t from a NoiseSchedule.

        schedule = NoiseSchedule(0.1, decay_steps=steps // 2, optimizer=opt_G)
        D_noisy = InstanceNoise(D, schedule, generator)
        GAN(G, D_noisy, opt_D, opt_G, ..., schedules=[schedule])

    The noise is added in training mode only (``D_noisy.eval()`` sees clean inputs) and not at all
    once sigma_t = 0.

    ``generator`` is where the noise comes from:

    * a minigan.Generator -- usually the run's own, so a seed still fixes the run; the noise's
      draws then sit between the run's other draws (z, minibatches, dropout masks), which all
      change as soon as noise is switched on;
    * an integer seed s -- the noise of iteration t comes from Generator([s, t]) (t: the schedule's
      count of iterations), a stream of its own. The run's other draws are then exactly those of the
      same run without noise, so the two runs differ by the noise alone; and the noise needs no
      state in a checkpoint, since t (saved with the schedule) fixes it.
    """

    def __init__(self, D, schedule, generator):
        super().__init__()
        if not isinstance(schedule, NoiseSchedule):
            raise TypeError(f"InstanceNoise: schedule must be a NoiseSchedule, got {type(schedule).__name__}")
        keyed = isinstance(generator, int) and not isinstance(generator, bool)
        if not (isinstance(generator, Generator) or (keyed and generator >= 0)):
            raise TypeError(f"InstanceNoise: generator must be a minigan.Generator or a seed (an integer >= 0), "
                            f"got {generator!r}")
        self.D, self.schedule, self.generator = D, schedule, generator
        self._keyed_at = None  # (t, Generator([seed, t])) of the iteration the keyed stream last drew in

    def _stream(self) -> Generator:
        if isinstance(self.generator, Generator):
            return self.generator
        t = self.schedule.t
        if self._keyed_at is None or self._keyed_at[0] != t:  # a new iteration: its own stream
            self._keyed_at = (t, Generator([self.generator, t]))
        return self._keyed_at[1]

    def forward(self, x) -> Tensor:
        sigma = self.schedule.sigma
        if self.training and sigma > 0:
            if not isinstance(x, Tensor) or x.dtype.kind != "f":
                raise TypeError(f"InstanceNoise: D's input must be a floating-point Tensor, got {type(x).__name__}")
            x = x + self._stream().normal(x.shape, std=sigma, dtype=x.dtype, backend_name=x.backend)
        return self.D(x)


__all__ = ["NoiseSchedule", "InstanceNoise"]
