"""Losses on probabilities and class labels, under PyTorch's names and argument order.

    nll_loss(logp, y)               -1/n sum_i logp[i, y_i]            (logp: log-probabilities, (n, C))
    cross_entropy(logits, y)        nll_loss(log_softmax(logits, 1), y)
    binary_cross_entropy(p, t)      -[t log p + (1 - t) log(1 - p)]     (p: probabilities in [0, 1])

A class label picks its log-probability through a one-hot mask, a constant, so each
gradient is the one of the ops it is built from: for cross_entropy,
dL/dlogits_i = (softmax(logits_i) - onehot(y_i)) / n.

binary_cross_entropy takes probabilities, as PyTorch's does, and like PyTorch clamps each
log at -100 so that p = 0 or 1 gives a finite loss. A GAN should not use it on
D = sigmoid(a): past the clamp the gradient is zero, and a confident, wrong D stops
learning. Use binary_cross_entropy_with_logits on a (minigan/ops/losses.py explains why).
"""
from __future__ import annotations

import numpy

from .. import backend
from ..autograd import Function, Tensor
from .activations import log_softmax
from .arithmetic import as_tensor, clip, log, maximum
from .losses import _check_reduction, _reduce, _target
from .reductions import sum as reduce_sum

_LOG_FLOOR = -100.0  # PyTorch's clamp of log p in binary_cross_entropy
_DENOMINATOR_FLOOR = 1e-12  # PyTorch's floor on p (1 - p) in the gradient, so p = 0 or 1 stays finite


class BinaryCrossEntropy(Function):
    """l = -[t max(log p, -100) + (1 - t) max(log(1 - p), -100)], elementwise.

        dl/dp = (p - t) / max(p (1 - p), 1e-12),   dl/dt = max(log(1 - p), -100) - max(log p, -100)
    (PyTorch's formulas: the floor keeps the gradient finite at p = 0 and p = 1).
    """

    def forward(self, p, t):
        xp = backend.array_module(p, t)
        with numpy.errstate(divide="ignore"):  # log 0 = -inf is what the clamp is for
            log_p = xp.maximum(xp.log(p), _LOG_FLOOR)
            log_q = xp.maximum(xp.log1p(-p), _LOG_FLOOR)
        return -(t * log_p + (1 - t) * log_q)

    def backward(self, gy):
        p, t = self.inputs
        gp = gt = None
        if self.needs_grad[0]:
            gp = gy * (p - t) / maximum(p * (1.0 - p), _DENOMINATOR_FLOOR)
        if self.needs_grad[1]:
            tiny = float(numpy.exp(_LOG_FLOOR))  # log clipped here is the log clamped at -100
            gt = gy * (log(clip(1.0 - p, tiny, None)) - log(clip(p, tiny, None)))
        return gp, gt


def _one_hot(name, target, like):
    """The (n, C) mask with a 1 at (i, target_i), on like's backend and dtype."""
    y = target.data if isinstance(target, Tensor) else backend.to_backend(backend.as_numpy(target), like.backend)
    n, classes = like.shape
    if y.dtype.kind not in "iu" or y.shape != (n,):
        raise ValueError(f"{name}: target must be integer class labels of shape ({n},), got {y.dtype} {y.shape}")
    if y.size and (int(y.min()) < 0 or int(y.max()) >= classes):
        raise ValueError(f"{name}: labels must lie in [0, {classes - 1}], got values from {int(y.min())} "
                         f"to {int(y.max())}")
    xp = backend.array_module(like.data)
    mask = xp.zeros(like.shape, dtype=like.dtype)
    mask[xp.arange(n), y] = 1
    return Tensor(mask)


def nll_loss(input, target, reduction="mean") -> Tensor:  # noqa: A002 - PyTorch's argument name
    """Negative log-likelihood of integer labels ``target`` (n,) under log-probabilities ``input`` (n, C).

        loss_i = -input[i, target_i],   d loss_i / d input[i, c] = -[c == target_i].
    """
    _check_reduction("nll_loss", reduction)
    logp = as_tensor(input)
    if logp.ndim != 2:
        raise ValueError(f"nll_loss: input must be (batch, classes) log-probabilities, got shape {logp.shape}")
    return _nll("nll_loss", logp, target, reduction)


def _nll(name, logp, target, reduction):
    return _reduce(-reduce_sum(logp * _one_hot(name, target, logp), axis=1), reduction)


def cross_entropy(input, target, reduction="mean") -> Tensor:  # noqa: A002
    """Softmax cross-entropy of logits ``input`` (n, C) against integer labels (n,) or probabilities (n, C).

        loss_i = -sum_c t_ic log softmax(input_i)_c,   d loss_i / d input_i = softmax(input_i) - t_i,
    where t_i is onehot(target_i) for labels.
    """
    _check_reduction("cross_entropy", reduction)
    logits = as_tensor(input)
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: input must be (batch, classes) logits, got shape {logits.shape}")
    logp = log_softmax(logits, axis=1)
    target_kind = (target.dtype if isinstance(target, Tensor) else backend.as_numpy(target).dtype).kind
    if target_kind == "f":  # class probabilities, as PyTorch accepts since 1.10
        loss = -reduce_sum(logp * _target("cross_entropy", target, logits), axis=1)
        return _reduce(loss, reduction)
    return _nll("cross_entropy", logp, target, reduction)


def binary_cross_entropy(input, target, reduction="mean", weight=None) -> Tensor:  # noqa: A002
    """-[t log p + (1 - t) log(1 - p)] for probabilities p = ``input`` in [0, 1], each log clamped at -100.

        d loss / dp = (p - t) / max(p (1 - p), 1e-12)   (PyTorch's gradient, finite at p = 0 and 1).

    For a discriminator's output prefer binary_cross_entropy_with_logits (see the module docstring).
    """
    _check_reduction("binary_cross_entropy", reduction)
    p = as_tensor(input)
    if p.dtype.kind != "f":
        raise TypeError(f"binary_cross_entropy: input must be floating point probabilities, got {p.dtype}")
    lo, hi = (float(p.data.min()), float(p.data.max())) if p.size else (0.0, 1.0)
    if not (0.0 <= lo and hi <= 1.0):
        raise ValueError(f"binary_cross_entropy: input must be probabilities in [0, 1], got values in "
                         f"[{lo}, {hi}]; for logits use binary_cross_entropy_with_logits")
    t = _target("binary_cross_entropy", target, p)
    loss = BinaryCrossEntropy.apply(p, t)
    if weight is not None:
        loss = loss * as_tensor(weight, p)
    return _reduce(loss, reduction)


__all__ = ["nll_loss", "cross_entropy", "binary_cross_entropy"]
