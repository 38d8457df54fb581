"""Loss layers: modules with no parameters around minigan.functional's losses (PyTorch's names).

    loss_fn = nn.BCEWithLogitsLoss()
    loss = loss_fn(D(x), 1.0)          # same as F.binary_cross_entropy_with_logits(D(x), 1.0)

Each takes ``reduction`` ('mean', 'sum' or 'none') when built and ``(input, target)`` when
called; the derivatives are stated in minigan/ops/losses.py and minigan/ops/likelihood.py.
"""
from __future__ import annotations

from .. import functional as F
from ..autograd import Tensor
from ..ops.losses import _check_reduction
from .module import Module


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        _check_reduction(type(self).__name__, reduction)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of logits: softplus(a) - t a, stable for any a (the GAN loss)."""

    def __init__(self, reduction="mean", weight=None):
        super().__init__(reduction)
        self.weight = weight

    def forward(self, input, target) -> Tensor:  # noqa: A002 - PyTorch's argument name
        return F.binary_cross_entropy_with_logits(input, target, self.reduction, self.weight)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities in [0, 1], logs clamped at -100 (prefer BCEWithLogitsLoss)."""

    def __init__(self, reduction="mean", weight=None):
        super().__init__(reduction)
        self.weight = weight

    def forward(self, input, target) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy(input, target, self.reduction, self.weight)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits (n, C) against labels (n,) or class probabilities (n, C)."""

    def forward(self, input, target) -> Tensor:  # noqa: A002
        return F.cross_entropy(input, target, self.reduction)


class NLLLoss(_Loss):
    """Negative log-likelihood of labels (n,) under log-probabilities (n, C)."""

    def forward(self, input, target) -> Tensor:  # noqa: A002
        return F.nll_loss(input, target, self.reduction)


class MSELoss(_Loss):
    """Squared error (a - b)^2 (LSGAN's loss with targets 1 and 0)."""

    def forward(self, input, target) -> Tensor:  # noqa: A002
        return F.mse_loss(input, target, self.reduction)
