"""Watch the first iterations of the paper's MNIST game (demos/mnist_mlp.py) closely, one seed at a time.

    python3 demos/mnist_mlp_diagnose.py --out runs/diagnose --seed 0 --steps 5000
    python3 demos/mnist_mlp_diagnose.py --out runs/diagnose --seed 1 --steps 5000
    python3 demos/mnist_mlp_diagnose.py --out runs/diagnose --plot      # both seeds side by side

Trains exactly the run demos/mnist_mlp.py trains for that seed and those flags (its ``build``),
and every --every iterations records, into DIR/seed<N>.json:

* D(x), D(G(z)) and both losses, averaged over the last --every iterations;
* the norms of the gradients each player stepped along (grad_D of J_D, grad_G of J_G) and of
  each player's parameters;
* a probe with dropout off (D.eval(), G.eval()) on 500 fixed validation images and 500 fixed z:
  D's mean logit on each, the fraction of G(z) that D rejects with D < 0.01, the norm per
  sample of dJ_G/dG(z) (what G learns from), and the spread of G's images across z (a
  collapse indicator: the mean over pixels of the standard deviation over samples);
* the learning rate and momentum of the step.

The probe draws its z from a Generator of its own and D.eval() draws no dropout masks, so
watching does not change the run: seed N here is seed N of the demo.
"""
from __future__ import annotations

import argparse
import glob
import json
import math
import os
import sys

import numpy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout

import minigan as mg
from minigan import backend, runs, viz
from minigan.data import load_mnist
from minigan.gan import DivergenceError, losses
from minigan.models import paper_mlp
from demos.mnist_mlp import build, to_unit
from demos.mnist_mlp_flags import parse_args as parse_demo_args

PROBE = 500  # images and z of the probe
WATCHED = ("d_real", "d_fake", "d_loss", "g_loss")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="folder of seed<N>.json and the figure")
    ap.add_argument("--seed", type=runs.at_least(0), default=0)
    ap.add_argument("--steps", type=runs.positive(int), default=5000)
    ap.add_argument("--every", type=runs.positive(int), default=50, help="record every N iterations")
    ap.add_argument("--plot", action="store_true", help="draw DIR/seed*.json side by side and stop")
    ap.add_argument("--demo-flag", action="append", default=[], metavar="FLAG",
                    help="a flag passed on to the demo's parser, e.g. --demo-flag=--d-loss-scale=0.5")
    return ap.parse_args(argv)


def norm(tensors) -> float:
    """sqrt(sum of squares) over a list of arrays (None entries skipped)."""
    return math.sqrt(sum(float((backend.as_numpy(t) ** 2).sum()) for t in tensors if t is not None))


def probe(gan, real, z):
    """D's view with dropout off: its logits on data and on G(z), and dJ_G/dG(z) per sample."""
    G, D = gan.G, gan.D
    G.eval(), D.eval()
    with mg.no_grad():
        real_logit = backend.as_numpy(D(real).data)
        fake = G(z).data
    x_fake = mg.Tensor(fake, requires_grad=True)  # a leaf: the images G would move
    fake_logit = D(x_fake)
    losses.non_saturating_g_loss(fake_logit).backward()
    signal = numpy.sqrt((backend.as_numpy(x_fake.grad.data) ** 2).sum(axis=1)) * len(fake)  # per sample, not / m
    for p in D.parameters():
        p.grad = None  # the probe's gradient is not D's step
    G.train(), D.train()
    fake_np, fake_logit = backend.as_numpy(fake), backend.as_numpy(fake_logit.data)
    return {"logit_real": float(real_logit.mean()), "logit_fake": float(fake_logit.mean()),
            "rejected": float((fake_logit < math.log(0.01 / 0.99)).mean()),
            "g_signal": float(numpy.median(signal)),
            "spread": float(fake_np.std(axis=0).mean()), "ink": float(fake_np.mean())}


def demo_args(args):
    """The demo's own flags for this seed (averages of G play no part in training)."""
    return parse_demo_args(["--out", args.out, "--seed", str(args.seed), "--no-average", *args.demo_flag])


def watch_run(args):
    """Train the demo's run for args.seed, recording a row every args.every iterations.

    Returns (rows, gan, diverged_at): the iteration at which the run diverged, or None."""
    demo = demo_args(args)
    mnist = load_mnist(demo.data_dir)
    train_x = to_unit(mnist["train"].images[:demo.train_size])
    gan, _ = build(demo, train_x)
    real = mg.tensor(to_unit(mnist["valid"].images[-PROBE:]))
    z = paper_mlp.noise_prior(kind=demo.noise)(mg.Generator(10_000 + args.seed), PROBE)
    window = {k: [] for k in WATCHED}
    rows = []

    def watch(step, metrics):
        for k in WATCHED:
            window[k].append(metrics[k])
        if step % args.every:
            return
        row = {"step": step, **{k: float(numpy.mean(v)) for k, v in window.items()},
               "grad_D": norm([p.grad.data if p.grad is not None else None for p in gan.opt_D.params]),
               "grad_G": norm([p.grad.data if p.grad is not None else None for p in gan.opt_G.params]),
               "norm_D": norm([p.data for p in gan.opt_D.params]), "norm_G": norm([p.data for p in gan.opt_G.params]),
               "lr": gan.opt_D.lr, "momentum": gan.opt_D.momentum, **probe(gan, real, z)}
        rows.append(row)
        for v in window.values():
            v.clear()
        if step % (10 * args.every) == 0:
            print(f"seed {args.seed} iter {step}: D(x) {row['d_real']:.3f} D(G(z)) {row['d_fake']:.3f} "
                  f"grad_D {row['grad_D']:.3g} grad_G {row['grad_G']:.3g} signal {row['g_signal']:.3g} "
                  f"rejected {row['rejected']:.2f} spread {row['spread']:.3f}", flush=True)

    try:
        gan.train(args.steps, on_step=watch, progress=False)
    except DivergenceError as err:  # the rows up to the divergence are the diagnosis
        print(f"seed {args.seed}: {err}", flush=True)
        return rows, gan, err.step
    return rows, gan, None


def diagnose(args):
    rows, _, diverged_at = watch_run(args)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"seed{args.seed}.json")
    runs.write_json(path, {"seed": args.seed, "flags": args.demo_flag, "every": args.every, "rows": rows,
                           "diverged_at": diverged_at,
                           "provenance": runs.provenance(args, sys.argv[1:])})
    return path


def plot(out):
    series = {}
    for path in sorted(glob.glob(os.path.join(out, "seed*.json"))):  # a "label" field names a run's variant
        with open(path) as f:
            data = json.load(f)
        name = f"seed {data['seed']}" + (f" ({data['label']})" if data.get("label") else "")
        series[name] = data["rows"]
    if not series:
        raise runs.RunError(f"mnist_mlp_diagnose: no seed*.json in {out}; run with --seed first")
    panels = [("D(x) and D(G(z))", ("d_real", "d_fake"), False),
              ("D's mean logit (probe, dropout off)", ("logit_real", "logit_fake"), False),
              ("gradient norms of the steps", ("grad_D", "grad_G"), True),
              ("|dJ_G/dG(z)| per sample (probe)", ("g_signal",), True),
              ("fraction of G(z) with D < 0.01", ("rejected",), False),
              ("spread of G's images across z", ("spread",), False),
              ("mean pixel of G(z) (the data's: 0.13)", ("ink",), False),
              ("parameter norms (D solid, G dashed)", ("norm_D", "norm_G"), True)]
    fig = viz.new_figure((16.0, 7.5))
    for i, (title, keys, log) in enumerate(panels):
        ax = fig.add_subplot(2, 4, i + 1)
        for (name, rows), color in zip(series.items(), ("C0", "C2", "C3", "C1", "C4")):
            steps = [r["step"] for r in rows]
            for key, style in zip(keys, ("-", "--")):
                ax.plot(steps, [r[key] for r in rows], style, color=color, lw=1,
                        label=f"{name}: {key}" if len(keys) > 1 else name)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("iteration", fontsize=8)
        if log:
            ax.set_yscale("log")
        elif keys[0] == "logit_real":  # a diverging run's last logits would squash every other curve
            ax.set_ylim(-20, 45)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return viz.save(fig, os.path.join(out, "diagnosis.png"))


def main(argv=None):
    args = parse_args(argv)
    path = plot(args.out) if args.plot else diagnose(args)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    runs.run_main(main)
