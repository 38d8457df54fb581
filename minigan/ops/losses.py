"""Losses on raw network outputs: binary cross-entropy from logits, and squared error.

A GAN's discriminator outputs a logit a; D(x) = sigmoid(a). Its loss for a target t
(1 real, 0 fake, 0.9 with one-sided label smoothing) is the binary cross-entropy

    BCE(a, t) = -t log sigmoid(a) - (1 - t) log(1 - sigmoid(a))
              = t softplus(-a) + (1 - t) softplus(a)
              = softplus(a) - t a                       (softplus(-a) = softplus(a) - a)

computed here as  max(a, 0) - t a + log1p(exp(-|a|)),  where exp never overflows and the
large terms max(a, 0) - t a cancel exactly before the small one is added. Never compute
it as -log(sigmoid(a)) with the probability clipped to [eps, 1 - eps]: past the clip the
gradient is exactly zero, so a discriminator that is confidently wrong stops learning --
and a generator facing a confident discriminator is the normal state early in a GAN.
"""
from __future__ import annotations

import numbers

from .. import backend
from ..autograd import Function, Tensor
from .activations import sigmoid
from .arithmetic import as_tensor
from .reductions import mean
from .reductions import sum as reduce_sum

_REDUCTIONS = ("mean", "sum", "none")


class BCEWithLogits(Function):
    """l = max(a, 0) - t a + log1p(exp(-|a|))  (= softplus(a) - t a), elementwise.

        dl/da = sigmoid(a) - t = (1 - t) sigmoid(a) - t sigmoid(-a),   dl/dt = -a.

    The second form of dl/da is the one computed: with t = 1 (a real example) it is
    -sigmoid(-a), exact to a few ulps for any a, where sigmoid(a) - 1 would round to 0 as
    soon as sigmoid(a) rounds to 1 (a > 37 in float64, a > 17 in float32).
    """

    def forward(self, a, t):
        xp = backend.array_module(a, t)
        return (xp.maximum(a, 0) - t * a) + xp.log1p(xp.exp(-xp.abs(a)))

    def backward(self, gy):
        a, t = self.inputs
        ga = gy * ((1.0 - t) * sigmoid(a) - t * sigmoid(-a)) if self.needs_grad[0] else None
        gt = -(gy * a) if self.needs_grad[1] else None
        return ga, gt


def _reduce(loss, reduction):
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return reduce_sum(loss)
    return loss


def _check_reduction(name, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _target(name, target, like):
    """A target Tensor shaped like the input; a Python number means a constant target everywhere."""
    if isinstance(target, numbers.Number):
        xp = backend.array_module(like.data)
        return Tensor(xp.full(like.shape, target, dtype=like.dtype))
    target = as_tensor(target, like)
    if target.shape != like.shape:
        raise ValueError(
            f"{name}: input has shape {like.shape} but target has shape {target.shape}; they must match"
        )
    if target.dtype != like.dtype:
        raise TypeError(f"{name}: input is {like.dtype} but target is {target.dtype}; cast one of them")
    return target


def binary_cross_entropy_with_logits(input, target, reduction="mean", weight=None):  # noqa: A002
    """Binary cross-entropy of logits ``input`` against targets in [0, 1] (PyTorch's name and order).

        loss_i = weight_i * (softplus(a_i) - t_i a_i),   d loss_i / d a_i = weight_i (sigmoid(a_i) - t_i).

    Stable for any finite a (checked up to |a| = 1e4 in float32 and float64). target may be a
    Python number (e.g. 1.0 for "real", 0.9 for one-sided label smoothing); weight broadcasts
    against input. reduction: 'mean' (over all elements), 'sum' or 'none'.
    """
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    a = as_tensor(input)
    if a.dtype.kind != "f":
        raise TypeError(f"binary_cross_entropy_with_logits: input must be floating point, got {a.dtype}")
    t = _target("binary_cross_entropy_with_logits", target, a)
    loss = BCEWithLogits.apply(a, t)
    if weight is not None:
        loss = loss * as_tensor(weight, a)
    return _reduce(loss, reduction)


def mse_loss(input, target, reduction="mean"):  # noqa: A002
    """Squared error (a - b)^2, reduced by 'mean', 'sum' or 'none'.

        d/da (a - b)^2 = 2 (a - b),   d/db = -2 (a - b)   (divided by the count for 'mean').

    LSGAN's losses are this with targets 1 and 0; target may be a Python number.
    """
    _check_reduction("mse_loss", reduction)
    a = as_tensor(input)
    b = _target("mse_loss", target, a)
    d = a - b
    return _reduce(d * d, reduction)


__all__ = ["binary_cross_entropy_with_logits", "mse_loss"]
