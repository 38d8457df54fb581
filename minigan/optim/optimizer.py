"""The Optimizer base class: a list of parameters, hyper-parameters as attributes, per-parameter state.

An optimizer turns gradients into parameter changes. Each one here follows PyTorch's
update equations exactly (tests/test_torch_crosscheck_optim.py checks that to 1e-10 in
float64), so what a learner knows about torch.optim carries over, both ways.

What the base class owns, so that each optimizer file holds only its update rule:

* **parameters**: a list, fixed at construction. ``step()`` visits them in order and skips
  any whose ``.grad`` is None (a player that did not take part in this loss).
* **hyper-parameters**: plain attributes (``opt.lr``, ``opt.momentum``, ``opt.betas`` ...),
  read afresh at every step, so a schedule (minigan/optim/schedules.py) changes them by
  assignment. There are no PyTorch-style ``param_groups``: to train two sets of parameters
  with different settings, make two optimizers (a GAN already has one per player).
* **state**: ``self.state[i]`` is a dict for parameter ``i`` (momentum buffers, moment
  estimates, a step count), created at that parameter's first update, with arrays on the
  parameter's backend. If a module is moved (``module.to("cupy")``) the state follows at
  the next step.
* **saving**: ``state_dict()`` returns plain data (arrays, numbers, strings) that
  minigan/checkpoint.py writes without pickle; ``load_state_dict()`` restores it exactly
  and refuses, by name, a state made for other parameters.

Updates work on raw arrays (``p.data``), in place, outside the autograd graph: an
update is not a differentiable op, and writing in place keeps every reference to the
parameter (modules, other optimizers) pointing at the new values.
"""
from __future__ import annotations

import math

import numpy

from .. import backend
from ..autograd import Tensor


class Optimizer:
    """Base class. Subclasses set ``hyperparameter_names`` and implement ``_update(p, g, state)``."""

    #: The attributes saved by state_dict() and restored by load_state_dict().
    hyperparameter_names: tuple = ()
    #: The names a subclass keeps in ``self.state[i]`` (checked on load).
    state_names: tuple = ()
    #: Those every non-empty ``self.state[i]`` must hold (the update reads them unconditionally).
    required_state_names: tuple = ()
    #: State arrays that are averages of squares, so never negative.
    nonnegative_state_names: tuple = ()

    def __init__(self, params):
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}: params should be an iterable of Tensors (e.g. model.parameters()), got a single Tensor; "
                "wrap it in a list"
            )
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{name}: got an empty parameter list (did a generator get used up already?)")
        seen = set()
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: parameter {i} is a {type(p).__name__}, expected a minigan Tensor")
            if not p.requires_grad:
                raise ValueError(
                    f"{name}: parameter {i} (shape {p.shape}) does not require grad; nothing would train it"
                )
            if not p.is_leaf:
                raise ValueError(
                    f"{name}: parameter {i} (shape {p.shape}) is not a leaf; optimise leaves (Parameters) only"
                )
            if id(p) in seen:
                raise ValueError(f"{name}: parameter {i} (shape {p.shape}) appears twice in the list")
            seen.add(id(p))
        self.state = {}  # parameter index -> dict of that parameter's optimizer state

    # -- the update --------------------------------------------------------------------
    def step(self):
        """Update every parameter that has a gradient, in place, by the subclass's rule."""
        self._check_hyperparameters()
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad.data
            if g.shape != p.data.shape:
                raise RuntimeError(
                    f"{type(self).__name__}.step: parameter {i} has shape {p.shape} but its grad has shape {g.shape}"
                )
            state = self.state.get(i)
            if state is None:
                state = self.state[i] = {}
            else:
                self._follow_backend(p, state)
            self._update(p.data, g, state)

    def _update(self, p, g, state):  # pragma: no cover - abstract
        """Change the raw array ``p`` in place given the raw gradient ``g``; keep what you need in ``state``."""
        raise NotImplementedError

    def _check_hyperparameters(self):
        """Subclasses raise ValueError for out-of-range settings (checked at every step: schedules change them)."""

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient before the next backward pass.

        set_to_none=True (PyTorch's default) sets ``.grad`` to None; False replaces an
        existing gradient by zeros of its shape (a new array: a gradient held elsewhere is kept).
        """
        for p in self.params:
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = Tensor(backend.array_module(p.grad.data).zeros_like(p.grad.data))

    @staticmethod
    def _follow_backend(p, state):
        """Move this parameter's state arrays to the parameter's backend if the parameter moved."""
        xp = backend.array_module(p.data)
        for k, v in state.items():
            if hasattr(v, "shape") and backend.array_module(v) is not xp:
                state[k] = backend.to_backend(v, p.backend)

    # -- saving and loading ------------------------------------------------------------
    def hyperparameters(self) -> dict:
        return {k: getattr(self, k) for k in self.hyperparameter_names}

    def state_dict(self) -> dict:
        """Plain data: the optimizer's type, hyper-parameters, the parameters' shapes, and per-parameter
        state keyed by parameter index (arrays copied, on their own backend; numbers as Python numbers)."""
        state = {}
        for i, s in sorted(self.state.items()):
            state[i] = {k: (v.copy() if hasattr(v, "shape") else v) for k, v in s.items()}
        return {
            "type": type(self).__name__,
            "hyperparameters": self.hyperparameters(),
            "param_shapes": [list(p.shape) for p in self.params],
            "state": state,
        }

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyper-parameters and per-parameter state saved by state_dict(), exactly.

        Everything is checked, field by field, before anything changes, so a bad state fails
        here rather than at the next step(): the optimizer type; the number of parameters and
        each one's shape; each hyper-parameter's name, type and range (the optimizer's own
        checks); each state entry's name, the entries the update needs, the step count (a
        non-negative integer), each array's type, shape, dtype and finiteness. Every problem
        found is listed, by field. Arrays are copied onto the backend of their parameter.
        """
        name = type(self).__name__
        problems = []
        if not isinstance(state_dict, dict):
            raise TypeError(
                f"{name}.load_state_dict: expected a dict from state_dict(), got {type(state_dict).__name__}"
            )
        missing = [k for k in ("type", "hyperparameters", "param_shapes", "state") if k not in state_dict]
        if missing:
            raise ValueError(f"{name}.load_state_dict: not an optimizer state, missing key(s) {missing}")
        if state_dict["type"] != name:
            raise ValueError(f"{name}.load_state_dict: the state was saved by a {state_dict['type']} optimizer")
        _check_fields(name, state_dict)
        shapes = [tuple(s) for s in state_dict["param_shapes"]]
        if len(shapes) != len(self.params):
            raise ValueError(
                f"{name}.load_state_dict: the state is for {len(shapes)} parameter(s), this optimizer has "
                f"{len(self.params)}"
            )
        for i, (s, p) in enumerate(zip(shapes, self.params)):
            if s != tuple(p.shape):
                problems.append(f"parameter {i}: shape {s} in the state, {tuple(p.shape)} here")
        hyper = dict(state_dict["hyperparameters"])
        if set(hyper) != set(self.hyperparameter_names):
            problems.append(f"hyper-parameters {sorted(hyper)} in the state, {sorted(self.hyperparameter_names)} here")
        else:
            problems += self._hyperparameter_problems(hyper)
        per_param = {}
        for key, s in state_dict["state"].items():
            i = int(key)
            if not 0 <= i < len(self.params):
                problems.append(f"state for parameter {i}, but there are only {len(self.params)}")
                continue
            problems += self._state_problems(i, s)
            per_param[i] = s
        if problems:
            raise ValueError(
                f"{name}.load_state_dict: the state does not fit this optimizer:\n  " + "\n  ".join(problems)
            )
        for k, v in hyper.items():
            setattr(self, k, tuple(v) if isinstance(v, list) else v)
        self.state = {}
        for i, s in sorted(per_param.items()):
            p = self.params[i]
            self.state[i] = {
                k: (backend.to_backend(v, p.backend).copy() if hasattr(v, "shape") else v) for k, v in s.items()
            }

    def _hyperparameter_problems(self, hyper) -> list:
        """Each saved hyper-parameter has the type of this optimizer's own, and passes its range checks."""
        problems = []
        for k, v in hyper.items():
            mine = getattr(self, k)
            if isinstance(mine, bool):
                ok = isinstance(v, (bool, numpy.bool_))
            elif isinstance(mine, tuple):
                ok = isinstance(v, (list, tuple)) and len(v) == len(mine) and all(_is_real(e) for e in v)
            else:
                ok = _is_real(v)
            if not ok:
                problems.append(f"hyperparameters.{k}: {v!r} is not a {_describe(mine)} like this optimizer's {mine!r}")
        if problems:
            return problems
        saved = self.hyperparameters()
        try:  # the subclass's own range checks, on the saved values, then back
            for k, v in hyper.items():
                setattr(self, k, tuple(v) if isinstance(v, list) else v)
            self._check_hyperparameters()
        except ValueError as err:
            problems.append(f"hyperparameters: {err}")
        finally:
            for k, v in saved.items():
                setattr(self, k, v)
        return problems

    def _state_problems(self, i, s) -> list:
        """Parameter i's saved state: known names, the required ones present, a step count that is a
        non-negative integer, arrays (not lists) of the parameter's shape and dtype, finite, squares >= 0."""
        where = f"state[{i}]"
        if not isinstance(s, dict):
            return [f"{where}: expected a dict of state entries, got {type(s).__name__}"]
        p = self.params[i]
        problems = []
        if s:
            absent = [k for k in self.required_state_names if k not in s]
            if absent:
                problems.append(f"{where}: missing {absent} (the update reads them)")
        for k, v in s.items():
            if k not in self.state_names:
                problems.append(f"{where}: unknown state entry {k!r} (expected some of {self.state_names})")
            elif k == "step":
                if not (isinstance(v, (int, numpy.integer)) and not isinstance(v, bool)) or v < 0:
                    problems.append(f"{where}.step: {v!r} is not a non-negative integer")
            elif not (isinstance(v, numpy.ndarray) or backend.is_cupy_array(v)):
                problems.append(f"{where}.{k}: expected an array of shape {tuple(p.shape)}, got {type(v).__name__}")
            elif tuple(v.shape) != tuple(p.shape) or v.dtype != p.dtype:
                problems.append(
                    f"{where}.{k} (parameter {i}): shape {tuple(v.shape)} and dtype {v.dtype}, the parameter "
                    f"{tuple(p.shape)} and {p.dtype}"
                )
            elif not bool(backend.array_module(v).isfinite(v).all()):
                problems.append(f"{where}.{k}: holds nan or inf")
            elif k in self.nonnegative_state_names and bool((v < 0).any()):
                problems.append(f"{where}.{k}: an average of squares, but holds negative values")
        return problems

    def __repr__(self):
        settings = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({len(self.params)} parameters, {settings})"


def _is_real(v) -> bool:
    """A finite real number (bools excluded: True is not a learning rate)."""
    return isinstance(v, (int, float, numpy.integer, numpy.floating)) and not isinstance(v, (bool, numpy.bool_)) \
        and math.isfinite(v)


def _describe(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, tuple):
        return f"tuple of {len(value)} finite numbers"
    return "finite number"


def _check_fields(name, state_dict) -> None:
    """The containers of a state dict, before their contents are looked at: TypeError naming the field."""
    shapes, hyper, state = state_dict["param_shapes"], state_dict["hyperparameters"], state_dict["state"]
    if not isinstance(shapes, (list, tuple)) or not all(
            isinstance(s, (list, tuple)) and all(isinstance(n, (int, numpy.integer)) and n >= 0 for n in s)
            for s in shapes):
        raise TypeError(f"{name}.load_state_dict: param_shapes must be a list of shapes (lists of sizes), got "
                        f"{str(shapes)[:100]}")
    if not isinstance(hyper, dict):
        raise TypeError(f"{name}.load_state_dict: hyperparameters must be a dict, got {type(hyper).__name__}")
    if not isinstance(state, dict):
        raise TypeError(f"{name}.load_state_dict: state must be a dict by parameter index, got {type(state).__name__}")
    for key in state:
        if not (isinstance(key, (int, numpy.integer)) and not isinstance(key, bool)
                or isinstance(key, str) and key.isdigit()):
            raise TypeError(f"{name}.load_state_dict: state is keyed by parameter index, found key {key!r}")


def check_range(optimizer, name, value, low=0.0, high=math.inf, high_open=False):
    """Raise a ValueError naming the optimizer and setting when ``value`` is outside [low, high] (or [low, high))."""
    ok = low <= value < high if high_open else low <= value <= high
    if not ok:
        bracket = ")" if high_open else "]"
        raise ValueError(f"{type(optimizer).__name__}: {name}={value!r} is outside [{low}, {high}{bracket}")
