"""The GAN paper's theory, checked numerically with the engine (float64). Run with -s to see the figures.

The setting: p_data = N(MU_DATA, SD_DATA^2) and an affine generator G(z) = w z + b on z ~ N(0, 1),
so p_g = N(b, w^2) is known in closed form and D* = p_data / (p_data + p_g) can be written down.
Expectations are computed by Gauss-Hermite quadrature (exact for polynomials up to degree 2n - 1
times the Gaussian) or, where independence from the engine matters, on a fine grid. docs/05-theory.md
derives each result and quotes the numbers these tests print.

The second half checks docs/00-divergences.md: KL, JSD, Wasserstein and f-divergences on small
discrete distributions, matching pennies, Proposition 2 on a five-point space and the
non-saturating loss's gradient, each in plain NumPy float64.
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


# ---- docs/00-divergences.md: divergences on discrete distributions, written here independently ----
# of the chapter's own code block (which tests/test_docs_blocks.py runs).

LOG2 = math.log(2.0)


def kl_discrete(p, q):
    """KL(p || q) = sum_x p log(p / q), 0 log 0 = 0, inf when q = 0 where p > 0."""
    total = 0.0
    for pi, qi in zip(p, q):
        if pi == 0.0:
            continue
        if qi == 0.0:
            return math.inf
        total += pi * math.log(pi / qi)
    return total


def jsd_discrete(p, q):
    m = [0.5 * (pi + qi) for pi, qi in zip(p, q)]
    return 0.5 * kl_discrete(p, m) + 0.5 * kl_discrete(q, m)


def entropy(p):
    return -sum(pi * math.log(pi) for pi in p if pi > 0)


def random_simplex(rng, n, zeros=0):
    p = rng.random(n) + 0.05
    p[rng.permutation(n)[:zeros]] = 0.0
    return p / p.sum()


def test_divergence_worked_numbers_of_chapter_0():
    """The six numbers of docs/00-divergences.md section 0.2, to the four decimals printed there."""
    fair, biased = [0.5, 0.5], [0.9, 0.1]
    assert round(kl_discrete(fair, biased), 4) == 0.5108
    assert round(kl_discrete(biased, fair), 4) == 0.3681
    assert round(kl_discrete(fair, [0.7, 0.3]), 4) == 0.0872
    assert round(kl_discrete(biased, [0.7, 0.3]), 4) == 0.1163
    assert round(jsd_discrete(fair, biased), 4) == 0.1017
    p, q = [0.5, 0.5, 0.0], [0.25, 0.25, 0.5]
    assert kl_discrete(p, q) == pytest.approx(LOG2, abs=1e-15)
    assert kl_discrete(q, p) == math.inf
    assert round(jsd_discrete(p, q), 4) == 0.2158


def test_divergence_closed_forms_on_discrete_distributions():
    rng = numpy.random.default_rng(0)
    for trial in range(50):
        n = int(rng.integers(2, 9))
        p, q = random_simplex(rng, n), random_simplex(rng, n, zeros=int(rng.integers(0, n - 1)))
        assert kl_discrete(p, q) >= 0.0 and kl_discrete(p, p) == 0.0
        assert jsd_discrete(p, q) == pytest.approx(jsd_discrete(q, p), abs=1e-15)
        assert 0.0 < jsd_discrete(p, q) <= LOG2
        # JSD = H(M) - H(P)/2 - H(Q)/2: the entropy form, a second route to the same number
        # (float64 sums of a few terms of order one: agreement to 1e-12 is generous).
        m = 0.5 * (p + q)
        assert jsd_discrete(p, q) == pytest.approx(entropy(m) - 0.5 * entropy(p) - 0.5 * entropy(q), abs=1e-12)
    for a, b in [(0.5, 0.9), (0.1, 0.7), (0.99, 0.01)]:
        closed = a * math.log(a / b) + (1 - a) * math.log((1 - a) / (1 - b))   # KL(Bern(a) || Bern(b))
        assert kl_discrete([a, 1 - a], [b, 1 - b]) == pytest.approx(closed, rel=1e-13)


def test_divergence_forward_kl_covers_reverse_kl_seeks():
    """Fit N(mu, s^2) to 1/2 N(-2, .5^2) + 1/2 N(2, .5^2): forward KL matches moments, reverse KL picks a bump."""
    x = numpy.linspace(-8.0, 8.0, 1601)
    dx = x[1] - x[0]
    p = 0.5 * numpy.exp(log_normal(x, -2.0, 0.5)) + 0.5 * numpy.exp(log_normal(x, 2.0, 0.5))
    mus, sds = numpy.linspace(-3.0, 3.0, 61), numpy.linspace(0.3, 3.0, 55)
    M, S = numpy.meshgrid(mus, sds, indexing="ij")
    Sg = S[..., None]
    log_q = -0.5 * ((x - M[..., None]) / Sg) ** 2 - numpy.log(Sg * math.sqrt(2 * math.pi))
    log_p = numpy.log(p)          # p > 0 on the grid (its smallest value is about 1e-40)
    forward = numpy.sum(p * (log_p - log_q), axis=-1) * dx
    reverse = numpy.sum(numpy.exp(log_q) * (log_q - log_p), axis=-1) * dx
    i, j = numpy.unravel_index(forward.argmin(), forward.shape)
    assert mus[i] == pytest.approx(0.0, abs=1e-9) and sds[j] == pytest.approx(math.sqrt(4.25), abs=0.05)
    i, j = numpy.unravel_index(reverse.argmin(), reverse.shape)
    assert abs(mus[i]) == pytest.approx(2.0, abs=1e-9) and sds[j] == pytest.approx(0.5, abs=1e-9)
    assert reverse.min() == pytest.approx(LOG2, abs=1e-3)    # the bump holds half of p_data


def test_divergence_jsd_is_log_2_on_disjoint_supports():
    rng = numpy.random.default_rng(1)
    for trial in range(20):
        n = int(rng.integers(4, 12))
        cut = int(rng.integers(1, n))
        p = numpy.concatenate([random_simplex(rng, cut), numpy.zeros(n - cut)])
        q = numpy.concatenate([numpy.zeros(cut), random_simplex(rng, n - cut)])
        assert jsd_discrete(p, q) == pytest.approx(LOG2, abs=1e-12)
        assert kl_discrete(p, q) == math.inf
    support = numpy.linspace(-3.0, 3.0, 61)       # delta_0 against delta_theta on a common grid
    for theta_index in [0, 10, 29, 31, 60]:
        p, q = numpy.zeros(61), numpy.zeros(61)
        p[30], q[theta_index] = 1.0, 1.0
        assert jsd_discrete(p, q) == pytest.approx(LOG2, abs=1e-15)
        assert wasserstein_1d(support, p, q) == pytest.approx(abs(support[theta_index]), abs=1e-12)


def wasserstein_1d(support, p, q):
    """W1 on the real line = integral of |F_P - F_Q|; support sorted ascending."""
    gaps = numpy.diff(support)
    return float(numpy.sum(numpy.abs(numpy.cumsum(p) - numpy.cumsum(q))[:-1] * gaps))


def test_wasserstein_between_point_masses():
    for theta in [-2.5, -0.1, 0.0, 0.3, 7.0]:
        support = numpy.array(sorted({0.0, theta}))
        p = numpy.array([1.0 if s == 0.0 else 0.0 for s in support])
        q = numpy.array([1.0 if s == theta else 0.0 for s in support])
        assert wasserstein_1d(support, p, q) == abs(theta)
        # sorted samples: n copies of each point mass, the mean distance between sorted samples
        assert numpy.mean(numpy.abs(numpy.sort(numpy.zeros(5)) - numpy.sort(numpy.full(5, theta)))) == abs(theta)
    rng = numpy.random.default_rng(2)
    a, b = rng.normal(size=200), rng.normal(1.5, 2.0, size=200)   # both routes agree on samples too
    support = numpy.sort(numpy.concatenate([a, b]))
    p = numpy.isin(support, a) / 200.0
    q = numpy.isin(support, b) / 200.0
    assert wasserstein_1d(support, p, q) == pytest.approx(numpy.mean(numpy.abs(numpy.sort(a) - numpy.sort(b))), rel=1e-12)


def test_wasserstein_dual_needs_a_lipschitz_critic():
    rng = numpy.random.default_rng(3)
    support = numpy.sort(rng.uniform(-3.0, 3.0, 12))
    p, q = random_simplex(rng, 12), random_simplex(rng, 12)
    w = wasserstein_1d(support, p, q)
    # the optimal potential: f' = sign(F_Q - F_P) between support points, 1-Lipschitz by construction
    slopes = numpy.sign(numpy.cumsum(q) - numpy.cumsum(p))[:-1]
    f = numpy.concatenate([[0.0], numpy.cumsum(slopes * numpy.diff(support))])
    assert numpy.all(numpy.abs(numpy.diff(f)) <= numpy.diff(support) + 1e-15)
    assert p @ f - q @ f == pytest.approx(w, rel=1e-12)
    for trial in range(200):       # random 1-Lipschitz functions never beat W
        g = numpy.concatenate([[0.0], numpy.cumsum(rng.uniform(-1, 1, 11) * numpy.diff(support))])
        assert p @ g - q @ g <= w + 1e-12
    assert p @ (3.0 * f) - q @ (3.0 * f) == pytest.approx(3.0 * w)   # unconstrained: no upper bound


def f_divergence(f, p, q):
    return sum(qi * f(pi / qi) for pi, qi in zip(p, q))


def xlogx(t):
    return t * math.log(t) if t > 0 else 0.0


def test_f_divergence_family_and_its_bound():
    f_kl = xlogx
    f_reverse_kl = lambda t: -math.log(t)
    f_jsd = lambda t: 0.5 * (xlogx(t) - (t + 1) * math.log((t + 1) / 2))
    f_gan = lambda t: xlogx(t) - (t + 1) * math.log(t + 1)
    for p, q in [([0.5, 0.5], [0.9, 0.1]), ([0.2, 0.3, 0.5], [0.25, 0.25, 0.5])]:
        assert f_divergence(f_kl, p, q) == pytest.approx(kl_discrete(p, q), rel=1e-12)
        assert f_divergence(f_reverse_kl, p, q) == pytest.approx(kl_discrete(q, p), rel=1e-12)
        assert f_divergence(f_jsd, p, q) == pytest.approx(jsd_discrete(p, q), rel=1e-12)
        assert f_divergence(f_gan, p, q) == pytest.approx(2 * jsd_discrete(p, q) - math.log(4), rel=1e-12)
        # the variational bound for KL: f*(u) = exp(u - 1), tight at T = f'(p/q) = 1 + log(p/q)
        p_, q_ = numpy.array(p), numpy.array(q)
        bound = lambda T, p_=p_, q_=q_: p_ @ T - q_ @ numpy.exp(T - 1.0)
        best = 1.0 + numpy.log(p_ / q_)
        assert bound(best) == pytest.approx(kl_discrete(p, q), rel=1e-12)
        rng = numpy.random.default_rng(4)
        for trial in range(50):
            assert bound(best + rng.normal(0, 0.3, len(p))) < bound(best)


def test_matching_pennies_max_min_equals_min_max_at_one_half():
    probs = numpy.linspace(0.0, 1.0, 101)          # 0.5 is on the grid
    V = numpy.outer(2 * probs - 1, 2 * probs - 1)  # V[p, q]: the first player's expected gain
    max_min = V.min(axis=1).max()
    min_max = V.max(axis=0).min()
    assert max_min == 0.0 and min_max == 0.0
    assert probs[V.min(axis=1).argmax()] == 0.5 and probs[V.max(axis=0).argmin()] == 0.5
    pure = numpy.array([[1.0, -1.0], [-1.0, 1.0]])
    for i in range(2):
        for j in range(2):  # at every pure pair, one of the players gains by switching
            assert pure[1 - i, j] > pure[i, j] or pure[i, 1 - j] < pure[i, j]


P_DATA_5 = numpy.array([0.1, 0.3, 0.2, 0.25, 0.15])


def C_of(p_g, p_data=P_DATA_5):
    """C(p_g) = max_D V(D, p_g) = V(D*, p_g), with D* = p_data / (p_data + p_g)."""
    d = p_data / (p_data + p_g)
    return float(p_data @ numpy.log(d) + p_g @ numpy.log(1 - d))


def test_proposition_2_descent_on_p_g_with_optimal_D_converges():
    rng = numpy.random.default_rng(5)
    for trial in range(20):        # C is convex along segments of the simplex
        a, b = random_simplex(rng, 5), random_simplex(rng, 5)
        for lam in (0.25, 0.5, 0.75):
            assert C_of(lam * a + (1 - lam) * b) <= lam * C_of(a) + (1 - lam) * C_of(b) + 1e-14
        # Danskin: the derivative of C along a direction u (summing to 0) is that of V(D*, .) with D* held fixed,
        # i.e. u @ log(1 - D*). Central differences with eps = 1e-5 in float64: error ~ 1e-10 + 1e-11, so 1e-7.
        u = rng.normal(size=5)
        u -= u.mean()
        eps = 1e-5
        numeric = (C_of(a + eps * u) - C_of(a - eps * u)) / (2 * eps)
        d_star = P_DATA_5 / (P_DATA_5 + a)
        assert numeric == pytest.approx(u @ numpy.log(1 - d_star), abs=1e-7)
    p_g = numpy.array([0.6, 0.1, 0.1, 0.1, 0.1])
    previous = jsd_discrete(P_DATA_5, p_g)
    for step in range(300):        # exponentiated-gradient steps on V(D*, p_g), D* recomputed each step
        d_star = P_DATA_5 / (P_DATA_5 + p_g)
        p_g = p_g * numpy.exp(-1.0 * numpy.log(1 - d_star))
        p_g /= p_g.sum()
        now = jsd_discrete(P_DATA_5, p_g)
        assert now < previous or now < 1e-15
        previous = now
    assert previous < 1e-8
    assert C_of(p_g) == pytest.approx(-math.log(4), abs=1e-7)


def test_non_saturating_loss_fixed_point_and_its_gradient():
    def softmax(theta):
        e = numpy.exp(theta - theta.max())
        return e / e.sum()

    def numeric_grad(fn, theta, eps=1e-5):
        out = numpy.zeros_like(theta)
        for i in range(len(theta)):
            step = numpy.zeros_like(theta)
            step[i] = eps
            out[i] = (fn(theta + step) - fn(theta - step)) / (2 * eps)
        return out

    def ns_grad(theta0):   # gradient of -E_{p_g} log D*, D* held at its value for theta0
        d_star = P_DATA_5 / (P_DATA_5 + softmax(theta0))
        return numeric_grad(lambda t: float(softmax(t) @ -numpy.log(d_star)), theta0)

    at_data = numpy.log(P_DATA_5)
    # float64 central differences of order-one functions with eps = 1e-5: error ~ 1e-10; 1e-7 leaves room
    assert numpy.abs(ns_grad(at_data)).max() < 1e-7
    rng = numpy.random.default_rng(6)
    for trial in range(10):
        theta = rng.normal(size=5)
        target = numeric_grad(lambda t: kl_discrete(softmax(t), P_DATA_5) - 2 * jsd_discrete(P_DATA_5, softmax(t)), theta)
        assert numpy.allclose(ns_grad(theta), target, atol=1e-7)
        assert numpy.abs(target).max() > 1e-3      # away from p_data the gradient is not zero
