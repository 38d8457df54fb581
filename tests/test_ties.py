"""Ties and kinks, deterministic: the documented rule at the points where a derivative does not exist.

The property tests (tests/test_ops.py) move inputs away from kinks and ties, because a finite
difference straddling one measures an average of two slopes; so here each rule is pinned with
exact inputs and exact expected gradients (docs/01-autograd.md, "Kinks and ties"):

* maximum, minimum, max/min reductions, maxout: the tied winners share g equally;
* relu'(0) = 0, |x|'(0) = 0, leaky_relu'(0) = negative_slope, clip'(x) = 1 at x = lo or hi.

Every rule is also PyTorch's (torch.maximum, torch.amax, torch.clamp, ...), which is checked
when torch is installed. The expected values are sums of halves and thirds of exact inputs,
computed exactly in float64, so they are compared with an rtol of 1e-15.
"""
from __future__ import annotations

import numpy
import pytest

import minigan as mg
import minigan.functional as F
from minigan import backend
from minigan.backend import as_numpy

RTOL = 1e-15  # shares of 1/2 and 1/3 times exact cotangents: at most one rounding each


def leaf(values):
    """A float64 leaf on the backend the test runs on (the xp_backend fixture's scope)."""
    data = backend.to_backend(numpy.asarray(values, dtype=numpy.float64), backend.default_backend())
    return mg.tensor(data, requires_grad=True)


def grads(out, inputs, cotangent=None):
    cotangent = numpy.ones(out.shape) if cotangent is None else numpy.asarray(cotangent, dtype=numpy.float64)
    v = mg.tensor(backend.to_backend(cotangent, backend.default_backend()))
    return [as_numpy(g.data) for g in mg.grad(out, inputs, v)]


def close(actual, expected):
    numpy.testing.assert_allclose(actual, numpy.asarray(expected, dtype=numpy.float64), rtol=RTOL, atol=0)


def torch_or_none():
    try:
        import torch
    except ImportError:  # torch is an optional reference; the documented rule is checked without it
        return None
    return torch


def torch_grads(fn, arrays, cotangent=None):
    """The same gradients from PyTorch (float64), or None without torch."""
    torch = torch_or_none()
    if torch is None:
        return None
    xs = [torch.tensor(numpy.asarray(a, dtype=numpy.float64), requires_grad=True) for a in arrays]
    out = fn(torch, *xs)
    v = torch.ones_like(out) if cotangent is None else torch.tensor(numpy.asarray(cotangent, dtype=numpy.float64))
    return [g.numpy() for g in torch.autograd.grad(out, xs, v)]


def test_maximum_and_minimum_of_a_tensor_with_itself_have_gradient_one(xp_backend):
    """d/dx max(x, x) = d/dx x = 1: each argument gets half, and the two halves add up."""
    x = leaf([-1.5, 0.0, 2.0])
    close(*grads(mg.maximum(x, x), [x]), [1.0, 1.0, 1.0])
    close(*grads(mg.minimum(x, x), [x]), [1.0, 1.0, 1.0])


@pytest.mark.parametrize("op, torch_op", [(mg.maximum, "maximum"), (mg.minimum, "minimum")])
def test_maximum_and_minimum_split_g_equally_at_ties(xp_backend, op, torch_op):
    a_val, b_val = [1.0, 2.0, 3.0, -1.0], [1.0, 5.0, 0.0, -1.0]
    v = [2.0, 3.0, 5.0, 7.0]
    a, b = leaf(a_val), leaf(b_val)
    ga, gb = grads(op(a, b), [a, b], v)
    if op is mg.maximum:
        close(ga, [1.0, 0.0, 5.0, 3.5])
        close(gb, [1.0, 3.0, 0.0, 3.5])
    else:
        close(ga, [1.0, 3.0, 0.0, 3.5])
        close(gb, [1.0, 0.0, 5.0, 3.5])
    swapped = grads(op(b, a), [a, b], v)  # the rule does not depend on the order of the arguments
    close(swapped[0], ga)
    close(swapped[1], gb)
    reference = torch_grads(lambda torch, a, b: getattr(torch, torch_op)(a, b), [a_val, b_val], v)
    if reference is not None:
        close(ga, reference[0])
        close(gb, reference[1])


def test_maximum_ties_under_broadcasting_sum_their_halves(xp_backend):
    """a (3, 1) against b (4,): a[i] ties b[j] where they are equal; a's gradient sums over j."""
    a_val, b_val = [[0.0], [1.0], [2.0]], [1.0, 1.0, 0.0, 3.0]
    a, b = leaf(a_val), leaf(b_val)
    ga, gb = grads(mg.maximum(a, b), [a, b])
    # row 0 (a = 0): loses to 1, 1, 3, ties 0 -> 0.5; row 1 (a = 1): ties twice, beats 0 -> 2;
    # row 2 (a = 2): beats 1, 1, 0, loses to 3 -> 3
    close(ga, [[0.5], [2.0], [3.0]])
    close(gb, [1.5, 1.5, 0.5, 3.0])
    reference = torch_grads(lambda torch, a, b: torch.maximum(a, b), [a_val, b_val])
    if reference is not None:
        close(ga, reference[0])
        close(gb, reference[1])


X = [[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [4.0, -1.0, 0.5]]  # rows: two, three, one winner(s) for max


@pytest.mark.parametrize("axis, keepdims", [(1, False), (1, True), (0, False), (None, False), ((0, 1), True)])
def test_max_reduction_shares_g_among_two_and_three_tied_winners(xp_backend, axis, keepdims):
    x = leaf(X)
    out = F.max(x, axis=axis, keepdims=keepdims)
    v = numpy.arange(1.0, 1.0 + out.size).reshape(out.shape)
    (g,) = grads(out, [x], v)
    if axis == 1:
        v = v.reshape(3)
        expected = [[0, v[0] / 2, v[0] / 2], [v[1] / 3] * 3, [v[2], 0, 0]]
    elif axis == 0:  # column maxima 4, 3, 3: one winner each
        expected = [[0, v[1], v[2]], [0, 0, 0], [v[0], 0, 0]]
    else:  # the single maximum 4
        expected = [[0, 0, 0], [0, 0, 0], [v.item(), 0, 0]]
    close(g, expected)
    torch_axis = tuple(range(2)) if axis is None else axis
    reference = torch_grads(lambda torch, t: torch.amax(t, dim=torch_axis, keepdim=keepdims), [X], v.reshape(out.shape))
    if reference is not None:
        close(g, reference[0])


@pytest.mark.parametrize("axis", [0, 1])
def test_min_reduction_shares_g_among_tied_winners(xp_backend, axis):
    x_val = [[0.0, 0.0, 5.0], [0.0, 1.0, 5.0], [0.0, 2.0, 5.0]]
    x = leaf(x_val)
    (g,) = grads(F.min(x, axis=axis), [x], [6.0, 12.0, 18.0])
    if axis == 0:  # column minima: three zeros tie, then one winner, then three fives tie
        expected = [[2.0, 12.0, 6.0], [2.0, 0.0, 6.0], [2.0, 0.0, 6.0]]
    else:  # row minima: two zeros tie in row 0, one winner in rows 1 and 2
        expected = [[3.0, 3.0, 0.0], [12.0, 0.0, 0.0], [18.0, 0.0, 0.0]]
    close(g, expected)
    reference = torch_grads(lambda torch, t: torch.amin(t, dim=axis), [x_val], [6.0, 12.0, 18.0])
    if reference is not None:
        close(g, reference[0])


def test_maxout_shares_g_among_tied_pieces(xp_backend):
    """Two units of three pieces for each of two examples: 1, 2 and 3 tied winners."""
    z_val = [[1.0, 1.0, 0.0, 2.0, 2.0, 2.0],
             [5.0, 0.0, -1.0, 0.5, 0.5, 0.25]]
    z = leaf(z_val)
    v = [[6.0, 12.0], [18.0, 24.0]]
    (g,) = grads(F.maxout(z, 3), [z], v)
    close(g, [[3.0, 3.0, 0.0, 4.0, 4.0, 4.0],
              [18.0, 0.0, 0.0, 12.0, 12.0, 0.0]])
    reference = torch_grads(lambda torch, t: t.view(2, 2, 3).amax(-1), [z_val], v)
    if reference is not None:
        close(g, reference[0])


KINKS = [
    ("relu", F.relu, lambda torch, t: torch.relu(t), [0.0, 0.0, 0.0]),
    ("abs", mg.abs, lambda torch, t: torch.abs(t), [0.0, 0.0, 0.0]),
    ("leaky_relu", lambda t: F.leaky_relu(t, 0.2),
     lambda torch, t: torch.nn.functional.leaky_relu(t, 0.2), [0.2, 0.2, 0.2]),
    ("clip", lambda t: mg.clip(t, -1.0, 0.0), lambda torch, t: torch.clamp(t, -1.0, 0.0), [1.0, 1.0, 1.0]),
]


@pytest.mark.parametrize("name, fn, torch_fn, expected", KINKS, ids=[k[0] for k in KINKS])
def test_one_sided_rules_at_kinks(xp_backend, name, fn, torch_fn, expected):
    """relu'(0) = 0, |x|'(0) = 0, leaky_relu'(0) = slope; clip'(lo) = clip'(hi) = 1 (the bounds belong to the
    linear piece). Three points at the kink, so a rule that depends on position would show."""
    at = [-1.0, 0.0, 0.0] if name == "clip" else [0.0, 0.0, 0.0]
    x = leaf(at)
    (g,) = grads(fn(x), [x])
    close(g, expected)
    reference = torch_grads(torch_fn, [at])
    if reference is not None:
        close(g, reference[0])
