"""Discriminator rejection sampling (minigan/gan/rejection.py) against closed forms.

* With the exact ratio, rejection sampling turns p_g = N(0, 1) into p_data = N(0, 1/4):
  r(x) = p_data/p_g = 2 exp(-3 x^2 / 2) <= M = 2, and 1/M = 1/2 of the draws are kept.
* fit_discriminator reaches Proposition 1's D*: for p_g = N(0, 1) and p_data = N(1, 1),
  logit D*(x) = log p_data(x) - log p_g(x) = x - 1/2, which a linear D can represent exactly.

Tolerances: sample moments are compared within 5 standard errors of their estimators (a
false alarm about once in 10^6 runs); the learned weights within 0.1, the size of Adam's
steady-state jitter at lr 1e-2 with 512 + 512 examples per step (run to run it is ~0.03).
"""
from __future__ import annotations

import math

import numpy
import pytest

import minigan as mg
from minigan import nn
from minigan.gan import rejection
from placement import host


def normal_sampler(mean=0.0):
    return lambda g, m: g.normal((m, 1), mean=mean, dtype=numpy.float64)


def exact_log_ratio(x):
    """log N(x; 0, 1/4) - log N(x; 0, 1) = log 2 - 3 x^2 / 2."""
    v = x.numpy()[:, 0].astype(numpy.float64)
    return math.log(2.0) - 1.5 * v ** 2


@pytest.mark.parametrize("log_M", [math.log(2.0), None])
def test_exact_ratio_turns_p_g_into_p_data(log_M):
    n = 20_000
    samples, stats = rejection.rejection_sample(normal_sampler(), exact_log_ratio, n, mg.Generator(0),
                                                log_M=log_M, batch=4096)
    assert samples.shape == (n, 1) and samples.dtype == numpy.float64
    x = samples[:, 0]
    var = 0.25
    assert abs(x.mean()) < 5 * math.sqrt(var / n)
    assert abs(x.var() - var) < 5 * var * math.sqrt(2.0 / n)  # sd of a Gaussian sample variance
    # kurtosis 3 of a Gaussian: rejection with the wrong shape would change it, not only the variance
    assert abs((x ** 4).mean() / x.var() ** 2 - 3.0) < 5 * math.sqrt(96.0 / n)
    # 1/M of the draws kept (binomial standard error over the draws made)
    assert abs(stats["acceptance"] - 0.5) < 5 * math.sqrt(0.25 / stats["draws"])
    assert stats["log_M"] <= math.log(2.0) + 1e-12  # the estimated bound never exceeds the true sup


def test_fit_discriminator_reaches_proposition_1():
    gen = mg.Generator(0)
    D = nn.Linear(1, 1, generator=gen, dtype=numpy.float64)
    history = rejection.fit_discriminator(D, normal_sampler(0.0), normal_sampler(1.0), gen, steps=2000, m=512, lr=1e-2)
    state = D.state_dict()
    w, b = float(state["weight"].ravel()[0]), float(state["bias"].ravel()[0])
    assert abs(w - 1.0) < 0.1 and abs(b + 0.5) < 0.1, (w, b)
    # the loss at D*: E_x softplus(-a) + E_x' softplus(a) with a = x - 1/2, here by quadrature-free MC
    z = numpy.random.default_rng(1).normal(size=200_000)
    optimum = numpy.logaddexp(0, -(z + 0.5)).mean() + numpy.logaddexp(0, z - 0.5).mean()
    assert abs(numpy.mean(history[-200:]) - optimum) < 0.02
    assert numpy.mean(history[:20]) > optimum  # it did descend to it


def test_log_ratio_is_the_logit():
    gen = mg.Generator(3)
    D = nn.Linear(2, 1, generator=gen, dtype=numpy.float64)
    x = gen.normal((5, 2), dtype=numpy.float64)
    s = host(D.state_dict())
    expected = x.numpy() @ s["weight"].reshape(-1) + s["bias"].reshape(())
    numpy.testing.assert_allclose(rejection.log_ratio(D)(x), expected, rtol=1e-12)


def test_bad_input_is_refused():
    gen = mg.Generator(0)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        rejection.rejection_sample(normal_sampler(), exact_log_ratio, 0, gen)
    with pytest.raises(ValueError, match="log_M must be finite"):
        rejection.rejection_sample(normal_sampler(), exact_log_ratio, 5, gen, log_M=float("inf"))
    with pytest.raises(ValueError, match="not finite"):
        rejection.rejection_sample(normal_sampler(), lambda x: numpy.full(len(x.numpy()), numpy.nan), 5, gen)
    with pytest.raises(RuntimeError, match="kept 0 of the 5"):  # a bound far above the ratio keeps nothing
        rejection.rejection_sample(normal_sampler(), exact_log_ratio, 5, gen, log_M=500.0, batch=100, max_draws=1000)
    with pytest.raises(ValueError, match="steps and m must be positive"):
        rejection.fit_discriminator(nn.Linear(1, 1, generator=gen), normal_sampler(), normal_sampler(), gen, steps=0)
