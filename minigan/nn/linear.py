"""Linear: y = x W^T + b, the dense layer of the GAN paper's MLPs."""
from __future__ import annotations

import numpy

from .. import functional as F
from . import init
from .module import Module, add_weight_and_bias, check_dtype


class Linear(Module):
    """y = x W^T + b with W of shape (out_features, in_features), as torch.nn.Linear.

    Initialisation (PyTorch's default): W ~ U(+-1/sqrt(in_features)) (kaiming_uniform_ with
    a = sqrt(5)), b ~ U(+-1/sqrt(in_features)), drawn from ``generator``. Pass the
    experiment's minigan.Generator for reproducible weights; None draws from OS entropy.
    Re-initialise differently with minigan.nn.init, e.g. init.normal_(layer.weight, 0, 0.02, generator=g).
    """

    def __init__(self, in_features, out_features, bias=True, *, dtype=numpy.float32, generator=None):
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(f"Linear: sizes must be positive, got in_features={in_features}, out_features={out_features}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        add_weight_and_bias(self, (out_features, in_features), out_features if bias else None, dtype)
        self.reset_parameters(generator)

    def reset_parameters(self, generator=None):
        init.default_weight_and_bias_(self.weight, self.bias, generator)

    def forward(self, x):
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features}, {self.out_features}): expected input (..., {self.in_features}), "
                f"got shape {x.shape}"
            )
        check_dtype(self, x)
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
