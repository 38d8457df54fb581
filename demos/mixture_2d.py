"""A vanilla GAN on the two 2-D mode-collapse benchmarks: the 8-Gaussian ring and the 25-Gaussian grid.

    python3 demos/mixture_2d.py --out runs/mixture_2d [--steps 6000] [--seed 0] [--backend numpy] [--overwrite]

p_data: eight Gaussians of std 0.01 on the unit circle; 25 Gaussians of std 0.05 on
{-4, -2, 0, 2, 4}^2 (minigan/data/toy.py). z ~ N(0, I_2); G: 2 -> 128 -> 128 -> 2 (ReLU);
D: 2 -> 128 -> 128 -> 1 (LeakyReLU 0.2, logit out). Algorithm 1 with k = 1, m = 256, the
non-saturating G loss, Adam (lr 1e-3, beta1 = 0.5), decayed linearly to 1e-5 over the second half.
No trick against mode collapse: this is the baseline the tricks are measured against, and it is
reported as it comes out.

Writes to --out: ring.png, grid.png (2,500 samples of G over the modes), curves_ring.png,
curves_grid.png, training_ring.gif and training_grid.gif (500 samples of G every --steps/40
iterations), samples_ring.npy and samples_grid.npy (the 2,500 evaluated samples), and
metrics.json = {"ring": {"modes", "high_quality", "reverse_kl", ...}, "grid": {...}} from
minigan.gan.metrics.mode_coverage: a sample is high quality within 3 std of its nearest mode;
a mode is captured when some high-quality sample is nearest to it; reverse_kl is KL(mode
histogram || uniform). metrics.json also records the versions, the git commit, every flag and
the command line. The run keeps no checkpoint: a used --out is reused only with --overwrite.
"""
from __future__ import annotations

import math
import os
import sys
import time

# The matrices here are small (at most 512 x 128): BLAS threads gain nothing on them, and on a busy machine
# threads that spin-wait for a free core slow every product down.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout

import minigan as mg  # noqa: E402
from minigan import nn, optim, runs, viz  # noqa: E402
from minigan.animate import training_gif  # noqa: E402
from minigan.data import toy  # noqa: E402
from minigan.gan.algorithm import GAN  # noqa: E402
from minigan.gan.metrics import mode_coverage  # noqa: E402

N_EVAL = 2500
DATASETS = {"ring": toy.ring, "grid": toy.grid}
GOAL = "no goal: the vanilla baseline, reported as it comes out (8/8 and 25/25 modes would be full coverage)"


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
    gan = GAN(G, D, opt_D, opt_G, p_z, p_data, generator=gen, k=1, m=args.m, g_loss="non_saturating",
              schedules=schedules)
    frame_z = p_z(mg.Generator(4321), 500)  # the same z in every frame, apart from the run's Generator
    frames = []

    def on_sample(step, G_):
        with mg.no_grad():
            frames.append((step, G_(frame_z).numpy()))

    on_sample(0, G)
    t0 = time.time()
    gan.train(args.steps, progress=not args.no_progress, desc=f"mixture_2d/{name}",
              on_sample=on_sample, sample_every=max(1, args.steps // 40))
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
    lim = 1.4 * float(numpy.abs(p_data.centers).max())

    def draw(ax, frame):
        ax.scatter(frame[1][:, 0], frame[1][:, 1], s=2, alpha=0.5, color="tab:green")
        ax.scatter(p_data.centers[:, 0], p_data.centers[:, 1], s=20, marker="x", color="red")
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_title(f"{name}: G's samples (green) and the modes (red), iteration {frame[0]}", fontsize=9)

    files.append(training_gif(os.path.join(args.out, f"training_{name}.gif"), frames, draw, figsize=(4.2, 4.2)))
    return result, files


def parse_args(argv=None):
    ap = runs.demo_parser(__doc__, example="python3 demos/mixture_2d.py --out runs/mixture_2d --steps 6000",
                          steps=6000, batch_size=256, resumable=False)
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    with runs.RunFolder(args.out, "mixture_2d", resume=args.resume, overwrite=args.overwrite, resumable=False,
                        records=tuple(f"samples_{n}.npy" for n in DATASETS)):
        mg.use_backend(args.backend)
        return run(args, argv)


def run(args, argv):
    t0 = time.time()
    metrics, files = {}, []
    for name in DATASETS:
        metrics[name], written = run_one(name, args)
        files += written
    metrics["steps"], metrics["seed"], metrics["backend"] = args.steps, args.seed, args.backend
    metrics["seconds"] = round(time.time() - t0, 2)
    metrics["files"] = [os.path.basename(f) for f in files] + [f"samples_{n}.npy" for n in DATASETS] + ["metrics.json"]
    metrics["goal"] = GOAL
    metrics.update(runs.provenance(args, argv))
    runs.write_json(os.path.join(args.out, "metrics.json"), metrics)
    runs.closing_summary("mixture_2d", args.out, metrics["files"],
                         {n: f"{metrics[n]['modes']}/{metrics[n]['n_modes']} modes, "
                             f"{100 * metrics[n]['high_quality']:.1f}% high quality, "
                             f"reverse KL {metrics[n]['reverse_kl']}" for n in DATASETS}, GOAL)
    return metrics


if __name__ == "__main__":
    runs.run_main(main)
