"""Adam: momentum on the gradient, per-coordinate scaling by its running magnitude, bias-corrected."""
from __future__ import annotations

from .. import backend
from .optimizer import Optimizer, check_range


class Adam(Optimizer):
    r"""Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0), as torch.optim.Adam.

    With gradient g and this parameter's step count t (1 at its first update):

        g ← g + λ p                        (weight_decay λ: L2 added to the gradient; not AdamW)
        m ← β1 m + (1 − β1) g              (first moment: a running mean of g; m₀ = 0)
        v ← β2 v + (1 − β2) g²             (second moment: a running mean of g², elementwise)
        m̂ = m / (1 − β1^t)                 (bias corrections: m and v start at 0, so early
        v̂ = v / (1 − β2^t)                  averages are shrunk by exactly these factors)
        p ← p − η m̂ / (√v̂ + ε)

    At t = 1: m̂ = g and v̂ = g², so the first step is η g/(|g| + ε) ≈ η sign(g) whatever the
    gradient's scale. DCGAN's setting for GANs: η = 2e-4, β1 = 0.5.
    """

    hyperparameter_names = ("lr", "betas", "eps", "weight_decay")
    state_names = ("step", "exp_avg", "exp_avg_sq")
    required_state_names = state_names
    nonnegative_state_names = ("exp_avg_sq",)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params)
        self.lr, self.betas, self.eps, self.weight_decay = lr, tuple(betas), eps, weight_decay
        self._check_hyperparameters()

    def _check_hyperparameters(self):
        check_range(self, "lr", self.lr)
        if len(self.betas) != 2:
            raise ValueError(f"Adam: betas should be a pair (beta1, beta2), got {self.betas!r}")
        check_range(self, "betas[0]", self.betas[0], 0.0, 1.0, high_open=True)
        check_range(self, "betas[1]", self.betas[1], 0.0, 1.0, high_open=True)
        check_range(self, "eps", self.eps)
        check_range(self, "weight_decay", self.weight_decay)

    def _update(self, p, g, state):
        beta1, beta2 = self.betas
        if not state:
            xp = backend.array_module(p)
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p)
            state["exp_avg_sq"] = xp.zeros_like(p)
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        m, v = state["exp_avg"], state["exp_avg_sq"]
        state["step"] = t = state["step"] + 1
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * (g * g)
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        xp = backend.array_module(p)
        p -= self.lr * m_hat / (xp.sqrt(v_hat) + self.eps)
