"""Closed-form derivatives next to the numerical checks of tests/test_ops.py.

gradcheck says a backward agrees with finite differences; these tests say it equals
the formula in the op's docstring, including where finite differences cannot go:
logits of size 1e4, where a naive exp overflows.
"""
from __future__ import annotations

import warnings

import numpy
import pytest

import minigan as mg
import minigan.functional as F

# float64: the ops and the formulas round differently in a handful of places.
RTOL, ATOL = 1e-12, 1e-15

# every test runs on each backend (numpy; the CuPy stand-in; cupy on a GPU): see tests/conftest.py
pytestmark = pytest.mark.usefixtures("xp_backend")


def _sigmoid(a):
    return 1.0 / (1.0 + numpy.exp(-a))


@pytest.fixture
def a():
    return numpy.linspace(-8.0, 8.0, 33)


def _grad(f, a):
    x = mg.tensor(a, requires_grad=True)
    (g,) = mg.grad(f(x).sum(), [x])
    return g.numpy()


def test_sigmoid_derivative_is_s_times_one_minus_s(a):
    s = _sigmoid(a)
    numpy.testing.assert_allclose(_grad(F.sigmoid, a), s * (1 - s), rtol=RTOL, atol=ATOL)


def test_tanh_derivative_is_one_minus_tanh_squared(a):
    numpy.testing.assert_allclose(_grad(F.tanh, a), 1 - numpy.tanh(a) ** 2, rtol=RTOL, atol=ATOL)


def test_softplus_derivative_is_sigmoid(a):
    numpy.testing.assert_allclose(_grad(F.softplus, a), _sigmoid(a), rtol=RTOL, atol=ATOL)


def test_log_sigmoid_derivative_is_one_minus_sigmoid(a):
    numpy.testing.assert_allclose(_grad(F.log_sigmoid, a), 1 - _sigmoid(a), rtol=1e-10, atol=ATOL)


def test_log_one_minus_sigmoid_is_minus_softplus(a):
    """log(1 - sigmoid(a)) = -softplus(a), and its derivative is -sigmoid(a).

    The naive composition agrees for moderate a; the stable form is the one to use
    (the GAN generator's saturating loss log(1 - D(G(z))) is exactly this)."""
    x = mg.tensor(a, requires_grad=True)
    naive = mg.log(1.0 - F.sigmoid(x))
    stable = -F.softplus(x)
    numpy.testing.assert_allclose(stable.numpy(), naive.numpy(), rtol=1e-10, atol=1e-12)
    numpy.testing.assert_allclose(_grad(lambda t: -F.softplus(t), a), -_sigmoid(a), rtol=RTOL, atol=ATOL)
    numpy.testing.assert_allclose(_grad(lambda t: mg.log(1.0 - F.sigmoid(t)), a), -_sigmoid(a), rtol=1e-8)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_jacobian_is_diag_s_minus_s_s_transpose(axis):
    rng = numpy.random.default_rng(3)
    x0 = rng.standard_normal((4, 5))
    x = mg.tensor(x0, requires_grad=True)
    s = F.softmax(x, axis=axis)
    s_np = numpy.exp(x0) / numpy.exp(x0).sum(axis=axis, keepdims=True)
    xs = numpy.moveaxis(x0, axis, -1)
    for lead in range(xs.shape[0]):  # each softmax vector is independent of the others
        sv = numpy.moveaxis(s_np, axis, -1)[lead]
        expected = numpy.diag(sv) - numpy.outer(sv, sv)
        jac = numpy.empty((len(sv), len(sv)))
        for i in range(len(sv)):
            index = [slice(None)] * 2
            index[axis % 2] = i
            index[1 - axis % 2] = lead
            (g,) = mg.grad(s[tuple(index)], [x], retain_graph=True)
            jac[i] = numpy.moveaxis(g.numpy(), axis, -1)[lead]
        numpy.testing.assert_allclose(jac, expected, rtol=1e-12, atol=1e-15)


def test_log_softmax_derivative_is_identity_minus_softmax():
    """d log_softmax_i / d x_j = [i = j] - s_j."""
    rng = numpy.random.default_rng(4)
    x0 = rng.standard_normal(6)
    s = numpy.exp(x0) / numpy.exp(x0).sum()
    x = mg.tensor(x0, requires_grad=True)
    y = F.log_softmax(x)
    jac = numpy.stack([mg.grad(y[i], [x], retain_graph=True)[0].numpy() for i in range(6)])
    numpy.testing.assert_allclose(jac, numpy.eye(6) - s[None, :], rtol=1e-12, atol=1e-15)


LARGE = [-1e4, -1e3, -100.0, -30.0, -1.0, 0.0, 1.0, 30.0, 100.0, 1e3, 1e4]


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
@pytest.mark.parametrize("name, value, slope", [
    ("sigmoid", _sigmoid, lambda a: _sigmoid(a) * (1 - _sigmoid(a))),
    ("softplus", lambda a: numpy.logaddexp(0.0, a), _sigmoid),
    ("log_sigmoid", lambda a: -numpy.logaddexp(0.0, -a), lambda a: _sigmoid(-a)),
])
def test_finite_values_and_gradients_for_large_logits(dtype, name, value, slope):
    """|a| up to 1e4: values and gradients are finite (no overflow warning either) and right.

    References are evaluated in float64 with NumPy's overflow-free logaddexp; the
    tolerance is float32's (or float64's) relative precision."""
    a = numpy.array(LARGE, dtype=dtype)
    x = mg.tensor(a, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an exp overflow would be a RuntimeWarning
        with numpy.errstate(over="ignore", under="ignore"):
            ref_value, ref_slope = value(a.astype(numpy.float64)), slope(a.astype(numpy.float64))
        y = getattr(F, name)(x)
        y.backward(mg.ones_like(y))
    assert y.dtype == dtype and x.grad.dtype == dtype
    assert numpy.isfinite(y.numpy()).all(), f"{name} values: {y.numpy()}"
    assert numpy.isfinite(x.grad.numpy()).all(), f"{name} gradients: {x.grad.numpy()}"
    tol = 4 * numpy.finfo(dtype).eps
    numpy.testing.assert_allclose(y.numpy(), ref_value, rtol=tol, atol=tol)
    numpy.testing.assert_allclose(x.grad.numpy(), ref_slope, rtol=tol, atol=tol)
