"""Precision where float64 allows it: relative errors of 1e-6 must not pass.

gradcheck compares with finite differences at rtol 1e-4, so a backward that is wrong by a
factor 1 + 1e-6 passes it. The checks here use exact references instead:

1. Tails. softplus(a) = log(1 + e^a) is e^a (1 - e^a/2 + ...) for a << 0: about 1e-304 at
   a = -700. An implementation that forms 1 + e^a first (log(1 + e) instead of log1p(e))
   returns 0 there and is already 100% wrong at a = -40; an absolute tolerance cannot see it,
   so these checks are relative, with atol = 0. The reference is NumPy's logaddexp(0, a),
   computed as max + log1p(exp(-|difference|)), correct to a few ulps over [-700, 700]
   (e^-700 = 1e-304 is still a normal float64). The derivatives are checked against sigmoid
   written two ways, so that neither side of zero subtracts from 1.
2. Every registry op's vector-Jacobian product (tests/op_registry.py) at rtol 1e-10: against
   its derivative in closed form (the elementwise ops), and against PyTorch's autograd where
   torch is installed (all ops but indexing and pad, whose scatter NumPy's add.at gives).
3. Batch norm's gradient, where leaving eps out of sqrt(var + eps) is a 5e-6 relative error.
"""
from __future__ import annotations

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigan as mg
import minigan.functional as F
from minigan import backend
from minigan.backend import as_numpy
from op_registry import REGISTRY
from strategies import op_inputs

# A few roundings of float64 (eps = 2.2e-16) in both implementations: 1e-12 leaves room for
# ~4000 ulps, and is far below the 1e-3 relative error of log(1 + e^a) at a = -30.
RTOL = 1e-12

A = numpy.concatenate([-numpy.geomspace(700.0, 1e-3, 60), [0.0], numpy.geomspace(1e-3, 700.0, 60)])


def sigmoid_ref(a):
    """1 / (1 + e^-a) for a >= 0, e^a / (1 + e^a) for a < 0: no cancellation on either side."""
    e = numpy.exp(-numpy.abs(a))
    return numpy.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def value_and_grad(fn, a):
    x = mg.tensor(backend.to_backend(a, backend.default_backend()), requires_grad=True)  # the fixture's backend
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


# -- every registry op's vector-Jacobian product at rtol 1e-10 ---------------------------------
# gradcheck (rtol 1e-4) cannot see a relative error of 1e-6 in a backward; a float64 reference
# can. PyTorch's autograd is the reference where torch is installed; the indexing and padding
# ops, whose backward is a scatter, are checked against NumPy's own scatter (numpy.add.at).

XCHECK_RTOL, XCHECK_ATOL = 1e-10, 1e-13  # float64 sums of a few dozen terms differ by ~1e-15


def _dims(axis, ndim):
    return tuple(range(ndim)) if axis is None else axis


def _torch_ops(torch):
    tF = torch.nn.functional
    scalar = {"add_scalar": lambda x, c: x + c, "rsub_scalar": lambda x, c: c - x, "sub_scalar": lambda x, c: x - c,
              "mul_scalar": lambda x, c: x * c, "rmul_scalar": lambda x, c: c * x, "div_scalar": lambda x, c: x / c,
              "rdiv_scalar": lambda x, c: c / x, "pow_scalar": lambda x, c: x ** c, "rpow_scalar": lambda x, c: c ** x}
    ops = {
        "add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div, "pow": torch.pow,
        "maximum": torch.maximum, "minimum": torch.minimum,
        "where": lambda a, b, cond: torch.where(torch.from_numpy(numpy.asarray(cond)), a, b),
        "neg": torch.neg, "exp": torch.exp, "log": torch.log, "log1p": torch.log1p, "sqrt": torch.sqrt,
        "abs": torch.abs, "clip": lambda x, lo, hi: torch.clamp(x, lo, hi), "relu": torch.relu,
        "leaky_relu": lambda x, negative_slope: torch.where(x > 0, x, negative_slope * x),
        "sigmoid": torch.sigmoid, "tanh": torch.tanh, "softplus": lambda x: tF.softplus(x, threshold=100.0),
        "log_sigmoid": tF.logsigmoid,
        "sum": lambda x, axis, keepdims: torch.sum(x, dim=_dims(axis, x.ndim), keepdim=keepdims),
        "mean": lambda x, axis, keepdims: torch.mean(x, dim=_dims(axis, x.ndim), keepdim=keepdims),
        "max": lambda x, axis, keepdims: torch.amax(x, dim=_dims(axis, x.ndim), keepdim=keepdims),
        "min": lambda x, axis, keepdims: torch.amin(x, dim=_dims(axis, x.ndim), keepdim=keepdims),
        "var": lambda x, axis, keepdims, ddof: torch.var(x, dim=_dims(axis, x.ndim), correction=ddof,
                                                        keepdim=keepdims),
        "logsumexp": lambda x, axis, keepdims: torch.logsumexp(x, dim=_dims(axis, x.ndim), keepdim=keepdims),
        "softmax": lambda x, axis: torch.softmax(x, dim=axis),
        "log_softmax": lambda x, axis: torch.log_softmax(x, dim=axis),
        "matmul": torch.matmul, "linear": tF.linear,
        "reshape": lambda x, shape: x.reshape(shape), "transpose": lambda x, axes: x.permute(*axes),
        "permute": lambda x, axes: x.permute(*axes), "broadcast_to": lambda x, shape: torch.broadcast_to(x, shape),
        "concatenate": lambda *xs, axis: torch.cat(xs, dim=axis), "stack": lambda *xs, axis: torch.stack(xs, dim=axis),
    }
    ops.update(scalar)
    return ops


def _scatter_vjp(spec_name, arrays, params, v):
    """x's gradient for getitem (add v into the indexed places) and pad (the inner block of v)."""
    (x,) = arrays
    if spec_name == "pad":
        inner = tuple(slice(before, before + n) for (before, _), n in zip(params["pad_width"], x.shape))
        return [v[inner]]
    g = numpy.zeros(x.shape)
    numpy.add.at(g.reshape(x.shape), params["index"], v)
    return [g]


SCATTER = ("getitem_basic", "getitem_repeats", "getitem_mask", "pad")


def _minigan_vjp(spec, arrays, params, v):
    xs = [mg.Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = spec.fn(*xs, **params)
    return out.numpy(), [g.numpy() for g in mg.grad(out, xs, mg.Tensor(v), allow_unused=True)]


def _reference_vjp(spec, arrays, params, v):
    if spec.name in SCATTER:
        return _scatter_vjp(spec.name, arrays, params, v)
    torch = pytest.importorskip("torch")
    xs = [torch.tensor(numpy.array(a, order="C"), requires_grad=True) for a in arrays]
    out = _torch_ops(torch)[spec.name](*xs, **params)
    return [g.numpy() for g in torch.autograd.grad(out, xs, torch.from_numpy(v))]


def _draw_vjp_case(spec, data):
    """Inputs and parameters for ``spec``, a random cotangent v of its output's shape, and minigan's VJP."""
    arrays, params = data.draw(op_inputs(spec))
    seed = data.draw(st.integers(0, 2**16))
    value = numpy.asarray(spec.ref(*arrays, **params))
    v = numpy.asarray(numpy.random.default_rng(seed).standard_normal(value.shape))  # 0-d: an array, not a float
    _, ours = _minigan_vjp(spec, arrays, params, v)
    return arrays, params, v, ours


@pytest.mark.parametrize("spec", [s for s in REGISTRY if s.differentiable], ids=lambda s: s.name)
@settings(max_examples=8)
@given(data=st.data())
def test_vjp_matches_the_float64_reference_to_1e_10(spec, data):
    arrays, params, v, ours = _draw_vjp_case(spec, data)
    reference = _reference_vjp(spec, arrays, params, v)
    for k, (a, b) in enumerate(zip(ours, reference)):
        numpy.testing.assert_allclose(a, b, rtol=XCHECK_RTOL, atol=XCHECK_ATOL, err_msg=f"{spec.name}, input {k}")


# -- batch norm: eps must reach the backward --------------------------------------------------
# With var ~ 1 and eps = 1e-5, leaving eps out of 1/sqrt(var + eps) changes the gradient by 5e-6
# relative: invisible to gradcheck's rtol 1e-4. Two checks that see it: channels whose variance
# is smaller than eps, against the closed form (both backward paths), and PyTorch at rtol 1e-10.

def _bn_case(shape, scale):
    rng = numpy.random.default_rng(11)
    C = shape[1]
    x = rng.standard_normal(shape) * scale
    return x, rng.uniform(0.5, 1.5, C), rng.standard_normal(C), rng.standard_normal(shape)


@pytest.mark.parametrize("shape", [(6, 3), (4, 2, 3, 3)])
@pytest.mark.parametrize("recorded", [False, True], ids=["fast", "recorded"])
def test_batch_norm_gradient_sees_eps_when_the_variance_is_as_small(shape, recorded):
    """x with std 1e-3 (var 1e-6) and eps = 1e-5: sigma = sqrt(var + eps) is mostly eps."""
    x, gamma, beta, v = _bn_case(shape, 1e-3)
    xs = [mg.tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    out = F.batch_norm(*xs, eps=1e-5)
    ours = mg.grad(out, xs, mg.tensor(v), create_graph=recorded)
    # the closed form of docs/02-layers.md, in NumPy: dL/dx = gamma/(m sigma) (m g - sum g - xhat sum g xhat)
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    m = x.size // x.shape[1]
    kept = (1, -1) + (1,) * (x.ndim - 2)
    mu = x.mean(axis=axes, keepdims=True)
    sigma = numpy.sqrt(((x - mu) ** 2).mean(axis=axes, keepdims=True) + 1e-5)
    xhat = (x - mu) / sigma
    sum_g, sum_gx = v.sum(axis=axes, keepdims=True), (v * xhat).sum(axis=axes, keepdims=True)
    gx = gamma.reshape(kept) / (m * sigma) * (m * v - sum_g - xhat * sum_gx)
    # relative 1e-9: the closed form and the op each round a few times, and x - mu loses
    # three digits to the mean when the spread is 1e-3 of x's values
    for got, want in zip(ours, (gx, sum_gx.reshape(-1), sum_g.reshape(-1))):
        numpy.testing.assert_allclose(as_numpy(got.data), want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("shape", [(6, 3), (4, 2, 3, 3)])
def test_batch_norm_gradient_matches_torch_to_1e_10(shape):
    torch = pytest.importorskip("torch")
    x, gamma, beta, v = _bn_case(shape, 2.0)
    xs = [mg.tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    ours = mg.grad(F.batch_norm(*xs, eps=1e-5), xs, mg.tensor(v))
    ts = [torch.tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    out = torch.nn.functional.batch_norm(ts[0], None, None, ts[1], ts[2], training=True, eps=1e-5)
    theirs = torch.autograd.grad(out, ts, torch.from_numpy(v))
    for k, (a, b) in enumerate(zip(ours, theirs)):
        numpy.testing.assert_allclose(as_numpy(a.data), b.numpy(), rtol=XCHECK_RTOL, atol=XCHECK_ATOL,
                                      err_msg=f"batch_norm input {k}")


# -- the same for the elementwise ops against their derivatives in closed form (no torch needed) --

def _unbroadcast(g, shape):
    """Sum g over the axes broadcasting added or stretched, back to ``shape`` (the adjoint of broadcasting)."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    return g.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1), keepdims=True).reshape(shape)


UNARY_DERIVATIVE = {  # f'(x), with the scalar ops' c as a keyword
    "neg": lambda x: -numpy.ones_like(x), "exp": numpy.exp, "log": lambda x: 1 / x,
    "log1p": lambda x: 1 / (1 + x), "sqrt": lambda x: 0.5 / numpy.sqrt(x), "abs": numpy.sign,
    "relu": lambda x: (x > 0) * 1.0, "sigmoid": lambda x: sigmoid_ref(x) * sigmoid_ref(-x),
    "tanh": lambda x: 1 - numpy.tanh(x) ** 2,
    "softplus": sigmoid_ref, "log_sigmoid": lambda x: sigmoid_ref(-x),
    "leaky_relu": lambda x, negative_slope: numpy.where(x > 0, 1.0, negative_slope),
    "clip": lambda x, lo, hi: ((lo is None or x >= lo) & (hi is None or x <= hi)) * 1.0,
    "add_scalar": lambda x, c: numpy.ones_like(x), "sub_scalar": lambda x, c: numpy.ones_like(x),
    "rsub_scalar": lambda x, c: -numpy.ones_like(x), "mul_scalar": lambda x, c: numpy.full_like(x, c),
    "rmul_scalar": lambda x, c: numpy.full_like(x, c), "div_scalar": lambda x, c: numpy.full_like(x, 1 / c),
    "rdiv_scalar": lambda x, c: -c / x ** 2, "pow_scalar": lambda x, c: c * x ** (c - 1),
    "rpow_scalar": lambda x, c: numpy.log(c) * c ** x,
}

BINARY_PARTIALS = {  # (df/da, df/db) on the broadcast shape
    "add": lambda a, b: (numpy.ones_like(a * b), numpy.ones_like(a * b)),
    "sub": lambda a, b: (numpy.ones_like(a * b), -numpy.ones_like(a * b)),
    "mul": lambda a, b: (b + 0 * a, a + 0 * b),
    "div": lambda a, b: (1 / b + 0 * a, -a / b ** 2),
    "pow": lambda a, b: (b * a ** (b - 1), a ** b * numpy.log(a)),
    "maximum": lambda a, b: ((a > b) * 1.0, (a < b) * 1.0),
    "minimum": lambda a, b: ((a < b) * 1.0, (a > b) * 1.0),
    "where": lambda a, b, cond: (cond * 1.0 + 0 * a * b, (~cond) * 1.0 + 0 * a * b),
}


@pytest.mark.parametrize("spec", [s for s in REGISTRY if s.name in UNARY_DERIVATIVE or s.name in BINARY_PARTIALS],
                         ids=lambda s: s.name)
@settings(max_examples=8)
@given(data=st.data())
def test_elementwise_vjp_matches_its_closed_form_to_1e_10(spec, data):
    arrays, params, v, ours = _draw_vjp_case(spec, data)
    if spec.name in UNARY_DERIVATIVE:
        expected = [v * UNARY_DERIVATIVE[spec.name](arrays[0], **params)]
    else:
        partials = BINARY_PARTIALS[spec.name](*arrays, **params)
        expected = [_unbroadcast(v * d, a.shape) for d, a in zip(partials, arrays)]
    for k, (a, b) in enumerate(zip(ours, expected)):
        numpy.testing.assert_allclose(a, b, rtol=XCHECK_RTOL, atol=XCHECK_ATOL, err_msg=f"{spec.name}, input {k}")
