"""Evaluation metrics: Parzen log-likelihood, mode coverage, Inception Score, Fréchet distance.

Every check compares with a formula computed another way (a per-example loop, a closed form,
an identity), in float64.
"""
import math

import numpy
import pytest

import minigan
from minigan.gan import metrics
from minigan.gan.metrics import (
    feature_statistics, frechet_distance, grid_centers, inception_score, mode_coverage, parzen_log_likelihood,
    parzen_log_likelihoods, ring_centers, select_parzen_sigma,
)

# every test runs on each backend (numpy; the CuPy stand-in; cupy on a GPU): see tests/conftest.py
pytestmark = pytest.mark.usefixtures("xp_backend")


def direct_parzen(samples, data, sigma):
    """log p(x) for each x, one example at a time, with explicit differences x - g_i (float64)."""
    g = samples.reshape(len(samples), -1).astype(numpy.float64)
    out = []
    for x in data.reshape(len(data), -1).astype(numpy.float64):
        a = -((x - g) ** 2).sum(axis=1) / (2 * sigma**2)
        m = a.max()
        out.append(m + math.log(numpy.exp(a - m).mean()) - 0.5 * g.shape[1] * math.log(2 * math.pi * sigma**2))
    return numpy.array(out)


# -- Parzen ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_size", [1, 7, None])
@pytest.mark.parametrize("sigma", [0.1, 0.3, 1.0])
def test_parzen_matches_direct_computation(rng, batch_size, sigma):
    g, x = rng.random((40, 3, 4)), rng.random((23, 3, 4))  # image-shaped rows are flattened (d = 12)
    got = parzen_log_likelihoods(g, x, sigma, batch_size=batch_size)
    numpy.testing.assert_allclose(got, direct_parzen(g, x, sigma), rtol=0, atol=1e-10)


def test_parzen_float32_products_within_their_error_bound(rng):
    # float32 products of d terms carry an error up to about d * 2^-24 * ||x|| ||g|| (~4e-5 here,
    # after centring), which moves log p by at most that / (2 sigma^2) = 4e-5 / 0.02 = 2e-3.
    g, x = rng.random((200, 64)), rng.random((50, 64))
    got = parzen_log_likelihoods(g, x, 0.1, gemm_dtype=numpy.float32)
    numpy.testing.assert_allclose(got, direct_parzen(g, x, 0.1), rtol=0, atol=2e-3)


def test_parzen_is_translation_invariant_even_in_float32(rng):
    # Without centring, ||x||^2 ~ 1.6e7 here and float32 products would lose whole nats.
    g, x = rng.random((100, 16)), rng.random((30, 16))
    ref = direct_parzen(g, x, 0.2)
    got = parzen_log_likelihoods(g + 1000.0, x + 1000.0, 0.2, gemm_dtype=numpy.float32)
    numpy.testing.assert_allclose(got, ref, rtol=0, atol=1e-3)


def test_parzen_one_sample_closed_form(rng):
    # One window centre g: log p(x) = -||x - g||^2 / (2 s^2) - (d/2) log(2 pi s^2) exactly.
    d, s = 10, 0.5
    g = rng.standard_normal((1, d))
    shift = rng.standard_normal((5, d))
    got = parzen_log_likelihoods(g, g + shift, s)
    expected = -(shift**2).sum(axis=1) / (2 * s * s) - 0.5 * d * math.log(2 * math.pi * s * s)
    numpy.testing.assert_allclose(got, expected, rtol=1e-12)


def test_parzen_data_against_itself_beats_shifted(rng):
    data = rng.random((60, 8))
    itself, _ = parzen_log_likelihood(data, data, 0.1)
    shifted, _ = parzen_log_likelihood(data, data + 0.3, 0.1)
    assert itself > shifted
    # every point of the data is a window centre: log p >= log(1/n) + log N(0; 0, s^2 I)
    floor = -math.log(60) - 4 * math.log(2 * math.pi * 0.01)
    assert numpy.all(parzen_log_likelihoods(data, data, 0.1) >= floor - 1e-9)


def test_parzen_mean_and_standard_error(rng):
    g, x = rng.random((30, 5)), rng.random((25, 5))
    lls = direct_parzen(g, x, 0.4)
    mean, se = parzen_log_likelihood(g, x, 0.4)
    assert mean == pytest.approx(lls.mean(), abs=1e-10)
    assert se == pytest.approx(lls.std() / math.sqrt(25), rel=1e-9)  # population std / sqrt(n)
    # four copies of the data: same mean, same std, standard error halves
    mean4, se4 = parzen_log_likelihood(g, numpy.tile(x, (4, 1)), 0.4)
    assert mean4 == pytest.approx(mean, abs=1e-10) and se4 == pytest.approx(se / 2, rel=1e-9)


def test_parzen_accepts_tensors_and_float32(rng):
    g, x = rng.random((20, 6)).astype(numpy.float32), rng.random((9, 6)).astype(numpy.float32)
    got = parzen_log_likelihoods(minigan.tensor(g), minigan.tensor(x), 0.3)
    assert got.dtype == numpy.float64
    assert minigan.backend.backend_of(got) == minigan.default_backend()  # computed where the samples live
    numpy.testing.assert_allclose(minigan.backend.as_numpy(got), direct_parzen(g, x, 0.3), atol=1e-9)


def test_select_parzen_sigma_picks_the_best_of_the_grid(rng):
    g, valid = rng.random((50, 6)), rng.random((40, 6))
    best, table = select_parzen_sigma(g, valid)
    assert [s for s, _ in table] == pytest.approx(list(numpy.logspace(-1, 0, 10)))
    direct = [direct_parzen(g, valid, s).mean() for s, _ in table]
    numpy.testing.assert_allclose([m for _, m in table], direct, atol=1e-9)
    assert best == table[int(numpy.argmax(direct))][0]


def test_select_parzen_sigma_finds_the_noise_level():
    # Window centres 100 apart, data = centre + noise of std 0.3: only the own centre counts, so
    # log p(x) = -||delta||^2/(2 s^2) - log n - (d/2) log(2 pi s^2), maximised at s^2 = mean ||delta||^2 / d.
    r = numpy.random.default_rng(7)
    d, n = 20, 30
    g = 100.0 * numpy.arange(n)[:, None] * numpy.ones(d)  # centres 100 sqrt(d) apart
    delta = 0.3 * r.standard_normal((n, d))
    sigmas = numpy.linspace(0.2, 0.4, 21)
    best, _ = select_parzen_sigma(g, g + delta, sigmas)
    ml_sigma = math.sqrt((delta**2).sum() / (n * d))
    assert abs(best - ml_sigma) <= 0.01 + 1e-12  # the grid step is 0.01


def test_parzen_errors():
    with pytest.raises(ValueError, match="features per row"):
        parzen_log_likelihood(numpy.zeros((3, 4)), numpy.zeros((3, 5)), 0.1)
    with pytest.raises(ValueError, match="sigma must be positive"):
        parzen_log_likelihood(numpy.zeros((3, 4)), numpy.zeros((3, 4)), 0.0)
    with pytest.raises(ValueError, match="at least one row"):
        parzen_log_likelihood(numpy.zeros((0, 4)), numpy.zeros((3, 4)), 0.1)
    with pytest.raises(ValueError, match="batch_size"):
        parzen_log_likelihood(numpy.zeros((3, 4)), numpy.zeros((3, 4)), 0.1, batch_size=0)


# -- mode coverage ----------------------------------------------------------------------------------
def test_centres_of_the_toy_mixtures():
    ring = ring_centers(8, radius=1.0)
    assert ring.shape == (8, 2)
    numpy.testing.assert_allclose(numpy.hypot(ring[:, 0], ring[:, 1]), 1.0)
    grid = grid_centers()
    assert grid.shape == (25, 2)
    assert sorted({tuple(p) for p in grid.tolist()}) == [(a, b) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)]


def test_mode_coverage_all_modes_perfect(rng):
    c = ring_centers(8)
    samples = numpy.repeat(c, 50, axis=0) + 0.01 * rng.uniform(-1, 1, (400, 2))  # within 1.5 std
    r = mode_coverage(samples, c, std=0.01)
    assert r["modes"] == 8 and r["high_quality"] == 1.0 and r["reverse_kl"] == pytest.approx(0.0, abs=1e-15)
    assert r["counts"] == [50] * 8


def test_mode_coverage_one_mode_only():
    c = ring_centers(8)
    r = mode_coverage(numpy.repeat(c[3:4], 100, axis=0), c, std=0.01)
    assert r["modes"] == 1 and r["high_quality"] == 1.0
    assert r["reverse_kl"] == pytest.approx(math.log(8), rel=1e-12)


def test_mode_coverage_off_mode_samples_are_not_high_quality():
    c = ring_centers(8)
    std = 0.01
    on = c[:4]
    just_in = c[4:5] + numpy.array([[2.9 * std * c[4, 0], 2.9 * std * c[4, 1]]])  # 2.9 std out radially
    just_out = c[5:6] * (1 + 3.1 * std)  # 3.1 std out radially
    origin = numpy.zeros((2, 2))  # equally far from all modes: far from every one
    r = mode_coverage(numpy.concatenate([on, just_in, just_out, origin]), c, std)
    assert r["high_quality"] == pytest.approx(5 / 8)
    assert r["modes"] == 5 and r["counts"] == [1, 1, 1, 1, 1, 0, 0, 0]
    assert r["reverse_kl"] == pytest.approx(math.log(8 / 5))  # 5 equal bins of 1/5: log(8 * 1/5)


def test_mode_coverage_reverse_kl_closed_form_and_conventions():
    c = numpy.array([[0.0, 0.0], [10.0, 0.0]])
    samples = numpy.array([[0.0, 0.0]] * 3 + [[10.0, 0.0]])
    r = mode_coverage(samples, c, std=1.0)
    assert r["reverse_kl"] == pytest.approx(0.75 * math.log(2 * 0.75) + 0.25 * math.log(2 * 0.25), rel=1e-12)
    assert mode_coverage(samples, c, std=1.0, min_count=2)["modes"] == 1
    nothing = mode_coverage(numpy.array([[5.0, 5.0]]), c, std=1.0)
    assert nothing["modes"] == 0 and nothing["high_quality"] == 0.0 and math.isnan(nothing["reverse_kl"])


def test_mode_coverage_errors():
    with pytest.raises(ValueError, match=r"samples \(4, 3\) and centers \(8, 2\)"):
        mode_coverage(numpy.zeros((4, 3)), ring_centers(8), 0.01)
    with pytest.raises(ValueError, match="std"):
        mode_coverage(numpy.zeros((4, 2)), ring_centers(8), 0.0)


# -- Inception Score ---------------------------------------------------------------------------------
def test_inception_score_uniform_predictions_is_one():
    mean, std = inception_score(numpy.full((100, 10), 0.1))
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_confident_and_balanced_is_number_of_classes():
    probs = numpy.eye(10)[numpy.arange(200) % 10]  # each split of 20 holds every class twice
    mean, std = inception_score(probs, splits=10)
    assert mean == pytest.approx(10.0, rel=1e-12) and std == pytest.approx(0.0, abs=1e-12)
    # confident but collapsed onto 2 of 10 classes scores 2
    assert inception_score(numpy.eye(10)[numpy.arange(200) % 2], splits=10)[0] == pytest.approx(2.0, rel=1e-12)


def test_inception_score_equals_entropy_identity(rng):
    # KL averaged over x = H(p(y)) - E_x H(p(y|x)), so IS = exp(H(p(y)) - E_x H(p(y|x))).
    probs = rng.dirichlet(numpy.full(7, 0.3), size=300)
    mean, _ = inception_score(probs, splits=1)
    py = probs.mean(axis=0)
    h_marginal = -(py * numpy.log(py)).sum()
    h_conditional = -(probs * numpy.log(probs)).sum(axis=1).mean()
    assert mean == pytest.approx(math.exp(h_marginal - h_conditional), rel=1e-12)
    many, _ = inception_score(probs, splits=10)
    assert 1.0 <= many <= 7.0


def test_inception_score_splits_mean_and_std():
    half_sure = numpy.eye(4)[numpy.arange(40) % 4]  # split 1: score 4
    half_flat = numpy.full((40, 4), 0.25)  # split 2: score 1
    mean, std = inception_score(numpy.concatenate([half_sure, half_flat]), splits=2)
    assert mean == pytest.approx(2.5) and std == pytest.approx(1.5)


def test_inception_score_errors():
    with pytest.raises(ValueError, match="distribution"):
        inception_score(numpy.full((10, 4), 0.3))
    with pytest.raises(ValueError, match="splits"):
        inception_score(numpy.full((5, 4), 0.25), splits=6)


# -- Fréchet distance ----------------------------------------------------------------------------------
def _random_cov(rng, d, rank=None):
    a = rng.standard_normal((d, rank or d))
    return a @ a.T


def test_feature_statistics_match_numpy(rng):
    f = rng.standard_normal((50, 6)).astype(numpy.float32)
    mu, sigma = feature_statistics(f)
    numpy.testing.assert_allclose(mu, f.astype(numpy.float64).mean(axis=0), rtol=1e-12)
    numpy.testing.assert_allclose(sigma, numpy.cov(f.astype(numpy.float64), rowvar=False), rtol=1e-10)


def test_frechet_identical_statistics_is_zero(rng):
    mu, s = rng.standard_normal(6), _random_cov(rng, 6)
    assert frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-10 * numpy.trace(s))


@pytest.mark.parametrize("rank", [6, 2])
def test_frechet_equal_covariances_is_squared_mean_distance(rng, rank):
    # rank 2 in 6-D: a singular covariance, where round-off gives eigenvalues just below 0
    s = _random_cov(rng, 6, rank)
    mu1, mu2 = rng.standard_normal(6), rng.standard_normal(6)
    fd = frechet_distance(mu1, s, mu2, s)
    assert math.isfinite(fd)
    assert fd == pytest.approx(((mu1 - mu2) ** 2).sum(), abs=1e-7 * numpy.trace(s))


def test_frechet_diagonal_closed_form(rng):
    # For diagonal S1 = diag(a), S2 = diag(b): FD = ||mu1 - mu2||^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2
    a, b = rng.uniform(0.1, 3, 5), rng.uniform(0.1, 3, 5)
    mu1, mu2 = rng.standard_normal(5), rng.standard_normal(5)
    expected = ((mu1 - mu2) ** 2).sum() + ((numpy.sqrt(a) - numpy.sqrt(b)) ** 2).sum()
    assert frechet_distance(mu1, numpy.diag(a), mu2, numpy.diag(b)) == pytest.approx(expected, rel=1e-12)


def test_frechet_general_case_against_eigenvalues_of_the_product(rng):
    # tr (S1 S2)^{1/2} = sum sqrt(eigenvalues of S1 S2), taken here from the non-symmetric product
    s1, s2 = _random_cov(rng, 5), _random_cov(rng, 5)
    mu1, mu2 = rng.standard_normal(5), rng.standard_normal(5)
    tr_sqrt = numpy.sqrt(numpy.linalg.eigvals(s1 @ s2).real).sum()
    expected = ((mu1 - mu2) ** 2).sum() + numpy.trace(s1) + numpy.trace(s2) - 2 * tr_sqrt
    got = frechet_distance(mu1, s1, mu2, s2)
    assert got == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(mu2, s2, mu1, s1) == pytest.approx(got, rel=1e-9)  # symmetric
    assert got >= 0


def test_frechet_errors():
    with pytest.raises(ValueError, match=r"\[d\]"):
        frechet_distance(numpy.zeros(3), numpy.eye(3), numpy.zeros(4), numpy.eye(4))


def test_metrics_module_names_the_paper_grid():
    numpy.testing.assert_allclose(metrics.PARZEN_SIGMAS, 10.0 ** numpy.linspace(-1, 0, 10))


def test_inception_score_and_frechet_distance_take_device_arrays(rng, xp_backend):
    """Scores of arrays on the backend under test equal the scores of their host copies."""
    probs = rng.dirichlet(numpy.ones(10), size=60)
    feats_a, feats_b = rng.standard_normal((80, 5)), rng.standard_normal((70, 5)) + 0.3
    on = minigan.tensor  # the default backend: the fixture's
    assert inception_score(on(probs), splits=3) == pytest.approx(inception_score(probs, splits=3), rel=1e-12)
    stats_dev = feature_statistics(on(feats_a)), feature_statistics(on(feats_b))
    stats_host = feature_statistics(feats_a), feature_statistics(feats_b)
    for dev, host in zip(stats_dev, stats_host):
        for d, h in zip(dev, host):
            numpy.testing.assert_allclose(minigan.backend.as_numpy(d), h, rtol=1e-12, atol=1e-12)  # float64
    on_host = frechet_distance(*stats_host[0], *stats_host[1])
    assert frechet_distance(*stats_dev[0], *stats_dev[1]) == pytest.approx(on_host, rel=1e-9)
