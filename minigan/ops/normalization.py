"""Batch normalisation (Ioffe & Szegedy 2015), the layer DCGAN puts after most convolutions.

Per channel c, over the m = N (x of shape (N, C)), N*L (N, C, L) or N*H*W (N, C, H, W)
values x_i that share it:

    mu = (1/m) sum_i x_i,   var = (1/m) sum_i (x_i - mu)^2       (biased: it normalises)
    xhat_i = (x_i - mu) / sigma,   sigma = sqrt(var + eps)
    y_i = gamma xhat_i + beta

Because mu and sigma depend on every x_j, the gradient of one y_i reaches every x_j of
its channel. Written out (docs/02-layers.md derives it step by step), with g = dL/dy:

    dL/dbeta  = sum_i g_i
    dL/dgamma = sum_i g_i xhat_i
    dL/dx_j   = (gamma / (m sigma)) (m g_j - sum_i g_i - xhat_j sum_i g_i xhat_i)

Training mode uses the batch's mu and var and moves the running estimates towards them,
in place, as PyTorch does (momentum m_r = 0.1):
    running_mean <- (1 - m_r) running_mean + m_r mu
    running_var  <- (1 - m_r) running_var  + m_r var * m / (m - 1)   (the unbiased variance)
Evaluation mode uses the running estimates, and batch norm becomes a fixed affine map.
"""
from __future__ import annotations

import numbers

from .. import backend
from ..autograd import Function, Tensor, is_grad_enabled
from .arithmetic import as_tensor
from .reductions import mean
from .reductions import sum as reduce_sum
from .shape import reshape

_AXES = {2: (0,), 3: (0, 2), 4: (0, 2, 3)}


def _channel_shape(x_ndim, C):
    """(1, C), (1, C, 1) or (1, C, 1, 1): a per-channel vector shaped to broadcast against x."""
    return (1, C) + (1,) * (x_ndim - 2)


class BatchNormTrain(Function):
    """y = gamma xhat + beta with the batch's own statistics (module docstring has the formulas).

    Backward, per channel with m values (g = dL/dy, sigma = sqrt(var + eps)):
        dL/dx = gamma / (m sigma) * (m g - sum g - xhat * sum(g xhat)),
        dL/dgamma = sum(g xhat),   dL/dbeta = sum g.

    Two ways to evaluate the same formula. When the backward pass is not being recorded
    (the usual ``loss.backward()``), it runs on raw arrays with the xhat and 1/sigma the
    forward pass saved: no graph is wanted, so nothing is lost. When it is recorded
    (``create_graph=True``: gradient penalties, gradgradcheck), xhat and sigma are rebuilt
    from x with minigan ops, so that the gradient is itself a differentiable function of
    x, gamma and g.
    """

    # parameters, from batch_norm
    axes: tuple  # the axes the statistics are taken over (every axis but the channel axis 1)
    eps: float  # added to the variance before the square root
    count: int  # m, the number of values per channel
    momentum: float  # the running statistics' update rate r
    running_mean: object  # per-channel array updated in place by forward, or None
    running_var: object  # per-channel array updated in place by forward (unbiased), or None
    # made by forward, read by backward
    xhat: object  # (x - mu) / sigma, shaped like x
    inv_std: object  # 1 / sigma per channel, shaped to broadcast against x

    def forward(self, x, gamma, beta):
        shape = _channel_shape(x.ndim, x.shape[1])
        mu = x.mean(axis=self.axes, keepdims=True)
        xhat = x - mu  # centred now, normalised in place below (fresh arrays, so in place is safe)
        var = (xhat * xhat).mean(axis=self.axes, keepdims=True)
        inv_std = 1.0 / backend.array_module(x).sqrt(var + self.eps)
        xhat *= inv_std
        self.xhat, self.inv_std = xhat, inv_std
        if self.running_mean is not None:
            m, r = self.count, self.momentum
            self.running_mean *= 1.0 - r
            self.running_mean += r * mu.reshape(-1)
            self.running_var *= 1.0 - r
            self.running_var += (r * m / (m - 1)) * var.reshape(-1)
        y = xhat * gamma.reshape(shape)
        y += beta.reshape(shape)
        return y

    def backward(self, gy):
        x, gamma, _ = self.inputs
        m, axes = self.count, self.axes
        shape = _channel_shape(x.ndim, x.shape[1])
        C = x.shape[1]
        if not is_grad_enabled():
            g, xhat = gy.data, self.xhat
            sum_g = g.sum(axis=axes, keepdims=True)
            sum_gx = (g * xhat).sum(axis=axes, keepdims=True)
            gx = None
            if self.needs_grad[0]:  # (gamma / (m sigma)) (m g - sum g - xhat sum g xhat), in place
                gx = xhat * (-sum_gx / m)
                gx += g
                gx -= sum_g / m
                gx *= gamma.data.reshape(shape) * self.inv_std
                gx = Tensor(gx)
            return gx, Tensor(sum_gx.reshape(C)), Tensor(sum_g.reshape(C))
        # Recorded: the same formula, with xhat and sigma as functions of x.
        xc = x - mean(x, axes, keepdims=True)
        inv_std = (mean(xc * xc, axes, keepdims=True) + self.eps) ** -0.5
        xhat = xc * inv_std
        sum_g = reduce_sum(gy, axes, keepdims=True)
        sum_gx = reduce_sum(gy * xhat, axes, keepdims=True)
        gx = None
        if self.needs_grad[0]:
            gx = reshape(gamma, shape) * inv_std * (1.0 / m) * (gy * float(m) - sum_g - xhat * sum_gx)
        return gx, reshape(sum_gx, (C,)), reshape(sum_g, (C,))


def _raw(name, stat, C, x):
    """The raw array of a running statistic (updated in place), checked against x."""
    if stat is None:
        return None
    arr = stat.data if isinstance(stat, Tensor) else stat
    if not hasattr(arr, "shape") or tuple(arr.shape) != (C,):
        raise ValueError(
            f"batch_norm: {name} must be an array of shape ({C},) for x of shape {x.shape}, "
            f"got {getattr(arr, 'shape', type(arr).__name__)}"
        )
    if backend.backend_of(arr) != x.backend:
        raise backend.BackendError(
            f"batch_norm: {name} lives on {backend.backend_of(arr)}, x on {x.backend}; move the module with .to()"
        )
    return arr


def batch_norm(x, gamma=None, beta=None, running_mean=None, running_var=None, training=True,
               momentum=0.1, eps=1e-5):
    """Batch normalisation of x, shape (N, C), (N, C, L) or (N, C, H, W), per channel C.

    gamma, beta: Tensors of shape (C,), or None for no affine part (gamma = 1, beta = 0).
    running_mean, running_var: arrays (or Tensors, whose .data is used) of shape (C,),
    updated in place in training mode, used instead of the batch statistics in
    evaluation mode; None means no running statistics (the batch's are always used).
    Note the argument order differs from torch.nn.functional.batch_norm, which puts the
    running statistics first.

    Evaluation mode is the affine map y = x s + (beta - running_mean s), with
    s = gamma / sqrt(running_var + eps), built from ops (its gradient needs no formula of
    its own: dL/dx = g s, dL/dgamma = sum g xhat, dL/dbeta = sum g).
    """
    x = as_tensor(x)
    if x.ndim not in _AXES:
        raise ValueError(
            f"batch_norm: expected x of shape (N, C), (N, C, L) or (N, C, H, W), got shape {x.shape}"
        )
    if x.dtype.kind != "f":
        raise TypeError(f"batch_norm: x must be floating point, got dtype {x.dtype}")
    if not isinstance(momentum, numbers.Real) or not 0.0 <= momentum <= 1.0:
        raise ValueError(f"batch_norm: momentum must be a number in [0, 1], got {momentum!r}")
    if not isinstance(eps, numbers.Real) or eps < 0:
        raise ValueError(f"batch_norm: eps must be a number >= 0, got {eps!r}")
    C = x.shape[1]
    axes = _AXES[x.ndim]
    xp = backend.array_module(x.data)
    for name, p in (("gamma", gamma), ("beta", beta)):
        if p is not None and (not isinstance(p, Tensor) or p.shape != (C,)):
            raise ValueError(
                f"batch_norm: {name} must be a Tensor of shape ({C},) for x of shape {x.shape}, "
                f"got {getattr(p, 'shape', type(p).__name__)}"
            )
    gamma = gamma if gamma is not None else Tensor(xp.ones(C, dtype=x.dtype))
    beta = beta if beta is not None else Tensor(xp.zeros(C, dtype=x.dtype))
    running_mean = _raw("running_mean", running_mean, C, x)
    running_var = _raw("running_var", running_var, C, x)
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: give both running_mean and running_var, or neither")
    count = x.size // C
    if training or running_mean is None:
        if count < 2:
            raise ValueError(
                f"batch_norm: training needs more than one value per channel, got x of shape {x.shape}"
            )
        return BatchNormTrain.apply(
            x, gamma, beta, axes=axes, eps=float(eps), count=count, momentum=float(momentum),
            running_mean=running_mean if training else None,
            running_var=running_var if training else None,
        )
    shape = _channel_shape(x.ndim, C)
    inv_std = Tensor((1.0 / xp.sqrt(running_var + eps)).astype(x.dtype, copy=False))
    scale = gamma * inv_std
    shift = beta - Tensor(running_mean.astype(x.dtype, copy=False)) * scale
    return x * reshape(scale, shape) + reshape(shift, shape)


__all__ = ["batch_norm"]
