"""minigan.optim against torch.optim: same parameters, same gradient sequence, float64, 20 steps.

Both sides compute the same equations in a slightly different order (torch folds the bias
corrections into the step size and uses lerp for Adam's first moment), so they agree to
rounding: a few ulps per step, far below the 1e-10 relative tolerance over 20 steps.
"""
import numpy
import pytest

import minigan
from minigan import optim

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

STEPS = 20

CASES = {
    "sgd": (dict(lr=0.1), dict(lr=0.1)),
    "sgd-momentum": (dict(lr=0.1, momentum=0.9), dict(lr=0.1, momentum=0.9)),
    "sgd-nesterov": (dict(lr=0.05, momentum=0.7, nesterov=True), dict(lr=0.05, momentum=0.7, nesterov=True)),
    "sgd-weight-decay": (dict(lr=0.1, momentum=0.5, weight_decay=0.01), dict(lr=0.1, momentum=0.5, weight_decay=0.01)),
    "sgd-dampening": (dict(lr=0.1, momentum=0.9, dampening=0.2), dict(lr=0.1, momentum=0.9, dampening=0.2)),
    "adam": (dict(lr=1e-2), dict(lr=1e-2)),
    "adam-dcgan": (dict(lr=2e-4, betas=(0.5, 0.999)), dict(lr=2e-4, betas=(0.5, 0.999))),
    "adam-weight-decay": (dict(lr=1e-2, weight_decay=0.1, eps=1e-6), dict(lr=1e-2, weight_decay=0.1, eps=1e-6)),
    "rmsprop": (dict(lr=1e-2, alpha=0.9), dict(lr=1e-2, alpha=0.9)),
    "rmsprop-momentum": (dict(lr=1e-3, momentum=0.9, weight_decay=0.01),
                         dict(lr=1e-3, momentum=0.9, weight_decay=0.01)),
}

CLASSES = {"sgd": (optim.SGD, "SGD"), "adam": (optim.Adam, "Adam"), "rmsprop": (optim.RMSprop, "RMSprop")}


@pytest.mark.parametrize("case", sorted(CASES))
def test_optimizer_matches_torch(case):
    ours_cls, torch_name = CLASSES[case.split("-")[0]]
    ours_kw, torch_kw = CASES[case]
    rng = numpy.random.default_rng(sum(map(ord, case)))
    shapes = [(4, 3), (3,), (2, 2, 2)]
    init = [rng.normal(size=s) for s in shapes]
    ours = [minigan.Tensor(a.copy(), requires_grad=True) for a in init]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt_ours = ours_cls(ours, **ours_kw)
    opt_theirs = getattr(torch.optim, torch_name)(theirs, **torch_kw)
    for step in range(STEPS):
        for i, (p, q) in enumerate(zip(ours, theirs)):
            if i == 2 and step % 3 == 1:  # sometimes a parameter gets no gradient: both skip it
                p.grad, q.grad = None, None
                continue
            g = rng.normal(size=p.shape) * (10.0 ** rng.uniform(-2, 1))
            p.grad = minigan.Tensor(g.copy())
            q.grad = torch.tensor(g.copy())
        opt_ours.step()
        opt_theirs.step()
    for i, (p, q) in enumerate(zip(ours, theirs)):
        numpy.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-10, atol=1e-13,
                                      err_msg=f"{case}: parameter {i} after {STEPS} steps")
        assert not numpy.allclose(p.numpy(), init[i])  # it moved


def test_schedule_matches_torch_exponential_lr():
    """ExponentialDecay with factor 1/gamma is torch's ExponentialLR(gamma), stepped per update."""
    p = minigan.Tensor(numpy.zeros(1), requires_grad=True)
    q = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    ours = optim.SGD([p], lr=0.1, momentum=0.5)
    theirs = torch.optim.SGD([q], lr=0.1, momentum=0.5)
    s_ours = optim.ExponentialDecay(ours, "lr", factor=1 / 0.99)
    s_theirs = torch.optim.lr_scheduler.ExponentialLR(theirs, gamma=0.99)
    for _ in range(50):
        p.grad, q.grad = minigan.Tensor(numpy.ones(1)), torch.ones(1, dtype=torch.float64)
        ours.step()
        theirs.step()
        s_ours.step()
        s_theirs.step()
        assert ours.lr == pytest.approx(theirs.param_groups[0]["lr"], rel=1e-12)
    assert p.item() == pytest.approx(q.item(), rel=1e-10)
