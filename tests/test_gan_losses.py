"""The GAN losses (minigan/gan/losses.py): values against their formulas in NumPy, gradients against
their closed forms, stability at |a| = 1e4, the registry. float64 unless stated."""
import numpy
import pytest

import minigan as mg
from minigan.gan import losses

A = numpy.array([-30.0, -3.0, -0.5, 0.0, 0.7, 4.0, 30.0])  # logits, including confident ones
B = numpy.array([2.0, -1.0, 0.3, 0.0, -6.0, 1.5, -0.2])

# every test runs on each backend (numpy; the CuPy stand-in; cupy on a GPU): see tests/conftest.py
pytestmark = pytest.mark.usefixtures("xp_backend")


def t(x):
    return mg.tensor(numpy.asarray(x, dtype=numpy.float64), requires_grad=True)


def sig(a):
    return 1.0 / (1.0 + numpy.exp(-a))


def softplus(a):  # a NumPy reference written independently of minigan's (log-add-exp form)
    return numpy.logaddexp(0.0, a)


def grad_of(fn, *arrays):
    xs = [t(x) for x in arrays]
    return [g.numpy() for g in mg.grad(fn(*xs), xs)]


# -- values ----------------------------------------------------------------------------------------
VALUE_CASES = [
    ("value", lambda r, f: losses.value(r, f),
     lambda r, f: numpy.mean(numpy.log(sig(r))) + numpy.mean(numpy.log(1 - sig(f)))),
    ("d_loss", lambda r, f: losses.d_loss(r, f),
     lambda r, f: -numpy.mean(numpy.log(sig(r))) - numpy.mean(numpy.log(1 - sig(f)))),
    ("d_loss smoothed", lambda r, f: losses.d_loss(r, f, real_label=0.9),
     lambda r, f: (-numpy.mean(0.9 * numpy.log(sig(r)) + 0.1 * numpy.log(1 - sig(r)))
                   - numpy.mean(numpy.log(1 - sig(f))))),
    ("lsgan_d", lambda r, f: losses.lsgan_d_loss(r, f),
     lambda r, f: 0.5 * numpy.mean((r - 1) ** 2) + 0.5 * numpy.mean(f**2)),
    ("lsgan_d a=-1", lambda r, f: losses.lsgan_d_loss(r, f, a=-1.0, b=1.0),
     lambda r, f: 0.5 * numpy.mean((r - 1) ** 2) + 0.5 * numpy.mean((f + 1) ** 2)),
    ("wgan_d", lambda r, f: losses.wgan_d_loss(r, f), lambda r, f: -(numpy.mean(r) - numpy.mean(f))),
    ("ebgan_d", lambda r, f: losses.ebgan_d_loss(r, f, margin=2.0),
     lambda r, f: numpy.mean(r) + numpy.mean(numpy.maximum(2.0 - f, 0))),
]
G_CASES = [
    ("saturating", lambda a: numpy.mean(numpy.log(1 - sig(a))), lambda a: -sig(a)),
    ("non_saturating", lambda a: -numpy.mean(numpy.log(sig(a))), lambda a: -(1 - sig(a))),
    ("maximum_likelihood", lambda a: -0.5 * numpy.mean(numpy.exp(a)), lambda a: -0.5 * numpy.exp(a)),
    ("lsgan", lambda a: numpy.mean((a - 1) ** 2), lambda a: 2 * (a - 1)),
    ("wgan", lambda a: -numpy.mean(a), lambda a: -numpy.ones_like(a)),
    ("ebgan", lambda a: numpy.mean(a), lambda a: numpy.ones_like(a)),
]


@pytest.mark.parametrize("name,fn,ref", VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
def test_two_player_losses_match_their_formulas(name, fn, ref):
    r, f = A[1:-1], B[1:-1]  # moderate logits: the naive log(sigmoid) reference is still accurate here
    assert fn(t(r), t(f)).item() == pytest.approx(ref(r, f), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("name,ref,dref", G_CASES, ids=[c[0] for c in G_CASES])
def test_generator_losses_match_formula_and_closed_form_gradient(name, ref, dref):
    a = A[1:-1]
    fn = losses.generator_loss(name)
    assert fn(t(a)).item() == pytest.approx(ref(a), rel=1e-12, abs=1e-12)
    (g,) = grad_of(fn, a)
    numpy.testing.assert_allclose(g, dref(a) / len(a), rtol=1e-12, atol=1e-15)  # the mean divides by m


def test_d_loss_gradient_is_sigmoid_minus_target():
    """d/da BCE(a, t) = sigmoid(a) - t: real examples (t = 1 or 0.9) and fakes (t = 0), each mean over m."""
    for label in (1.0, 0.9):
        g_real, g_fake = grad_of(lambda r, f: losses.d_loss(r, f, real_label=label), A, B)
        numpy.testing.assert_allclose(g_real, (sig(A) - label) / len(A), rtol=1e-12, atol=1e-15)
        numpy.testing.assert_allclose(g_fake, sig(B) / len(B), rtol=1e-12, atol=1e-15)


def test_d_loss_is_minus_value():
    """Minimising the BCE discriminator loss is ascending V: J(D) = -V(D, G) exactly."""
    assert losses.d_loss(t(A), t(B)).item() == pytest.approx(-losses.value(t(A), t(B)).item(), rel=1e-14)


def test_lsgan_wgan_ebgan_gradients():
    g_r, g_f = grad_of(lambda r, f: losses.lsgan_d_loss(r, f, a=-1.0, b=1.0), A, B)
    numpy.testing.assert_allclose(g_r, (A - 1) / len(A), rtol=1e-12)
    numpy.testing.assert_allclose(g_f, (B + 1) / len(B), rtol=1e-12)
    g_r, g_f = grad_of(losses.wgan_d_loss, A, B)
    numpy.testing.assert_allclose(g_r, -numpy.ones_like(A) / len(A))
    numpy.testing.assert_allclose(g_f, numpy.ones_like(B) / len(B))
    g_r, g_f = grad_of(lambda r, f: losses.ebgan_d_loss(r, f, margin=1.0), A, B)
    numpy.testing.assert_allclose(g_r, numpy.ones_like(A) / len(A))
    numpy.testing.assert_allclose(g_f, -(B < 1.0).astype(float) / len(B))  # pushes fakes up only inside the margin


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_log_losses_stay_finite_with_exact_gradients_at_logits_of_1e4(dtype):
    """At |a| = 1e4, log(sigmoid(a)) would be log(0) = -inf; from logits every value is finite and exact
    (softplus(1e4) = 1e4) and the gradients are the saturated closed forms, neither nan nor clipped to 0."""
    a_np = numpy.array([-1e4, 1e4], dtype=dtype)
    a = mg.tensor(a_np, requires_grad=True)
    cases = {
        "saturating": (-1e4 / 2, [-0.0, -0.5]),           # -mean softplus(a) = -(0 + 1e4)/2; d = -sigmoid(a)/2
        "non_saturating": (1e4 / 2, [-0.5, -0.0]),        # mean softplus(-a); d = -(1 - sigmoid(a))/2
    }
    for name, (value, grad) in cases.items():
        loss = losses.generator_loss(name)(a)
        assert loss.dtype == dtype and loss.item() == pytest.approx(value, rel=1e-6)
        numpy.testing.assert_array_equal(mg.grad(loss, [a])[0].numpy(), numpy.array(grad, dtype=dtype))
    d = losses.d_loss(a, a)  # real: softplus(-a) -> (1e4 + 0)/2; fake: softplus(a) -> (0 + 1e4)/2
    assert d.item() == pytest.approx(1e4, rel=1e-6)
    g = mg.grad(d, [a])[0].numpy()
    numpy.testing.assert_array_equal(g, numpy.array([-0.5, 0.5], dtype=dtype))  # (sigmoid(a) - 1)/2 + sigmoid(a)/2
    assert numpy.isfinite(losses.value(a, a).item())


def test_maximum_likelihood_loss_overflows_honestly_rather_than_clipping():
    """-exp(a)/2 is unbounded: for a = 1e4 it is -inf (documented), not a silently clipped number."""
    with numpy.errstate(over="ignore"):
        assert losses.maximum_likelihood_g_loss(t([1e4])).item() == -numpy.inf


def test_registry_names_aliases_and_pairs():
    assert losses.generator_loss("minimax") is losses.saturating_g_loss
    assert losses.generator_loss("saturating") is losses.saturating_g_loss
    assert losses.generator_loss("non_saturating") is losses.non_saturating_g_loss
    assert losses.generator_loss("maximum_likelihood") is losses.maximum_likelihood_g_loss
    assert losses.generator_loss("lsgan") is losses.lsgan_g_loss
    assert losses.generator_loss("wgan") is losses.wgan_g_loss
    for name in ("saturating", "non_saturating", "maximum_likelihood"):
        assert losses.discriminator_loss(name) is losses.d_loss and losses.output_kind(name) == "logit"
    assert losses.discriminator_loss("lsgan") is losses.lsgan_d_loss and losses.output_kind("wgan") == "raw"
    smoothed = losses.discriminator_loss("non_saturating", real_label=0.9)
    assert smoothed(t(A), t(B)).item() == pytest.approx(losses.d_loss(t(A), t(B), real_label=0.9).item())
    with pytest.raises(KeyError, match="unknown GAN loss 'hinge'; known names: .*non_saturating"):
        losses.generator_loss("hinge")


def test_bad_inputs_are_named():
    with pytest.raises(TypeError, match="d_loss: real_logits is float32 but fake_logits is float64"):
        losses.d_loss(mg.tensor(numpy.zeros(2, numpy.float32)), mg.tensor(numpy.zeros(2)))
    with pytest.raises(TypeError, match="non_saturating_g_loss: fake_logits must be a floating-point"):
        losses.non_saturating_g_loss(mg.tensor(numpy.array([1, 2])))
    with pytest.raises(ValueError, match=r"real_label is a target probability in \[0, 1\], got 1.5"):
        losses.d_loss(t(A), t(B), real_label=1.5)
    with pytest.raises(ValueError, match="margin must be positive"):
        losses.ebgan_d_loss(t(A), t(B), margin=0.0)
