"""The command line every demo shares, and the checks that keep bad values out of a run.

    ap = demo_parser(__doc__, example="python3 demos/NAME.py --out runs/NAME --steps 100",
                     steps=5000, batch_size=512)
    ap.add_argument("--lr", type=positive(float), default=1e-3, help="learning rate")
    args = ap.parse_args(argv)

Every demo gets ``--out`` (required), ``--steps``, ``--seed``, ``--backend``, ``--batch-size``
(``--m`` is the same flag: the GAN paper's name for the minibatch size), ``--resume``,
``--overwrite`` and ``--no-progress``; the help shows each default and the example.

A value is checked where argparse reads it, by a ``type=`` function from this module: a bad
value stops the program before any work with one line such as
``mnist_mlp.py: error: argument --batch-size/--m: expected an integer > 0, got '0'`` (after the
usage line) and exit status 2.
"""
from __future__ import annotations

import argparse
import math
import sys
from typing import Any, Callable


class RunError(ValueError):
    """A run refused for a reason the user can fix: the message says what was given and what is expected."""


def _number(kind, text, expected):
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def at_least(low, kind=int, high=None) -> Callable[[str], float]:
    """An argparse type: a finite ``kind`` (int or float) with low <= value (<= high when given)."""
    noun = "an integer" if kind is int else "a finite number"
    expected = f"{noun} >= {low}" + ("" if high is None else f" and <= {high}")

    def check(text):
        value = _number(kind, text, expected)
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    check.__name__ = f"{kind.__name__} >= {low}"  # argparse names the type in some messages
    return check


def positive(kind=int) -> Callable[[str], float]:
    """An argparse type: a finite ``kind`` > 0 (a size, a count, a learning rate, a budget)."""
    noun = "an integer" if kind is int else "a finite number"
    expected = f"{noun} > 0"

    def check(text):
        value = _number(kind, text, expected)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    check.__name__ = f"positive {kind.__name__}"
    return check


def finite_float(text) -> float:
    """An argparse type: any finite float (inf and nan refused)."""
    return _number(float, text, "a finite number")


def unit_interval(text) -> float:
    """An argparse type: a float in [0, 1)."""
    value = _number(float, text, "a number in [0, 1)")
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def demo_parser(doc, *, example, steps, batch_size, seed=0, resumable=True) -> argparse.ArgumentParser:
    """An ArgumentParser with the shared flags; ``doc`` is the demo's docstring (its first line is the description).

    resumable: whether --resume can continue a run (the demo keeps a checkpoint); without one,
    --resume on a used folder is refused with the hint to use --overwrite."""
    ap = argparse.ArgumentParser(description=doc.strip().split("\n")[0],
                                 epilog=f"example:\n  {example}",
                                 formatter_class=_Formatter, allow_abbrev=False)
    ap.add_argument("--out", required=True, help="folder for this run's files (one run per folder)")
    ap.add_argument("--steps", type=at_least(0), default=steps, help="training iterations in total")
    ap.add_argument("--seed", type=at_least(0), default=seed, help="seed of the run's minigan.Generator")
    ap.add_argument("--backend", choices=("numpy", "cupy"), default="numpy", help="array library")
    ap.add_argument("--batch-size", "--m", dest="m", type=positive(int), default=batch_size,
                    help="minibatch size m (--m is the same flag)")
    ap.add_argument("--resume", action="store_true",
                    help="continue the run in --out from its checkpoint, with the settings it was started with"
                    if resumable else "not available: this demo keeps no checkpoint (rerun with --overwrite)")
    ap.add_argument("--overwrite", action="store_true",
                    help="start a new run in an --out that holds one (its checkpoint and metrics are replaced)")
    ap.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    ap.set_defaults(resumable=resumable)
    return ap


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Help with each flag's default, and the example kept as written."""


def parse_explicit(ap, argv=None) -> argparse.Namespace:
    """``ap.parse_args(argv)``, plus ``args.explicit``: the set of dests given on the command line (a resumed
    run keeps its saved settings unless a flag is given, and then they must agree: identity.py).

    The parser must not accept abbreviated flags (demo_parser sets allow_abbrev=False), so a flag
    given is one of its option strings, alone or as ``--flag=value``."""
    args = ap.parse_args(argv)
    words = sys.argv[1:] if argv is None else list(argv)
    given = {word.split("=", 1)[0] for word in words if word.startswith("-")}
    args.explicit = {a.dest for a in ap._actions if given.intersection(a.option_strings)}
    return args


def run_main(main, argv=None) -> Any:
    """Call ``main(argv)``; an error the user can fix becomes ``PROG: error: MESSAGE`` on stderr and exit
    status 2 (argparse's convention for usage errors), so a refused run never shows a traceback.

    Those errors: RunError, and the data and checkpoint errors whose messages name the file and the
    fix (minigan.data's DataNotFoundError, IdxError, DataVerificationError, UnsafePickleError;
    minigan.checkpoint.CheckpointError). A run that diverged (minigan.gan.DivergenceError, whose
    message names the iteration, the player and the checkpoint kept) exits the same way with status 1:
    the command was right, the training failed. Any other exception is a bug and keeps its traceback."""
    from ..checkpoint import CheckpointError
    from ..data.idx import IdxError
    from ..data.mnist import DataNotFoundError, DataVerificationError
    from ..data.safe_unpickle import UnsafePickleError
    from ..gan.divergence import DivergenceError

    prog = sys.argv[0].rsplit("/", 1)[-1] if sys.argv and sys.argv[0] else "demo"
    try:
        return main(argv)
    except (RunError, CheckpointError, DataNotFoundError, DataVerificationError, IdxError, UnsafePickleError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    except DivergenceError as e:
        kept = " (give the same command with --resume to continue from it)" if e.checkpoint is not None else ""
        print(f"{prog}: error: {e}{kept}", file=sys.stderr)
        raise SystemExit(1) from None
