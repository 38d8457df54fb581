"""Train and score the DCGAN (demos/mnist_dcgan.py, or its PyTorch reference) on several seeds, and tabulate them.

    python3 demos/mnist_dcgan_seeds.py --out runs/dcgan_seeds --seeds 0-2 --jobs 1 -- --minutes 60 --steps 30000
    python3 demos/mnist_dcgan_seeds.py --out runs/dcgan_torch --seeds 0-2 --jobs 1 --torch --steps-from runs/dcgan_seeds
    python3 demos/mnist_dcgan_seeds.py --out runs/dcgan_seeds --seeds 0-2 --collect-only

Each seed N trains in DIR/seedN: ``demos/mnist_dcgan.py --out DIR/seedN --seed N`` plus the flags
after ``--`` (the recipe's options among them), or with --torch demos/mnist_dcgan_torch.py, the
same networks and recipe in PyTorch, scored by the same classifier; --steps-from DIR gives each
seed N ``--steps`` = the iterations DIR/seedN trained (a run stopped by --minutes, say), so the two
engines are compared iteration for iteration. --jobs runs that many at once; a finished seed is
not run again and an interrupted one is resumed (minigan/runs/seeds.py).

Then DIR/table.json and DIR/table.md hold, per seed, the reported G's Inception-style score and
Fréchet distance to the test set (and, conditional, the classifier's accuracy on G(z | y)), which
G was reported (chosen on validation images), G's last iterate's IS and FD, the iterations
trained, and the SHA-256 of the seed's metrics.json and of its scored samples (checked against
its samples.npy); and over the seeds, the mean and the sample standard deviation (n - 1).
"""
from __future__ import annotations

import json
import os
import sys

import numpy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout

from minigan import runs
from minigan.runs.seeds import (file_sha256, mean_std, parse_seeds_args, refuse_failed, seed_folder, seeds_parser,
                                spread, train_seeds, write_table)
from demos.mnist_dcgan_recipe import LAST, samples_sha256

HERE = os.path.dirname(os.path.abspath(__file__))
DEMOS = {False: os.path.join(HERE, "mnist_dcgan.py"), True: os.path.join(HERE, "mnist_dcgan_torch.py")}
FIGURES = ("inception_score", "frechet_distance", "label_accuracy")


def parse_args(argv=None):
    ap = seeds_parser(__doc__)
    ap.add_argument("--torch", action="store_true", help="run the PyTorch reference (demos/mnist_dcgan_torch.py)")
    ap.add_argument("--steps-from", default=None, metavar="DIR",
                    help="train each seed N for as many iterations as DIR/seedN/metrics.json records")
    return parse_seeds_args(ap, "mnist_dcgan_seeds", argv)


def steps_of(folder):
    """extra(seed) for train_seeds: ['--steps', N] with N the iterations of folder/seedN's finished run."""

    def extra(seed):
        path = os.path.join(seed_folder(folder, seed), "metrics.json")
        if not os.path.exists(path):
            raise runs.RunError(f"mnist_dcgan_seeds: --steps-from {folder}: {path} does not exist (run that seed "
                                "there first)")
        with open(path) as f:
            return ["--steps", str(json.load(f)["steps"])]

    return extra


def seed_row(folder):
    """One seed's figures from its metrics.json; refuses a run that was not scored."""
    path = os.path.join(folder, "metrics.json")
    with open(path) as f:
        m = json.load(f)
    scores = m.get("scores")
    if not scores:
        raise runs.RunError(f"mnist_dcgan_seeds: {path} holds no scores (the run found no classifier; train one "
                            "with demos/train_classifier.py and rerun that seed with --resume)")
    reported, last = scores["samples"], scores["candidates"][LAST]
    row = {"seed": m["seed"], "steps": m["steps"], "train_seconds": m["train_seconds"],
           "reported_G": scores["reported_G"], **{k: reported[k] for k in FIGURES if k in reported},
           "inception_score_std": reported["inception_score_std"],
           "frechet_distance_valid": reported["frechet_distance_valid"],
           "last_iterate": {k: last[k] for k in FIGURES if k in last},
           "metrics_sha256": file_sha256(path), "samples_sha256": reported["samples_sha256"]}
    samples = os.path.join(folder, "samples.npy")
    row["samples_npy_matches"] = (os.path.exists(samples)
                                  and samples_sha256(numpy.load(samples)) == reported["samples_sha256"])
    return row


def fmt(value, digits):
    return "" if value is None else f"{value:.{digits}f}"


def percent(s):
    """A spread of fractions as 'mean ± std' in percent."""
    return mean_std({"mean": 100 * s["mean"], "std": None if s["std"] is None else 100 * s["std"]}, 2) + "%"


def collect(args):
    rows = [seed_row(seed_folder(args.out, s)) for s in args.seeds]
    names = [k for k in FIGURES if all(k in r for r in rows)]
    table = {"seeds": args.seeds, "demo": os.path.relpath(DEMOS[args.torch], os.path.join(HERE, "..")),
             "demo_flags": args.demo_flags, "rows": rows,
             "reported_G": {k: spread([r[k] for r in rows]) for k in names},
             "last_iterate": {k: spread([r["last_iterate"][k] for r in rows]) for k in names},
             "provenance": runs.provenance(args)}
    runs.write_json(os.path.join(args.out, "table.json"), table)
    acc = "label_accuracy" in names
    lines = ["| seed | iterations | reported G | IS | FD" + (" | label accuracy" if acc else "")
             + " | last iterate: IS, FD | samples SHA-256 |", "| --- " * (7 + acc) + "|"]
    for r in rows:
        last = r["last_iterate"]
        lines.append(f"| {r['seed']} | {r['steps']} | {r['reported_G']} | {fmt(r['inception_score'], 2)} ± "
                     f"{fmt(r['inception_score_std'], 2)} | {fmt(r['frechet_distance'], 1)}"
                     + (f" | {100 * r['label_accuracy']:.2f}%" if acc else "")
                     + f" | {fmt(last['inception_score'], 2)}, {fmt(last['frechet_distance'], 1)} | "
                     f"{r['samples_sha256'][:12]}{'' if r['samples_npy_matches'] else ' (samples.npy differs)'} |")
    rep, last = table["reported_G"], table["last_iterate"]
    lines.append(f"| mean ± std over {len(rows)} seeds | | | {mean_std(rep['inception_score'], 2)} | "
                 f"{mean_std(rep['frechet_distance'])}"
                 + (f" | {percent(rep['label_accuracy'])}" if acc else "")
                 + f" | {mean_std(last['inception_score'], 2)}, {mean_std(last['frechet_distance'])} | |")
    write_table(args.out, lines)
    return table


def main(argv=None):
    args = parse_args(argv)
    if not args.collect_only:
        extra = steps_of(args.steps_from) if args.steps_from else None
        refuse_failed("mnist_dcgan_seeds", args, train_seeds(args, DEMOS[args.torch], "mnist_dcgan_seeds", extra))
    return collect(args)


if __name__ == "__main__":
    runs.run_main(main)
