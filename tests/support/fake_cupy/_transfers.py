"""The copy counter: host-to-device and device-to-host transfers, by call site."""
from __future__ import annotations

import collections
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))


def _skipped(filename) -> bool:
    """This package, and minigan's backend helpers (to_backend, as_numpy): the caller of those is the site."""
    path = os.path.abspath(filename)
    return os.path.dirname(path) == _HERE or path.endswith(os.path.join("minigan", "backend.py"))


def _call_site() -> str:
    """'path:line' of the code that asked for the copy (the first frame outside this package and backend.py)."""
    frame = sys._getframe(2)
    while frame is not None and _skipped(frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:  # pragma: no cover - only when called from this package alone
        return "<unknown>"
    return f"{os.path.relpath(frame.f_code.co_filename)}:{frame.f_lineno}"


class Transfers:
    """Counts of copies across the (pretend) PCIe bus: ``h2d`` and ``d2h``, each a Counter by call site."""

    def __init__(self):
        self.h2d = collections.Counter()
        self.d2h = collections.Counter()

    def record(self, kind: str) -> None:
        getattr(self, kind)[_call_site()] += 1

    def reset(self) -> None:
        self.h2d.clear()
        self.d2h.clear()

    def totals(self) -> tuple[int, int]:
        """(host-to-device copies, device-to-host copies) since the last reset."""
        return sum(self.h2d.values()), sum(self.d2h.values())

    def report(self) -> str:
        lines = [f"{kind} {n:4d}  {site}" for kind in ("h2d", "d2h")
                 for site, n in getattr(self, kind).most_common()]
        return "\n".join(lines) or "no transfers"


transfers = Transfers()
