"""Activation layers: modules with no parameters around minigan.functional's nonlinearities.

GANs use all four: ReLU in DCGAN's generator, LeakyReLU(0.2) in its discriminator (it
avoids the sparse gradients of ReLU), Tanh on the generator's output (data scaled to
[-1, 1]) and Sigmoid where D(x) itself, not its logit, is wanted.
"""
from __future__ import annotations

from .. import functional as F
from ..autograd import Tensor
from .module import Module


class ReLU(Module):
    """y = max(x, 0)."""

    def forward(self, x) -> Tensor:
        return F.relu(x)


class LeakyReLU(Module):
    """y = x if x > 0 else negative_slope * x. PyTorch's default slope is 0.01; GANs use 0.2."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Tanh(Module):
    """y = tanh x, in (-1, 1)."""

    def forward(self, x) -> Tensor:
        return F.tanh(x)


class Sigmoid(Module):
    """y = 1 / (1 + exp(-x)), in (0, 1). For a loss, keep the logit and use BCE-with-logits instead."""

    def forward(self, x) -> Tensor:
        return F.sigmoid(x)


class Identity(Module):
    """y = x (a placeholder, e.g. where batch norm is switched off)."""

    def forward(self, x) -> Tensor:
        return x
