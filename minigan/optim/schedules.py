"""Schedules: hyper-parameters (learning rate, momentum) that change as training goes on.

A schedule owns one attribute of one optimizer (``"lr"``, ``"momentum"`` ...) and a counter
t of calls to ``step()``. Each call advances t and writes ``value(t // every)`` into the
attribute; construction writes ``value(0)``. So the caller decides what a step is:

* call ``step()`` once per update (after ``opt.step()``) with ``every=1``: the value is a
  function of the number of updates;
* call it once per update with ``every=updates_per_epoch``: the value is a function of the
  number of completed epochs, yet the trainer has a single place that steps schedules;
* or call it once per epoch, with ``every=1``.

Values are computed from t in closed form (not by repeated multiplication), so a schedule's
whole state is t plus its settings, and a resumed run continues exactly
(``state_dict``/``load_state_dict``, saved by minigan/checkpoint.py).

The GAN paper's MNIST run (the pylearn2 file mnist.yaml of goodfeli/adversarial) used both
kinds: the learning rate 0.1 divided by 1.000004 after every update (never below 1e-6),
and momentum rising linearly from 0.5 to 0.7 over 250 epochs. ``paper_mnist_schedules``
builds that pair.
"""
from __future__ import annotations

import math

import numpy


def _is_integer(v) -> bool:
    return isinstance(v, (int, numpy.integer)) and not isinstance(v, (bool, numpy.bool_))


def _is_number(v) -> bool:
    return isinstance(v, (int, float, numpy.integer, numpy.floating)) and not isinstance(v, (bool, numpy.bool_)) \
        and math.isfinite(v)


class Schedule:
    """Base class: sets ``optimizer.<attr>`` to ``value(t // every)`` at construction and after each step()."""

    #: Numeric settings saved by state_dict() (besides t, attr and every).
    setting_names: tuple = ()

    def __init__(self, optimizer, attr, every=1):
        if not hasattr(optimizer, attr):
            raise AttributeError(
                f"{type(self).__name__}: {type(optimizer).__name__} has no attribute {attr!r} to schedule"
            )
        if int(every) != every or every < 1:
            raise ValueError(f"{type(self).__name__}: every must be a positive integer, got {every!r}")
        self.optimizer, self.attr, self.every = optimizer, attr, int(every)
        self.t = 0

    def value(self, k):  # pragma: no cover - abstract
        """The attribute's value after k units (updates or epochs, as chosen by ``every``)."""
        raise NotImplementedError

    @property
    def units(self) -> int:
        """Completed units: updates when every=1, epochs when every=updates_per_epoch."""
        return self.t // self.every

    def current(self):
        return self.value(self.units)

    def _apply(self):
        setattr(self.optimizer, self.attr, self.current())

    def step(self):
        """Advance one step and write the new value into the optimizer. Returns that value."""
        self.t += 1
        self._apply()
        return getattr(self.optimizer, self.attr)

    def state_dict(self) -> dict:
        return {
            "type": type(self).__name__,
            "attr": self.attr,
            "every": self.every,
            "t": self.t,
            "settings": {k: getattr(self, k) for k in self.setting_names},
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore t and the settings, then write the resumed value into the optimizer."""
        name = type(self).__name__
        if not isinstance(state, dict) or "t" not in state:
            raise ValueError(f"{name}.load_state_dict: expected a dict from state_dict(), got {state!r}")
        if state.get("type") != name:
            raise ValueError(f"{name}.load_state_dict: the state was saved by a {state.get('type')} schedule")
        if state.get("attr") != self.attr:
            raise ValueError(
                f"{name}.load_state_dict: the state schedules {state.get('attr')!r}, this schedule {self.attr!r}"
            )
        settings = state.get("settings", {})
        if not isinstance(settings, dict) or set(settings) != set(self.setting_names):
            found = sorted(settings) if isinstance(settings, dict) else repr(settings)
            raise ValueError(
                f"{name}.load_state_dict: settings {found} in the state, {sorted(self.setting_names)} here"
            )
        for field, low in (("t", 0), ("every", 1)):
            v = state.get(field)
            if not _is_integer(v) or v < low:
                raise ValueError(f"{name}.load_state_dict: {field} must be an integer >= {low}, got {v!r}")
        for k, v in settings.items():
            if not _is_number(v):
                raise ValueError(f"{name}.load_state_dict: settings.{k} must be a finite number, got {v!r}")
        saved = (self.every, self.t, {k: getattr(self, k) for k in self.setting_names})
        self.every, self.t = int(state["every"]), int(state["t"])
        for k, v in settings.items():
            setattr(self, k, v)
        try:  # the settings must make a schedule this class could have built, with a finite value now
            self._check_settings()
            value = self.current()
            if isinstance(value, (float, numpy.floating)) and not math.isfinite(value):
                raise ValueError(f"gives the value {value!r} at t={self.t}")
        except (ValueError, ArithmeticError) as err:
            self.every, self.t = saved[0], saved[1]
            for k, v in saved[2].items():
                setattr(self, k, v)
            raise ValueError(f"{name}.load_state_dict: the saved settings {settings} do not make a schedule: {err}"
                             ) from None
        self._apply()

    def _check_settings(self):
        """Subclasses raise ValueError for settings their constructor would refuse."""

    def __repr__(self):
        settings = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.setting_names)
        return f"{type(self).__name__}({self.attr!r}, {settings}, every={self.every}, t={self.t})"


class ExponentialDecay(Schedule):
    """value(k) = max(initial / factor^k, minimum): divide by ``factor`` after every unit.

    ``initial`` defaults to the attribute's value when the schedule is made. The GAN paper's
    MNIST schedule: ExponentialDecay(opt, "lr", initial=0.1, factor=1.000004, minimum=1e-6),
    stepped once per update, so after n updates lr = 0.1 / 1.000004^n (about 0.1·e^{−4e-6 n}:
    it halves every 173,000 updates).
    """

    setting_names = ("initial", "factor", "minimum")

    def __init__(self, optimizer, attr="lr", factor=1.000004, initial=None, minimum=0.0, every=1):
        super().__init__(optimizer, attr, every)
        if not factor > 0:
            raise ValueError(f"ExponentialDecay: factor must be positive, got {factor!r}")
        self.initial = float(getattr(optimizer, attr) if initial is None else initial)
        self.factor, self.minimum = float(factor), float(minimum)
        self._apply()

    def value(self, k):
        return max(self.initial / self.factor**k, self.minimum)

    def _check_settings(self):
        if not self.factor > 0:
            raise ValueError(f"factor must be positive, got {self.factor!r}")

    def rebase(self, factor):
        """From now on divide by ``factor`` per unit, starting from the current value.

        initial <- the value now, factor <- factor, t <- 0: the value does not jump, and k units
        later it is value_now / factor^k (floor ``minimum``). This is how a long run's decay is
        changed part-way through (demos/mnist_mlp.py --lr-decay); a resumed checkpoint keeps the
        rebased settings, because state_dict() saves initial, factor and t.
        """
        if not factor > 0:
            raise ValueError(f"ExponentialDecay.rebase: factor must be positive, got {factor!r}")
        self.initial, self.factor, self.t = self.current(), float(factor), 0
        self._apply()
        return getattr(self.optimizer, self.attr)


class LinearRamp(Schedule):
    """value(k) = start_value + (end_value − start_value) · clip((k − start) / (end − start), 0, 1).

    Constant at ``start_value`` until unit ``start``, linear until unit ``end``, then constant
    at ``end_value``. The GAN paper's momentum: LinearRamp(opt, "momentum", 0.5, 0.7, start=0,
    end=250, every=updates_per_epoch): 0.5 in epoch 0, 0.6 in epoch 125, 0.7 from epoch 250 on.
    """

    setting_names = ("start_value", "end_value", "start", "end")

    def __init__(self, optimizer, attr, start_value, end_value, start=0, end=1, every=1):
        super().__init__(optimizer, attr, every)
        if not end > start:
            raise ValueError(f"LinearRamp: end ({end}) must come after start ({start})")
        self.start_value, self.end_value = float(start_value), float(end_value)
        self.start, self.end = start, end
        self._apply()

    def _check_settings(self):
        if not self.end > self.start:
            raise ValueError(f"end ({self.end}) must come after start ({self.start})")

    def value(self, k):
        fraction = min(max((k - self.start) / (self.end - self.start), 0.0), 1.0)
        return self.start_value + (self.end_value - self.start_value) * fraction


class LambdaSchedule(Schedule):
    """value(k) = fn(k) for any function of the unit count, e.g. ``lambda k: 2e-4 * 0.5 ** (k // 10)``.

    Only t is saved: a resumed run must build the schedule with the same fn.
    """

    def __init__(self, optimizer, attr, fn, every=1):
        super().__init__(optimizer, attr, every)
        if not callable(fn):
            raise TypeError(f"LambdaSchedule: fn must be callable, got {type(fn).__name__}")
        self.fn = fn
        self._apply()

    def value(self, k):
        return self.fn(k)


def paper_mnist_schedules(optimizer, updates_per_epoch, lr=0.1, decay=1.000004, min_lr=1e-6,
                          momentum=(0.5, 0.7), saturate_epoch=250):
    """The GAN paper's MNIST schedules for an SGD optimizer, both stepped once per update.

    Returns (lr_schedule, momentum_schedule): the learning rate divided by ``decay`` after every
    update from ``lr`` (floor ``min_lr``), and momentum rising linearly from momentum[0] in epoch 0
    to momentum[1] from epoch ``saturate_epoch`` on, changing at epoch boundaries. With the
    paper's batch size 100 and 50,000 training images, updates_per_epoch = 500. Call
    ``s.step()`` for both after every ``optimizer.step()``.

    (pylearn2's MomentumAdjustor used start=1, so its ramp reached 0.7 one epoch earlier; this
    helper follows the simpler 0-to-250 reading.)
    """
    if updates_per_epoch < 1 or int(updates_per_epoch) != updates_per_epoch:
        raise ValueError(
            f"paper_mnist_schedules: updates_per_epoch must be a positive integer, got {updates_per_epoch!r}"
        )
    if not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"paper_mnist_schedules: lr must be positive, got {lr!r}")
    lr_schedule = ExponentialDecay(optimizer, "lr", factor=decay, initial=lr, minimum=min_lr)
    momentum_schedule = LinearRamp(
        optimizer, "momentum", momentum[0], momentum[1], start=0, end=saturate_epoch, every=int(updates_per_epoch)
    )
    return lr_schedule, momentum_schedule
