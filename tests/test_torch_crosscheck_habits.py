"""The PyTorch spellings minigan accepts give PyTorch's numbers (torch as the reference)."""
import numpy
import pytest

import minigan as mg
from minigan import functional as F
from minigan import nn

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

RNG = numpy.random.default_rng(20)
X = RNG.normal(size=(4, 3, 5))
# float64 on both sides: the reductions agree to a few ulps, so 1e-12 relative is generous
TOL = dict(rtol=1e-12, atol=1e-12)


def ours():
    return mg.tensor(X.copy(), requires_grad=True)


def theirs():
    return torch.tensor(X.copy(), requires_grad=True)


def check(fn_ours, fn_theirs):
    """Same values and same gradient of sum(output * weights) for the two spellings."""
    a, b = ours(), theirs()
    ya, yb = fn_ours(a), fn_theirs(b)
    numpy.testing.assert_allclose(ya.numpy(), yb.detach().numpy(), **TOL)
    w = RNG.normal(size=yb.shape)
    (ya * mg.tensor(w)).sum().backward()
    (yb * torch.tensor(w)).sum().backward()
    numpy.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **TOL)


@pytest.mark.parametrize("name, call", [
    ("var", lambda t: t.var()),
    ("var dim", lambda t: t.var(dim=1)),
    ("var biased", lambda t: t.var(dim=(0, 2), unbiased=False, keepdim=True)),
    ("var correction", lambda t: t.var(dim=2, correction=2)),
    ("std", lambda t: t.std(dim=0)),
    ("sum", lambda t: t.sum(dim=1, keepdim=True)),
    ("mean", lambda t: t.mean(dim=-1)),
    ("max values", lambda t: t.max(dim=1)[0]),
    ("min values", lambda t: t.min(dim=2, keepdim=True).values),
    ("logsumexp", lambda t: t.logsumexp(dim=1)),
    ("softmax", lambda t: t.softmax(dim=1)),
    ("log_softmax", lambda t: t.log_softmax(dim=0)),
    ("view", lambda t: t.view(12, 5)),
    ("view varargs -1", lambda t: t.view(-1, 15)),
    ("unsqueeze", lambda t: t.unsqueeze(1)),
    ("squeeze", lambda t: t[:, :1].squeeze(1)),
    ("squeeze all", lambda t: t[:1, :, :1].squeeze()),
    ("flatten", lambda t: t.flatten(1)),
    ("clone", lambda t: t.clone() * t),
    ("transpose two axes", lambda t: t.transpose(0, 2)),
    ("permute", lambda t: t.permute(2, 0, 1)),
    ("cat dim", lambda t: F.cat([t, t * 2], dim=1) if isinstance(t, mg.Tensor) else torch.cat([t, t * 2], dim=1)),
])
def test_alias_matches_torch(name, call):
    check(call, call)


def test_indices_and_counts_match_torch():
    a, b = ours(), theirs()
    for dim in (0, 1, 2):
        assert a.max(dim=dim).indices.tolist() == b.max(dim=dim).indices.tolist()
        assert a.argmin(dim=dim).tolist() == b.argmin(dim=dim).tolist()
    assert a.argmax().item() == b.argmax().item()
    assert a.numel() == b.numel()
    assert a.float().dtype == numpy.float32 and b.float().dtype == torch.float32
    assert mg.zeros(2, 3).shape == tuple(torch.zeros(2, 3).shape)
    assert mg.full((2, 3), 1.5).tolist() == torch.full((2, 3), 1.5).tolist()


LOGITS = RNG.normal(size=(6, 4))
LABELS = numpy.array([0, 3, 1, 2, 3, 0])
PROBS = RNG.uniform(0.01, 0.99, size=(6, 4))
TARGETS = RNG.uniform(0.0, 1.0, size=(6, 4))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", ["cross_entropy", "cross_entropy_probs", "nll_loss", "binary_cross_entropy",
                                  "BCEWithLogitsLoss", "BCELoss", "CrossEntropyLoss", "NLLLoss", "MSELoss"])
def test_loss_matches_torch(name, reduction):
    inputs = PROBS if "BCELoss" in name or name == "binary_cross_entropy" else LOGITS
    if name in ("cross_entropy", "nll_loss", "CrossEntropyLoss", "NLLLoss"):
        target_ours, target_theirs = mg.tensor(LABELS), torch.tensor(LABELS)
    else:
        target = TARGETS / TARGETS.sum(1, keepdims=True) if name == "cross_entropy_probs" else TARGETS
        target_ours, target_theirs = mg.tensor(target), torch.tensor(target)

    def loss(lib, fun, x, t):
        if name in ("nll_loss", "NLLLoss"):
            x = fun.log_softmax(x, dim=1)
        fname = "cross_entropy" if name == "cross_entropy_probs" else name
        if fname[0].isupper():
            return getattr(lib.nn, fname)(reduction=reduction)(x, t)
        return getattr(fun, fname)(x, t, reduction=reduction)

    a = mg.tensor(inputs.copy(), requires_grad=True)
    b = torch.tensor(inputs.copy(), requires_grad=True)
    la, lb = loss(mg, F, a, target_ours), loss(torch, torch.nn.functional, b, target_theirs)
    numpy.testing.assert_allclose(la.numpy(), lb.detach().numpy(), **TOL)
    la.sum().backward()
    lb.sum().backward()
    numpy.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **TOL)


def test_binary_cross_entropy_at_the_clamp_matches_torch():
    p = numpy.array([0.0, 1.0, 1e-50, 0.3])
    t = numpy.array([1.0, 0.0, 1.0, 0.0])
    a, b = mg.tensor(p, requires_grad=True), torch.tensor(p, requires_grad=True)
    la = F.binary_cross_entropy(a, mg.tensor(t), reduction="sum")
    lb = torch.nn.functional.binary_cross_entropy(b, torch.tensor(t), reduction="sum")
    numpy.testing.assert_allclose(la.item(), lb.item(), **TOL)
    la.backward()
    lb.backward()
    # at p = 0 and 1 the gradient is 1 / floor; torch stores its floor 1e-12 as a float32
    # (9.99999996e-13), 4e-9 away from minigan's float64 1e-12
    numpy.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-8)
    assert a.grad.numpy()[0] == pytest.approx(-1e12, rel=1e-15)


def test_inplace_update_and_zero_grad_behave_as_torch():
    a, b = ours(), theirs()
    (a * a).sum().backward()
    (b * b).sum().backward()
    with mg.no_grad():
        a -= 0.1 * a.grad
    with torch.no_grad():
        b -= 0.1 * b.grad
    numpy.testing.assert_allclose(a.numpy(), b.detach().numpy(), **TOL)
    with pytest.raises(RuntimeError):
        b -= 1.0
    with pytest.raises(RuntimeError):
        a -= 1.0
    a, b = ours(), theirs()
    la, lb = (a * a).sum(), (b * b).sum()
    la += a.mean()  # a non-leaf: recorded in both
    lb += b.mean()
    la.backward()
    lb.backward()
    numpy.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **TOL)
    lin_a, lin_b = nn.Linear(5, 2, dtype=numpy.float64), torch.nn.Linear(5, 2).double()
    for lin in (lin_a, lin_b):
        lin.weight.grad = None
    lin_a(a).sum().backward()
    lin_b(b).sum().backward()
    lin_a.zero_grad(set_to_none=False)
    lin_b.zero_grad(set_to_none=False)
    assert lin_a.weight.grad.tolist() == lin_b.weight.grad.tolist()
