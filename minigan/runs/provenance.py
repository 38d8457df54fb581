"""What a run's metrics.json says about where its numbers came from, and the summary it prints at the end.

``provenance(args, argv)`` gives the minigan and NumPy versions, the git commit of the checkout
(when it is one and git is installed), every hyperparameter (the parsed flags) and the command
line, so that a number in metrics.json can be traced to the code and the settings that made it.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def git_commit(root=ROOT) -> str | None:
    """The checkout's HEAD commit, with "+dirty" when files differ from it; None outside a git checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):  # no git program, or it hung
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def provenance(args, argv=None) -> dict:
    """{"minigan", "numpy", "python", "git_commit", "command", "hyperparameters"} for metrics.json."""
    from .. import __version__

    command = list(sys.argv if argv is None else [sys.argv[0], *argv])
    hyper = {k: (list(v) if isinstance(v, tuple) else v) for k, v in sorted(vars(args).items())
             if k not in ("explicit", "resumable")}
    record = {"minigan": __version__, "numpy": numpy.__version__, "python": sys.version.split()[0],
              "git_commit": git_commit(), "command": command, "hyperparameters": hyper}
    if hasattr(args, "explicit"):  # which of them the command line gave (the rest are defaults or a resume's)
        record["flags_given"] = sorted(args.explicit & set(hyper))
    return record


def closing_summary(demo, out, files, headline, goal) -> str:
    """Print (and return) what the run wrote where, its headline numbers and the goal they are judged against.

    files: names written under ``out``; headline: {name: value}; goal: one sentence."""
    lines = [f"{demo}: wrote {len(files)} files to {out}: {', '.join(files)}"]
    lines += [f"  {name}: {value}" for name, value in headline.items()]
    lines.append(f"  goal: {goal}")
    text = "\n".join(lines)
    print(text, flush=True)
    return text
