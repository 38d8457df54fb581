"""A run's identity: the settings that define what it trains, kept in its checkpoint.

A run resumed with another loss, noise, data subset or model size would train a different
objective from the middle on, and its numbers would belong to neither run. So the demos save
these settings in the checkpoint itself (``GAN(..., identity=...)`` writes them under the key
"identity"), read them back before resuming, and refuse a resume that would change one:

    saved = saved_identity(run.checkpoint)           # {} for a checkpoint saved without one
    identity = resolve_identity(args, saved, ("seed", "noise"), where=run.checkpoint)

``resolve_identity`` gives each setting the saved value unless its flag was given on the command
line (``args.explicit``, filled by cli.parse_explicit) with another value: then it refuses.

Only what can be recomputed (curves, timings) is kept outside the checkpoint.
"""
from __future__ import annotations

import json

from .. import checkpoint as ckpt
from .cli import RunError

KEY = "identity"


def saved_identity(path) -> dict:
    """The identity dict stored in the checkpoint at ``path`` ({} when it holds none)."""
    identity = ckpt.load(path).get(KEY)
    return dict(identity) if isinstance(identity, dict) else {}


def _same(a, b) -> bool:
    """Equal as JSON would store them (a tuple saved comes back a tuple, a flag parsed may be a list)."""
    return json.dumps(a, sort_keys=True, default=list) == json.dumps(b, sort_keys=True, default=list)


def flag_of(name) -> str:
    """The command-line flag of an argparse dest: m -> --batch-size, d_loss_scale -> --d-loss-scale."""
    return "--batch-size" if name == "m" else "--" + name.replace("_", "-")


def check_identity(saved, requested, *, where="the checkpoint") -> None:
    """Refuse (RunError) when a setting in both ``saved`` and ``requested`` differs, naming its flag."""
    for name, value in requested.items():
        if name in saved and not _same(saved[name], value):
            raise RunError(f"{where} was trained with {flag_of(name)} {saved[name]}; resuming it with {value} "
                           "would change the run mid-way (resume without that flag, or start a new --out)")


def resolve_identity(args, saved, names, *, where="the checkpoint") -> dict:
    """The run's identity {name: value} for ``names``, set on ``args`` too.

    A new run (``saved`` empty) takes the flags. A resumed run takes each saved value; a flag
    given on the command line (in ``args.explicit``) with a different value is refused."""
    given = getattr(args, "explicit", set(vars(args)))
    check_identity(saved, {name: getattr(args, name) for name in names if name in given}, where=where)
    for name in names:
        if name in saved:
            setattr(args, name, saved[name])
    return {name: getattr(args, name) for name in names}
