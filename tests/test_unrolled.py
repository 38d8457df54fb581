"""Unrolled GANs (minigan/gan/unrolled.py): G's gradient through K unrolled D steps, against finite differences.

The tiny problem: 2-D data, G: 2 -> 3 -> 2 (tanh), D: 2 -> 4 -> 1 (tanh), float64, one fixed
minibatch of z and x. f_K(theta_G) = J_G(D(G(z); theta_D^K(theta_G))) is an ordinary smooth
function of theta_G; its central differences (step 1e-6, float64: truncation ~1e-12 times the
third derivative, rounding ~1e-16/1e-6 = 1e-10) must match the unrolled gradient to 1e-6.
"""
from __future__ import annotations

import numpy
import pytest

import minigan as mg
from minigan import nn, optim
from minigan.data import toy
from minigan.gan.algorithm import GAN
from minigan.gan.unrolled import UnrolledGAN, adam_unrolled_step, parameters_replaced, sgd_unrolled_step

F64 = numpy.float64

# every test runs on each backend (numpy; the CuPy stand-in; cupy on a GPU): see tests/conftest.py
pytestmark = pytest.mark.usefixtures("xp_backend")


def tiny(seed=0, opt="adam", K=3, lr=0.05):
    gen = mg.Generator(seed)
    G = nn.Sequential(nn.Linear(2, 3, dtype=F64, generator=gen), nn.Tanh(), nn.Linear(3, 2, dtype=F64, generator=gen))
    D = nn.Sequential(nn.Linear(2, 4, dtype=F64, generator=gen), nn.Tanh(), nn.Linear(4, 1, dtype=F64, generator=gen))
    opt_D = (optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999)) if opt == "adam"
             else optim.SGD(D.parameters(), lr=lr))
    opt_G = optim.Adam(G.parameters(), lr=1e-3)
    gan = UnrolledGAN(G, D, opt_D, opt_G, toy.NormalNoise(2, dtype=F64), toy.ring(dtype=F64), generator=gen,
                      m=6, unroll_steps=K)
    return gan, gen


def f_K_of_G(gan, z, x):
    """theta_G -> f_K, for gradcheck: G's Parameters replaced by the Tensors gradcheck perturbs."""
    params = gan.opt_G.params

    def f(*values):
        with parameters_replaced(gan.G, params, list(values)):
            return gan.unrolled_g_loss(z, x)
    return f, [mg.tensor(p.data.copy(), requires_grad=True) for p in params]


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_unrolled_gradient_matches_finite_differences_of_the_K_step_objective(opt):
    gan, gen = tiny(opt=opt, K=3)
    for _ in range(2):          # a few real steps, so that Adam's moments are not zero
        gan.train_step()
    z, x = gan.sample_z(gen, 6), gan.sample_data(gen, 6)
    f, thetas = f_K_of_G(gan, z, x)
    assert mg.gradcheck(f, thetas, eps=1e-6, atol=1e-8, rtol=1e-6)


def test_unrolling_changes_the_gradient_and_K0_is_the_plain_gradient():
    gan, gen = tiny(K=0)
    gan.train_step()
    z, x = gan.sample_z(gen, 6), gan.sample_data(gen, 6)
    plain = mg.grad(gan.g_loss(gan.D(gan.G(z))), gan.opt_G.params)
    K0 = mg.grad(gan.unrolled_g_loss(z, x), gan.opt_G.params)
    for a, b in zip(plain, K0):
        numpy.testing.assert_array_equal(a.numpy(), b.numpy())
    gan.unroll_steps = 3
    K3 = mg.grad(gan.unrolled_g_loss(z, x), gan.opt_G.params)
    diff = max(float(numpy.abs(a.numpy() - b.numpy()).max()) for a, b in zip(plain, K3))
    assert diff > 1e-4, "three unrolled steps with lr 0.05 should change G's gradient"


def test_K0_training_is_algorithm_1():
    """With K = 0 an UnrolledGAN trains exactly as GAN from the same seed."""
    a, _ = tiny(seed=3, K=0)
    gen = mg.Generator(3)
    b_G = nn.Sequential(nn.Linear(2, 3, dtype=F64, generator=gen), nn.Tanh(), nn.Linear(3, 2, dtype=F64, generator=gen))
    b_D = nn.Sequential(nn.Linear(2, 4, dtype=F64, generator=gen), nn.Tanh(), nn.Linear(4, 1, dtype=F64, generator=gen))
    b = GAN(b_G, b_D, optim.Adam(b_D.parameters(), lr=0.05, betas=(0.5, 0.999)), optim.Adam(b_G.parameters(), lr=1e-3),
            toy.NormalNoise(2, dtype=F64), toy.ring(dtype=F64), generator=gen, m=6)
    for _ in range(3):
        a.train_step()
        b.train_step()
    for p, q in zip(a.G.parameters(), b.G.parameters()):
        numpy.testing.assert_array_equal(p.numpy(), q.numpy())


def test_unrolled_steps_leave_D_alone_and_D_updates_as_usual():
    gan, gen = tiny(K=4)
    before = [p.numpy().copy() for p in gan.D.parameters()]
    z, x = gan.sample_z(gen, 6), gan.sample_data(gen, 6)
    loss = gan.unrolled_g_loss(z, x)
    mg.grad(loss, gan.opt_G.params)
    for p, b in zip(gan.D.parameters(), before):
        numpy.testing.assert_array_equal(p.numpy(), b)
        assert isinstance(p, nn.Parameter)
    metrics = gan.train_step()
    assert numpy.isfinite(metrics["g_loss"]) and gan.step == 1


def test_sgd_step_and_first_adam_step_closed_forms():
    p, g = mg.tensor([1.0, -2.0], dtype=F64), mg.tensor([0.5, -3.0], dtype=F64)
    numpy.testing.assert_allclose(sgd_unrolled_step([p], [g], 0.1)[0].numpy(), [0.95, -1.7])
    zero = mg.zeros(2, dtype=F64)
    (new,), ((m, v, t),) = adam_unrolled_step([p], [g], [(zero, zero, 0)], lr=0.1, betas=(0.9, 0.999), eps=1e-8)
    # first step: m_hat = g, v_hat = g^2, so theta - lr g / sqrt(g^2 + eps^2) = theta - lr sign(g) (to 1e-15)
    numpy.testing.assert_allclose(new.numpy(), [0.9, -1.9], rtol=1e-14)
    assert t == 1


def test_adam_unrolled_step_matches_minigan_optim_Adam_over_steps():
    """The Tensor form follows optim.Adam's equations: same trajectory up to the eps placement (<= 1e-6 here)."""
    rng = numpy.random.default_rng(0)
    w = mg.tensor(rng.standard_normal(5), requires_grad=True)
    opt = optim.Adam([w], lr=0.01, betas=(0.5, 0.999), eps=1e-8)
    theta, state = [mg.tensor(w.numpy().copy())], [(mg.zeros(5, dtype=F64), mg.zeros(5, dtype=F64), 0)]
    for _ in range(10):
        g = rng.standard_normal(5)
        w.grad = mg.tensor(g)
        opt.step()
        theta, state = adam_unrolled_step(theta, [mg.tensor(g)], state, 0.01, (0.5, 0.999), 1e-8)
    numpy.testing.assert_allclose(theta[0].numpy(), w.numpy(), rtol=0, atol=1e-7)


def test_errors_name_the_problem():
    gan, _ = tiny()
    with pytest.raises(ValueError, match="unroll_steps"):
        UnrolledGAN(gan.G, gan.D, gan.opt_D, gan.opt_G, gan.sample_z, gan.sample_data, generator=gan.generator,
                    unroll_steps=-1)
    with pytest.raises(ValueError, match="momentum"):
        UnrolledGAN(gan.G, gan.D, optim.SGD(gan.D.parameters(), lr=0.1, momentum=0.9), gan.opt_G, gan.sample_z,
                    gan.sample_data, generator=gan.generator)
    with pytest.raises(TypeError, match="SGD or Adam"):
        UnrolledGAN(gan.G, gan.D, optim.RMSprop(gan.D.parameters(), lr=0.1), gan.opt_G, gan.sample_z,
                    gan.sample_data, generator=gan.generator)
    with pytest.raises(ValueError, match=r"shape \(4, 2\)"):
        with parameters_replaced(gan.D, [gan.D[0].weight], [mg.zeros((2, 4), dtype=F64)]):
            pass
