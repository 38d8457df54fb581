"""Divergence: noticing that a GAN's losses or parameters stopped being finite numbers.

A GAN that diverges (a learning rate too high, D winning outright so that log D(G(z))
reaches log 0) produces inf or nan, and one nan in a parameter spreads to every output
at the next step. Training on would waste the run; saving would overwrite the last good
checkpoint with nan parameters, so a resume could only die again.

``FiniteWatch`` checks every iteration cheaply: each quantity's finiteness is folded
into one scalar on the quantity's own device (no transfer to the host per step); the
scalar is read only when the loop reads anything anyway (logging, sampling, checkpoints).
It records the first offending (iteration, quantity), so the report names where the run
went wrong even if it is read many iterations later. Before a checkpoint the parameters
themselves are checked too (a nan gradient can make them nan while the loss that
produced it was finite).
"""
from __future__ import annotations

import math

import numpy

from .. import backend


class DivergenceError(FloatingPointError):
    """Training produced a non-finite loss or parameter; the message names the iteration,
    the player and the quantity, and the checkpoint left on disk."""

    def __init__(self, step, player, quantity, checkpoint=None):
        self.step, self.player, self.quantity, self.checkpoint = step, player, quantity, checkpoint
        message = f"training diverged at iteration {step}: {player}'s {quantity} is not finite (nan or inf)"
        if checkpoint is not None:
            message += (f"; the last finite checkpoint, {checkpoint}, was kept: resume from it with a lower "
                        "learning rate")
        else:
            message += "; no checkpoint was written with non-finite values"
        super().__init__(message)


class FiniteWatch:
    """Remembers the first iteration at which a watched quantity was not finite.

    ``observe(step, {"name": value, ...})`` every iteration: values may be Python floats or
    0-d arrays/Tensors on any backend (their check then stays on that device). ``check()``
    reads the result and raises DivergenceError; ``check_parameters`` tests parameters.
    Each finding is coded as step * (number of names) + the name's index, so the smallest
    code is the first one in time and, within an iteration, in the order of ``players``.
    """

    def __init__(self, players):
        self.players = dict(players)  # quantity name -> the player it belongs to ("D" or "G")
        self._names = list(self.players)
        self._host = None  # first code found among Python numbers
        self._device = None  # a device scalar: first code found among arrays, -1 while none

    def observe(self, step, values) -> None:
        for i, name in enumerate(self._names):
            v = values.get(name)
            if v is None:
                continue
            code = step * len(self._names) + i
            if isinstance(v, (int, float)):
                if self._host is None and not math.isfinite(v):
                    self._host = code
                continue
            data = getattr(v, "data", v)
            xp = backend.array_module(data)
            bad = ~xp.isfinite(data)
            if self._device is None:
                self._device = xp.where(bad, code, -1)
            else:
                self._device = xp.where((self._device < 0) & bad, code, self._device)

    def first(self):
        """(step, name) of the first non-finite value observed, or None. One read from the device."""
        codes = [c for c in (self._host, None if self._device is None else int(self._device))
                 if c is not None and c >= 0]
        if not codes:
            return None
        step, i = divmod(min(codes), len(self._names))
        return step, self._names[i]

    def check(self, checkpoint=None) -> None:
        found = self.first()
        if found is not None:
            step, name = found
            raise DivergenceError(step, self.players[name], name, checkpoint)

    @staticmethod
    def check_parameters(step, named_params, checkpoint=None) -> None:
        """Raise DivergenceError naming the first (player, parameter name) that holds nan or inf.

        One device reduction per parameter and a single read when all are finite.
        """
        named_params = list(named_params)
        flags = [backend.array_module(p.data).isfinite(p.data).all() for _, _, p in named_params]
        if all(bool(f) for f in backend.as_numpy(_stack(flags))):
            return
        for (player, name, _), good in zip(named_params, flags):
            if not bool(good):
                raise DivergenceError(step, player, f"parameter {name}", checkpoint)


def _stack(flags):
    """The flags as one array (one transfer), or a NumPy array if they live on different backends."""
    if not flags:
        return numpy.ones(0, dtype=bool)
    modules = {backend.array_module(f) for f in flags}
    if len(modules) == 1:
        return modules.pop().stack(flags)
    return [bool(f) for f in flags]
