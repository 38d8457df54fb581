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

from .. import backend
from ..autograd import Tensor


class Optimizer:
    """Base class. Subclasses set ``hyperparameter_names`` and implement ``_update(p, g, state)``."""

    #: The attributes saved by state_dict() and restored by load_state_dict().
    hyperparameter_names: tuple = ()
    #: The names a subclass keeps in ``self.state[i]`` (checked on load).
    state_names: tuple = ()

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

        Everything is checked before anything changes: the optimizer type, the number of
        parameters and each one's shape, the names of hyper-parameters and state entries,
        and each state array's shape and dtype against its parameter. Arrays are copied
        onto the backend of the parameter they belong to.
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
        per_param = {}
        for key, s in state_dict["state"].items():
            i = int(key)
            if not 0 <= i < len(self.params):
                problems.append(f"state for parameter {i}, but there are only {len(self.params)}")
                continue
            p = self.params[i]
            for k, v in s.items():
                if k not in self.state_names:
                    problems.append(f"parameter {i}: unknown state entry {k!r} (expected some of {self.state_names})")
                elif hasattr(v, "shape") and (tuple(v.shape) != tuple(p.shape) or v.dtype != p.dtype):
                    problems.append(
                        f"parameter {i}: {k} has shape {tuple(v.shape)} and dtype {v.dtype}, the parameter "
                        f"{tuple(p.shape)} and {p.dtype}"
                    )
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

    def __repr__(self):
        settings = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({len(self.params)} parameters, {settings})"


def check_range(optimizer, name, value, low=0.0, high=math.inf, high_open=False):
    """Raise a ValueError naming the optimizer and setting when ``value`` is outside [low, high] (or [low, high))."""
    ok = low <= value < high if high_open else low <= value <= high
    if not ok:
        bracket = ")" if high_open else "]"
        raise ValueError(f"{type(optimizer).__name__}: {name}={value!r} is outside [{low}, {high}{bracket}")
