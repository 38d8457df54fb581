"""Flatten and Unflatten: reshape between a conv stack's (N, C, H, W) and a dense layer's (N, F)."""
from __future__ import annotations

import math

from .. import functional as F
from ..autograd import Tensor
from .module import Module


class Flatten(Module):
    """Merge dims start_dim..end_dim into one (default: everything but the batch), as torch.nn.Flatten."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, x) -> Tensor:
        s, e = self.start_dim % x.ndim, self.end_dim % x.ndim
        if s > e:
            raise ValueError(
                f"Flatten: start_dim {self.start_dim} comes after end_dim {self.end_dim} for shape {x.shape}"
            )
        shape = x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:]
        return F.reshape(x, shape)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim into unflattened_size, as torch.nn.Unflatten: Unflatten(1, (C, H, W)) turns a
    generator's dense (N, C*H*W) output into feature maps."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = int(dim), tuple(int(n) for n in unflattened_size)

    def forward(self, x) -> Tensor:
        d = self.dim % x.ndim
        if math.prod(self.unflattened_size) != x.shape[d]:
            raise ValueError(
                f"Unflatten: dim {self.dim} of shape {x.shape} has {x.shape[d]} elements, "
                f"cannot split into {self.unflattened_size}"
            )
        return F.reshape(x, x.shape[:d] + self.unflattened_size + x.shape[d + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
