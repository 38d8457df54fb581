"""Virtual batch normalisation (Salimans et al. 2016, "Improved techniques for training GANs", section 3.5).

Batch norm makes each example's output depend on the other examples of its minibatch: in a
generator, G(z_i) then changes with the z_j drawn beside it, and at small minibatches those
fluctuations can dominate what G learns. Virtual batch norm normalises every example with the
statistics of a **reference batch** chosen once, at the start of training, and never changed:

    mu_ref  = mean over the reference batch (and spatial positions) of h_ref,      per feature
    var_ref = mean of (h_ref - mu_ref)^2,                                           per feature
    VBN(h)_i = gamma (h_i - mu_ref) / sqrt(var_ref + eps) + beta.

h_ref is the reference batch's activation *at this layer*, so it depends on the layers below:
every forward pass first runs the reference batch through the network (recording the statistics
of each VBN layer, with their graph, so the weights below also learn through them), then the
actual input. Hence the cost the paper notes: two forward passes, which is why it uses VBN in
the generator only. The output for example i depends on h_i and the reference batch only, never
on the rest of its own minibatch (tests/test_variants.py checks this).

(The authors' released code mixes example i itself into the statistics with weight 1/(n_ref + 1);
here the paper's text is followed: the reference batch alone.)

Derivative with s = sqrt(var_ref + eps), h-hat = (h - mu_ref) / s:
    d VBN_i / d h_i = gamma / s (elementwise); the dependence through mu_ref and var_ref flows to
    h_ref by the ordinary mean/variance derivatives (minigan ops, so twice differentiable).

Use ``ReferenceBatch(net, x_ref)``: it holds the fixed reference input and does the two passes.
"""
from __future__ import annotations

import numpy

from .. import functional as F
from ..autograd import Tensor
from . import init
from .module import Module, check_dtype, new_parameter


class VirtualBatchNorm(Module):
    """Normalise a (N, C) or (N, C, H, W) input per feature/channel C with a reference batch's statistics.

    gamma (weight) starts at 1 and beta (bias) at 0, as in BatchNorm. The layer must see a
    reference batch (``reference(h_ref)``, normally through ReferenceBatch) before an input.
    """

    def __init__(self, num_features, eps=1e-5, affine=True, *, dtype=numpy.float32):
        super().__init__()
        if int(num_features) != num_features or num_features < 1:
            raise ValueError(f"VirtualBatchNorm: num_features must be a positive integer, got {num_features!r}")
        self.num_features, self.eps, self.affine = int(num_features), float(eps), bool(affine)
        if affine:
            self.weight = init.ones_(new_parameter((num_features,), dtype))
            self.bias = init.zeros_(new_parameter((num_features,), dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self._ref_stats = None   # (mu_ref, var_ref) of the latest reference pass, with their graph
        self._collecting = False  # set by ReferenceBatch during the reference pass

    def _check(self, h):
        if not isinstance(h, Tensor) or h.ndim not in (2, 4) or h.shape[1] != self.num_features:
            raise ValueError(f"VirtualBatchNorm({self.num_features}): expected input (N, {self.num_features}) or "
                             f"(N, {self.num_features}, H, W), got {getattr(h, 'shape', type(h).__name__)}")
        if self.affine:
            check_dtype(self, h)

    def _normalise(self, h, mu, var):
        out = (h - mu) / F.sqrt(var + self.eps)
        if self.affine:
            shape = (1, self.num_features) + (1,) * (h.ndim - 2)
            out = out * F.reshape(self.weight, *shape) + F.reshape(self.bias, *shape)
        return out

    def reference(self, h_ref) -> Tensor:
        """Record mu_ref and var_ref from the reference batch's activations h_ref; return VBN(h_ref)."""
        self._check(h_ref)
        axes = (0,) + tuple(range(2, h_ref.ndim))   # every axis but the features'
        mu = F.mean(h_ref, axis=axes, keepdims=True)
        var = F.mean((h_ref - mu) ** 2, axis=axes, keepdims=True)   # biased, as batch norm's normalisation
        self._ref_stats = (mu, var)
        return self._normalise(h_ref, mu, var)

    def forward(self, h) -> Tensor:
        if self._collecting:
            return self.reference(h)
        if self._ref_stats is None:
            raise RuntimeError(f"VirtualBatchNorm({self.num_features}): no reference batch seen yet; wrap the network "
                               "in nn.ReferenceBatch(net, x_ref) (or call .reference(h_ref) first)")
        self._check(h)
        mu, var = self._ref_stats
        if mu.ndim != h.ndim:
            raise ValueError(f"VirtualBatchNorm({self.num_features}): the reference batch had {mu.ndim} axes, "
                             f"the input has shape {h.shape}")
        return self._normalise(h, mu, var)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, affine={self.affine}"


class ReferenceBatch(Module):
    """``net`` with its VirtualBatchNorm layers normalised by the fixed reference input ``x_ref``.

        G = ReferenceBatch(nn.Sequential(nn.Linear(2, 64), nn.VirtualBatchNorm(64), nn.ReLU(), ...),
                           x_ref=p_z(generator, 128))     # z_ref: drawn once, kept (a buffer)
        G(z)   # runs net(x_ref) to record each layer's reference statistics, then returns net(z)

    x_ref is a buffer: saved with state_dict (a resumed run keeps its reference batch) and never trained.
    """

    def __init__(self, net, x_ref):
        super().__init__()
        if not isinstance(x_ref, Tensor):
            raise TypeError(f"ReferenceBatch: x_ref must be a Tensor (the reference input), got {type(x_ref).__name__}")
        self.net = net
        self.register_buffer("x_ref", x_ref.detach())
        self._vbn = [m for m in net.modules() if isinstance(m, VirtualBatchNorm)]
        if not self._vbn:
            raise ValueError("ReferenceBatch: net has no VirtualBatchNorm layer")

    def forward(self, x) -> Tensor:
        for layer in self._vbn:
            layer._collecting = True
        try:
            self.net(self.x_ref)                    # the reference pass: records (mu_ref, var_ref) per layer
        finally:
            for layer in self._vbn:
                layer._collecting = False
        return self.net(x)


__all__ = ["VirtualBatchNorm", "ReferenceBatch"]
