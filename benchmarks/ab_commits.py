"""Old code against new in one process: what a change to minigan did to a step's time.

The package as it was at a git revision BASE (``git archive``) is imported beside the working
tree's own, under the name ``minigan_base``; both build the same step from the same seeds, and
benchmarks/harness.py times them interleaved (base, new, base, ...) and reports the median of
the paired ratios new / base with its spread. On a loaded machine this is the only comparison
that means anything: both sides see the same load.

Steps (--case):
  mlp    one iteration of Algorithm 1 on the GAN paper's MNIST model, m = 100
         (the minigan side of benchmarks/bench_gan_steps.py --case mlp);
  tiny   y = a*b + a; y.backward(ones) on 2x2 float32 (bench_autograd.py's case (a));
  summed (a*b + a).sum().backward() on 2x2 float64 (bench_autograd.py's case (c)).

Both sides must compute the same losses or gradients first (up to float32 rounding for mlp,
where an op may now sum in another order).

With --cpu-time the blocks are timed by the process's CPU time instead of the wall clock: on a
loaded machine, with OPENBLAS_NUM_THREADS=1, that leaves out the time other jobs hold the core.

Run: python3 benchmarks/ab_commits.py BASE [--case mlp|tiny|summed] [--pairs N] [--cpu-time]
"""
from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import tempfile
import time

import numpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import harness

import minigan

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def import_base(rev, folder):
    """minigan as at git revision ``rev``, imported as the package ``minigan_base``."""
    archive = subprocess.run(["git", "-C", ROOT, "archive", rev, "minigan"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
    os.rename(os.path.join(folder, "minigan"), os.path.join(folder, "minigan_base"))
    sys.path.insert(0, folder)
    return importlib.import_module("minigan_base")


def mlp_step(mg, m=100):
    """The paper-MLP iteration of bench_gan_steps.mlp_case, built from package ``mg``; returns (step, check)."""
    from_pkg = lambda name: importlib.import_module(f"{mg.__name__}.{name}")  # noqa: E731
    paper_mlp, gan_mod = from_pkg("models.paper_mlp"), from_pkg("gan.algorithm")
    images = numpy.random.default_rng(0).random((2000, 784), dtype=numpy.float32)
    gen = mg.Generator(0)
    G, D = paper_mlp.generator(gen), paper_mlp.discriminator(gen)
    opt_D = mg.optim.SGD(D.parameters(), lr=0.1, momentum=0.5)
    opt_G = mg.optim.SGD(G.parameters(), lr=0.1, momentum=0.5)

    def z(g, n):
        bound = paper_mlp.Z_BOUND
        return mg.tensor(g.np.uniform(-bound, bound, (n, paper_mlp.Z_DIM)).astype(numpy.float32))

    gan = gan_mod.GAN(G, D, opt_D, opt_G, z, lambda g, n: mg.tensor(images[g.np.integers(0, len(images), n)]),
                      generator=mg.Generator(1), k=1, m=m, g_loss="non_saturating")
    first = gan.train_step()
    return gan.train_step, [first["d_loss"], first["g_loss"]]


def tiny_step(mg):
    rng = numpy.random.default_rng(0)
    a = mg.tensor(rng.standard_normal((2, 2), dtype=numpy.float32), requires_grad=True)
    b = mg.tensor(rng.standard_normal((2, 2), dtype=numpy.float32), requires_grad=True)
    ones = mg.ones((2, 2))

    def step():
        a.grad = b.grad = None
        (a * b + a).backward(ones)

    step()
    return step, [a.grad.numpy(), b.grad.numpy()]


def summed_step(mg):
    rng = numpy.random.default_rng(2)
    a = mg.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    b = mg.tensor(rng.standard_normal((2, 2)), requires_grad=True)

    def step():
        a.grad = b.grad = None
        (a * b + a).sum().backward()

    step()
    return step, [a.grad.numpy(), b.grad.numpy()]


CASES = {"mlp": mlp_step, "tiny": tiny_step, "summed": summed_step}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("base", help="the git revision to compare against (e.g. HEAD~1)")
    ap.add_argument("--case", choices=sorted(CASES), default="mlp")
    ap.add_argument("--pairs", type=int, default=10)
    ap.add_argument("--cpu-time", action="store_true", help="time blocks by the process's CPU time (1 thread)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        base = import_base(args.base, folder)
        make = CASES[args.case]
        step_base, out_base = make(base)
        step_new, out_new = make(minigan)
        for x, y in zip(out_base, out_new):  # float32 rounding: sums may run in another order
            numpy.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
        clock = time.process_time if args.cpu_time else time.perf_counter
        r = harness.compare(step_new, step_base, pairs=args.pairs, clock=clock)
    print(f"{args.case}: base {args.base} {r['ms_b']:.3f} ms, new {r['ms_a']:.3f} ms; new / base {r['ratio']:.3f} "
          f"(spread {r['lo']:.3f}-{r['hi']:.3f}, {args.pairs} pairs, BLAS threads {harness.blas_threads()}, "
          f"{'CPU' if args.cpu_time else 'wall'} time)")
    return r


if __name__ == "__main__":
    main()
