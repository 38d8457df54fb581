"""minigan/gradcheck.py: it passes correct ops, and it catches wrong ones, saying where."""
from __future__ import annotations

import re

import numpy
import pytest

import minigan as mg
from minigan.autograd import Function, Tensor
from minigan.gradcheck import GradcheckError, numerical_grad

# every test runs on each backend (numpy; the CuPy stand-in; cupy on a GPU): see tests/conftest.py
pytestmark = pytest.mark.usefixtures("xp_backend")


class WrongSquare(Function):
    """y = x^2 with the wrong derivative 3x (the right one is 2x): off by |x| per element."""

    def forward(self, x):
        return x * x

    def backward(self, gy):
        return gy * self.inputs[0] * 3.0


class DetachedSquare(Function):
    """y = x^2 whose backward 2x g is right but built from raw data: no second derivative in x."""

    def forward(self, x):
        return x * x

    def backward(self, gy):
        return gy * Tensor(2.0 * self.inputs[0].data)


def _x(values, requires_grad=True):
    return mg.tensor(numpy.asarray(values, dtype=numpy.float64), requires_grad=requires_grad)


def test_passes_on_correct_ops():
    rng = numpy.random.default_rng(0)
    a, b = _x(rng.standard_normal((3, 4))), _x(rng.uniform(0.5, 2.0, (4,)))
    assert mg.gradcheck(lambda a, b: mg.exp(a) * mg.log(b) / (1.0 + a * a), [a, b])
    assert mg.gradgradcheck(lambda a, b: mg.exp(a) * mg.log(b) / (1.0 + a * a), [a, b])


def test_several_outputs():
    x = _x([0.3, -0.7, 1.1])
    assert mg.gradcheck(lambda x: (x * x, mg.exp(x).sum()), [x])


def test_inputs_without_requires_grad_are_constants():
    x, c = _x([0.5, 1.5]), _x([2.0, 3.0], requires_grad=False)
    assert mg.gradcheck(lambda x, c: x * c, [x, c])


def test_fails_on_a_wrong_backward_naming_the_worst_element():
    x = _x([[0.1, 5.0], [-0.2, 0.3]])  # the error |x| is largest at (0, 1)
    with pytest.raises(GradcheckError) as info:
        mg.gradcheck(lambda x: WrongSquare.apply(x), [x])
    msg = str(info.value)
    assert "input 0 (shape (2, 2))" in msg
    assert "worst element (0, 1)" in msg
    analytic = float(re.search(r"analytic = (\S+),", msg).group(1))
    numerical = float(re.search(r"numerical = (\S+),", msg).group(1))
    # the message shows the values at (0, 1): 3 x v and 2 x v for the cotangent v gradcheck drew
    assert analytic / numerical == pytest.approx(1.5, rel=1e-6)
    assert "4 of 4 elements fail" in msg


def test_can_return_false_instead_of_raising():
    x = _x([1.0, 2.0])
    assert mg.gradcheck(lambda x: WrongSquare.apply(x), [x], raise_exception=False) is False


def test_directional_mode_on_a_50_by_50_input():
    """2500 elements: more than max_elements, so gradcheck checks random directions instead."""
    rng = numpy.random.default_rng(1)
    x = _x(rng.standard_normal((50, 50)))
    w = _x(rng.standard_normal((50, 50)), requires_grad=False)
    assert mg.gradcheck(lambda x, w: (x @ w).tanh() * x, [x, w])
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(50, 50\)\), direction 0: analytic <grad, u>"):
        mg.gradcheck(lambda x: WrongSquare.apply(x), [x])


def test_directional_mode_can_be_forced():
    x = _x([0.5, -1.0, 2.0])
    assert mg.gradcheck(lambda x: x ** 3, [x], directional=True)
    with pytest.raises(GradcheckError, match="direction"):
        mg.gradcheck(lambda x: WrongSquare.apply(x), [x], directional=True)


def test_refuses_float32():
    x = mg.tensor(numpy.ones(3, dtype=numpy.float32), requires_grad=True)
    with pytest.raises(TypeError, match=r"gradcheck: input 0 has dtype float32; finite differences need float64"):
        mg.gradcheck(lambda x: x * x, [x])


def test_gradgradcheck_catches_a_backward_that_is_not_differentiable():
    x = _x([0.5, -1.5, 2.0])
    assert mg.gradcheck(lambda x: DetachedSquare.apply(x), [x])  # the first derivative is right
    with pytest.raises(GradcheckError):
        mg.gradgradcheck(lambda x: DetachedSquare.apply(x), [x])


def test_numerical_grad_is_second_order_accurate():
    """Central differences of x^3: error eps^2 x (the third derivative / 6 times 2 eps^2)."""
    x0 = numpy.array([0.5, -1.0, 2.0])
    v = numpy.array([1.0, -2.0, 0.5])
    g = numerical_grad(lambda x: x ** 3, [x0], 0, [v], eps=1e-4)
    numpy.testing.assert_allclose(g, 3 * x0**2 * v, rtol=1e-7)


def test_gradcheck_does_not_touch_dot_grad():
    x = _x([1.0, 2.0])
    mg.gradcheck(lambda x: x * x, [x])
    assert x.grad is None
