"""Optimisers and schedules: closed forms (Adam's first step, momentum's geometric series,
Nesterov, weight decay), NumPy re-implementations, the GAN paper's MNIST schedules, and
state_dict round-trips that resume a run exactly.

Closed-form comparisons are in float64 with rtol 1e-12: each step adds a few roundings of
relative size 1e-16, so 20-50 steps stay far below that.
"""
import math

import numpy
import pytest

import minigan
from minigan import backend, nn, optim

# every test runs on each backend (numpy; the CuPy stand-in; cupy on a GPU): see tests/conftest.py
pytestmark = pytest.mark.usefixtures("xp_backend")


def leaf(values, dtype=numpy.float64):
    return minigan.Tensor(numpy.array(values, dtype=dtype), requires_grad=True)


def set_grad(p, g):
    p.grad = minigan.Tensor(numpy.asarray(g, dtype=p.dtype))


def linear_loss_step(opt, p, c):
    """One update on loss = sum(c * p), whose gradient is the constant c, through backward()."""
    opt.zero_grad()
    (p * minigan.Tensor(c)).sum().backward()
    opt.step()


# -- Adam -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_adam_first_step_is_lr_times_sign_of_gradient(scale, rng):
    """At t = 1, m_hat = g and v_hat = g^2, so the step is lr g / (|g| + eps) -> lr sign(g) as eps -> 0."""
    p0 = rng.normal(size=(4, 5))
    g = scale * rng.normal(size=(4, 5))
    p = leaf(p0)
    opt = optim.Adam([p], lr=0.01, eps=1e-12)
    set_grad(p, g)
    opt.step()
    # |g| >= ~1e-5 here, so eps/|g| <= 1e-7 relative; rtol 1e-6 on the step leaves room.
    numpy.testing.assert_allclose(p0 - p.numpy(), 0.01 * numpy.sign(g), rtol=1e-6, atol=0)


def test_adam_matches_numpy_reference_over_steps(rng):
    """A loop written from the paper's Algorithm 1 (Kingma & Ba), independent of minigan's code."""
    p0 = rng.normal(size=(3, 4))
    grads = rng.normal(size=(15, 3, 4))
    lr, b1, b2, eps, wd = 0.02, 0.8, 0.95, 1e-6, 0.1
    p = leaf(p0)
    opt = optim.Adam([p], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
    x, m, v = p0.copy(), numpy.zeros_like(p0), numpy.zeros_like(p0)
    for t, g in enumerate(grads, start=1):
        set_grad(p, g)
        opt.step()
        g = g + wd * x
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        x = x - lr * (m / (1 - b1**t)) / (numpy.sqrt(v / (1 - b2**t)) + eps)
    numpy.testing.assert_allclose(p.numpy(), x, rtol=1e-12)
    assert opt.state[0]["step"] == 15


# -- SGD ------------------------------------------------------------------------------------------
def test_sgd_without_momentum_is_gradient_descent(rng):
    p0, c = rng.normal(size=5), rng.normal(size=5)
    p = leaf(p0)
    opt = optim.SGD([p], lr=0.1)
    for _ in range(7):
        linear_loss_step(opt, p, c)
    numpy.testing.assert_allclose(p.numpy(), p0 - 7 * 0.1 * c, rtol=1e-12)
    assert opt.state[0] == {}  # plain SGD keeps no state


@pytest.mark.parametrize("mu", [0.5, 0.9])
def test_momentum_on_constant_gradient_is_a_geometric_series(mu, rng):
    """b_k = g (1 + mu + ... + mu^(k-1)) = g (1 - mu^k)/(1 - mu), so after n steps
    p_n = p_0 - lr g/(1 - mu) * (n - mu (1 - mu^n)/(1 - mu))."""
    p0, c = rng.normal(size=6), rng.normal(size=6)
    lr, n = 0.05, 30
    p = leaf(p0)
    opt = optim.SGD([p], lr=lr, momentum=mu)
    for _ in range(n):
        linear_loss_step(opt, p, c)
    expected = p0 - lr * c / (1 - mu) * (n - mu * (1 - mu**n) / (1 - mu))
    numpy.testing.assert_allclose(p.numpy(), expected, rtol=1e-12)
    # The buffer approaches g/(1 - mu): the effective step lr/(1 - mu).
    numpy.testing.assert_allclose(opt.state[0]["momentum_buffer"], c * (1 - mu**n) / (1 - mu), rtol=1e-12)


@pytest.mark.parametrize("mu", [0.5, 0.9])
def test_nesterov_on_constant_gradient(mu, rng):
    """d_k = g + mu b_k = g (1 + mu (1 - mu^k)/(1 - mu)); summing over k = 1..n:
    p_n = p_0 - lr g (n + mu/(1 - mu) * (n - mu (1 - mu^n)/(1 - mu)))."""
    p0, c = rng.normal(size=6), rng.normal(size=6)
    lr, n = 0.05, 25
    p = leaf(p0)
    opt = optim.SGD([p], lr=lr, momentum=mu, nesterov=True)
    for _ in range(n):
        linear_loss_step(opt, p, c)
    expected = p0 - lr * c * (n + mu / (1 - mu) * (n - mu * (1 - mu**n) / (1 - mu)))
    numpy.testing.assert_allclose(p.numpy(), expected, rtol=1e-12)


def test_dampening_scales_all_but_the_first_gradient(rng):
    """b_1 = g, b_k = mu b_(k-1) + (1 - tau) g: the first step is undamped, as in PyTorch."""
    p0, c = rng.normal(size=4), rng.normal(size=4)
    mu, tau, lr = 0.9, 0.3, 0.1
    p = leaf(p0)
    opt = optim.SGD([p], lr=lr, momentum=mu, dampening=tau)
    b, x = None, p0.copy()
    for _ in range(10):
        linear_loss_step(opt, p, c)
        b = c.copy() if b is None else mu * b + (1 - tau) * c
        x = x - lr * b
    numpy.testing.assert_allclose(p.numpy(), x, rtol=1e-12)


def test_weight_decay_alone_shrinks_geometrically(rng):
    """With a zero loss gradient, g = lambda p, so p_n = p_0 (1 - lr lambda)^n."""
    p0 = rng.normal(size=(3, 3))
    p = leaf(p0)
    opt = optim.SGD([p], lr=0.1, weight_decay=0.5)
    for _ in range(12):
        set_grad(p, numpy.zeros((3, 3)))
        opt.step()
    numpy.testing.assert_allclose(p.numpy(), p0 * (1 - 0.05) ** 12, rtol=1e-12)


def test_weight_decay_does_not_modify_the_gradient(rng):
    p = leaf(rng.normal(size=3))
    g = rng.normal(size=3)
    set_grad(p, g)
    optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1).step()
    numpy.testing.assert_array_equal(p.grad.numpy(), g)


# -- RMSprop --------------------------------------------------------------------------------------
@pytest.mark.parametrize("momentum,wd", [(0.0, 0.0), (0.9, 0.0), (0.5, 0.01)])
def test_rmsprop_matches_numpy_reference(momentum, wd, rng):
    p0 = rng.normal(size=(2, 5))
    grads = rng.normal(size=(20, 2, 5)) * numpy.linspace(0.1, 3, 20)[:, None, None]
    lr, alpha, eps = 0.01, 0.9, 1e-8
    p = leaf(p0)
    opt = optim.RMSprop([p], lr=lr, alpha=alpha, eps=eps, momentum=momentum, weight_decay=wd)
    x, s, b = p0.copy(), numpy.zeros_like(p0), numpy.zeros_like(p0)
    for g in grads:
        set_grad(p, g)
        opt.step()
        g = g + wd * x
        s = alpha * s + (1 - alpha) * g * g
        u = g / (numpy.sqrt(s) + eps)
        if momentum > 0:
            b = momentum * b + u
            x = x - lr * b
        else:
            x = x - lr * u
    numpy.testing.assert_allclose(p.numpy(), x, rtol=1e-12)


# -- common behaviour -----------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: optim.Adam(ps, lr=0.1),
    lambda ps: optim.RMSprop(ps, lr=0.1, momentum=0.5),
])
def test_step_skips_parameters_without_grad_and_zero_grad_sets_none(make, rng):
    a, b = leaf(rng.normal(size=3)), leaf(rng.normal(size=2))
    b0 = b.numpy().copy()
    opt = make([a, b])
    a0 = a.numpy().copy()
    set_grad(a, numpy.ones(3))
    opt.step()
    assert not numpy.array_equal(a.numpy(), a0)
    numpy.testing.assert_array_equal(b.numpy(), b0)
    assert 1 not in opt.state  # no state was made for b
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_update_is_in_place_and_works_in_float32(rng):
    layer = nn.Linear(3, 2, generator=minigan.Generator(0))
    w = layer.weight.data
    opt = optim.Adam(layer.parameters(), lr=0.1)
    x = minigan.tensor(rng.normal(size=(5, 3)).astype(numpy.float32))
    (layer(x) ** 2).sum().backward()
    opt.step()
    assert layer.weight.data is w  # same array object, changed in place
    assert layer.weight.dtype == numpy.float32
    assert opt.state[0]["exp_avg"].dtype == numpy.float32


def test_state_lives_on_the_parameter_backend(xp_backend):
    layer = nn.Linear(3, 2, generator=minigan.Generator(0))
    opt = optim.Adam(layer.parameters(), lr=0.1)
    x = minigan.Generator(1).normal((4, 3))
    (layer(x) ** 2).sum().backward()
    opt.step()
    xp = backend.array_module(layer.weight.data)
    assert backend.array_module(opt.state[0]["exp_avg"]) is xp
    assert backend.array_module(opt.state[0]["exp_avg_sq"]) is xp


def test_constructor_errors_name_the_problem():
    p = leaf([1.0, 2.0])
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="does not require grad"):
        optim.SGD([minigan.Tensor([1.0])], lr=0.1)
    with pytest.raises(ValueError, match="appears twice"):
        optim.Adam([p, p])
    with pytest.raises(ValueError, match="not a leaf"):
        optim.Adam([p * 2])
    with pytest.raises(ValueError, match=r"SGD: lr=-1"):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="Nesterov momentum needs momentum > 0"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match=r"Adam: betas\[1\]=1.0"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="RMSprop: alpha=1.5"):
        optim.RMSprop([p], alpha=1.5)


def test_bad_hyperparameter_set_later_is_caught_at_step():
    p = leaf([1.0])
    opt = optim.SGD([p], lr=0.1)
    opt.lr = float("nan")
    set_grad(p, [1.0])
    with pytest.raises(ValueError, match="SGD: lr=nan"):
        opt.step()


def test_grad_of_wrong_shape_is_refused():
    p = leaf([1.0, 2.0])
    p.grad = minigan.Tensor(numpy.ones(3))
    with pytest.raises(RuntimeError, match=r"parameter 0 has shape \(2,\) but its grad has shape \(3,\)"):
        optim.SGD([p], lr=0.1).step()


# -- state_dict round trips -----------------------------------------------------------------------
OPTIMIZERS = {
    "sgd": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda ps: optim.Adam(ps, lr=0.01, betas=(0.5, 0.999)),
    "rmsprop": lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5),
}


def regression_run(make_opt, steps, resume_at=None, with_schedule=False):
    """Fit a small MLP to a fixed target; optionally rebuild everything from state_dicts at ``resume_at``."""
    def build():
        net = nn.Sequential(nn.Linear(3, 8, dtype=numpy.float64, generator=minigan.Generator(0)), nn.Tanh(),
                            nn.Linear(8, 1, dtype=numpy.float64, generator=minigan.Generator(1)))
        opt = make_opt(net.parameters())
        scheds = []
        if with_schedule:
            scheds = [optim.ExponentialDecay(opt, "lr", factor=1.05),
                      optim.LambdaSchedule(opt, "lr", lambda k: opt.lr)]  # a no-op second schedule
            if hasattr(opt, "momentum"):
                scheds.append(optim.LinearRamp(opt, "momentum", 0.5, 0.9, start=0, end=4, every=2))
        return net, opt, scheds

    net, opt, scheds = build()
    data = minigan.Generator(7)
    for step in range(steps):
        if step == resume_at:
            saved = (net.state_dict(), opt.state_dict(), [s.state_dict() for s in scheds])
            net, opt, scheds = build()  # fresh objects, as after a restart
            net.load_state_dict(saved[0])
            opt.load_state_dict(saved[1])
            for s, st in zip(scheds, saved[2]):
                s.load_state_dict(st)
        x = data.normal((16, 3), dtype=numpy.float64)
        y = (x * x).sum(axis=1, keepdims=True)
        opt.zero_grad()
        ((net(x) - y) ** 2).mean().backward()
        opt.step()
        for s in scheds:
            s.step()
    return [p.numpy() for p in net.parameters()]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("with_schedule", [False, True])
def test_resuming_from_state_dicts_gives_the_identical_trajectory(name, with_schedule):
    straight = regression_run(OPTIMIZERS[name], 12, with_schedule=with_schedule)
    resumed = regression_run(OPTIMIZERS[name], 12, resume_at=5, with_schedule=with_schedule)
    moved = regression_run(OPTIMIZERS[name], 5, with_schedule=with_schedule)
    for a, b, c in zip(straight, resumed, moved):
        numpy.testing.assert_array_equal(a, b)  # bitwise: same operations on the same numbers
        assert not numpy.array_equal(a, c)  # and the resumed part really trained


def test_state_dict_is_a_copy_and_plain_data(rng):
    p = leaf(rng.normal(size=3))
    opt = optim.Adam([p], lr=0.1)
    set_grad(p, numpy.ones(3))
    opt.step()
    sd = opt.state_dict()
    assert sd["type"] == "Adam" and sd["hyperparameters"]["lr"] == 0.1 and sd["param_shapes"] == [[3]]
    assert sd["state"][0]["step"] == 1 and isinstance(sd["state"][0]["step"], int)
    before = sd["state"][0]["exp_avg"].copy()
    opt.step()
    numpy.testing.assert_array_equal(sd["state"][0]["exp_avg"], before)


def test_load_state_dict_restores_hyperparameters(rng):
    p = leaf(rng.normal(size=3))
    a = optim.SGD([p], lr=0.1, momentum=0.5)
    a.lr, a.momentum = 0.03, 0.65
    b = optim.SGD([leaf(numpy.zeros(3))], lr=1.0)
    b.load_state_dict(a.state_dict())
    assert (b.lr, b.momentum) == (0.03, 0.65)


def test_load_state_dict_refuses_mismatches_by_name(rng):
    p, q = leaf(rng.normal(size=(2, 3))), leaf(rng.normal(size=4))
    opt = optim.Adam([p, q])
    set_grad(p, numpy.ones((2, 3)))
    set_grad(q, numpy.ones(4))
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(ValueError, match=r"state is for 2 parameter\(s\), this optimizer has 1"):
        optim.Adam([leaf(numpy.zeros((2, 3)))]).load_state_dict(sd)
    with pytest.raises(ValueError, match=r"parameter 1: shape \(4,\) in the state, \(5,\) here"):
        optim.Adam([leaf(numpy.zeros((2, 3))), leaf(numpy.zeros(5))]).load_state_dict(sd)
    with pytest.raises(ValueError, match="saved by a Adam optimizer"):
        optim.SGD([leaf(numpy.zeros((2, 3))), leaf(numpy.zeros(4))], lr=0.1).load_state_dict(sd)
    f32 = optim.Adam([leaf(numpy.zeros((2, 3)), numpy.float32), leaf(numpy.zeros(4), numpy.float32)])
    with pytest.raises(ValueError, match="dtype float64, the parameter"):
        f32.load_state_dict(sd)
    assert f32.state == {}  # nothing changed on failure


# -- schedules ------------------------------------------------------------------------------------
def sgd_for_schedules():
    return optim.SGD([leaf([0.0])], lr=1.0, momentum=0.1)


def test_paper_lr_schedule_divides_by_1_000004_per_update():
    opt = sgd_for_schedules()
    lr_s, _ = optim.paper_mnist_schedules(opt, updates_per_epoch=500)
    assert opt.lr == 0.1
    for n in range(1, 1001):
        lr_s.step()
        if n in (1, 10, 1000):
            assert opt.lr == pytest.approx(0.1 / 1.000004**n, rel=1e-14)
    assert opt.lr < 0.1 * (1 - 3.9e-3)  # 1000 updates take off ~0.4%
    # The floor (1e-6) is reached after log(1e5)/log(1.000004) ~ 2.88 million updates.
    assert lr_s.value(2_870_000) == pytest.approx(0.1 / 1.000004**2_870_000, rel=1e-12)
    assert lr_s.value(2_870_000) > 1e-6
    assert lr_s.value(2_890_000) == 1e-6


def test_paper_momentum_ramp_by_epoch_when_stepped_per_update():
    opt = sgd_for_schedules()
    upe = 3
    _, mom_s = optim.paper_mnist_schedules(opt, updates_per_epoch=upe)
    seen = {0: opt.momentum}
    for t in range(1, 300 * upe + 1):
        mom_s.step()
        if t % upe == 0:
            seen[t // upe] = opt.momentum
        if t == 125 * upe - 1:  # last update of epoch 124
            assert opt.momentum == pytest.approx(0.5 + 0.2 * 124 / 250, rel=1e-14)
    assert seen[0] == 0.5
    assert seen[125] == pytest.approx(0.6, rel=1e-14)
    assert seen[250] == pytest.approx(0.7, rel=1e-14)
    assert all(seen[e] == seen[250] for e in range(250, 301))
    diffs = numpy.diff([seen[e] for e in range(251)])
    numpy.testing.assert_allclose(diffs, 0.2 / 250, rtol=1e-9)  # linear in between


def test_linear_ramp_stepped_per_epoch():
    opt = sgd_for_schedules()
    ramp = optim.LinearRamp(opt, "momentum", 0.5, 0.7, start=0, end=250)
    values = [opt.momentum] + [ramp.step() for _ in range(260)]
    assert values[0] == 0.5 and values[125] == pytest.approx(0.6) and values[250] == pytest.approx(0.7)
    assert values[260] == values[250]


def test_lambda_schedule_and_bad_arguments():
    opt = sgd_for_schedules()
    s = optim.LambdaSchedule(opt, "lr", lambda k: 2e-4 * 0.5 ** (k // 10))
    assert opt.lr == 2e-4
    for _ in range(25):
        s.step()
    assert opt.lr == 2e-4 * 0.25
    with pytest.raises(AttributeError, match="SGD has no attribute 'beta1'"):
        optim.LinearRamp(opt, "beta1", 0.5, 0.9)
    with pytest.raises(ValueError, match="every must be a positive integer"):
        optim.ExponentialDecay(opt, "lr", every=0)
    with pytest.raises(ValueError, match="end .* must come after start"):
        optim.LinearRamp(opt, "momentum", 0.5, 0.7, start=5, end=5)


def test_schedule_state_dict_round_trip_and_mismatches():
    opt = sgd_for_schedules()
    s = optim.ExponentialDecay(opt, "lr", factor=1.1, initial=0.5, minimum=0.01, every=2)
    for _ in range(7):
        s.step()
    other_opt = sgd_for_schedules()
    t = optim.ExponentialDecay(other_opt, "lr")
    t.load_state_dict(s.state_dict())
    assert other_opt.lr == opt.lr == 0.5 / 1.1**3
    assert [t.step() for _ in range(5)] == [s.step() for _ in range(5)]
    with pytest.raises(ValueError, match="saved by a ExponentialDecay schedule"):
        optim.LinearRamp(other_opt, "lr", 0, 1).load_state_dict(s.state_dict())
    with pytest.raises(ValueError, match="the state schedules 'lr', this schedule 'momentum'"):
        optim.ExponentialDecay(other_opt, "momentum").load_state_dict(s.state_dict())


def test_exponential_decay_rebase_continues_from_the_current_value_and_survives_a_checkpoint():
    """rebase(f): no jump, then value_now / f^k; the rebased settings travel in state_dict()."""
    opt = sgd_for_schedules()
    s = optim.ExponentialDecay(opt, "lr", factor=1.01, initial=0.1, minimum=1e-3)
    for _ in range(50):
        s.step()
    now = 0.1 / 1.01**50
    assert s.rebase(1.1) == pytest.approx(now, rel=1e-15) and opt.lr == pytest.approx(now, rel=1e-15)
    steps = [s.step() for _ in range(3)]
    assert steps == pytest.approx([now / 1.1, now / 1.1**2, now / 1.1**3], rel=1e-14)
    copy = optim.ExponentialDecay(sgd_for_schedules(), "lr")
    copy.load_state_dict(s.state_dict())
    assert [copy.step() for _ in range(100)] == [s.step() for _ in range(100)]
    assert s.current() == 1e-3  # the floor still holds after a rebase
    with pytest.raises(ValueError, match="rebase: factor must be positive"):
        s.rebase(0.0)


def test_momentum_schedule_changes_the_update():
    """SGD reads opt.momentum at every step: a schedule that changes it changes the buffer recursion."""
    p = leaf([0.0])
    opt = optim.SGD([p], lr=1.0, momentum=0.5)
    ramp = optim.LinearRamp(opt, "momentum", 0.5, 0.7, start=0, end=2)
    b, x = None, 0.0
    for k in range(4):
        mu = opt.momentum
        set_grad(p, [1.0])
        opt.step()
        b = 1.0 if b is None else mu * b + 1.0
        x -= b
        ramp.step()
    assert p.item() == pytest.approx(x, rel=1e-15)
    assert math.isclose(opt.momentum, 0.7)
