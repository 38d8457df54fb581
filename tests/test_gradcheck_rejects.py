"""gradcheck and gradgradcheck as functions under test: each kind of wrong derivative is rejected.

Every op test in the suite trusts gradcheck, so gradcheck itself must fail on a wrong backward,
whatever shape the mistake takes: a sign (the exact negative), a single element, or a relative
error of 1e-3 (ten times its rtol of 1e-4). The same three mistakes are then made in the second
derivative only, where gradcheck must pass and gradgradcheck must fail. Both modes are checked:
element by element, and along random directions (``directional=True``).

The function under test is y = x^3 (dy/dx = 3x^2, d2y/dx2 = 6x), with |x| in [0.5, 1.5] so that
every derivative is of order one and a 1e-3 relative error is well above atol = 1e-6.
"""
from __future__ import annotations

import re

import numpy
import pytest

import minigan as mg
from minigan import backend
from minigan.autograd import Function, Tensor
from minigan.gradcheck import GradcheckError

SHAPE = (2, 3)
BAD = (1, 2)          # the element the "one element" mistake touches
OFFSET = 0.25         # its size: far above atol + rtol * |gradient| ~ 1e-4


def mistake(kind, grad):
    """The correct gradient ``grad`` (a Tensor) made wrong in the way ``kind`` names."""
    if kind == "negated":
        return -grad
    if kind == "scaled":
        return grad * (1.0 + 1e-3)
    if kind == "one_element":
        delta = backend.array_module(grad.data).zeros(grad.shape)  # made where grad lives
        delta[BAD] = OFFSET
        return grad + Tensor(delta)
    assert kind == "correct"
    return grad


class Cube(Function):
    """y = x^3 whose backward g * 3x^2 carries ``first``'s mistake, built from ops so it is
    differentiable; its own derivative, g * 6x, carries ``second``'s mistake."""

    def forward(self, x):
        return x * x * x

    def backward(self, gy):
        return mistake(self.first, gy * Slope.apply(self.inputs[0], second=self.second))


class Slope(Function):
    """s = 3x^2, the slope of x^3.   ds/dx = 6x (with ``second``'s mistake)."""

    def forward(self, x):
        return 3.0 * x * x

    def backward(self, gs):
        return mistake(self.second, gs * 6.0 * self.inputs[0])


def cube(first="correct", second="correct"):
    return lambda x: Cube.apply(x, first=first, second=second)


def x_input():
    rng = numpy.random.default_rng(3)
    values = rng.uniform(0.5, 1.5, SHAPE) * rng.choice([-1.0, 1.0], SHAPE)
    return mg.tensor(values, requires_grad=True)


KINDS = ["negated", "one_element", "scaled"]


@pytest.mark.parametrize("directional", [False, True])
def test_correct_derivatives_pass_both_checks(directional):
    assert mg.gradcheck(cube(), [x_input()], directional=directional)
    assert mg.gradgradcheck(cube(), [x_input()], directional=directional)


@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck_rejects_a_wrong_first_derivative_naming_the_worst_element(kind):
    with pytest.raises(GradcheckError) as info:
        mg.gradcheck(cube(first=kind), [x_input()], directional=False)
    msg = str(info.value)
    assert f"input 0 (shape {SHAPE})" in msg
    worst = tuple(int(i) for i in re.search(r"worst element \((\d+), (\d+)\)", msg).groups())
    failing = int(re.search(r"(\d+) of 6 elements fail", msg).group(1))
    analytic = float(re.search(r"analytic = (\S+),", msg).group(1))
    numerical = float(re.search(r"numerical = (\S+),", msg).group(1))
    if kind == "one_element":
        assert worst == BAD and failing == 1
        assert analytic - numerical == pytest.approx(OFFSET, rel=1e-6)
    elif kind == "negated":
        assert failing == 6 and analytic == pytest.approx(-numerical, rel=1e-6)
        # the worst element is the one with the largest |gradient|: the error there is twice it
        x = x_input().numpy()
        v = numpy.random.default_rng(0).standard_normal(SHAPE)  # gradcheck's cotangent (seed 0)
        assert worst == numpy.unravel_index(numpy.abs(3 * x**2 * v).argmax(), SHAPE)
    else:
        assert failing == 6 and analytic / numerical == pytest.approx(1.001, rel=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck_rejects_a_wrong_first_derivative_along_directions(kind):
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(2, 3\)\), direction \d: analytic <grad, u>"):
        mg.gradcheck(cube(first=kind), [x_input()], directional=True)


@pytest.mark.parametrize("directional", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_a_mistake_only_in_the_second_derivative_passes_gradcheck_and_fails_gradgradcheck(kind, directional):
    assert mg.gradcheck(cube(second=kind), [x_input()], directional=directional)
    with pytest.raises(GradcheckError) as info:
        mg.gradgradcheck(cube(second=kind), [x_input()], directional=directional)
    msg = str(info.value)
    if directional:
        assert re.search(r"input 0 \(shape \(2, 3\)\), direction \d", msg), msg
    else:
        assert "input 0 (shape (2, 3))" in msg  # x, not the cotangent gradgradcheck adds as input 1
        if kind == "one_element":
            assert "worst element (1, 2)" in msg and "1 of 6 elements fail" in msg


def test_a_mistake_in_one_input_of_two_is_pinned_on_that_input():
    """f(a, b) = a * b with b's gradient negated: input 0 passes, input 1 is named."""

    class Product(Function):
        def forward(self, a, b):
            return a * b

        def backward(self, gy):
            a, b = self.inputs
            return gy * b, -(gy * a)

    a, b = x_input(), mg.tensor(x_input().data[::-1].copy(), requires_grad=True)
    with pytest.raises(GradcheckError, match=r"^gradcheck: input 1 \(shape \(2, 3\)\)"):
        mg.gradcheck(lambda a, b: Product.apply(a, b), [a, b])
