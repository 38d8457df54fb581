"""Layer ops: batch_norm, dropout, maxout, binary_cross_entropy_with_logits, mse_loss.

Each op meets three kinds of test: a NumPy reference for its values, finite differences
for its gradient (and its gradient's gradient), and a closed form where one exists
(dBCE/da = sigmoid(a) - t; dropout's gradient is its mask / (1 - p)).
Gradient checks run in float64 (see minigan/gradcheck.py for why the default tolerances fit).
"""
import numpy
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigan
import minigan.functional as F
from minigan import Generator, Tensor, gradcheck, gradgradcheck

# every test runs on each backend (numpy; the CuPy stand-in; cupy on a GPU): see tests/conftest.py
pytestmark = pytest.mark.usefixtures("xp_backend")


def t64(a, grad=True):
    return Tensor(numpy.asarray(a, dtype=numpy.float64), requires_grad=grad)


# -- batch norm -------------------------------------------------------------------------------

AXES = {2: (0,), 3: (0, 2), 4: (0, 2, 3)}
SHAPES = [(5, 3), (4, 3, 5), (3, 2, 3, 4)]


def bn_reference(x, gamma, beta, eps=1e-5):
    """Batch norm in NumPy, straight from the definition (biased variance)."""
    axes = AXES[x.ndim]
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    return (x - mu) / numpy.sqrt(var + eps) * gamma.reshape(shape) + beta.reshape(shape)


def _bn_inputs(rng, shape):
    C = shape[1]
    x = t64(rng.standard_normal(shape) * 2 + 0.5)
    gamma = t64(rng.standard_normal(C) + 1.5)
    beta = t64(rng.standard_normal(C))
    return x, gamma, beta


@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_training_matches_numpy(rng, shape):
    x, gamma, beta = _bn_inputs(rng, shape)
    y = F.batch_norm(x, gamma, beta, training=True)
    numpy.testing.assert_allclose(y.data, bn_reference(x.data, gamma.data, beta.data), rtol=1e-12, atol=1e-12)
    # each channel of xhat has mean 0 and (biased) variance var / (var + eps) ~ 1
    y0 = F.batch_norm(x, None, None, training=True).data
    axes = AXES[len(shape)]
    numpy.testing.assert_allclose(y0.mean(axis=axes), 0.0, atol=1e-12)
    var = x.data.var(axis=axes)
    numpy.testing.assert_allclose(y0.var(axis=axes), var / (var + 1e-5), rtol=1e-10)


@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_running_statistics_follow_pytorch_rule(rng, shape):
    C, axes = shape[1], AXES[len(shape)]
    running_mean, running_var = numpy.zeros(C), numpy.ones(C)
    rm_ref, rv_ref = running_mean.copy(), running_var.copy()
    mean_id, var_id = id(running_mean), id(running_var)
    m = 0.3
    for step in range(3):
        x = rng.standard_normal(shape) * (step + 1) + step
        F.batch_norm(t64(x), t64(numpy.ones(C)), t64(numpy.zeros(C)), running_mean, running_var,
                     training=True, momentum=m)
        count = x.size // C
        rm_ref = (1 - m) * rm_ref + m * x.mean(axis=axes)
        rv_ref = (1 - m) * rv_ref + m * x.var(axis=axes, ddof=1)  # unbiased, as PyTorch
    assert id(running_mean) == mean_id and id(running_var) == var_id  # updated in place
    numpy.testing.assert_allclose(running_mean, rm_ref, rtol=1e-12)
    numpy.testing.assert_allclose(running_var, rv_ref, rtol=1e-12)
    assert count > 1


@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_eval_uses_running_statistics_and_leaves_them(rng, shape):
    x, gamma, beta = _bn_inputs(rng, shape)
    C = shape[1]
    rm, rv = rng.standard_normal(C), rng.uniform(0.5, 2.0, C)
    rm0, rv0 = rm.copy(), rv.copy()
    y = F.batch_norm(x, gamma, beta, rm, rv, training=False, eps=1e-3)
    bshape = (1, C) + (1,) * (len(shape) - 2)
    expected = (x.data - rm.reshape(bshape)) / numpy.sqrt(rv.reshape(bshape) + 1e-3) * gamma.data.reshape(bshape) \
        + beta.data.reshape(bshape)
    numpy.testing.assert_allclose(y.data, expected, rtol=1e-12, atol=1e-12)
    numpy.testing.assert_array_equal(rm, rm0)
    numpy.testing.assert_array_equal(rv, rv0)


@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_training_gradients(rng, shape):
    x, gamma, beta = _bn_inputs(rng, shape)

    def fn(x, gamma, beta):
        return F.batch_norm(x, gamma, beta, training=True)

    gradcheck(fn, [x, gamma, beta])
    gradgradcheck(fn, [x, gamma, beta])


def test_batch_norm_training_gradients_without_affine_and_with_running_stats(rng):
    x = t64(rng.standard_normal((4, 3)))
    rm, rv = numpy.zeros(3), numpy.ones(3)
    # running statistics are updated on every call and never enter the output or its gradient
    gradcheck(lambda x: F.batch_norm(x, None, None, rm, rv, training=True), [x])
    gradgradcheck(lambda x: F.batch_norm(x, None, None, training=True), [x])


@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_eval_gradients(rng, shape):
    x, gamma, beta = _bn_inputs(rng, shape)
    C = shape[1]
    rm, rv = rng.standard_normal(C), rng.uniform(0.5, 2.0, C)

    def fn(x, gamma, beta):
        return F.batch_norm(x, gamma, beta, rm, rv, training=False)

    gradcheck(fn, [x, gamma, beta])
    gradgradcheck(fn, [x, gamma, beta])


@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_fast_and_recorded_backward_agree(rng, shape):
    """The raw-array backward (no graph) and the op-built one (create_graph) are one formula."""
    x, gamma, beta = _bn_inputs(rng, shape)
    g = Tensor(rng.standard_normal(shape))
    fast = minigan.grad(F.batch_norm(x, gamma, beta), [x, gamma, beta], g)
    recorded = minigan.grad(F.batch_norm(x, gamma, beta), [x, gamma, beta], g, create_graph=True)
    for a, b in zip(fast, recorded):
        numpy.testing.assert_allclose(a.data, b.data, rtol=1e-11, atol=1e-13)


def test_batch_norm_closed_form_gradient_of_sum_is_zero_in_x(rng):
    """sum_i y_i = gamma sum xhat_i + m beta, and sum xhat_i = 0 for any x: dL/dx = 0 exactly (to rounding)."""
    x, gamma, beta = _bn_inputs(rng, (6, 4))
    F.batch_norm(x, gamma, beta).sum().backward()
    numpy.testing.assert_allclose(x.grad.data, 0.0, atol=1e-12)
    numpy.testing.assert_allclose(beta.grad.data, 6.0, rtol=1e-15)


def test_batch_norm_float32_stays_float32(rng):
    x = Tensor(rng.standard_normal((4, 3)).astype(numpy.float32), requires_grad=True)
    rm, rv = numpy.zeros(3, numpy.float32), numpy.ones(3, numpy.float32)
    y = F.batch_norm(x, None, None, rm, rv, training=True)
    assert y.dtype == numpy.float32 and rm.dtype == numpy.float32
    y.sum().backward()
    assert x.grad.dtype == numpy.float32
    assert F.batch_norm(x, None, None, rm, rv, training=False).dtype == numpy.float32


def test_batch_norm_errors_name_the_problem(rng):
    x = t64(rng.standard_normal((1, 3)))
    with pytest.raises(ValueError, match="more than one value per channel"):
        F.batch_norm(x, training=True)
    with pytest.raises(ValueError, match=r"gamma must be a Tensor of shape \(3,\)"):
        F.batch_norm(t64(numpy.ones((4, 3))), t64(numpy.ones(2)), None)
    with pytest.raises(ValueError, match=r"got shape \(4,\)"):
        F.batch_norm(t64(numpy.ones(4)))
    with pytest.raises(ValueError, match=r"running_mean must be an array of shape \(3,\)"):
        F.batch_norm(t64(numpy.ones((4, 3))), None, None, numpy.zeros(4), numpy.ones(4))
    with pytest.raises(ValueError, match="both running_mean and running_var"):
        F.batch_norm(t64(numpy.ones((4, 3))), None, None, numpy.zeros(3), None)
    with pytest.raises(ValueError, match="momentum"):
        F.batch_norm(t64(numpy.ones((4, 3))), momentum=1.5)


# -- dropout ----------------------------------------------------------------------------------

def test_dropout_gradient_is_the_scaled_mask(rng):
    x = t64(rng.standard_normal((6, 5)))
    p = 0.3
    y = F.dropout(x, p, True, Generator(3))
    y.sum().backward()
    mask = F.dropout(t64(numpy.ones((6, 5)), grad=False), p, True, Generator(3)).data  # same draw
    assert set(numpy.unique(mask)) <= {0.0, 1.0 / (1 - p)}
    numpy.testing.assert_array_equal(x.grad.data, mask)
    numpy.testing.assert_array_equal(y.data, x.data * mask)


def test_dropout_gradcheck_with_fixed_mask(rng):
    x = t64(rng.standard_normal((4, 5)))

    def fn(x):  # a freshly seeded Generator per call: every evaluation sees the same mask
        return F.dropout(x, 0.4, True, Generator(11))

    gradcheck(fn, [x])
    gradgradcheck(fn, [x])


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_keeps_the_expectation(p):
    """Each element of dropout(1) is 1/(1-p) w.p. 1-p, else 0: mean 1, variance p/(1-p).
    The mean of n of them has std sqrt(p / ((1-p) n)); 5 of those bound a false failure by ~6e-7."""
    n = 200_000
    y = F.dropout(minigan.ones(n, dtype=numpy.float64), p, True, Generator(2024)).data
    sd = numpy.sqrt(p / ((1 - p) * n))
    assert abs(y.mean() - 1.0) < 5 * sd
    dropped = (y == 0).mean()  # a binomial proportion with std sqrt(p (1-p) / n)
    assert abs(dropped - p) < 5 * numpy.sqrt(p * (1 - p) / n)


def test_dropout_modes_and_edges(rng):
    x = t64(rng.standard_normal((3, 4)))
    assert F.dropout(x, 0.5, training=False, generator=Generator(0)) is x
    assert F.dropout(x, 0.0, training=True, generator=Generator(0)) is x
    numpy.testing.assert_array_equal(F.dropout(x, 1.0, True, Generator(0)).data, 0.0)
    a = F.dropout(x, 0.5, True, Generator(5)).data
    b = F.dropout(x, 0.5, True, Generator(5)).data
    c = F.dropout(x, 0.5, True, Generator(6)).data
    numpy.testing.assert_array_equal(a, b)
    assert not numpy.array_equal(a, c)
    with pytest.raises(ValueError, match="drop probability"):
        F.dropout(x, 1.2, True, Generator(0))
    with pytest.raises(TypeError, match="minigan.Generator"):
        F.dropout(x, 0.5, True, numpy.random.default_rng(0))
    x32 = Tensor(numpy.ones((2, 3), numpy.float32))
    assert F.dropout(x32, 0.5, True, Generator(0)).dtype == numpy.float32


# -- maxout -----------------------------------------------------------------------------------

def maxout_reference(x, pieces):
    """Unit j takes the consecutive features j*pieces ... j*pieces + pieces - 1."""
    N, F_ = x.shape[0], x.shape[1]
    out = numpy.empty((N, F_ // pieces) + x.shape[2:])
    for j in range(F_ // pieces):
        out[:, j] = x[:, j * pieces:(j + 1) * pieces].max(axis=1)
    return out


@given(n=st.integers(1, 4), units=st.integers(1, 4), pieces=st.integers(1, 4), spatial=st.booleans(),
       seed=st.integers(0, 2**31))
def test_maxout_matches_numpy(n, units, pieces, spatial, seed):
    r = numpy.random.default_rng(seed)
    shape = (n, units * pieces) + ((2, 3) if spatial else ())
    x = r.standard_normal(shape)
    numpy.testing.assert_array_equal(F.maxout(Tensor(x), pieces).data, maxout_reference(x, pieces))


@pytest.mark.parametrize("shape,pieces", [((3, 12), 4), ((2, 6, 2, 2), 3)])
def test_maxout_gradients(rng, shape, pieces):
    x = t64(rng.standard_normal(shape))  # continuous draws: no ties, so the max is differentiable
    gradcheck(lambda x: F.maxout(x, pieces), [x])
    gradgradcheck(lambda x: F.maxout(x, pieces), [x])


def test_maxout_gradient_goes_to_the_winning_piece(rng):
    x = t64(rng.standard_normal((2, 6)))
    F.maxout(x, 3).sum().backward()
    winners = numpy.zeros((2, 6))
    for j in range(2):
        block = x.data[:, 3 * j:3 * j + 3]
        winners[numpy.arange(2), 3 * j + block.argmax(axis=1)] = 1.0
    numpy.testing.assert_array_equal(x.grad.data, winners)


def test_maxout_errors(rng):
    with pytest.raises(ValueError, match="not a multiple of 4"):
        F.maxout(t64(numpy.ones((2, 6))), 4)
    with pytest.raises(ValueError, match="positive integer"):
        F.maxout(t64(numpy.ones((2, 6))), 0)


# -- binary cross-entropy from logits ---------------------------------------------------------

def bce_reference(a, t):
    """softplus(a) - t a, with softplus(a) = log(e^0 + e^a) from numpy.logaddexp (float64)."""
    return numpy.logaddexp(0.0, a) - t * a


@given(seed=st.integers(0, 2**31), scale=st.sampled_from([0.1, 3.0, 30.0]))
def test_bce_matches_reference(seed, scale):
    r = numpy.random.default_rng(seed)
    a, t = r.standard_normal((3, 4)) * scale, r.uniform(0, 1, (3, 4))
    out = F.binary_cross_entropy_with_logits(Tensor(a), Tensor(t), reduction="none").data
    numpy.testing.assert_allclose(out, bce_reference(a, t), rtol=1e-12, atol=1e-14)
    # and it is the textbook -t log p - (1 - t) log(1 - p) where p is representable
    if scale < 10:
        p = 1 / (1 + numpy.exp(-a))
        numpy.testing.assert_allclose(out, -t * numpy.log(p) - (1 - t) * numpy.log1p(-p), rtol=1e-9)


def test_bce_reductions_and_weight(rng):
    a, t, w = rng.standard_normal((4, 3)), rng.uniform(0, 1, (4, 3)), rng.uniform(0, 2, (1, 3))
    ref = bce_reference(a, t)
    f = F.binary_cross_entropy_with_logits
    numpy.testing.assert_allclose(f(Tensor(a), Tensor(t)).item(), ref.mean(), rtol=1e-13)
    numpy.testing.assert_allclose(f(Tensor(a), Tensor(t), reduction="sum").item(), ref.sum(), rtol=1e-13)
    numpy.testing.assert_allclose(f(Tensor(a), Tensor(t), "none", weight=Tensor(w)).data, ref * w, rtol=1e-13)
    numpy.testing.assert_allclose(f(Tensor(a), 1.0, "none").data, bce_reference(a, 1.0), rtol=1e-13)
    with pytest.raises(ValueError, match="reduction must be one of"):
        f(Tensor(a), Tensor(t), reduction="avg")
    with pytest.raises(ValueError, match=r"input has shape \(4, 3\) but target has shape \(3,\)"):
        f(Tensor(a), Tensor(t[0]))


def test_bce_gradient_is_sigmoid_minus_target(rng):
    a, t = t64(rng.standard_normal(10) * 4), t64(rng.uniform(0, 1, 10), grad=False)
    F.binary_cross_entropy_with_logits(a, t, reduction="sum").backward()
    numpy.testing.assert_allclose(a.grad.data, 1 / (1 + numpy.exp(-a.data)) - t.data, rtol=1e-13, atol=1e-16)


def test_bce_gradcheck_and_gradgradcheck(rng):
    a, t = t64(rng.standard_normal((3, 4)) * 3), t64(rng.uniform(0, 1, (3, 4)))
    w = t64(rng.uniform(0.5, 2, (3, 4)), grad=False)
    for reduction in ("mean", "sum", "none"):
        fn = lambda a, t: F.binary_cross_entropy_with_logits(a, t, reduction, weight=w)  # noqa: E731
        gradcheck(fn, [a, t])
        gradgradcheck(fn, [a, t])


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_bce_is_finite_and_never_saturates_for_huge_logits(dtype):
    """At |a| = 1e4 a clipped -log(p) would give a constant loss and a zero gradient;
    softplus(a) - t a gives the exact loss |a| (wrong side) or 0, and gradient +-1 or 0."""
    a = Tensor(numpy.array([1e4, -1e4, 1e4, -1e4, 0.0, 50.0], dtype=dtype), requires_grad=True)
    t = Tensor(numpy.array([0.0, 1.0, 1.0, 0.0, 1.0, 1.0], dtype=dtype))
    loss = F.binary_cross_entropy_with_logits(a, t, reduction="none")
    assert numpy.isfinite(loss.data).all()
    numpy.testing.assert_allclose(loss.data[:4], [1e4, 1e4, 0.0, 0.0], rtol=1e-7, atol=0)
    numpy.testing.assert_allclose(loss.data[4], numpy.log(2.0), rtol=1e-6)
    assert 0.0 < loss.data[5] < 1e-20  # exp(-50), not rounded to 0 by cancellation
    loss.sum().backward()
    assert numpy.isfinite(a.grad.data).all()
    numpy.testing.assert_array_equal(a.grad.data[:4], numpy.array([1.0, -1.0, 0.0, 0.0], dtype=dtype))
    assert a.grad.dtype == dtype


# -- mean squared error -----------------------------------------------------------------------

def test_mse_values_and_gradients(rng):
    a, b = t64(rng.standard_normal((3, 4))), t64(rng.standard_normal((3, 4)))
    ref = (a.data - b.data) ** 2
    numpy.testing.assert_allclose(F.mse_loss(a, b).item(), ref.mean(), rtol=1e-14)
    numpy.testing.assert_allclose(F.mse_loss(a, b, "sum").item(), ref.sum(), rtol=1e-14)
    numpy.testing.assert_allclose(F.mse_loss(a, b, "none").data, ref, rtol=1e-14)
    F.mse_loss(a, b).backward()
    numpy.testing.assert_allclose(a.grad.data, 2 * (a.data - b.data) / 12, rtol=1e-14)
    for reduction in ("mean", "sum", "none"):
        gradcheck(lambda a, b: F.mse_loss(a, b, reduction), [a, b])
        gradgradcheck(lambda a, b: F.mse_loss(a, b, reduction), [a, b])
    numpy.testing.assert_allclose(F.mse_loss(a, 1.0).item(), ((a.data - 1) ** 2).mean(), rtol=1e-14)
    with pytest.raises(ValueError, match="mse_loss: input has shape"):
        F.mse_loss(a, t64(numpy.ones(4)))
