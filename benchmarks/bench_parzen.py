"""Parzen-window log-likelihood at the paper's size: 10,000 samples x 10,000 test images of 784 pixels.

Target: under 2 minutes on 2 cores for parzen_log_likelihood (Table 1 protocol's last step).

What it prints:
(1) the headline: one call of parzen_log_likelihood on 10k x 10k x 784 with float64 and with
    float32 matrix products, wall time of each, and the largest difference between the two
    per-example log-likelihoods (what float32 would cost in accuracy);
(2) select_parzen_sigma over the paper's 10 sigmas on the same size (one GEMM, ten log-sum-exps);
(3) the floor: the 10k x 784 x 10k GEMM alone, in each dtype;
(4) minigan against PyTorch CPU on 2,000 x 2,000 (same formula in torch, float64), after checking
    that both compute the same log-likelihoods, with the interleaved paired method of harness.py.

Data: MNIST (pixels / 255 in [0, 1]) when it is installed: "samples" are training images 0-9,999
(a G that memorised its data), the data are the test images; uniform noise of the same shape
otherwise (timing does not depend on the values).

Run: python3 benchmarks/bench_parzen.py [--pairs N] [--n N]
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from functools import partial

import numpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import harness

from minigan.data import DataNotFoundError, load_mnist
from minigan.gan import metrics

SIGMA = 0.2  # near the values the paper's cross-validation picks on [0, 1] MNIST


def load(n):
    try:
        mnist = load_mnist()
        g = mnist["train"].images[:n].reshape(n, -1) / 255.0
        x = mnist["test"].images[:n].reshape(n, -1) / 255.0
        return g, x, "MNIST train[:n] as samples, test[:n] as data, pixels/255"
    except DataNotFoundError:
        rng = numpy.random.default_rng(0)
        return rng.random((n, 784)), rng.random((n, 784)), "uniform noise (MNIST not installed)"


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def torch_parzen(torch, g, x, sigma):
    """The same estimator in PyTorch: log p(x) = logsumexp(-D / 2s^2) - log n - d/2 log(2 pi s^2)."""
    d2 = (x * x).sum(1, keepdim=True) - 2.0 * x @ g.T + (g * g).sum(1)[None, :]
    d = g.shape[1]
    return torch.logsumexp(-d2.clamp_min(0) / (2 * sigma**2), dim=1) - math.log(g.shape[0]) \
        - 0.5 * d * math.log(2 * math.pi * sigma**2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000, help="samples = data rows (default 10000)")
    ap.add_argument("--pairs", type=int, default=8)
    args = ap.parse_args()
    g, x, what = load(args.n)
    print(f"data: {what}; {g.shape[0]} samples x {x.shape[0]} rows x {g.shape[1]} dims; "
          f"BLAS threads {harness.blas_threads()}")

    # (1) the headline
    t64, lls64 = timed(lambda: metrics.parzen_log_likelihoods(g, x, SIGMA))
    t32, lls32 = timed(lambda: metrics.parzen_log_likelihoods(g, x, SIGMA, gemm_dtype=numpy.float32))
    mean, se = float(lls64.mean()), float(lls64.std() / math.sqrt(lls64.size))
    print(f"(1) parzen_log_likelihood sigma={SIGMA}: {mean:.2f} +- {se:.2f} nats")
    print(f"    float64 GEMM: {t64:.2f} s   float32 GEMM: {t32:.2f} s   (target < 120 s)")
    print(f"    max |log p float32 - log p float64| over rows: {numpy.abs(lls32 - lls64).max():.2e} nats")
    for s in (0.1, 0.2):
        diff = numpy.abs(metrics.parzen_log_likelihoods(g[:2000], x[:2000], s, gemm_dtype=numpy.float32)
                         - metrics.parzen_log_likelihoods(g[:2000], x[:2000], s)).max()
        print(f"    same on 2000 x 2000 at sigma={s}: {diff:.2e} nats")

    # (2) sigma selection
    ts, (best, table) = timed(lambda: metrics.select_parzen_sigma(g, x))
    print(f"(2) select_parzen_sigma over {len(table)} sigmas: {ts:.2f} s, best sigma {best:.4f}")

    # (3) the floor: the GEMM alone
    for dt in (numpy.float64, numpy.float32):
        a, b = x.astype(dt), numpy.ascontiguousarray(g.T.astype(dt))
        tg, _ = timed(partial(numpy.matmul, a, b))
        gflops = 2 * a.shape[0] * a.shape[1] * b.shape[1] / tg / 1e9
        shape = f"{a.shape[0]}x{a.shape[1]}x{b.shape[1]}"
        print(f"(3) GEMM {shape} {numpy.dtype(dt).name}: {tg:.2f} s ({gflops:.0f} GFLOP/s)")

    # (4) against PyTorch
    torch = harness.torch_or_none()
    gs, xs = g[:2000], x[:2000]
    fn_a = partial(metrics.parzen_log_likelihoods, gs, xs, SIGMA)
    fn_b = None
    if torch is not None:
        tg_, tx_ = torch.from_numpy(gs), torch.from_numpy(xs)
        fn_b = partial(torch_parzen, torch, tg_, tx_, SIGMA)
        err = numpy.abs(fn_a() - fn_b().numpy()).max()
        assert err < 1e-8, f"minigan and torch disagree by {err}"
        print(f"(4) minigan vs torch on 2000 x 2000 float64 agree to {err:.1e}")
    r = harness.compare(fn_a, fn_b, pairs=args.pairs)
    print(harness.TABLE_HEADER)
    print(harness.format_row("parzen 2000x2000x784 float64", r, "<= 1.0x"))


if __name__ == "__main__":
    main()
