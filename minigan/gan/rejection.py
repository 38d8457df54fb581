"""Discriminator rejection sampling (Azadi, Olsson, Darrell, Goodfellow and Odena, ICLR 2019).

A trained G puts some mass where p_data has none: between the modes of a mixture, G maps its
connected z space onto separate modes and must cross the gaps somewhere. D knows where: by
Proposition 1 of the GAN paper the optimal discriminator for a fixed G is

    D*(x) = p_data(x) / (p_data(x) + p_g(x)),   so   logit D*(x) = log p_data(x) - log p_g(x).

Rejection sampling with proposal p_g and target p_data then needs nothing else: draw x ~ p_g
and keep it with probability

    a(x) = p_data(x) / (M p_g(x)) = exp(logit D*(x) - log M),      M >= sup_x p_data(x) / p_g(x);

the kept x are distributed as p_data exactly, and 1/M of the draws are kept. With a learned D
the result is only as good as D's estimate of the ratio, and M is estimated too (the largest
ratio seen, raised whenever a larger one turns up, as Azadi et al. do). Nothing here changes G:
it is a way of sampling from a trained pair, and a table that uses it must say so.

    D_star = variants.mlp_D(gen, 2, 256)      # minigan/experiments/variants.py
    fit_discriminator(D_star, lambda g, m: G(p_z(g, m)), p_data, gen, steps=3000)
    samples, stats = rejection_sample(lambda g, m: G(p_z(g, m)), log_ratio(D_star), 2500, gen)
"""
from __future__ import annotations

import math

import numpy

from .. import optim
from ..autograd import no_grad
from . import losses


def fit_discriminator(D, sample_fake, sample_data, generator, *, steps, m=256, lr=1e-3, betas=(0.5, 0.999)):
    """Train D alone against a fixed sampler of fakes: minimise J(D) = -E_data log D - E_fake log(1 - D)
    (losses.d_loss) with Adam for ``steps`` minibatches of m real and m fake examples.

    Its minimiser is Proposition 1's D*_G, whose logit is log p_data - log p_g: the density-ratio
    estimate rejection_sample needs. Fresh samples each step, so D sees no fixed training set to
    overfit. sample_fake, sample_data: ``(generator, m) -> Tensor (m, dim)``; the fakes are drawn
    without a graph, so no gradient reaches G. Returns the losses, one per step (a list of floats).
    """
    if int(steps) != steps or steps < 1 or int(m) != m or m < 1:
        raise ValueError(f"fit_discriminator: steps and m must be positive integers, got steps={steps!r}, m={m!r}")
    opt = optim.Adam(D.parameters(), lr=lr, betas=betas)
    history = []
    for _ in range(int(steps)):
        with no_grad():
            fake = sample_fake(generator, int(m))
        real = sample_data(generator, int(m))
        loss = losses.d_loss(D(real), D(fake))
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(float(loss.item()))
    return history


def log_ratio(D):
    """x -> logit D(x) as a float64 NumPy vector: the estimate of log p_data(x) - log p_g(x)."""
    def estimate(x):
        with no_grad():
            return D(x).numpy().astype(numpy.float64).reshape(-1)
    return estimate


def rejection_sample(sample_g, log_ratio_fn, n, generator, *, log_M=None, batch=10_000, max_draws=10_000_000):
    """n samples of G kept with probability exp(log r(x) - log M): p_data's samples when log r is exact.

    sample_g: ``(generator, m) -> Tensor (m, dim)``, G's sampler; log_ratio_fn: Tensor -> float64
    vector log p_data/p_g (log_ratio(D) for a trained D). log_M: log of the bound M >= sup r; when
    None it is the largest log r of the first batch and rises with every larger one found later (the
    samples kept before a rise were kept with a slightly too high probability: the approximation of
    Azadi et al.; with log_M given and correct the sampling is exact). Draws at most max_draws.

    Returns (samples, stats): samples, float64 NumPy (n, dim); stats {"draws", "acceptance" = kept /
    draws, "log_M"}.
    """
    if int(n) != n or n < 1:
        raise ValueError(f"rejection_sample: n must be a positive integer, got {n!r}")
    if log_M is not None and not math.isfinite(log_M):
        raise ValueError(f"rejection_sample: log_M must be finite, got {log_M!r}")
    kept, n_kept, draws = [], 0, 0
    while n_kept < n:
        if draws >= max_draws:
            raise RuntimeError(f"rejection_sample: kept {n_kept} of the {n} samples asked for in {draws} draws "
                               f"(log M = {log_M:.3g}); D's ratio is too peaked for G to reach p_data this way")
        with no_grad():
            x = sample_g(generator, batch)
        log_r = log_ratio_fn(x)
        if not numpy.isfinite(log_r).all():
            raise ValueError("rejection_sample: the log ratio is not finite for some samples (D's logits overflow?)")
        if log_M is None or log_r.max() > log_M:
            log_M = float(log_r.max())
        # keep x with probability exp(log r - log M) <= 1: compare in log space, no overflow
        keep = numpy.log(generator.np.random(len(log_r))) < log_r - log_M
        kept.append(x.numpy().astype(numpy.float64)[keep])
        n_kept += int(keep.sum())
        draws += len(log_r)
    samples = numpy.concatenate(kept)[:n]
    return samples, {"draws": draws, "acceptance": n_kept / draws, "log_M": log_M}


__all__ = ["fit_discriminator", "log_ratio", "rejection_sample"]
