"""The paper's Figure 1, made real: a GAN learns a 1-D Gaussian.

    python3 demos/gaussian_1d.py --out runs/gaussian_1d [--steps 5000] [--seed 0] [--backend numpy] [--overwrite]

p_data = N(2, 0.5^2); z ~ N(0, 1); G: 1 -> 32 tanh -> 1; D: 1 -> 32 -> 32 -> 1 with LeakyReLU(0.2),
a logit out. Algorithm 1 with k = 1, m = 512, the non-saturating G loss, Adam (beta1 = 0.5)
with D's learning rate five times G's, both decayed linearly to 1/100 over the second half.

Writes to --out:
  figure1.png   p_data (black dotted), p_g (green) and D(x) (blue dashed) at four stages:
                (a) at the start; (b) D trained to convergence with G fixed -- it matches
                D* = p_data / (p_data + p_g) (grey); (c) early in training, G flowing towards
                the data; (d) at the end: p_g = p_data and D = 1/2 where p_data has mass.
  training.gif  p_g and D(x) every --steps/40 iterations, one frame each.
  curves.png    both losses and mean D(x), D(G(z)) per iteration.
  samples.npy   10,000 samples of the final G; metrics.json (the figures below, the versions, the
                git commit, every flag and the command line).

The run takes seconds, so it keeps no checkpoint: an --out that holds a run is reused only with
--overwrite (minigan/runs/folder.py).
"""
from __future__ import annotations

import math
import os
import sys
import time

# The matrices here are small (512 x 32): BLAS threads gain nothing on them, and on a busy machine threads
# that spin-wait for a free core slow every product down.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout

import minigan as mg  # noqa: E402
import minigan.functional as F  # noqa: E402
from minigan import nn, optim, runs, viz  # noqa: E402
from minigan.animate import training_gif  # noqa: E402
from minigan.data import toy  # noqa: E402
from minigan.gan import losses  # noqa: E402
from minigan.gan.algorithm import GAN  # noqa: E402

DATA_MEAN, DATA_STD = 2.0, 0.5
GOAL = "p_g's mean and std within 5% of p_data's, D(x) = 1/2 +- 0.05 on data and on mean +- 1.5 std"


def build(seed):
    gen = mg.Generator(seed)
    G = nn.Sequential(nn.Linear(1, 32, generator=gen), nn.Tanh(), nn.Linear(32, 1, generator=gen))
    D = nn.Sequential(nn.Linear(1, 32, generator=gen), nn.LeakyReLU(0.2),
                      nn.Linear(32, 32, generator=gen), nn.LeakyReLU(0.2), nn.Linear(32, 1, generator=gen))
    return gen, G, D


def D_of(D, x):
    """D(x) = sigmoid(logit) on a NumPy grid."""
    with mg.no_grad():
        return F.sigmoid(D(mg.tensor(x.astype(numpy.float32)[:, None]))).numpy().ravel()


def snapshot(G, D, x, noise, label, z_arrows):
    with mg.no_grad():
        samples = G(noise).numpy().ravel()
        gz = G(mg.tensor(z_arrows.astype(numpy.float32)[:, None])).numpy().ravel()
    return {"label": label, "p_g": viz.kde_1d(samples, x), "D": D_of(D, x), "z": z_arrows, "Gz": gz}


def converge_D_copy(G, D, steps, seed):
    """Panel (b): a copy of D trained alone against the current, fixed G (its own optimizer and
    Generator, so the run itself is untouched) -- the inner loop of Algorithm 1 run to convergence."""
    gen = mg.Generator(seed + 1000)
    D2 = build(0)[2]
    D2.load_state_dict(D.state_dict())
    opt = optim.Adam(D2.parameters(), lr=5e-3, betas=(0.5, 0.999))
    p_data, p_z = toy.Gaussian(DATA_MEAN, DATA_STD), toy.NormalNoise(1)
    for _ in range(steps):
        with mg.no_grad():
            fake = G(p_z(gen, 512))
        loss = losses.d_loss(D2(p_data(gen, 512)), D2(fake))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return D2


def parse_args(argv=None):
    ap = runs.demo_parser(__doc__, example="python3 demos/gaussian_1d.py --out runs/gaussian_1d --steps 5000",
                          steps=5000, batch_size=512, resumable=False)
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    with runs.RunFolder(args.out, "gaussian_1d", resume=args.resume, overwrite=args.overwrite,
                        resumable=False, records=("samples.npy",)):
        return run(args, argv)


def run(args, argv):
    mg.use_backend(args.backend)
    t0 = time.time()

    gen, G, D = build(args.seed)
    p_data, p_z = toy.Gaussian(DATA_MEAN, DATA_STD), toy.NormalNoise(1)
    lr_G, lr_D, steps = 1e-3, 5e-3, args.steps
    opt_G = optim.Adam(G.parameters(), lr=lr_G, betas=(0.5, 0.999))
    opt_D = optim.Adam(D.parameters(), lr=lr_D, betas=(0.5, 0.999))
    half = max(1, steps // 2)
    schedules = [optim.LinearRamp(opt_D, "lr", lr_D, lr_D / 100, start=half, end=max(half + 1, steps)),
                 optim.LinearRamp(opt_G, "lr", lr_G, lr_G / 100, start=half, end=max(half + 1, steps))]
    gan = GAN(G, D, opt_D, opt_G, p_z, p_data, generator=gen, k=1, m=args.m, g_loss="non_saturating",
              schedules=schedules)

    x = numpy.linspace(DATA_MEAN - 4.0, DATA_MEAN + 2.5, 400)
    px = p_data.pdf(x)
    figure_noise = toy.NormalNoise(1)(mg.Generator(12345), 10000)  # the same z for every panel
    z_arrows = numpy.linspace(-2.0, 2.0, 11)
    stages = [snapshot(G, D, x, figure_noise, "(a) start", z_arrows)]
    b = snapshot(G, converge_D_copy(G, D, 300, args.seed), x, figure_noise, "(b) D trained, G fixed", z_arrows)
    b["D_star"] = px / (px + b["p_g"] + 1e-300)
    stages.append(b)

    early = max(1, min(steps, steps // 25))
    frame_every = max(1, steps // 40)
    frames = [dict(stages[0], label="iteration 0")]

    def on_sample(step, G_):
        if step == early:
            stages.append(snapshot(G_, D, x, figure_noise, f"(c) iteration {step}", z_arrows))
        if step % frame_every == 0:
            frames.append(snapshot(G_, D, x, figure_noise, f"iteration {step}", z_arrows))

    gan.train(steps, on_sample=on_sample, sample_every=math.gcd(early, frame_every), progress=not args.no_progress,
              desc="gaussian_1d")
    stages.append(snapshot(G, D, x, figure_noise, f"(d) iteration {steps}", z_arrows))

    with mg.no_grad():
        samples = G(p_z(gen, 10000)).numpy().ravel()
        d_on_data = F.sigmoid(D(p_data(gen, 10000))).numpy().ravel()
    central = numpy.linspace(DATA_MEAN - 1.5 * DATA_STD, DATA_MEAN + 1.5 * DATA_STD, 201)
    two_sigma = numpy.linspace(DATA_MEAN - 2 * DATA_STD, DATA_MEAN + 2 * DATA_STD, 201)
    metrics = {
        "data_mean": DATA_MEAN, "data_std": DATA_STD,
        "g_mean": float(samples.mean()), "g_std": float(samples.std()),
        "d_mean_on_data": float(d_on_data.mean()),
        "d_max_dev_1p5_sigma": float(numpy.abs(D_of(D, central) - 0.5).max()),
        "d_max_dev_2_sigma": float(numpy.abs(D_of(D, two_sigma) - 0.5).max()),
        "final": {k: gan.history[k][-1] for k in ("d_loss", "g_loss", "d_real", "d_fake")} if steps else {},
        "steps": steps, "seed": args.seed, "backend": args.backend,
    }
    metrics["g_mean_rel_error"] = abs(metrics["g_mean"] - DATA_MEAN) / DATA_MEAN
    metrics["g_std_rel_error"] = abs(metrics["g_std"] - DATA_STD) / DATA_STD
    metrics["accepted"] = bool(metrics["g_mean_rel_error"] <= 0.05 and metrics["g_std_rel_error"] <= 0.05
                               and abs(metrics["d_mean_on_data"] - 0.5) <= 0.05
                               and metrics["d_max_dev_1p5_sigma"] <= 0.05)

    numpy.save(os.path.join(args.out, "samples.npy"), samples)
    title = f"p_data = N({DATA_MEAN}, {DATA_STD}^2): p_g (green) and D(x) (blue) during training"
    files = [viz.save(viz.densities_1d(x, px, stages, title=title), os.path.join(args.out, "figure1.png"))]
    if steps:
        files.append(viz.save(viz.training_curves(gan.history, title="gaussian_1d"),
                              os.path.join(args.out, "curves.png")))
    files.append(training_gif(os.path.join(args.out, "training.gif"), frames, lambda ax, f: draw_frame(ax, x, px, f)))
    metrics["seconds"] = round(time.time() - t0, 2)
    metrics["files"] = [os.path.basename(f) for f in files] + ["samples.npy", "metrics.json"]
    metrics["goal"] = GOAL
    metrics.update(runs.provenance(args, argv))
    runs.write_json(os.path.join(args.out, "metrics.json"), metrics)
    runs.closing_summary("gaussian_1d", args.out, metrics["files"],
                         {"p_g mean, std": f"{metrics['g_mean']:.3f}, {metrics['g_std']:.3f} "
                                           f"(p_data {DATA_MEAN}, {DATA_STD})",
                          "mean D(x) on data": f"{metrics['d_mean_on_data']:.3f}",
                          "max |D - 1/2| on mean +- 1.5 std": f"{metrics['d_max_dev_1p5_sigma']:.3f}",
                          "accepted": metrics["accepted"], "seconds": metrics["seconds"]}, GOAL)
    return metrics


def draw_frame(ax, x, px, frame):
    """One GIF frame: p_data (black dotted), p_g (green) and D(x) (blue dashed)."""
    ax.plot(x, px, "k:", label="p_data")
    ax.plot(x, frame["p_g"], "g-", label="p_g")
    ax.plot(x, frame["D"], "b--", label="D(x)")
    ax.set_ylim(0.0, max(1.05, 1.1 * float(px.max())))
    ax.set_title(f"gaussian_1d, {frame['label']}", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)


if __name__ == "__main__":
    runs.run_main(main)
