"""The GAN paper's theory, checked numerically with the engine (float64). Run with -s to see the figures.

The setting: p_data = N(MU_DATA, SD_DATA^2) and an affine generator G(z) = w z + b on z ~ N(0, 1),
so p_g = N(b, w^2) is known in closed form and D* = p_data / (p_data + p_g) can be written down.
Expectations are computed by Gauss-Hermite quadrature (exact for polynomials up to degree 2n - 1
times the Gaussian) or, where independence from the engine matters, on a fine grid. docs/05-theory.md
derives each result and quotes the numbers these tests print.
"""
import math
import statistics

import numpy
import pytest

import minigan as mg
import minigan.functional as F
from minigan import nn, optim
from minigan.gan import losses

MU_DATA, SD_DATA = 1.0, 0.7
MU_G, SD_G = -0.5, 1.2          # G(z) = SD_G z + MU_G
GRID = numpy.linspace(-3.5, 3.1, 331)  # covers both densities' mass: MU_G - 2.5 SD_G .. MU_DATA + 3 SD_DATA


def log_normal(x, mu, sd):
    return -0.5 * ((x - mu) / sd) ** 2 - math.log(sd * math.sqrt(2 * math.pi))


def D_star_logit(x, mu_g=MU_G, sd_g=SD_G):
    """a*(x) = log p_data(x) - log p_g(x): sigmoid(a*) = p_data / (p_data + p_g). Works on arrays and Tensors."""
    return (-0.5 * ((x - MU_DATA) / SD_DATA) ** 2 + 0.5 * ((x - mu_g) / sd_g) ** 2
            + math.log(sd_g / SD_DATA))


def D_star(x):
    p, q = numpy.exp(log_normal(x, MU_DATA, SD_DATA)), numpy.exp(log_normal(x, MU_G, SD_G))
    return p / (p + q)


def affine_G(w=SD_G, b=MU_G):
    G = nn.Linear(1, 1, dtype=numpy.float64)
    G.weight.data[...] = w
    G.bias.data[...] = b
    return G


def quadrature(mu, sd, n=120):
    """Nodes and weights with sum_i w_i f(x_i) = E_{N(mu, sd^2)} f, by Gauss-Hermite (probabilists')."""
    t, w = numpy.polynomial.hermite_e.hermegauss(n)
    return mu + sd * t, w / math.sqrt(2 * math.pi)


def jsd_on_grid(p_fn, q_fn, lo=-15.0, hi=15.0, n=300001):
    """JSD(p || q) = 1/2 KL(p || m) + 1/2 KL(q || m), m = (p + q)/2, by the trapezoid rule (NumPy only)."""
    x = numpy.linspace(lo, hi, n)
    p, q = p_fn(x), q_fn(x)
    m = 0.5 * (p + q)
    with numpy.errstate(divide="ignore", invalid="ignore"):
        f = 0.5 * numpy.where(p > 0, p * numpy.log(p / m), 0.0) + 0.5 * numpy.where(q > 0, q * numpy.log(q / m), 0.0)
    dx = x[1] - x[0]
    return float(dx * (f.sum() - 0.5 * (f[0] + f[-1])))


def engine_value(logit_fn):
    """V(D, G) = E_{p_data} log D(x) + E_{p_g} log(1 - D(x)), the engine's own terms, by quadrature."""
    xr, wr = quadrature(MU_DATA, SD_DATA)
    xf, wf = quadrature(MU_G, SD_G)
    with mg.no_grad():
        real = (mg.tensor(wr) * losses.log_D(logit_fn(mg.tensor(xr)))).sum()
        fake = (mg.tensor(wf) * losses.log_one_minus_D(logit_fn(mg.tensor(xf)))).sum()
    return float((real + fake).item())


class QuadraticLogistic(nn.Module):
    """a(x) = w1 x + w2 x^2 + c: a logistic model that can represent the log ratio of two Gaussians exactly."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 1, dtype=numpy.float64, generator=mg.Generator(0))

    def forward(self, x):
        return self.lin(F.cat([x, x * x], axis=1))


def normal_quantiles(n):
    """The n quantiles Phi^-1((i + 1/2) / n) of N(0, 1): a stratified "sample" whose empirical distribution
    is within O(1/n) of the true one (a random sample: O(1/sqrt(n))), so that the tests below measure what
    training finds, not sampling luck. statistics.NormalDist is Python's standard library."""
    nd = statistics.NormalDist()
    return numpy.array([nd.inv_cdf((i + 0.5) / n) for i in range(n)])


def train_D(D, loss_fn, steps=3000, n=4000):
    """Fit D against the fixed affine G, full batch: real x = the quantiles of p_data, fakes = G(quantiles of
    p_z) -- G itself makes them. Adam with a learning rate decaying from 0.05 to 5e-4."""
    u = normal_quantiles(n)
    x = mg.tensor((MU_DATA + SD_DATA * u)[:, None])
    with mg.no_grad():
        fake = affine_G()(mg.tensor(u[:, None]))
    opt = optim.Adam(D.parameters(), lr=0.05)
    lr = optim.ExponentialDecay(opt, "lr", factor=1.0015, minimum=1e-4)
    for _ in range(steps):
        loss = loss_fn(D(x), D(fake))
        opt.zero_grad()
        loss.backward()
        opt.step()
        lr.step()
    return D


@pytest.fixture(scope="module")
def trained_D():
    return train_D(QuadraticLogistic(), losses.d_loss)


def on_grid(D, x=GRID):
    with mg.no_grad():
        return D(mg.tensor(x[:, None])).numpy().ravel()


# -- Proposition 1: the optimal discriminator ------------------------------------------------------
def test_trained_discriminator_matches_D_star(trained_D):
    """Prop. 1: for G fixed, the D maximising V is D*(x) = p_data(x) / (p_data(x) + p_g(x)).
    Minimising the BCE loss (losses.d_loss = -V) on samples of both recovers it: max |D - D*| <= 0.02 on a grid
    covering both densities' mass."""
    D = 1.0 / (1.0 + numpy.exp(-on_grid(trained_D)))
    err = numpy.abs(D - D_star(GRID))
    print(f"\n[Prop. 1] max |D - D*| on [{GRID[0]}, {GRID[-1]}] = {err.max():.4f} "
          f"(at x = {GRID[err.argmax()]:.2f}); mean {err.mean():.4f}")
    assert err.max() <= 0.02


# -- Theorem 1: V(D*, G) = -log 4 + 2 JSD -----------------------------------------------------------
def test_value_at_D_star_is_minus_log4_plus_twice_JSD(trained_D):
    """Thm. 1: C(G) = max_D V(D, G) = V(D*, G) = -log 4 + 2 JSD(p_data || p_g).
    The engine's V with the analytic D* (Gauss-Hermite) vs JSD on a grid: <= 1e-6; with the trained D: <= 0.01."""
    jsd = jsd_on_grid(lambda x: numpy.exp(log_normal(x, MU_DATA, SD_DATA)),
                      lambda x: numpy.exp(log_normal(x, MU_G, SD_G)))
    v_star = engine_value(D_star_logit)
    v_trained = engine_value(lambda x: trained_D(x.reshape((-1, 1))).reshape((-1,)))
    target = -math.log(4) + 2 * jsd
    print(f"\n[Thm. 1] JSD = {jsd:.9f}; -log 4 + 2 JSD = {target:.9f}; V(D*, G) = {v_star:.9f} "
          f"(diff {abs(v_star - target):.2e}); V(trained D, G) = {v_trained:.6f} (diff {abs(v_trained - target):.2e})")
    assert abs(v_star - target) <= 1e-6
    assert abs(v_trained - target) <= 0.01
    assert v_trained <= v_star + 1e-9  # D* is the maximiser: no D does better


def test_value_is_minus_log4_when_p_g_equals_p_data():
    """Thm. 1, the global minimum: p_g = p_data gives D* = 1/2 everywhere and V = -log 4 exactly;
    for any other p_g, V(D*, G) > -log 4."""
    a_zero = losses.value(mg.tensor(numpy.zeros(7)), mg.tensor(numpy.zeros(5))).item()
    v_equal = engine_value(lambda x: D_star_logit(x, MU_DATA, SD_DATA))  # p_g := p_data
    d_equal = 1 / (1 + numpy.exp(-D_star_logit(GRID, MU_DATA, SD_DATA)))
    print(f"\n[Thm. 1] p_g = p_data: max |D* - 1/2| = {numpy.abs(d_equal - 0.5).max():.1e}; "
          f"V = {v_equal:.15f}, -log 4 = {-math.log(4):.15f}; V at logits 0 = {a_zero:.15f}")
    assert a_zero == pytest.approx(-math.log(4), abs=1e-15)
    assert v_equal == pytest.approx(-math.log(4), abs=1e-12)
    assert numpy.abs(d_equal - 0.5).max() < 1e-15
    assert engine_value(D_star_logit) > -math.log(4) + 0.1


# -- Saturation of the zero-sum generator loss -------------------------------------------------------
def test_saturating_and_non_saturating_gradients_wrt_the_logit():
    """Sec. 3 of the paper: d/da log(1 - sigmoid(a)) = -sigmoid(a) (zero-sum G), d/da [-log sigmoid(a)] =
    -(1 - sigmoid(a)) (non-saturating G). At D(G(z)) = 1e-3 the second is (1 - s)/s = 999 times larger."""
    a_np = numpy.linspace(-12, 12, 49)
    a = mg.tensor(a_np, requires_grad=True)
    s = 1 / (1 + numpy.exp(-a_np))
    (g_sat,) = mg.grad(losses.log_one_minus_D(a).sum(), [a])
    (g_ns,) = mg.grad((-losses.log_D(a)).sum(), [a])
    numpy.testing.assert_allclose(g_sat.numpy(), -s, rtol=1e-13, atol=1e-300)
    numpy.testing.assert_allclose(g_ns.numpy(), -1 / (1 + numpy.exp(a_np)), rtol=1e-13, atol=1e-300)  # 1 - s
    s0 = 1e-3
    a0 = mg.tensor(numpy.array([math.log(s0 / (1 - s0))]), requires_grad=True)
    g1 = mg.grad(losses.saturating_g_loss(a0), [a0])[0].item()
    g2 = mg.grad(losses.non_saturating_g_loss(a0), [a0])[0].item()
    print(f"\n[saturation] at D(G(z)) = {s0}: zero-sum d/da = {g1:.6e}, non-saturating d/da = {g2:.6e}, "
          f"ratio = {g2 / g1:.6f} (exact (1-s)/s = {(1 - s0) / s0:.6f})")
    assert 900 <= g2 / g1 <= 1100
    assert g2 / g1 == pytest.approx((1 - s0) / s0, rel=1e-12)


# -- The maximum-likelihood generator loss -------------------------------------------------------------
def test_maximum_likelihood_loss_gradient_is_half_the_KL_gradient_at_D_star():
    """NIPS tutorial sec. 3.2.3 / Goodfellow 2014: with D = D*, exp(a*) = p_data / p_g, so d/da (-e^a / 2) =
    -p_data / (2 p_g); and grad_theta E_z[-exp(a*(G(z)))/2] (D held fixed) = 1/2 grad_theta KL(p_data || p_g)."""
    a = mg.tensor(D_star_logit(GRID), requires_grad=True)
    (g,) = mg.grad(-0.5 * F.exp(a).sum(), [a])
    ratio = numpy.exp(log_normal(GRID, MU_DATA, SD_DATA) - log_normal(GRID, MU_G, SD_G))
    numpy.testing.assert_allclose(g.numpy(), -0.5 * ratio, rtol=1e-12)

    G = affine_G()
    z, wz = quadrature(0.0, 1.0, n=160)
    x = G(mg.tensor(z[:, None])).reshape((-1,))
    per_z = -0.5 * F.exp(D_star_logit(x))             # the ML loss of each z, D fixed at D* for this G
    J = (mg.tensor(wz) * per_z).sum()
    g_w, g_b = mg.grad(J, [G.weight, G.bias])
    # KL(N(m0, s0^2) || N(m, s^2)) = log(s/s0) + (s0^2 + (m0 - m)^2) / (2 s^2) - 1/2
    dKL_dm = -(MU_DATA - MU_G) / SD_G**2
    dKL_ds = 1 / SD_G - (SD_DATA**2 + (MU_DATA - MU_G) ** 2) / SD_G**3
    print(f"\n[ML loss] J = {J.item():.12f} (= -1/2 E_pg[p_data/p_g] = -1/2); grad J = "
          f"({g_w.item():.10f}, {g_b.item():.10f}); 1/2 grad KL = ({dKL_ds / 2:.10f}, {dKL_dm / 2:.10f})")
    assert J.item() == pytest.approx(-0.5, abs=1e-10)
    assert g_w.item() == pytest.approx(dKL_ds / 2, rel=1e-9)
    assert g_b.item() == pytest.approx(dKL_dm / 2, rel=1e-9)


# -- LSGAN's optimal discriminator --------------------------------------------------------------------
class ScaledSigmoid(nn.Module):
    """D(x) = lo + (hi - lo) sigmoid(q(x)), q quadratic: can represent (b p_data + a p_g)/(p_data + p_g) exactly."""

    def __init__(self, lo, hi):
        super().__init__()
        self.q, self.lo, self.hi = QuadraticLogistic(), lo, hi

    def forward(self, x):
        return self.lo + (self.hi - self.lo) * F.sigmoid(self.q(x))


def test_lsgan_optimal_discriminator():
    """LSGAN (Mao et al. 2017, Prop. 1): minimising 1/2 E_data (D - b)^2 + 1/2 E_g (D - a)^2 over D gives
    D*(x) = (b p_data + a p_g) / (p_data + p_g); here a = -1, b = 1: D* = (p_data - p_g)/(p_data + p_g).
    max |D - D*| <= 0.04 (the range is [-1, 1], twice the GAN case)."""
    D = train_D(ScaledSigmoid(-1.0, 1.0), lambda r, f: losses.lsgan_d_loss(r, f, a=-1.0, b=1.0))
    p, q = numpy.exp(log_normal(GRID, MU_DATA, SD_DATA)), numpy.exp(log_normal(GRID, MU_G, SD_G))
    target = (1.0 * p + -1.0 * q) / (p + q)
    err = numpy.abs(on_grid(D) - target)
    print(f"\n[LSGAN] max |D - (b p_data + a p_g)/(p_data + p_g)| = {err.max():.4f}; mean {err.mean():.4f}")
    assert err.max() <= 0.04


# -- Games: simultaneous gradient steps spiral; consensus optimisation converges -------------------------
ETA, GAMMA = 0.1, 1.0


def scalar(v):
    """A float64 leaf: each player's new position, the start of the next step's graph."""
    return mg.tensor(v, dtype=numpy.float64, requires_grad=True)


def bilinear_V(x, y):
    """V(x, y) = -x y: player x minimises V, player y maximises V. The only equilibrium is (0, 0)."""
    return -(x * y)


def test_simultaneous_gradient_steps_spiral_outward_on_the_bilinear_game():
    """x <- x - eta dV/dx = x + eta y;  y <- y + eta dV/dy = y - eta x: a rotation scaled by sqrt(1 + eta^2),
    so ||(x, y)|| grows at every step (Mescheder et al. 2017; seeds-notes section 3)."""
    x, y = scalar(1.0), scalar(0.0)
    norms = [1.0]
    for _ in range(100):
        gx, gy = mg.grad(bilinear_V(x, y), [x, y])
        x = scalar(x.item() - ETA * gx.item())   # descend
        y = scalar(y.item() + ETA * gy.item())   # ascend, from the same point
        norms.append(math.hypot(x.item(), y.item()))
    growth = numpy.diff(norms)
    print(f"\n[bilinear] simultaneous steps: ||(x, y)|| 1 -> {norms[-1]:.6f} after 100 steps "
          f"(closed form (1 + eta^2)^50 = {(1 + ETA**2) ** 50:.6f}); min step growth {growth.min():.2e}")
    assert numpy.all(growth > 0)
    assert norms[-1] == pytest.approx((1 + ETA**2) ** 50, rel=1e-12)


def test_consensus_optimisation_converges_on_the_bilinear_game():
    """Consensus optimisation (Mescheder et al. 2017): both players also descend L = gamma/2 ||grad V||^2,
    whose gradient is computed by differentiating the gradient (mg.grad with create_graph=True). Here
    grad L = gamma (x, y): the update contracts by sqrt((1 - eta gamma)^2 + eta^2) < 1 per step."""
    x, y = scalar(1.0), scalar(0.0)
    norms = [1.0]
    for _ in range(300):
        V = bilinear_V(x, y)
        gx, gy = mg.grad(V, [x, y], create_graph=True)
        L = 0.5 * GAMMA * (gx * gx + gy * gy)
        Lx, Ly = mg.grad(L, [x, y])
        x = scalar(x.item() - ETA * (gx.item() + Lx.item()))    # x: descend V + L
        y = scalar(y.item() - ETA * (-gy.item() + Ly.item()))   # y: descend -V + L
        norms.append(math.hypot(x.item(), y.item()))
    rate = math.sqrt((1 - ETA * GAMMA) ** 2 + ETA**2)
    print(f"\n[consensus] ||(x, y)|| 1 -> {norms[-1]:.3e} after 300 steps (closed form {rate ** 300:.3e}, "
          f"rate {rate:.6f} per step)")
    assert numpy.all(numpy.diff(norms) < 0)
    assert norms[-1] < 1e-8
    assert norms[-1] == pytest.approx(rate**300, rel=1e-9)
