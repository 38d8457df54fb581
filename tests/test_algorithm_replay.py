"""Algorithm 1 replayed: one GAN.train_step equals the paper's updates, computed here by hand.

Goodfellow et al. (2014), Algorithm 1, with plain SGD (p <- p - lr * grad) so that an update
is nothing but the gradient it was given. The minibatches are replayed: a second Generator
with the run's state draws the same z and x in the same order, and the test recomputes

    D: theta_d <- theta_d - lr * grad_{theta_d} [-V]      on each of the k (z, x) minibatches,
       V = 1/m sum log D(x) + 1/m sum log(1 - D(G(z)))    (D ascends V)
    G: theta_g <- theta_g - lr * grad_{theta_g} [-1/m sum log D(G(z))]   at D's *updated* theta_d
       (the non-saturating loss, the default; the simultaneous variant: both at the old parameters).

The losses here are written from log sigmoid directly, not taken from minigan/gan/losses.py,
so that a sign slip there or in GAN.d_step/g_step cannot cancel out of the comparison.
"""
from __future__ import annotations

import numpy
import pytest

import minigan as mg
import minigan.functional as F
from minigan import backend, nn, optim
from minigan.backend import as_numpy
from minigan.data import toy
from minigan.gan import losses
from minigan.gan.algorithm import GAN

LR = 0.05
M = 8
# float64 throughout: the replay performs the same operations as train_step, so the only
# differences are summation orders inside BLAS, far below 1e-12 relative.
RTOL, ATOL = 1e-12, 1e-14


def placed(host_array):
    """A float64 Tensor on the default backend (the xp_backend fixture's, inside a test)."""
    return mg.tensor(backend.to_backend(numpy.asarray(host_array, dtype=numpy.float64), backend.default_backend()))


def gaussian_noise(generator, m):
    return placed(generator.np.standard_normal((m, 2)))


def ring_data(generator, m):
    angle = generator.np.uniform(0.0, 2 * numpy.pi, m)
    return placed(numpy.stack([numpy.cos(angle), numpy.sin(angle)], axis=1) * 2.0 + 0.5)


def make(k=1, simultaneous=False, **kw):
    gen = mg.Generator(7)
    G = nn.Sequential(nn.Linear(2, 8, dtype=numpy.float64, generator=gen), nn.Tanh(),
                      nn.Linear(8, 2, dtype=numpy.float64, generator=gen))
    D = nn.Sequential(nn.Linear(2, 8, dtype=numpy.float64, generator=gen), nn.LeakyReLU(0.2),
                      nn.Linear(8, 1, dtype=numpy.float64, generator=gen))
    opt_D, opt_G = optim.SGD(D.parameters(), lr=LR), optim.SGD(G.parameters(), lr=LR)
    return GAN(G, D, opt_D, opt_G, gaussian_noise, ring_data, generator=gen, k=k, m=M,
               simultaneous=simultaneous, **kw)  # g_loss left at its default on purpose


def value_V(D, G, x, z):
    """V = mean log D(x) + mean log(1 - D(G(z))), with log(1 - sigmoid(a)) = log sigmoid(-a)."""
    return F.mean(F.log_sigmoid(D(x))) + F.mean(F.log_sigmoid(-D(G(z))))


def non_saturating(D, G, z):
    """G's default loss: -mean log D(G(z))."""
    return -F.mean(F.log_sigmoid(D(G(z))))


def host(params):
    return [as_numpy(p.data).copy() for p in params]


def descend(params, loss):
    """p <- p - LR * dloss/dp, in place, for every p (the replayed SGD step)."""
    for p, g in zip(params, mg.grad(loss, params)):
        p.data -= LR * g.data


def set_params(params, values):
    for p, v in zip(params, values):
        p.data[...] = backend.to_backend(v, backend.backend_of(p.data))


def replay(gan):
    """The parameters Algorithm 1 says one iteration must produce, computed on gan's own modules
    from a copy of its Generator; the modules are then put back as they were."""
    D_params, G_params = list(gan.D.parameters()), list(gan.G.parameters())
    D0, G0 = host(D_params), host(G_params)
    probe = mg.Generator()
    probe.load_state_dict(gan.generator.state_dict())
    if gan.simultaneous:
        z, x = gaussian_noise(probe, M), ring_data(probe, M)
        d_grads = mg.grad(-value_V(gan.D, gan.G, x, z), D_params)
        g_grads = mg.grad(non_saturating(gan.D, gan.G, z), G_params)
        for p, g in zip(D_params, d_grads):
            p.data -= LR * g.data
        for p, g in zip(G_params, g_grads):
            p.data -= LR * g.data
    else:
        for _ in range(gan.k):
            z, x = gaussian_noise(probe, M), ring_data(probe, M)
            descend(D_params, -value_V(gan.D, gan.G, x, z))    # ascend V
        z = gaussian_noise(probe, M)
        descend(G_params, non_saturating(gan.D, gan.G, z))     # at D's updated parameters
    expected = host(D_params), host(G_params)
    set_params(D_params, D0)
    set_params(G_params, G0)
    return expected


def assert_params(actual, expected, who):
    for i, (a, e) in enumerate(zip(actual, expected)):
        numpy.testing.assert_allclose(a, e, rtol=RTOL, atol=ATOL, err_msg=f"{who} parameter {i}")


@pytest.mark.parametrize("k", [1, 3])
def test_one_iteration_is_k_sgd_steps_of_D_ascending_V_then_one_of_G_at_the_new_D(xp_backend, k):
    gan = make(k=k)
    D_expected, G_expected = replay(gan)
    D_before = host(gan.D.parameters())
    gan.train_step()
    assert not all(numpy.array_equal(a, b) for a, b in zip(D_before, D_expected))  # the check has teeth
    assert_params(host(gan.D.parameters()), D_expected, f"D (k={k})")
    assert_params(host(gan.G.parameters()), G_expected, f"G (k={k})")


def test_simultaneous_variant_takes_both_gradients_at_the_old_parameters(xp_backend):
    gan = make(simultaneous=True)
    D_expected, G_expected = replay(gan)
    gan.train_step()
    assert_params(host(gan.D.parameters()), D_expected, "D (simultaneous)")
    assert_params(host(gan.G.parameters()), G_expected, "G (simultaneous)")


def test_D_step_raises_V_and_G_step_lowers_its_loss_on_the_same_minibatch(xp_backend):
    """The directions without any autograd in the check: a small step of D makes V larger on the
    minibatch it used, and G's step makes -mean log D(G(z)) smaller on its own z."""
    gan = make()
    probe = mg.Generator()
    probe.load_state_dict(gan.generator.state_dict())
    z_d, x = gaussian_noise(probe, M), ring_data(probe, M)
    z_g = gaussian_noise(probe, M)
    with mg.no_grad():
        V_before = value_V(gan.D, gan.G, x, z_d).item()
    gan.d_step()
    with mg.no_grad():
        V_after = value_V(gan.D, gan.G, x, z_d).item()
        J_before = non_saturating(gan.D, gan.G, z_g).item()
    gan.g_step()
    with mg.no_grad():
        J_after = non_saturating(gan.D, gan.G, z_g).item()
    assert V_after > V_before, f"D's step lowered V: {V_before} -> {V_after} (D must ascend V)"
    assert J_after < J_before, f"G's step raised its loss: {J_before} -> {J_after} (G must descend it)"


def test_the_default_generator_loss_is_the_non_saturating_one():
    """The paper's experiments (section 3) train G to maximise log D(G(z)), not to minimise log(1 - D(G(z)))."""
    gan = make()
    assert gan.g_loss_name == "non_saturating"
    assert gan.g_loss is losses.non_saturating_g_loss
    a = placed([-3.0, 0.5, 4.0])
    expected = numpy.mean(numpy.logaddexp(0.0, -numpy.array([-3.0, 0.5, 4.0])))  # mean softplus(-a)
    assert gan.g_loss(a).item() == pytest.approx(expected, rel=1e-14)


def test_a_1d_gan_moves_G_toward_p_data():
    """Figure 1 of the paper, in miniature: p_data = N(3, 0.5^2), G(z) = w z + b starts near 0.
    After 300 iterations of Algorithm 1 G's mean has covered most of the distance to 3."""
    gen = mg.Generator(0)
    p_data, p_z = toy.Gaussian(3.0, 0.5), toy.Gaussian(0.0, 1.0)
    G = nn.Linear(1, 1, generator=gen)
    D = nn.Sequential(nn.Linear(1, 16, generator=gen), nn.LeakyReLU(0.2), nn.Linear(16, 1, generator=gen))
    gan = GAN(G, D, optim.Adam(D.parameters(), lr=1e-2, betas=(0.5, 0.999)),
              optim.Adam(G.parameters(), lr=1e-2, betas=(0.5, 0.999)), p_z, p_data, generator=gen, m=64)

    def mean_of_G():
        with mg.no_grad():
            return float(as_numpy(G(p_z(mg.Generator(1), 2000)).data).mean())

    start = mean_of_G()
    gan.train(300, progress=False)
    end = mean_of_G()
    assert abs(start - 3.0) > 2.0
    assert abs(end - 3.0) < 0.5 * abs(start - 3.0), f"G's mean went from {start:.3f} to {end:.3f}; p_data's is 3"
