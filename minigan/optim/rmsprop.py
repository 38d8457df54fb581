"""RMSprop: divide the gradient by a running root-mean-square of its recent values."""
from __future__ import annotations

from .. import backend
from .optimizer import Optimizer, check_range


class RMSprop(Optimizer):
    r"""RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, momentum=0, weight_decay=0), as torch.optim.RMSprop.

    With gradient g, at every step:

        g ← g + λ p                        (weight_decay λ)
        s ← α s + (1 − α) g²               (running mean of g², elementwise; s₀ = 0)
        u = g / (√s + ε)                   (the gradient in units of its own recent RMS)
        b ← μ b + u,  p ← p − η b          (with momentum μ > 0; b₀ = 0)
        p ← p − η u                        (without momentum)

    There is no bias correction (unlike Adam): s starts at 0, so the first steps are large,
    about η/√(1 − α) · sign(g) at the first. WGAN trained its critic with RMSprop (η = 5e-5).
    PyTorch's ``centered`` variant is not implemented.
    """

    hyperparameter_names = ("lr", "alpha", "eps", "momentum", "weight_decay")
    state_names = ("step", "square_avg", "momentum_buffer")
    required_state_names = ("step", "square_avg")  # momentum_buffer appears with the first momentum step
    nonnegative_state_names = ("square_avg",)

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, momentum=0.0, weight_decay=0.0):
        super().__init__(params)
        self.lr, self.alpha, self.eps = lr, alpha, eps
        self.momentum, self.weight_decay = momentum, weight_decay
        self._check_hyperparameters()

    def _check_hyperparameters(self):
        check_range(self, "lr", self.lr)
        check_range(self, "alpha", self.alpha, 0.0, 1.0)
        check_range(self, "eps", self.eps)
        check_range(self, "momentum", self.momentum)
        check_range(self, "weight_decay", self.weight_decay)

    def _update(self, p, g, state):
        xp = backend.array_module(p)
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(p)
        state["step"] += 1
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        s = state["square_avg"]
        s *= self.alpha
        s += (1 - self.alpha) * (g * g)
        u = g / (xp.sqrt(s) + self.eps)
        if self.momentum > 0:
            b = state.get("momentum_buffer")
            if b is None:
                b = state["momentum_buffer"] = xp.zeros_like(p)
            b *= self.momentum
            b += u
            p -= self.lr * b
        else:
            p -= self.lr * u
