"""``--minutes``: a training budget checked after every iteration.

    deadline = Deadline(args.minutes)
    try:
        gan.train(steps, on_step=deadline.check, checkpoint_path=path)
    except OutOfTime:
        gan.save_checkpoint(path)          # stop at the iteration the budget ran out, with a checkpoint

Checking once per iteration (a clock read, well under a microsecond) means a run overshoots its
budget by at most one iteration, not by a whole checkpoint interval.
"""
from __future__ import annotations

import time


class OutOfTime(Exception):
    """Raised by Deadline.check once the budget is spent; carries the iteration it was raised at."""

    def __init__(self, step, minutes):
        super().__init__(f"time budget of {minutes} min spent at iteration {step}")
        self.step = step


class Deadline:
    """A wall-clock budget of ``minutes`` from now (None: no budget)."""

    def __init__(self, minutes=None, clock=time.monotonic):
        self.minutes, self._clock = minutes, clock
        self.end = None if minutes is None else clock() + 60.0 * minutes

    def spent(self) -> bool:
        return self.end is not None and self._clock() >= self.end

    def check(self, step, metrics=None) -> None:
        """GAN.train's on_step: raise OutOfTime after the iteration ``step`` if the budget is spent."""
        if self.spent():
            raise OutOfTime(step, self.minutes)
