"""A vanilla GAN on the two 2-D mode-collapse benchmarks: the 8-Gaussian ring and the 25-Gaussian grid.

    python3 demos/mixture_2d.py --out runs/mixture_2d [--steps 6000] [--seed 0] [--backend numpy]

p_data: eight Gaussians of std 0.01 on the unit circle; 25 Gaussians of std 0.05 on
{-4, -2, 0, 2, 4}^2 (minigan/data/toy.py). z ~ N(0, I_2); G: 2 -> 128 -> 128 -> 2 (ReLU);
D: 2 -> 128 -> 128 -> 1 (LeakyReLU 0.2, logit out). Algorithm 1 with k = 1, m = 256, the
non-saturating G loss, Adam (lr 1e-3, beta1 = 0.5), decayed linearly to 1e-5 over the second half.
No trick against mode collapse: this is the baseline the tricks are measured against, and it is
reported as it comes out.

Writes to --out: ring.png, grid.png (2,500 samples of G over the modes), curves_ring.png,
curves_grid.png, samples_ring.npy and samples_grid.npy (the 2,500 evaluated samples), and
metrics.json = {"ring": {"modes", "high_quality", "reverse_kl", ...}, "grid": {...}} from
minigan.gan.metrics.mode_coverage: a sample is high quality within 3 std of its nearest mode;
a mode is captured when some high-quality sample is nearest to it; reverse_kl is KL(mode
histogram || uniform).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

# The matrices here are small (at most 512 x 128): BLAS threads gain nothing on them, and on a busy machine
# their spin-waiting made this demo ten times slower (300 iterations: 174 s with threads, 28 s without).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout

import minigan as mg  # noqa: E402
from minigan import nn, optim, viz  # noqa: E402
from minigan.data import toy  # noqa: E402
from minigan.gan.algorithm import GAN  # noqa: E402
from minigan.gan.metrics import mode_coverage  # noqa: E402

N_EVAL = 2500
DATASETS = {"ring": toy.ring, "grid": toy.grid}


def build(gen, hidden=128):
    G = nn.Sequential(nn.Linear(2, hidden, generator=gen), nn.ReLU(),
                      nn.Linear(hidden, hidden, generator=gen), nn.ReLU(),
                      nn.Linear(hidden, 2, generator=gen))
    D = nn.Sequential(nn.Linear(2, hidden, generator=gen), nn.LeakyReLU(0.2),
                      nn.Linear(hidden, hidden, generator=gen), nn.LeakyReLU(0.2),
                      nn.Linear(hidden, 1, generator=gen))
    return G, D


def run_one(name, args):
    p_data = DATASETS[name]()
    gen = mg.Generator(args.seed)
    G, D = build(gen)
    opt_G = optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_D = optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    half = max(1, args.steps // 2)  # learning rates decay linearly to 1/100 over the second half
    schedules = [optim.LinearRamp(opt, "lr", 1e-3, 1e-5, start=half, end=max(half + 1, args.steps))
                 for opt in (opt_D, opt_G)]
    p_z = toy.NormalNoise(2)
    gan = GAN(G, D, opt_D, opt_G, p_z, p_data, generator=gen, k=1, m=256, g_loss="non_saturating",
              schedules=schedules)
    t0 = time.time()
    gan.train(args.steps, progress=not args.no_progress, desc=f"mixture_2d/{name}")
    seconds = time.time() - t0
    with mg.no_grad():
        samples = G(p_z(gen, N_EVAL)).numpy().astype(numpy.float64)
    coverage = mode_coverage(samples, p_data.centers, p_data.std)
    result = {k: coverage[k] for k in ("modes", "high_quality", "reverse_kl")}
    if math.isnan(result["reverse_kl"]):  # no high-quality sample: the histogram is undefined; JSON has no NaN
        result["reverse_kl"] = None
    result.update(n_modes=len(p_data.centers), counts=[int(c) for c in coverage.get("counts", [])],
                  train_seconds=round(seconds, 2))
    if args.steps:
        result["final"] = {k: gan.history[k][-1] for k in ("d_loss", "g_loss", "d_real", "d_fake")}
    numpy.save(os.path.join(args.out, f"samples_{name}.npy"), samples)
    real = p_data(mg.Generator(999), N_EVAL).numpy()
    title = (f"{name}: {result['modes']}/{result['n_modes']} modes, "
             f"{viz.percent(result['high_quality'])} high quality, "
             f"iteration {args.steps}")
    files = [viz.save(viz.scatter_2d(samples, p_data.centers, title=title, real=real),
                      os.path.join(args.out, f"{name}.png"))]
    if args.steps:
        files.append(viz.save(viz.training_curves(gan.history, title=name),
                              os.path.join(args.out, f"curves_{name}.png")))
    return result, files


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="directory for figures, samples and metrics.json")
    ap.add_argument("--steps", type=int, default=6000, help="training iterations per dataset (default 6000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", choices=("numpy", "cupy"), default="numpy")
    ap.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    mg.use_backend(args.backend)
    t0 = time.time()
    metrics, files = {}, []
    for name in DATASETS:
        metrics[name], written = run_one(name, args)
        files += written
    metrics["steps"], metrics["seed"], metrics["backend"] = args.steps, args.seed, args.backend
    metrics["seconds"] = round(time.time() - t0, 2)
    metrics["files"] = [os.path.basename(f) for f in files] + [f"samples_{n}.npy" for n in DATASETS]
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    print(json.dumps({n: {k: metrics[n][k] for k in ("modes", "high_quality", "reverse_kl")} for n in DATASETS}))
    return metrics


if __name__ == "__main__":
    main()
