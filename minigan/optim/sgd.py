"""Stochastic gradient descent with momentum and Nesterov momentum: the GAN paper's optimiser."""
from __future__ import annotations

from .optimizer import Optimizer, check_range


class SGD(Optimizer):
    r"""SGD(params, lr, momentum=0, nesterov=False, weight_decay=0, dampening=0), as torch.optim.SGD.

    With gradient g of the loss at parameters p, at every step:

        g ← g + λ p                         (weight_decay λ: the gradient of λ/2 ‖p‖²)
        b ← g                               at the first step (no dampening yet)
        b ← μ b + (1 − τ) g                 afterwards (momentum μ, dampening τ)
        d ← g + μ b  (Nesterov)   or   d ← b  (heavy ball)
        p ← p − η d                         (learning rate η)

    Without momentum (μ = 0) this is plain gradient descent, p ← p − η g. On a constant
    gradient b_n = g (1 + μ + … + μ^{n−1}) → g / (1 − μ): momentum multiplies the effective
    step by 1/(1 − μ) along directions where gradients agree, and averages away the noise
    where they do not (docs/03-optimizers.md derives it).

    The buffer b carries gradients, not steps (PyTorch's convention); the learning rate is
    applied when stepping. The GAN paper's code (pylearn2) kept a velocity v ← μ v − η g
    instead; the two agree while η is constant and differ slightly while it decays.
    ``opt.lr`` and ``opt.momentum`` may be changed between steps (minigan/optim/schedules.py).
    """

    hyperparameter_names = ("lr", "momentum", "dampening", "weight_decay", "nesterov")
    state_names = ("momentum_buffer",)
    required_state_names = state_names

    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0, dampening=0.0):
        super().__init__(params)
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, bool(nesterov)
        self._check_hyperparameters()

    def _check_hyperparameters(self):
        check_range(self, "lr", self.lr)
        check_range(self, "momentum", self.momentum)
        check_range(self, "dampening", self.dampening, 0.0, 1.0)
        check_range(self, "weight_decay", self.weight_decay)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(
                f"SGD: Nesterov momentum needs momentum > 0 and dampening = 0, got momentum={self.momentum}, "
                f"dampening={self.dampening}"
            )

    def _update(self, p, g, state):
        if self.weight_decay != 0:
            g = g + self.weight_decay * p  # a new array: the gradient itself is never modified
        if self.momentum != 0:
            b = state.get("momentum_buffer")
            if b is None:
                b = state["momentum_buffer"] = g.copy()
            else:
                b *= self.momentum
                b += g if self.dampening == 0 else (1 - self.dampening) * g  # no temporary when undamped
            g = g + self.momentum * b if self.nesterov else b
        p -= self.lr * g
