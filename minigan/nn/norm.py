"""BatchNorm1d and BatchNorm2d: the layers around minigan/ops/normalization.py.

DCGAN puts batch norm after every layer except the generator's output and the
discriminator's input, and feeds real and fake minibatches through D separately, so
each batch is normalised with its own statistics.
"""
from __future__ import annotations

import numpy

from .. import backend
from .. import functional as F
from ..autograd import Tensor, no_grad
from . import init
from .module import Module, check_dtype, new_parameter


class _BatchNorm(Module):
    _ndims: tuple
    _expected: str

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, *,
                 dtype=numpy.float32):
        super().__init__()
        if num_features < 1:
            raise ValueError(f"{type(self).__name__}: num_features must be positive, got {num_features}")
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), float(momentum)
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        if affine:  # gamma = 1 and beta = 0 start the layer as a pure normalisation
            self.weight = init.ones_(new_parameter((num_features,), dtype))
            self.bias = init.zeros_(new_parameter((num_features,), dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            xp = backend.default_module()
            self.register_buffer("running_mean", Tensor(xp.zeros(num_features, dtype=dtype)))
            self.register_buffer("running_var", Tensor(xp.ones(num_features, dtype=dtype)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)

    def forward(self, x):
        if x.ndim not in self._ndims or x.shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}({self.num_features}): "
                f"expected input {self._expected.format(C=self.num_features)}, "
                f"got shape {x.shape}"
            )
        if self.affine:
            check_dtype(self, x)
        return F.batch_norm(x, self.weight, self.bias, self.running_mean, self.running_var,
                            training=self.training, momentum=self.momentum, eps=self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm over a (N, C) or (N, C, L) input, per feature C (as torch.nn.BatchNorm1d).

    weight (gamma) starts at 1, bias (beta) at 0; running_mean (0) and running_var (1) are
    buffers: saved in state_dict and moved by .to(), not trained. train() normalises with
    the batch and updates them (momentum 0.1: new = 0.9 old + 0.1 batch, unbiased variance);
    eval() normalises with them.
    """

    _ndims = (2, 3)
    _expected = "(N, {C}) or (N, {C}, L)"


class BatchNorm2d(_BatchNorm):
    """Batch norm over a (N, C, H, W) input, per channel C, statistics over N, H and W
    (as torch.nn.BatchNorm2d). Parameters and buffers as BatchNorm1d."""

    _ndims = (4,)
    _expected = "(N, {C}, H, W)"


def recompute_running_stats(module, batches) -> int:
    """Set every batch-norm layer's running statistics in ``module`` to the mean of its batch statistics
    over ``batches`` (an iterable of inputs, each passed as ``module(batch)``). Returns how many batches.

    Why: eval mode normalises with running statistics, which training accumulates for the weights it
    had at the time. Weights put in from elsewhere -- an average of the iterates (minigan/optim/
    averaging.py) -- produce other activations, so the statistics must be measured again for them
    (Izmailov et al. 2018 do the same for stochastic weight averaging). With the statistics reset,
    batch i (from 0) is taken with momentum r = 1/(i + 1), so after n batches

        running_mean = (1/n) sum_i mean_i,      running_var = (1/n) sum_i var_i (unbiased, as training's),

    the plain mean, with no dependence on the order. The forward passes run in train mode without
    a graph; the layers' momentum and the module's mode are restored afterwards.
    """
    layers = [m for m in module.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]
    momenta, was_training = [m.momentum for m in layers], module.training
    for m in layers:
        m.reset_running_stats()
    n = 0
    module.train()
    try:
        with no_grad():
            for n, batch in enumerate(batches, start=1):
                for m in layers:
                    m.momentum = 1.0 / n
                module(batch)
    finally:
        for m, r in zip(layers, momenta):
            m.momentum = r
        module.train(was_training)
    if n == 0:
        raise ValueError("recompute_running_stats: no batches given; the statistics were reset and left empty")
    return n
