"""Train and score the paper's MNIST model (demos/mnist_mlp.py) on several seeds, and tabulate them.

    python3 demos/mnist_mlp_seeds.py --out runs/seeds --seeds 10-14            # five runs, two at a time
    python3 demos/mnist_mlp_seeds.py --out runs/seeds --seeds 10-14 --collect-only
    python3 demos/mnist_mlp_seeds.py --out runs/seeds --seeds 10,11 -- --steps 2000   # flags for each run

Each seed N trains in DIR/seedN (demos/mnist_mlp.py --out DIR/seedN --seed N plus the flags after
``--``); --jobs runs that many at once. A finished seed is not run again and an interrupted one is
resumed (minigan/runs/seeds.py runs them).

Then DIR/table.json and DIR/table.md hold, per seed, the reported G's Parzen log-likelihood
(± standard error over the test images), G's last iterate's, whether and when D won the game,
and the SHA-256 of the samples each figure was computed from; and over the seeds, the mean and
the standard deviation (n - 1 in the denominator) of both. A seed is "lost" when D still tells
data from samples at the end (mean D(x) > 0.99 and mean D(G(z)) < 0.01 over the last 500
iterations), or when its run diverged: the demo then stops and keeps its last finite checkpoint,
and the runner scores that checkpoint (``--evaluate-only``), which is what the run leaves its
user. A lost seed counts in the mean like any other; the table gives the mean over the seeds that
were not lost beside it.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout

from minigan import runs
from minigan.runs.seeds import (file_sha256, mean_std, parse_seeds_args, refuse_failed, seed_folder, seed_log,
                                seeds_parser, spread, train_seeds, write_table)
from demos.mnist_mlp_runs import game_lost_to_D

DEMO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mnist_mlp.py")


def parse_args(argv=None):
    return parse_seeds_args(seeds_parser(__doc__), "mnist_mlp_seeds", argv)


DIVERGED = re.compile(r"training diverged at iteration (\d+)")


def diverged_at(log_path):
    """The iteration at which the run logged in ``log_path`` diverged (the demo's DivergenceError), or None."""
    if not os.path.exists(log_path):
        return None
    with open(log_path, errors="replace") as f:
        found = DIVERGED.findall(f.read())
    return int(found[-1]) if found else None


def score_diverged(args, failed):
    """Score the last finite checkpoint of every failed seed that diverged; returns the seeds that failed otherwise."""
    left = {}
    for seed, status in failed.items():
        folder, log = seed_folder(args.out, seed), seed_log(args.out, seed)
        step = diverged_at(log)
        if step is None or not os.path.exists(os.path.join(folder, "checkpoint.npz")):
            left[seed] = status
            continue
        runs.write_json(os.path.join(folder, "diverged.json"), {"diverged_at": step, "log": os.path.basename(log)})
        cmd = [sys.executable, DEMO, "--out", folder, "--seed", str(seed), "--evaluate-only", *args.demo_flags]
        print(f"seed {seed}: diverged at iteration {step}; scoring its last finite checkpoint", flush=True)
        with open(log, "a") as out:
            if subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode != 0:
                left[seed] = status
    return left


def seed_row(folder):
    """One seed's figures from its metrics.json (and diverged.json when its run diverged)."""
    with open(os.path.join(folder, "metrics.json")) as f:
        m = json.load(f)
    diverged = None
    if os.path.exists(os.path.join(folder, "diverged.json")):
        with open(os.path.join(folder, "diverged.json")) as f:
            diverged = json.load(f)["diverged_at"]
    last = m.get("last_iterate", m)  # without a reported average the run's own figures are the last iterate's
    tail = m.get("last_500_mean", {})
    lost = diverged is not None or (bool(tail) and game_lost_to_D(tail))
    return {"seed": m["seed"], "steps": m["steps"], "diverged_at": diverged, "reported_G": m["reported_G"],
            "parzen_ll": m["parzen_ll"], "parzen_se": m["parzen_se"], "sigma": m["sigma"],
            "last_iterate_ll": last["parzen_ll"], "last_iterate_se": last["parzen_se"],
            "last_iterate_sigma": last["sigma"], "lost": bool(lost), "game_lost_to_D_at": m.get("game_lost_to_D_at"),
            "last_500_mean": tail, "train_seconds_per_iter": m["train_seconds_per_iter"],
            "samples_sha256": file_sha256(os.path.join(folder, "samples.npy")),
            "last_iterate_samples_sha256": file_sha256(os.path.join(folder, last.get("samples", "samples.npy")))}


def lost_note(row):
    if row["diverged_at"] is not None:
        return f"yes: diverged at iteration {row['diverged_at']}, scored at its checkpoint of iteration {row['steps']}"
    return "yes" if row["lost"] else "no"


def collect(args):
    rows = [seed_row(seed_folder(args.out, s)) for s in args.seeds]
    table = {"seeds": args.seeds, "demo_flags": args.demo_flags, "rows": rows,
             "reported_G": spread([r["parzen_ll"] for r in rows]),
             "last_iterate": spread([r["last_iterate_ll"] for r in rows]),
             "lost": sum(r["lost"] for r in rows),
             "not_lost": {"reported_G": spread([r["parzen_ll"] for r in rows if not r["lost"]] or [float("nan")]),
                          "last_iterate": spread([r["last_iterate_ll"] for r in rows if not r["lost"]]
                                                 or [float("nan")])},
             "provenance": runs.provenance(args)}
    runs.write_json(os.path.join(args.out, "table.json"), table)
    lines = ["| seed | reported G (nats) | G's last iterate (nats) | lost to D |", "| --- | --- | --- | --- |"]
    lines += [f"| {r['seed']} | {r['parzen_ll']:.1f} ± {r['parzen_se']:.1f} | {r['last_iterate_ll']:.1f} ± "
              f"{r['last_iterate_se']:.1f} | {lost_note(r)} |" for r in rows]
    lines.append(f"| mean ± std over {len(rows)} seeds | {mean_std(table['reported_G'])} | "
                 f"{mean_std(table['last_iterate'])} | {table['lost']} of {len(rows)} |")
    if table["lost"]:
        kept = table["not_lost"]
        lines.append(f"| mean ± std over the {len(rows) - table['lost']} not lost | {mean_std(kept['reported_G'])} | "
                     f"{mean_std(kept['last_iterate'])} | |")
    write_table(args.out, lines)
    return table


def main(argv=None):
    args = parse_args(argv)
    if not args.collect_only:
        refuse_failed("mnist_mlp_seeds", args, score_diverged(args, train_seeds(args, DEMO, "mnist_mlp_seeds")))
    return collect(args)


if __name__ == "__main__":
    runs.run_main(main)
