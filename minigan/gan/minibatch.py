"""Letting D look at a whole minibatch: minibatch discrimination and PacGAN packing.

A collapsed G puts its whole minibatch on one point. A D that judges one example at a time
cannot see that (each sample alone may look real); a D that compares examples can. Two ways:

**Minibatch discrimination** (Salimans et al. 2016, "Improved techniques for training GANs",
section 3.2). A layer in D maps each example's features f(x_i) in R^A through a tensor
T in R^{A x B x C} to a matrix M_i = f(x_i) T in R^{B x C}, and measures, for each of its B
rows (kernels), how close x_i is to the other examples of its minibatch:

    c_b(x_i, x_j) = exp(-||M_{i,b} - M_{j,b}||_1),      o(x_i)_b = sum_{j=1}^n c_b(x_i, x_j),

then hands on [f(x_i), o(x_i)] in R^{A + B} to D's next layer. For a collapsed minibatch every
c_b is 1 and o(x_i)_b = n; for a spread-out one o(x_i)_b is near 1 (the j = i term).
Real and generated minibatches pass D separately (as in Algorithm 1 here), so o tells D
how diverse *this* minibatch is.

    d o_b(x_i) / d M_{k,b,c} = -sum_j c_b(x_i, x_j) sign(M_{i,b,c} - M_{j,b,c}) ([k = i] - [k = j]);

the j = i term is the constant exp(0) = 1 and contributes nothing (its two sign terms cancel).

**PacGAN** (Lin, Khetan, Fanti and Oh 2018, "PacGAN: the power of two samples in generative
adversarial networks"). D is given ``pack`` examples at once, all real or all generated,
concatenated into one input: a minibatch of m examples of dimension d becomes m / pack
"packed" examples of dimension pack * d, and D outputs one decision per pack. Only D's first
layer changes (its input is pack times wider). A mode-collapsed G produces packs of
near-identical samples, which real packs (independent draws from p_data) almost never are,
and the paper shows that packing penalises collapse in the divergence itself.
"""
from __future__ import annotations

import math

import numpy

from .. import backend
from .. import functional as F
from ..autograd import Function, Tensor
from ..backend import Array
from ..nn import init
from ..nn.module import Module, check_dtype, new_parameter


class PairwiseL1(Function):
    """dist_ijb = sum_c |M_ibc - M_jbc| for M of shape (n, B, C): the (n, n, B) L1 distances between rows.

    dL/dM_ibc = sum_j (g_ijb + g_jib) sign(M_ibc - M_jbc)   (M_i appears in pairs (i, j) and (j, i);
    the j = i term has sign(0) = 0). One op instead of a broadcast subtraction, abs and sum, whose
    backward passes would each sweep the (n, n, B, C) array again: this is the layer's whole cost.
    """

    def forward(self, M) -> Array:
        xp = backend.array_module(M)
        # one (n, n, B) slab per c: NumPy sums a short trailing axis of a 4-D array three times slower
        dist = xp.abs(M[:, None, :, 0] - M[None, :, :, 0])
        for c in range(1, M.shape[2]):
            dist += xp.abs(M[:, None, :, c] - M[None, :, :, c])
        return dist

    def backward(self, g) -> Tensor:
        M = self.inputs[0].data
        n, B = g.shape[0], g.shape[2]
        sign = Tensor(backend.array_module(M).sign(M[:, None] - M[None, :]))
        both = g + F.transpose(g, 1, 0, 2)              # g_ijb + g_jib
        return F.sum(F.reshape(both, n, n, B, 1) * sign, axis=1)


def pairwise_l1(M) -> Tensor:
    """The (n, n, B) L1 distances ||M_{i,b} - M_{j,b}||_1 of M (n, B, C) (PairwiseL1)."""
    if not isinstance(M, Tensor) or M.ndim != 3:
        raise ValueError(f"pairwise_l1: expected M of shape (n, B, C), got {getattr(M, 'shape', type(M).__name__)}")
    return PairwiseL1.apply(M)


class MinibatchDiscrimination(Module):
    """Features [f(x_i), o(x_i)] of shape (n, in_features + out_features) for input f of shape (n, in_features).

    out_features = B kernels, kernel_dims = C (Salimans et al. use B = 100, C = 5 on CIFAR-10).
    T is a Parameter of shape (in_features, B * C), drawn from N(0, 1 / in_features) so that
    M_{i,b,c} has unit scale for unit-scale features. Cost: O(n^2 B C) per minibatch.
    """

    def __init__(self, in_features, out_features, kernel_dims, *, dtype=numpy.float32, generator=None):
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features), ("kernel_dims", kernel_dims)):
            if int(v) != v or v < 1:
                raise ValueError(f"MinibatchDiscrimination: {name} must be a positive integer, got {v!r}")
        self.in_features, self.out_features, self.kernel_dims = int(in_features), int(out_features), int(kernel_dims)
        self.T = new_parameter((self.in_features, self.out_features * self.kernel_dims), dtype)
        init.normal_(self.T, 0.0, 1.0 / math.sqrt(self.in_features), generator=generator)

    def forward(self, f) -> Tensor:
        if not isinstance(f, Tensor) or f.ndim != 2 or f.shape[1] != self.in_features:
            raise ValueError(f"MinibatchDiscrimination({self.in_features}, ...): expected features of shape "
                             f"(n, {self.in_features}), got {getattr(f, 'shape', type(f).__name__)}")
        check_dtype(self, f)
        n, B, C = f.shape[0], self.out_features, self.kernel_dims
        M = F.reshape(f @ self.T, n, B, C)                                       # M_i = f(x_i) T
        l1 = pairwise_l1(M)                                                      # (n, n, B)
        o = F.sum(F.exp(-l1), axis=1)                                            # o(x_i)_b = sum_j c_b
        return F.concatenate([f, o], axis=1)

    def extra_repr(self) -> str:
        return f"{self.in_features}, out_features={self.out_features}, kernel_dims={self.kernel_dims}"


def pack(x, pack) -> Tensor:
    """(m, d1, d2, ...) -> (m / pack, pack * d1 * d2 * ...): rows pack*g ... pack*g + pack - 1 become row g.

    m must be a multiple of pack (PacGAN's D decides on groups of ``pack`` examples).
    """
    if int(pack) != pack or pack < 1:
        raise ValueError(f"pack: pack (examples per group) must be a positive integer, got {pack!r}")
    if not isinstance(x, Tensor) or x.ndim < 1:
        raise TypeError(f"pack: expected a Tensor minibatch of shape (m, ...), got {type(x).__name__}")
    m = x.shape[0]
    if m % pack:
        raise ValueError(f"pack: the minibatch size m = {m} (input shape {x.shape}) is not a multiple of pack = {pack}")
    return F.reshape(x, m // int(pack), -1)


class Packed(Module):
    """PacGAN's discriminator: D(pack(x)), D built for inputs of pack * d features.

        D = Packed(mlp_D(generator, dim_in=pack * 2), pack=2)   # on the 2-D mixtures
        D(x)  # x: (m, 2) -> D's output (m / pack, 1): one decision per group of pack examples

    Algorithm 1's losses are minibatch means, so they work unchanged on m / pack decisions.
    """

    def __init__(self, D, pack):
        super().__init__()
        if int(pack) != pack or pack < 1:
            raise ValueError(f"Packed: pack (examples per group) must be a positive integer, got {pack!r}")
        self.D, self.pack = D, int(pack)

    def forward(self, x) -> Tensor:
        return self.D(pack(x, self.pack))

    def extra_repr(self) -> str:
        return f"pack={self.pack}"


__all__ = ["PairwiseL1", "pairwise_l1", "MinibatchDiscrimination", "pack", "Packed"]
