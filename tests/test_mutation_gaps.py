"""Tests written to kill mutants of tools/mutants.py that the rest of the suite let survive.

Each test names the mutant it kills (docs/mutation-testing.md has the table). They check
behaviour a user relies on, not the mutant's text: the mutant only showed where no test looked.
"""
import copy

import numpy
import pytest

import minigan.functional as F
from minigan import Tensor, grad, gradcheck, gradgradcheck, optim
from minigan.autograd import Function
from minigan.gradcheck import GradcheckError
from placement import host


# -- batch norm: eps in the backward pass (mutant batchnorm-fast-backward-drops-eps) -------------


def _bn_case(rng, scale):
    x = Tensor(rng.standard_normal((6, 3, 2)) * scale + 0.3, requires_grad=True)
    gamma = Tensor(rng.standard_normal(3) + 1.5, requires_grad=True)
    beta = Tensor(rng.standard_normal(3), requires_grad=True)
    return x, gamma, beta


def test_batch_norm_gradient_sees_eps_when_the_variance_is_small(rng):
    """With a channel variance near eps (1e-5), sqrt(var) and sqrt(var + eps) differ by tens of
    percent, far above gradcheck's rtol 1e-4; at var ~ 1 the difference, ~5e-6, hides below it."""
    x, gamma, beta = _bn_case(rng, scale=3e-3)  # per-channel variance ~ 1e-5
    gradcheck(lambda x, g, b: F.batch_norm(x, g, b, training=True, eps=1e-5), [x, gamma, beta])


def test_batch_norm_fast_and_recorded_backward_agree_to_rounding(rng):
    """The raw-array backward (plain backward) and the op-built one (create_graph=True) are two
    evaluations of one formula: in float64 they agree to ~1e-15, so 1e-12 sees any eps slip."""
    x, gamma, beta = _bn_case(rng, scale=1.0)
    v = Tensor(rng.standard_normal(x.shape))
    fast = grad(F.batch_norm(x, gamma, beta, training=True, eps=1e-5), [x, gamma, beta], v)
    recorded = grad(F.batch_norm(x, gamma, beta, training=True, eps=1e-5), [x, gamma, beta], v,
                    create_graph=True)
    for a, b in zip(fast, recorded):
        numpy.testing.assert_allclose(a.data, b.data, rtol=1e-12, atol=1e-13)


# -- optimizers: a loaded state is a copy (mutant optimizer-load-aliases-state) ------------------


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: optim.Adam(ps, lr=0.1),
    lambda ps: optim.RMSprop(ps, lr=0.1, momentum=0.5),
], ids=["sgd", "adam", "rmsprop"])
def test_training_after_load_state_dict_leaves_the_saved_state_alone(rng, make):
    """A state dict is a snapshot: loading it, then training, must not rewrite it (it may be
    loaded again, or be the one a checkpoint is about to write)."""
    p = Tensor(rng.standard_normal(4), requires_grad=True)
    first = make([p])
    for _ in range(2):
        p.grad = Tensor(rng.standard_normal(4))
        first.step()
    saved = first.state_dict()
    snapshot = copy.deepcopy(saved)
    q = Tensor(p.data.copy(), requires_grad=True)
    second = make([q])
    second.load_state_dict(saved)
    for _ in range(2):
        q.grad = Tensor(rng.standard_normal(4))
        second.step()
    for i, state in snapshot["state"].items():
        for key, value in state.items():
            numpy.testing.assert_array_equal(saved["state"][i][key], value, err_msg=f"state[{i}][{key!r}] changed")


# -- Algorithm 1: a schedule or average steps after its own player's update --------------------
# (mutant schedule-steps-wrong-optimizer)


def test_schedules_and_averages_step_after_their_own_optimizer_only():
    """k = 2: D's schedule steps twice per iteration, G's average once, and after G's update, so
    that after one iteration the average is beta theta_0 + (1 - beta) theta_1 exactly."""
    import minigan as mg
    from minigan import nn
    from minigan.data import toy
    from minigan.gan.algorithm import GAN

    gen = mg.Generator(0)
    G = nn.Sequential(nn.Linear(2, 8, generator=gen), nn.ReLU(), nn.Linear(8, 2, generator=gen))
    D = nn.Sequential(nn.Linear(2, 8, generator=gen), nn.LeakyReLU(0.2), nn.Linear(8, 1, generator=gen))
    opt_D, opt_G = optim.SGD(D.parameters(), lr=0.05), optim.SGD(G.parameters(), lr=0.05)
    decay_D = optim.ExponentialDecay(opt_D, factor=2.0)  # lr / 2 per D step
    beta = 0.75
    average_G = optim.ExponentialMovingAverage(opt_G, beta)
    gan = GAN(G, D, opt_D, opt_G, toy.NormalNoise(2), toy.ring(), generator=gen, k=2, m=8,
              schedules=[decay_D], averages=[average_G])
    theta_0 = [p.numpy().copy() for p in G.parameters()]
    gan.train_step()
    assert decay_D.t == 2 and average_G.updates == 1
    assert opt_D.lr == 0.05 / 4  # dividing by powers of two is exact
    for a, t0, p in zip(average_G.average, theta_0, G.parameters()):
        # float32 parameters: beta and 1 - beta are exact, one rounding per term and one per sum
        numpy.testing.assert_allclose(host(a), beta * t0 + (1 - beta) * p.numpy(), rtol=1e-6, atol=1e-7)
        assert not numpy.array_equal(p.numpy(), t0)  # G did move, so the check above can tell


# -- gradcheck: a random output cotangent, not a plain sum (mutant gradcheck-cotangent-all-ones) --


class _SwappedBackward(Function):
    """y = x (a vector), with a backward that returns g reversed: J^T v is wrong for every v
    except those that read the same both ways, such as the all-ones v of a plain sum(y)."""

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return Tensor(gy.data[::-1].copy())


@pytest.mark.parametrize("directional", [False, True])
def test_gradcheck_rejects_a_jacobian_error_that_a_plain_sum_would_hide(directional):
    x = Tensor(numpy.array([0.3, -1.2, 2.0]), requires_grad=True)
    with pytest.raises(GradcheckError):
        gradcheck(_SwappedBackward.apply, [x], directional=directional)


# -- gradgradcheck: the output cotangent is an input too (mutant gradgradcheck-cotangent-constant) --


class _SquareDetachedBackward(Function):
    """y = x^2 whose backward has the right value, 2 x g, but takes g as a constant: the
    gradient of the backward with respect to g is lost, which a double backward needs."""

    def forward(self, x):
        return x * x

    def backward(self, gy):
        return Tensor(gy.data) * (self.inputs[0] * 2.0)


def test_gradgradcheck_sees_a_backward_that_does_not_differentiate_through_g():
    x = Tensor(numpy.array([0.3, -1.2, 2.0]), requires_grad=True)
    gradcheck(_SquareDetachedBackward.apply, [x])  # its first derivative is right
    with pytest.raises(GradcheckError):
        gradgradcheck(_SquareDetachedBackward.apply, [x])
