"""A run's identity: the settings that define what it trains, kept in its checkpoint.

A run resumed with another loss, noise, data subset or model size would train a different
objective from the middle on, and its numbers would belong to neither run. So the demos save
these settings in the checkpoint itself (``GAN(..., identity=...)`` writes them under the key
"identity"), read them back before resuming, and refuse a resume that would change one:

    saved = saved_identity(run.checkpoint)           # {} for a checkpoint saved without one
    check_identity(saved, requested, flags={"noise": "--noise"}, where=run.checkpoint)

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


def check_identity(saved, requested, *, flags=None, where="the checkpoint") -> None:
    """Refuse (RunError) when a setting in both ``saved`` and ``requested`` differs, naming its flag.

    flags: {setting: "--flag"} for the message; a setting without one is named as it is stored."""
    flags = flags or {}
    for name, value in requested.items():
        if name in saved and not _same(saved[name], value):
            flag = flags.get(name, name)
            raise RunError(f"{where} was trained with {flag} {saved[name]!r}; resuming it with {value!r} would "
                           "change the run mid-way (resume without that flag, or start a new --out)")
