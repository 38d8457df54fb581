"""Train and score the paper's MNIST model (demos/mnist_mlp.py) on several seeds, and tabulate them.

    python3 demos/mnist_mlp_seeds.py --out runs/seeds --seeds 10-14            # five runs, two at a time
    python3 demos/mnist_mlp_seeds.py --out runs/seeds --seeds 10-14 --collect-only
    python3 demos/mnist_mlp_seeds.py --out runs/seeds --seeds 10,11 -- --steps 2000   # flags for each run

Each seed N trains in DIR/seedN (demos/mnist_mlp.py --out DIR/seedN --seed N plus the flags after
``--``); --jobs runs that many at once, each on cores // jobs BLAS threads. A seed whose
metrics.json exists is not run again, and one with a checkpoint but no metrics.json is resumed,
so the command can be repeated after an interruption.

Then DIR/table.json and DIR/table.md hold, per seed, the reported G's Parzen log-likelihood
(± standard error over the test images), G's last iterate's, whether and when D won the game,
and the SHA-256 of the samples each figure was computed from; and over the seeds, the mean and
the standard deviation (n - 1 in the denominator) of both. A seed is "lost" when D still tells
data from samples at the end (mean D(x) > 0.99 and mean D(G(z)) < 0.01 over the last 500
iterations); it counts in the mean like any other.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time

import numpy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout

from minigan import runs

DEMO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mnist_mlp.py")
LOST = 0.01  # the margin of demos/mnist_mlp_runs.game_lost_to_D


def seed_list(text):
    """'10-14' -> [10, ..., 14]; '3,5,9' -> [3, 5, 9]; for --seeds."""
    seeds = []
    try:
        for part in text.split(","):
            low, _, high = part.partition("-")
            seeds += list(range(int(low), int(high or low) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seeds such as 10-14 or 3,5,9, got {text!r}") from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"expected distinct seeds >= 0, got {text!r}")
    return seeds


def parse_args(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="folder of the runs (DIR/seedN) and the table")
    ap.add_argument("--seeds", type=seed_list, required=True, help="e.g. 10-14 or 3,5,9")
    ap.add_argument("--jobs", type=runs.positive(int), default=2, help="runs at once")
    ap.add_argument("--collect-only", action="store_true", help="tabulate the finished runs, train nothing")
    args = ap.parse_args(argv[:cut])
    args.demo_flags = argv[cut + 1:]
    for flag in ("--out", "--seed", "--resume", "--overwrite"):
        if flag in args.demo_flags:
            raise runs.RunError(f"mnist_mlp_seeds: {flag} is set per seed by the runner; remove it after '--'")
    return args


def command(args, seed):
    folder = os.path.join(args.out, f"seed{seed}")
    cmd = [sys.executable, DEMO, "--out", folder, "--seed", str(seed), "--no-progress", *args.demo_flags]
    if os.path.exists(os.path.join(folder, "checkpoint.npz")):
        cmd.append("--resume")
    return cmd


def train_all(args):
    """Run every seed without metrics.json, --jobs at a time; stop at the first failure."""
    todo = [s for s in args.seeds if not os.path.exists(os.path.join(args.out, f"seed{s}", "metrics.json"))]
    threads = str(max(1, (os.cpu_count() or 1) // args.jobs))
    env = {**os.environ, "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    os.makedirs(args.out, exist_ok=True)
    running = {}
    while todo or running:
        while todo and len(running) < args.jobs:
            seed = todo.pop(0)
            log = open(os.path.join(args.out, f"seed{seed}.log"), "a")
            print(f"seed {seed}: {' '.join(command(args, seed))} (log: seed{seed}.log)", flush=True)
            running[seed] = (subprocess.Popen(command(args, seed), stdout=log, stderr=subprocess.STDOUT, env=env), log)
        time.sleep(1.0)
        for seed, (proc, log) in list(running.items()):
            if proc.poll() is not None:
                log.close()
                del running[seed]
                if proc.returncode != 0:
                    for other, _ in running.values():
                        other.terminate()
                    raise runs.RunError(f"mnist_mlp_seeds: seed {seed} failed (exit {proc.returncode}); see "
                                        f"{os.path.join(args.out, f'seed{seed}.log')}")
                print(f"seed {seed}: done", flush=True)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def seed_row(folder):
    """One seed's figures from its metrics.json."""
    with open(os.path.join(folder, "metrics.json")) as f:
        m = json.load(f)
    last = m.get("last_iterate", m)  # without a reported average the run's own figures are the last iterate's
    tail = m.get("last_500_mean", {})
    lost = tail.get("d_real", 0.0) > 1 - LOST and tail.get("d_fake", 1.0) < LOST
    return {"seed": m["seed"], "steps": m["steps"], "reported_G": m["reported_G"],
            "parzen_ll": m["parzen_ll"], "parzen_se": m["parzen_se"], "sigma": m["sigma"],
            "last_iterate_ll": last["parzen_ll"], "last_iterate_se": last["parzen_se"],
            "last_iterate_sigma": last["sigma"], "lost": bool(lost), "game_lost_to_D_at": m.get("game_lost_to_D_at"),
            "last_500_mean": tail, "train_seconds_per_iter": m["train_seconds_per_iter"],
            "samples_sha256": sha256(os.path.join(folder, "samples.npy")),
            "last_iterate_samples_sha256": sha256(os.path.join(folder, last.get("samples", "samples.npy")))}


def spread(values):
    v = numpy.asarray(values, dtype=numpy.float64)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else None,
            "min": float(v.min()), "max": float(v.max()), "n": len(v)}


def _std(summary):
    return "n/a" if summary["std"] is None else f"{summary['std']:.1f}"


def collect(args):
    rows = [seed_row(os.path.join(args.out, f"seed{s}")) for s in args.seeds]
    table = {"seeds": args.seeds, "demo_flags": args.demo_flags, "rows": rows,
             "reported_G": spread([r["parzen_ll"] for r in rows]),
             "last_iterate": spread([r["last_iterate_ll"] for r in rows]),
             "lost": sum(r["lost"] for r in rows),
             "provenance": runs.provenance(args)}
    runs.write_json(os.path.join(args.out, "table.json"), table)
    lines = ["| seed | reported G (nats) | G's last iterate (nats) | lost to D |", "| --- | --- | --- | --- |"]
    lines += [f"| {r['seed']} | {r['parzen_ll']:.1f} ± {r['parzen_se']:.1f} | {r['last_iterate_ll']:.1f} ± "
              f"{r['last_iterate_se']:.1f} | {'yes' if r['lost'] else 'no'} |" for r in rows]
    rep, last = table["reported_G"], table["last_iterate"]
    lines.append(f"| mean ± std over {len(rows)} seeds | {rep['mean']:.1f} ± {_std(rep)} | "
                 f"{last['mean']:.1f} ± {_std(last)} | {table['lost']} of {len(rows)} |")
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return table


def main(argv=None):
    args = parse_args(argv)
    if not args.collect_only:
        train_all(args)
    return collect(args)


if __name__ == "__main__":
    runs.run_main(main)
