"""Maxout (Goodfellow et al. 2013): the hidden units of the GAN paper's MNIST discriminator."""
from __future__ import annotations

import numpy

from .. import functional as F
from . import init
from .module import Module, add_weight_and_bias, check_dtype


class Maxout(Module):
    """out_features units, each the max of `pieces` affine functions of the input:

        y_j = max_k (x W^T + b)[j*pieces + k],   W: (out_features*pieces, in_features).

    The same as torch's Linear(in, out*pieces) followed by .view(N, out, pieces).max(-1)
    (see F.maxout for the layout). Weight and bias start as Linear's do (PyTorch's default,
    from ``generator``; None: OS entropy). The GAN paper's MNIST D used 240 units of 5
    pieces, then 240 units of 5 pieces, then a sigmoid output.
    """

    def __init__(self, in_features, out_features, pieces, bias=True, *, dtype=numpy.float32, generator=None):
        super().__init__()
        if min(in_features, out_features, pieces) < 1:
            raise ValueError(
                f"Maxout: sizes must be positive, got in_features={in_features}, out_features={out_features}, "
                f"pieces={pieces}"
            )
        self.in_features, self.out_features, self.pieces = int(in_features), int(out_features), int(pieces)
        units = out_features * pieces  # one affine unit per piece, grouped by F.maxout
        add_weight_and_bias(self, (units, in_features), units if bias else None, dtype)
        self.reset_parameters(generator)

    def reset_parameters(self, generator=None):
        init.default_weight_and_bias_(self.weight, self.bias, generator)

    def forward(self, x):
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"Maxout({self.in_features}, ...): expected input (N, {self.in_features}), got {x.shape}")
        check_dtype(self, x)
        return F.maxout(F.linear(x, self.weight, self.bias), self.pieces)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, pieces={self.pieces}, "
                f"bias={self.bias is not None}")
