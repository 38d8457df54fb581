"""How good are G's samples? The evaluation numbers of the GAN literature, on raw arrays.

A GAN has no tractable likelihood, so every number here is an estimate built from samples:

* ``parzen_log_likelihood``: the paper's Table 1. Fit a Gaussian Parzen window to samples of G
  and report the mean log-density it gives to test images (sigma chosen on validation images
  with ``select_parzen_sigma``).
* ``mode_coverage``: the 2-D mixtures (8-ring, 25-grid) of the mode-collapse literature: how
  many modes G reaches, how many samples land near a mode, how evenly they spread.
* ``inception_score`` and ``frechet_distance``: the classifier-based scores (IS, FID), given a
  classifier's p(y|x) or its features.

Everything takes NumPy or CuPy arrays (or minigan Tensors, whose ``.data`` is used), computes
in float64 where the result depends on it, and returns Python floats. No autograd: these are
measurements, never losses.
"""
from __future__ import annotations

import math

import numpy

from .. import backend
from ..autograd import Tensor
from ..data.toy import grid_centers, ring_centers  # noqa: F401 - the modes of the 2-D mixtures

PARZEN_SIGMAS = numpy.logspace(-1, 0, 10)  # the grid of the paper's parzen_ll.py: 0.1 ... 1
PARZEN_BLOCK = 2**22  # entries of one [batch, n_samples] distance block: 32 MiB in float64


def _raw(x, name, fn):
    """The array inside ``x`` (a Tensor, a NumPy/CuPy array, or anything numpy.asarray takes)."""
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, numpy.ndarray) or backend.is_cupy_array(x):
        return x
    try:
        return numpy.asarray(x, dtype=numpy.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: {name} must be an array or Tensor, got {type(x).__name__}") from None


def _host(x, name, fn):
    return numpy.asarray(backend.as_numpy(_raw(x, name, fn)), dtype=numpy.float64)


# -- Parzen window log-likelihood (Goodfellow et al. 2014, Table 1) ----------------------------------
def _parzen_table(samples, data, sigmas, batch_size, gemm_dtype, fn):
    """log p_sigma(x) for every sigma and every row x of ``data``: an xp array [len(sigmas), n_data].

    The squared distances do not depend on sigma, so they are computed once per chunk of data
    and reused for every sigma (select_parzen_sigma costs one GEMM, not ten).
    """
    g, x = _raw(samples, "samples", fn), _raw(data, "data", fn)
    backend.check_same_backend(fn, [g, x])
    xp = backend.array_module(g, x)
    if g.ndim < 1 or x.ndim < 1 or g.shape[0] == 0 or x.shape[0] == 0:
        raise ValueError(f"{fn}: samples {tuple(g.shape)} and data {tuple(x.shape)} need at least one row each")
    g, x = g.reshape(g.shape[0], -1), x.reshape(x.shape[0], -1)  # images [N, 28, 28] -> [N, 784]
    if g.shape[1] != x.shape[1]:
        raise ValueError(
            f"{fn}: samples have {g.shape[1]} features per row and data {x.shape[1]}; "
            "they must live in the same space (flattened shapes [n, d])"
        )
    sigmas = numpy.atleast_1d(numpy.asarray(sigmas, dtype=numpy.float64))
    if sigmas.ndim != 1 or sigmas.size == 0 or not numpy.all(numpy.isfinite(sigmas) & (sigmas > 0)):
        raise ValueError(f"{fn}: sigma must be positive and finite, got {sigmas.tolist()}")
    gemm_dtype = numpy.dtype(gemm_dtype)
    if gemm_dtype not in (numpy.float32, numpy.float64):
        raise ValueError(f"{fn}: gemm_dtype must be float32 or float64, got {gemm_dtype}")
    n_g, d = g.shape
    if batch_size is None:
        batch_size = max(1, PARZEN_BLOCK // n_g)
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"{fn}: batch_size must be a positive integer, got {batch_size!r}")
    batch_size = int(batch_size)

    # Distances are translation invariant: centring both sets on the samples' mean makes the
    # norms in ||x||^2 - 2 x.g + ||g||^2 small, so less is lost when the terms cancel.
    shift = g.astype(xp.float64).mean(axis=0)
    g64 = g.astype(xp.float64) - shift
    gg = (g64 * g64).sum(axis=1)
    g_t = xp.ascontiguousarray(g64.T.astype(gemm_dtype, copy=False))  # [d, n_g], the GEMM's right side
    del g64
    # log p(x) = logsumexp_i(-D_i / 2s^2) - log n_g - (d/2) log(2 pi s^2)
    const = -math.log(n_g) - 0.5 * d * numpy.log(2.0 * math.pi * sigmas**2)
    scale = -0.5 / sigmas**2
    out = xp.empty((sigmas.size, x.shape[0]), dtype=xp.float64)
    for start in range(0, x.shape[0], batch_size):
        xc = x[start:start + batch_size].astype(xp.float64) - shift
        xx = (xc * xc).sum(axis=1)
        dist = (xc.astype(gemm_dtype, copy=False) @ g_t).astype(xp.float64, copy=False)
        dist *= -2.0
        dist += xx[:, None]
        dist += gg[None, :]
        xp.maximum(dist, 0.0, out=dist)  # D >= 0; round-off may dip below
        # log-sum-exp around the largest term exp(-D_min / 2s^2): every exponent is <= 0
        d_min = dist.min(axis=1)
        dist -= d_min[:, None]
        work = xp.empty_like(dist)
        for j, s in enumerate(scale):
            xp.multiply(dist, s, out=work)
            xp.exp(work, out=work)  # terms in (0, 1], the nearest sample gives exactly 1
            out[j, start:start + batch_size] = xp.log(work.sum(axis=1)) + s * d_min + const[j]
    return out


def parzen_log_likelihoods(samples, data, sigma, batch_size=None, gemm_dtype=numpy.float64):
    """Per-example Parzen log-density log p(x) of each row of ``data`` (an xp float64 array [n_data]).

    See ``parzen_log_likelihood`` for the formula and the arguments.
    """
    return _parzen_table(samples, data, sigma, batch_size, gemm_dtype, "parzen_log_likelihoods")[0]


def parzen_log_likelihood(samples, data, sigma, batch_size=None, gemm_dtype=numpy.float64):
    """Mean Gaussian Parzen-window log-likelihood of ``data`` under ``samples`` of G, and its standard error.

    With g_1 ... g_n the samples (the window's centres), sigma the window width and d the
    dimension, the density at x is p(x) = 1/n sum_i N(x; g_i, sigma^2 I), so

        log p(x) = logmeanexp_i( -||x - g_i||^2 / (2 sigma^2) ) - (d/2) log(2 pi sigma^2)

    Returns ``(mean, standard_error)`` over the rows of ``data``, where standard_error =
    std(log p) / sqrt(n_data) (population std, as the paper's parzen_ll.py). Rows are
    flattened: images [N, 28, 28] count as d = 784. Units matter: Table 1 used pixels in [0, 1].

    How: ||x - g||^2 = ||x||^2 - 2 x.g + ||g||^2, so a chunk of ``batch_size`` data rows
    against all samples is one matrix product; chunks keep the [batch, n] block at about 2^22
    entries (32 MiB) by default. The log-sum-exp runs in float64 around its largest term.

    ``gemm_dtype`` (float64 by default) is the precision of the product x.g. float32 halves its
    time; its error, about d * 2^-24 * ||x|| ||g|| at worst on each squared distance (after
    centring both sets on the samples' mean), moves log p by at most that over 2 sigma^2,
    because log-sum-exp is 1-Lipschitz in each exponent. On [0, 1] MNIST pixels that bound is
    about 0.2 nat at sigma = 0.1; measured (benchmarks/bench_parzen.py) the largest difference
    is 4e-3 nat at sigma = 0.1 and 1e-3 at sigma = 0.2, against Table 1's standard errors of
    1-2 nats. float64 costs about 1.4x the time (7 s instead of 5 s for 10k x 10k x 784 on 2
    cores) and removes the question, hence the default.
    """
    lls = parzen_log_likelihoods(samples, data, sigma, batch_size, gemm_dtype)
    lls = backend.as_numpy(lls)
    return float(lls.mean()), float(lls.std() / math.sqrt(lls.size))


def select_parzen_sigma(samples, valid, sigmas=PARZEN_SIGMAS, batch_size=None, gemm_dtype=numpy.float64):
    """The window width with the best mean Parzen log-likelihood on validation data.

    The paper's protocol: fit the window to samples of G, try each sigma in
    ``sigmas`` (default numpy.logspace(-1, 0, 10), i.e. 0.1 ... 1), keep the one that maximises
    the mean log p(x) over ``valid``, then report ``parzen_log_likelihood(samples, test, sigma)``.

    Returns ``(best_sigma, table)`` with ``table`` a list of ``(sigma, mean log-likelihood)``.
    """
    sigmas = numpy.atleast_1d(numpy.asarray(sigmas, dtype=numpy.float64))
    lls = _parzen_table(samples, valid, sigmas, batch_size, gemm_dtype, "select_parzen_sigma")
    table_lls = backend.as_numpy(lls)
    means = table_lls.mean(axis=1)
    best = int(numpy.argmax(means))
    return float(sigmas[best]), [(float(s), float(m)) for s, m in zip(sigmas, means)]


# -- mode coverage on 2-D mixtures (Metz et al. 2016; VEEGAN; PacGAN) -----------------------------
def mode_coverage(samples, centers, std, min_count=1):
    """Modes captured, fraction of high-quality samples, and reverse KL of the mode histogram.

    Definitions (as in VEEGAN, Srivastava et al. 2017, and PacGAN, Lin et al. 2018), for K
    modes with centres c_k and common standard deviation ``std``:

    * each sample x is assigned to its nearest centre k(x) = argmin_k ||x - c_k||;
    * x is *high quality* when ||x - c_k(x)|| <= 3 std;
    * mode k is *captured* when at least ``min_count`` (default 1) high-quality samples are
      assigned to it;
    * with h_k the number of high-quality samples assigned to mode k and H = sum_k h_k,
      p_k = h_k / H is the mode histogram, q_k = 1/K the uniform target, and

          reverse_kl = KL(p || q) = sum_k p_k log(p_k / q_k) = sum_k p_k log(K p_k),

      with the convention 0 log 0 = 0 (an empty mode adds nothing to the sum; that mode's loss
      shows as mass piled on the others). It is 0 for a perfectly even spread and log K when
      every sample sits on one mode. With no high-quality sample at all p is undefined and
      reverse_kl is nan.

    Returns a dict: modes (int), high_quality (float in [0, 1]), reverse_kl (float), and
    counts (list of h_k, for plots). Computed on the host in float64 (K and the dimension are small).
    """
    fn = "mode_coverage"
    x = _host(samples, "samples", fn)
    c = _host(centers, "centers", fn)
    if x.ndim != 2 or c.ndim != 2 or x.shape[1] != c.shape[1] or x.shape[0] == 0 or c.shape[0] == 0:
        raise ValueError(
            f"{fn}: expected samples [n, d] and centers [K, d] with the same d and n, K >= 1, "
            f"got samples {x.shape} and centers {c.shape}"
        )
    if not (math.isfinite(std) and std > 0):
        raise ValueError(f"{fn}: std must be positive and finite, got {std!r}")
    n_modes = c.shape[0]
    dist = numpy.sqrt(((x[:, None, :] - c[None, :, :]) ** 2).sum(axis=2))  # [n, K]
    nearest = dist.argmin(axis=1)
    good = dist[numpy.arange(x.shape[0]), nearest] <= 3.0 * std
    counts = numpy.bincount(nearest[good], minlength=n_modes)
    total = int(counts.sum())
    if total == 0:
        reverse_kl = math.nan
    else:
        p = counts[counts > 0] / total  # 0 log 0 = 0: empty modes drop out of the sum
        reverse_kl = float(numpy.sum(p * numpy.log(n_modes * p)))
    return {
        "modes": int(numpy.sum(counts >= min_count)),
        "high_quality": float(good.mean()),
        "reverse_kl": reverse_kl,
        "counts": [int(k) for k in counts],
    }


# -- classifier-based scores (Salimans et al. 2016; Heusel et al. 2017) ------------------------------
def inception_score(probs, splits=10):
    """Inception Score exp(E_x KL(p(y|x) || p(y))) from a classifier's predictions, as (mean, std) over splits.

    ``probs`` is [n, classes], row i = p(y | x_i) for a generated x_i. Following Salimans et
    al. (2016), the rows are cut into ``splits`` consecutive parts; in each part
    p(y) = mean_i p(y | x_i) and

        IS = exp( mean_i sum_y p(y|x_i) [log p(y|x_i) - log p(y)] ),

    with 0 log 0 = 0. It lies in [1, classes]: 1 when every prediction is the same, classes
    when each is certain and the classes are used equally. Returns the mean and the population
    std of the per-split scores.
    """
    fn = "inception_score"
    p = _raw(probs, "probs", fn)
    xp = backend.array_module(p)
    p = p.astype(xp.float64)
    if p.ndim != 2 or p.shape[0] == 0:
        raise ValueError(f"{fn}: probs must be [n, classes] with n >= 1, got shape {tuple(p.shape)}")
    if int(splits) != splits or not 1 <= splits <= p.shape[0]:
        raise ValueError(f"{fn}: splits must be an integer in [1, n={p.shape[0]}], got {splits!r}")
    if bool(xp.any(p < 0)) or float(xp.abs(p.sum(axis=1) - 1.0).max()) > 1e-3:
        raise ValueError(f"{fn}: each row of probs must be a distribution p(y|x) (non-negative, summing to 1)")
    safe_log = xp.log(xp.where(p > 0, p, 1.0))  # p log p = 0 where p = 0
    scores = []
    for part, logs in zip(xp.array_split(p, int(splits)), xp.array_split(safe_log, int(splits))):
        py = part.mean(axis=0)
        log_py = xp.log(xp.where(py > 0, py, 1.0))  # py = 0 forces p(y|x) = 0 in this part
        kl = (part * (logs - log_py[None, :])).sum(axis=1).mean()
        scores.append(math.exp(float(kl)))
    scores = numpy.asarray(scores)
    return float(scores.mean()), float(scores.std())


def feature_statistics(features):
    """(mu, sigma): mean [d] and covariance [d, d] (unbiased, divide by n - 1) of feature rows [n, d], float64."""
    f = _raw(features, "features", "feature_statistics")
    xp = backend.array_module(f)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"feature_statistics: features must be [n, d] with n >= 2, got shape {tuple(f.shape)}")
    f = f.astype(xp.float64)
    mu = f.mean(axis=0)
    centred = f - mu
    return mu, centred.T @ centred / (f.shape[0] - 1)


def _psd_sqrt(xp, s):
    """Symmetric square root of a PSD matrix via eigh; tiny negative eigenvalues are clipped to 0."""
    w, v = xp.linalg.eigh(s)
    return (v * xp.sqrt(xp.maximum(w, 0.0))) @ v.T


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Fréchet distance between N(mu1, S1) and N(mu2, S2) (FID on classifier features):

        FD = ||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^{1/2})

    tr (S1 S2)^{1/2} is computed without a general matrix square root: with R = S1^{1/2},
    S1 S2 = R (R S2 R) R^{-1} is similar to M = R S2 R, so both have the same eigenvalues, and
    M is symmetric PSD, so they are real and >= 0 and tr (S1 S2)^{1/2} = sum_i sqrt(lambda_i(M)).
    Both R and the eigenvalues of M come from numpy.linalg.eigh (symmetric, stable, no scipy).
    Eigenvalues that round-off pushes slightly below 0 (covariances from fewer samples than
    dimensions are singular) are clipped to 0: they are zeros in exact arithmetic, and their
    square roots would otherwise be nan. Computed in float64.
    """
    fn = "frechet_distance"
    arrays = [_raw(a, name, fn) for a, name in ((mu1, "mu1"), (sigma1, "sigma1"), (mu2, "mu2"), (sigma2, "sigma2"))]
    backend.check_same_backend(fn, arrays)
    xp = backend.array_module(*arrays)
    m1, s1, m2, s2 = (a.astype(xp.float64) for a in arrays)
    d = m1.shape[0] if m1.ndim == 1 else -1
    if m1.ndim != 1 or m2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(
            f"{fn}: expected mu1, mu2 of shape [d] and sigma1, sigma2 of shape [d, d], got "
            f"{tuple(m1.shape)}, {tuple(s1.shape)}, {tuple(m2.shape)}, {tuple(s2.shape)}"
        )
    s1, s2 = 0.5 * (s1 + s1.T), 0.5 * (s2 + s2.T)  # exact symmetry for eigh
    root1 = _psd_sqrt(xp, s1)
    m = root1 @ s2 @ root1
    eig = xp.linalg.eigvalsh(0.5 * (m + m.T))
    tr_sqrt = xp.sqrt(xp.maximum(eig, 0.0)).sum()
    diff = m1 - m2
    return float(diff @ diff + xp.trace(s1) + xp.trace(s2) - 2.0 * tr_sqrt)


def nearest_rows(queries, pool, chunk=10000):
    """Index in ``pool`` (N, d) of the Euclidean-nearest row of each query (n, d): the paper's Figure 2 pairs.

    argmin_j ||q - p_j||^2 = argmin_j (||p_j||^2 - 2 q.p_j), the ||q||^2 term being the same for every j;
    the cross term is one matrix product per chunk of ``chunk`` rows of the pool, in float64."""
    q = numpy.asarray(queries).reshape(len(queries), -1).astype(numpy.float64)
    best_d = numpy.full(len(q), numpy.inf)
    best_i = numpy.zeros(len(q), dtype=numpy.int64)
    rows = numpy.arange(len(q))
    for start in range(0, len(pool), chunk):
        p = numpy.asarray(pool[start:start + chunk]).reshape(-1, q.shape[1]).astype(numpy.float64)
        d = (p * p).sum(axis=1)[None, :] - 2.0 * q @ p.T
        i = d.argmin(axis=1)
        better = d[rows, i] < best_d
        best_d[better], best_i[better] = d[rows, i][better], start + i[better]
    return best_i
