"""Optimizer and schedule state dicts are validated field by field when loaded, not at the next step."""
import copy

import numpy
import pytest

import minigan as mg
from minigan import optim


def trained(opt_class, **kw):
    p = mg.tensor(numpy.ones((2, 3), dtype=numpy.float32), requires_grad=True)
    opt = opt_class([p], **kw)
    p.grad = mg.tensor(numpy.full((2, 3), 0.5, dtype=numpy.float32))
    opt.step()
    return opt


def edited(sd, path, value):
    """A copy of state dict ``sd`` with the entry at ``path`` (a tuple of keys) set to value, or deleted."""
    sd = copy.deepcopy(sd)
    *parents, last = path
    target = sd
    for k in parents:
        target = target[k]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return sd


DELETE = object()

ADAM_CASES = [
    (("state", 0, "step"), DELETE, r"state\[0\]: missing \['step'\]"),
    (("state", 0, "step"), "3", r"state\[0\]\.step: '3' is not a non-negative integer"),
    (("state", 0, "step"), -1, r"state\[0\]\.step: -1"),
    (("state", 0, "step"), True, r"state\[0\]\.step: True"),
    (("state", 0, "exp_avg"), [[0.0] * 3] * 2, r"state\[0\]\.exp_avg: expected an array of shape \(2, 3\), got list"),
    (("state", 0, "exp_avg"), numpy.full((2, 3), numpy.nan, dtype=numpy.float32), r"exp_avg: holds nan"),
    (("state", 0, "exp_avg_sq"), numpy.full((2, 3), -1.0, dtype=numpy.float32), r"exp_avg_sq: an average of squares"),
    (("state", 0, "exp_avg_sq"), numpy.zeros((2, 3)), r"dtype float64"),
    (("state", 0), [1, 2], r"state\[0\]: expected a dict"),
    (("hyperparameters", "lr"), -5, r"Adam: lr=-5 is outside"),
    (("hyperparameters", "lr"), "0.1", r"hyperparameters\.lr: '0\.1' is not a finite number"),
    (("hyperparameters", "lr"), float("inf"), r"hyperparameters\.lr: inf"),
    (("hyperparameters", "betas"), (0.5,), r"hyperparameters\.betas: \(0\.5,\) is not a tuple of 2"),
    (("hyperparameters", "betas"), (0.5, 1.5), r"betas\[1\]=1\.5 is outside"),
]


@pytest.mark.parametrize("path, value, message", ADAM_CASES, ids=[c[2][:30] for c in ADAM_CASES])
def test_a_bad_adam_state_is_refused_naming_the_field_and_changes_nothing(path, value, message):
    sd = trained(optim.Adam, lr=1e-3).state_dict()
    opt = trained(optim.Adam, lr=2e-3)
    before = opt.state_dict()
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(edited(sd, path, value))
    assert opt.lr == 2e-3 and opt.state[0]["step"] == before["state"][0]["step"]
    opt.step()  # still usable


def test_the_containers_are_checked_before_their_contents():
    sd = trained(optim.SGD, lr=0.1, momentum=0.5).state_dict()
    opt = trained(optim.SGD, lr=0.1, momentum=0.5)
    with pytest.raises(TypeError, match="hyperparameters must be a dict, got list"):
        opt.load_state_dict(edited(sd, ("hyperparameters",), [0.1]))
    with pytest.raises(TypeError, match="state is keyed by parameter index, found key 'x'"):
        opt.load_state_dict(edited(sd, ("state",), {"x": {}}))
    with pytest.raises(TypeError, match="param_shapes must be a list of shapes"):
        opt.load_state_dict(edited(sd, ("param_shapes",), "2,3"))
    with pytest.raises(ValueError, match=r"hyperparameters\.nesterov: 1 is not a bool"):
        opt.load_state_dict(edited(sd, ("hyperparameters", "nesterov"), 1))
    with pytest.raises(ValueError, match=r"state\[0\]\.momentum_buffer: expected an array"):
        opt.load_state_dict(edited(sd, ("state", 0, "momentum_buffer"), 0.0))
    opt.load_state_dict(edited(sd, ("state", 0), {}))  # an empty state is a parameter not yet updated
    opt.step()
    assert opt.state[0]["momentum_buffer"].shape == (2, 3)


def test_rmsprop_requires_its_square_average_but_not_a_momentum_buffer():
    sd = trained(optim.RMSprop, lr=0.01).state_dict()
    assert "momentum_buffer" not in sd["state"][0]
    trained(optim.RMSprop, lr=0.01).load_state_dict(sd)
    with pytest.raises(ValueError, match=r"missing \['square_avg'\]"):
        trained(optim.RMSprop, lr=0.01).load_state_dict(edited(sd, ("state", 0, "square_avg"), DELETE))


def schedule():
    p = mg.tensor(numpy.ones(2, dtype=numpy.float32), requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.5)
    return opt, optim.ExponentialDecay(opt, "lr", factor=1.1), optim.LinearRamp(opt, "momentum", 0.5, 0.7, 0, 10)


SCHEDULE_CASES = [
    (1, ("t",), "5", r"t must be an integer >= 0, got '5'"),
    (1, ("t",), -2, r"t must be an integer >= 0, got -2"),
    (1, ("every",), 0, r"every must be an integer >= 1, got 0"),
    (1, ("settings", "factor"), "2", r"settings\.factor must be a finite number, got '2'"),
    (1, ("settings", "factor"), -1.0, r"factor must be positive"),
    (1, ("settings", "initial"), float("nan"), r"settings\.initial must be a finite number"),
    (2, ("settings", "end"), -3, r"end \(-3\) must come after start"),
    (2, ("settings",), [0.5], r"settings \[0\.5\] in the state"),
]


@pytest.mark.parametrize("which, path, value, message", SCHEDULE_CASES, ids=[c[3][:30] for c in SCHEDULE_CASES])
def test_a_bad_schedule_state_is_refused_naming_the_field_and_changes_nothing(which, path, value, message):
    opt, *schedules = schedule()
    for s in schedules:
        s.step()
    sd = schedules[which - 1].state_dict()
    _, *fresh = schedule()
    target = fresh[which - 1]
    before = target.state_dict()
    with pytest.raises(ValueError, match=message):
        target.load_state_dict(edited(sd, path, value))
    assert target.state_dict() == before
