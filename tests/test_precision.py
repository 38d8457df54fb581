"""Precision where float64 allows it: the log-sigmoid family in its tails, to a relative 1e-12.

softplus(a) = log(1 + e^a) is e^a (1 - e^a/2 + ...) for a << 0: a number near 1e-300 at a = -700.
An implementation that forms 1 + e^a first (log(1 + e) instead of log1p(e)) returns 0 there,
and is already 100% wrong at a = -40; an absolute tolerance cannot see it, so every check
here is relative, with atol = 0. The reference is NumPy's logaddexp(0, a) = log(e^0 + e^a),
itself computed as max + log1p(exp(-|difference|)), correct to a few ulps over [-700, 700]
(e^-700 = 1e-304 is still a normal float64). The same for the derivatives, against sigmoid
written two ways so that neither side of zero subtracts from 1.
"""
from __future__ import annotations

import numpy
import pytest

import minigan as mg
import minigan.functional as F
from minigan.backend import as_numpy

# A few roundings of float64 (eps = 2.2e-16) in both implementations: 1e-12 leaves room for
# ~4000 ulps, and is a hundred million times smaller than the error of log(1 + e^a) at a = -30.
RTOL = 1e-12

A = numpy.concatenate([-numpy.geomspace(700.0, 1e-3, 60), [0.0], numpy.geomspace(1e-3, 700.0, 60)])


def sigmoid_ref(a):
    """1 / (1 + e^-a) for a >= 0, e^a / (1 + e^a) for a < 0: no cancellation on either side."""
    e = numpy.exp(-numpy.abs(a))
    return numpy.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def value_and_grad(fn, a):
    x = mg.tensor(a, requires_grad=True)
    y = fn(x)
    (g,) = mg.grad(y, [x], mg.ones_like(y))
    return as_numpy(y.data), as_numpy(g.data)


def check(actual, expected, what):
    numpy.testing.assert_allclose(actual, expected, rtol=RTOL, atol=0, err_msg=what)


def test_softplus_tails(xp_backend):
    y, g = value_and_grad(F.softplus, A)
    check(y, numpy.logaddexp(0.0, A), "softplus(a) = log(1 + e^a)")
    check(g, sigmoid_ref(A), "softplus'(a) = sigmoid(a)")


def test_log_sigmoid_tails(xp_backend):
    y, g = value_and_grad(F.log_sigmoid, A)
    check(y, -numpy.logaddexp(0.0, -A), "log sigmoid(a) = -log(1 + e^-a)")
    check(g, sigmoid_ref(-A), "(log sigmoid)'(a) = sigmoid(-a)")


@pytest.mark.parametrize("t", [0.0, 1.0, 0.9])
def test_bce_with_logits_tails(xp_backend, t):
    """BCE(a, t) = t softplus(-a) + (1 - t) softplus(a); its derivative (1 - t) sigmoid(a) - t sigmoid(-a)."""
    y, g = value_and_grad(lambda x: F.binary_cross_entropy_with_logits(x, t, reduction="none"), A)
    check(y, t * numpy.logaddexp(0.0, -A) + (1.0 - t) * numpy.logaddexp(0.0, A), f"BCE(a, {t})")
    grad_ref = (1.0 - t) * sigmoid_ref(A) - t * sigmoid_ref(-A)
    if t in (0.0, 1.0):  # one term: relative error of a few ulps everywhere
        check(g, grad_ref, f"dBCE(a, {t})/da")
    else:  # a true difference of two terms, zero at a = logit(t): relative to the larger term
        scale = numpy.maximum((1.0 - t) * sigmoid_ref(A), t * sigmoid_ref(-A))
        assert numpy.all(numpy.abs(g - grad_ref) <= RTOL * scale), f"dBCE(a, {t})/da"
