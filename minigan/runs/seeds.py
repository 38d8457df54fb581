"""Several seeds of one demo with one command: the runs, then one table over them.

A figure from one seed says little about a recipe: another seed can lose the game. So a seeds
runner trains the same command line once per seed, each in DIR/seedN, and tabulates every seed
beside the mean and the spread. What is shared by every such runner lives here:

    args = parse_seeds_args(doc, "mnist_dcgan_seeds", argv)   # --out --seeds --jobs --collect-only -- FLAGS
    train_seeds(args, "demos/mnist_dcgan.py", "mnist_dcgan_seeds")
    spread([9.1, 9.4, 9.2])                                   # mean, sample std, min, max, n

Each seed N runs ``DEMO --out DIR/seedN --seed N --no-progress FLAGS`` (the flags after ``--``);
--jobs runs that many at once, each on cores // jobs BLAS threads. A seed whose metrics.json
exists is not run again, and one with a checkpoint but no metrics.json is resumed, so the command
can be repeated after an interruption. What the table holds is each runner's own (seed_row).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time

import numpy

from .cli import RunError, positive

PER_SEED = ("--out", "--seed", "--resume", "--overwrite")  # the runner sets these itself


def seed_list(text) -> list[int]:
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


def seeds_parser(doc) -> argparse.ArgumentParser:
    """The runner's own flags: --out, --seeds, --jobs, --collect-only (add more before parse_seeds_args)."""
    ap = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    ap.add_argument("--out", required=True, help="folder of the runs (DIR/seedN) and the table")
    ap.add_argument("--seeds", type=seed_list, required=True, help="e.g. 10-14 or 3,5,9")
    ap.add_argument("--jobs", type=positive(int), default=2, help="runs at once")
    ap.add_argument("--collect-only", action="store_true", help="tabulate the finished runs, train nothing")
    return ap


def parse_seeds_args(ap, name, argv=None) -> argparse.Namespace:
    """``ap``'s flags before ``--``; the demo's after it, in ``args.demo_flags`` (refused if they set PER_SEED)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    args = ap.parse_args(argv[:cut])
    args.demo_flags = argv[cut + 1:]
    for flag in PER_SEED:
        if any(word == flag or word.startswith(flag + "=") for word in args.demo_flags):
            raise RunError(f"{name}: {flag} is set per seed by the runner; remove it after '--'")
    return args


def seed_folder(out, seed) -> str:
    return os.path.join(out, f"seed{seed}")


def seed_log(out, seed) -> str:
    """DIR/seedN.log, where a seed's run writes its output (beside its folder, so a new run keeps it)."""
    return os.path.join(out, f"seed{seed}.log")


def command(demo, args, seed, extra=()) -> list[str]:
    """The command line of one seed's run: the demo's flags, then ``extra`` (this seed's own, so they win),
    with --resume when its folder holds a checkpoint."""
    folder = seed_folder(args.out, seed)
    cmd = [sys.executable, demo, "--out", folder, "--seed", str(seed), "--no-progress", *args.demo_flags, *extra]
    if os.path.exists(os.path.join(folder, "checkpoint.npz")):
        cmd.append("--resume")
    return cmd


def train_seeds(args, demo, name, extra=None) -> dict:
    """Run ``demo`` for every seed of args.seeds without metrics.json, args.jobs at a time.

    A seed whose run fails does not stop the others (a lost game is a result, not a reason to throw
    away the seeds that train). Returns {seed: exit status} of the runs that failed, empty when all
    ended well; each one's output is in DIR/seedN.log. extra(seed): flags of that seed alone."""
    todo = [s for s in args.seeds if not os.path.exists(os.path.join(seed_folder(args.out, s), "metrics.json"))]
    threads = str(max(1, (os.cpu_count() or 1) // args.jobs))
    env = {**os.environ, "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    os.makedirs(args.out, exist_ok=True)
    running, failed = {}, {}
    while todo or running:
        while todo and len(running) < args.jobs:
            seed = todo.pop(0)
            cmd = command(demo, args, seed, extra(seed) if extra else ())
            log = open(seed_log(args.out, seed), "a")
            print(f"seed {seed}: {' '.join(cmd)} (log: {os.path.basename(log.name)})", flush=True)
            running[seed] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), log)
        time.sleep(1.0)
        for seed, (proc, log) in list(running.items()):
            if proc.poll() is not None:
                log.close()
                del running[seed]
                if proc.returncode != 0:
                    failed[seed] = proc.returncode
                print(f"seed {seed}: {'done' if proc.returncode == 0 else f'failed (exit {proc.returncode})'}",
                      flush=True)
    return failed


def refuse_failed(name, args, failed) -> None:
    """Raise RunError naming every failed seed and its log (nothing when ``failed`` is empty)."""
    if failed:
        logs = ", ".join(f"seed {s} (exit {rc}): {seed_log(args.out, s)}" for s, rc in failed.items())
        raise RunError(f"{name}: {len(failed)} of {len(args.seeds)} seeds failed; see {logs}")


def write_table(out, lines) -> None:
    """The table's markdown lines into DIR/table.md, and on the terminal."""
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def file_sha256(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def spread(values) -> dict:
    """{"mean", "std" (sample: n - 1 in the denominator; None for one value), "min", "max", "n"}."""
    v = numpy.asarray(values, dtype=numpy.float64)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else None,
            "min": float(v.min()), "max": float(v.max()), "n": len(v)}


def mean_std(s, digits=1) -> str:
    """'mean ± std' of a spread, 'mean ± n/a' for one seed."""
    std = "n/a" if s["std"] is None else f"{s['std']:.{digits}f}"
    return f"{s['mean']:.{digits}f} ± {std}"
