"""PyTorch habits that must work in minigan, or fail loudly: the three silent traps
(manual_seed, var's divisor, in-place updates) and the aliases (their values are checked
against torch in tests/test_torch_crosscheck_habits.py)."""
import re

import numpy
import pytest

import minigan as mg
from minigan import functional as F
from minigan import gradcheck, nn
from placement import host

F64 = numpy.float64


# -- trap 1: manual_seed seeds what is built without generator= -----------------------------

def test_manual_seed_makes_layers_init_dropout_and_sampling_reproducible():
    def build():
        mg.manual_seed(7)
        lin = nn.Linear(5, 4)
        w = mg.zeros(3, 3)
        nn.init.normal_(w, 0.0, 1.0)
        drop = F.dropout(mg.ones(50), 0.5)
        return lin.weight.numpy(), w.numpy(), drop.numpy(), mg.randn(4).numpy(), mg.rand(2, 2).numpy()

    first, second = build(), build()
    for a, b in zip(first, second):
        numpy.testing.assert_array_equal(a, b)
    mg.manual_seed(8)
    assert not numpy.array_equal(nn.Linear(5, 4).weight.numpy(), first[0])


def test_an_explicit_generator_wins_over_the_default():
    mg.manual_seed(0)
    expected = nn.Linear(5, 4, generator=mg.Generator(3)).weight.numpy()
    mg.manual_seed(123)
    numpy.testing.assert_array_equal(nn.Linear(5, 4, generator=mg.Generator(3)).weight.numpy(), expected)
    assert mg.manual_seed(1) is mg.default_generator()


def test_dropout_layer_without_generator_draws_from_the_default_at_call_time():
    drop = nn.Dropout(0.5)
    x = mg.ones(64)
    mg.manual_seed(5)
    a = drop(x).numpy()
    mg.manual_seed(5)
    numpy.testing.assert_array_equal(drop(x).numpy(), a)


def test_a_bad_generator_is_named():
    with pytest.raises(TypeError, match="randn: generator must be a minigan.Generator"):
        mg.randn(2, generator=numpy.random.default_rng(0))


# -- trap 2: var and std divide by n - 1 by default, as PyTorch ---------------------------

def test_var_and_std_are_unbiased_by_default():
    x = mg.tensor([1.0, 2.0, 3.0, 4.0], dtype=F64)
    assert mg.var(x).item() == pytest.approx(5.0 / 3.0, rel=1e-15)  # float64: exact up to rounding
    assert x.std().item() == pytest.approx((5.0 / 3.0) ** 0.5, rel=1e-15)
    for biased in (dict(unbiased=False), dict(correction=0), dict(ddof=0)):
        assert x.var(**biased).item() == pytest.approx(1.25, rel=1e-15)
    assert x.var(correction=2).item() == pytest.approx(2.5, rel=1e-15)


def test_var_rejects_two_spellings_of_the_divisor():
    x = mg.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="var: give one of unbiased=, correction=, ddof="):
        x.var(unbiased=True, ddof=0)
    with pytest.raises(ValueError, match="var: 1 elements"):
        mg.tensor([1.0]).var()
    with pytest.raises(TypeError, match="give axis= .* or dim="):
        x.sum(axis=0, dim=0)


def test_std_gradient_matches_finite_differences():
    x = mg.tensor(numpy.random.default_rng(0).normal(size=(3, 4)), requires_grad=True)
    gradcheck(lambda t: mg.std(t, dim=1, keepdim=True), [x])
    gradcheck(lambda t: t.std(unbiased=False), [x])


# -- trap 3: p -= lr * p.grad updates p (under no_grad) or refuses -------------------------

def test_inplace_update_under_no_grad_changes_the_parameters():
    lin = nn.Linear(3, 2, dtype=F64, generator=mg.Generator(0))
    before = [p.numpy().copy() for p in lin.parameters()]
    lin(mg.ones((4, 3), dtype=F64)).sum().backward()
    with mg.no_grad():
        for p in lin.parameters():
            p -= 0.1 * p.grad
    for p, b in zip(lin.parameters(), before):
        numpy.testing.assert_allclose(p.numpy(), b - 0.1 * p.grad.numpy(), rtol=1e-15)
    assert list(lin.parameters())[0] is lin.weight  # the same Parameter object, not a rebinding


def test_inplace_on_a_tensor_that_requires_grad_raises_with_the_fix():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"with minigan.no_grad\(\): p -= "):
        w -= 1.0


def test_inplace_inside_a_recorded_graph_records_the_op_as_pytorch():
    w = mg.tensor([1.0, 2.0], dtype=F64, requires_grad=True)
    loss = (w * w).sum()
    term = w.sum()
    loss += term  # a non-leaf: recorded, the name now holds loss + term
    loss.backward()
    numpy.testing.assert_array_equal(w.grad.numpy(), [3.0, 5.0])  # d/dw (w.w + sum w) = 2w + 1
    x = mg.tensor([1.0, 2.0], dtype=F64)
    data = x.data
    x *= w  # a constant times a tensor that requires grad: the product joins the graph
    assert x.creator is not None and x.data is not data
    numpy.testing.assert_array_equal(host(data), [1.0, 2.0])


def test_inplace_on_plain_tensors_writes_into_the_same_array():
    x = mg.tensor([1.0, 2.0, 4.0])
    data = x.data
    x += 1
    x *= mg.tensor([2.0, 2.0, 2.0])
    x /= 2
    x -= mg.tensor([1.0, 1.0, 1.0])
    assert x.data is data
    numpy.testing.assert_array_equal(x.numpy(), [1.0, 2.0, 4.0])
    with pytest.raises(ValueError, match="cannot change a tensor's shape"):
        x += mg.ones((2, 3))
    i = mg.tensor([1, 2])
    with pytest.raises(TypeError, match="cannot be stored in this int64 tensor"):
        i += 0.5


# -- aliases ------------------------------------------------------------------------------

def test_shape_aliases():
    x = mg.tensor(numpy.arange(24.0).reshape(2, 3, 4))
    assert x.view(6, 4).shape == (6, 4) and x.view(-1).shape == (24,)
    assert x.unsqueeze(0).shape == (1, 2, 3, 4) and x.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert mg.zeros(1, 3, 1).squeeze().shape == (3,) and mg.zeros(1, 3, 1).squeeze(0).shape == (3, 1)
    assert mg.zeros(2, 3, 1).squeeze(1).shape == (2, 3, 1)  # a dim of length 3 is kept, as PyTorch
    assert x.flatten().shape == (24,) and x.flatten(1).shape == (2, 12) and x.flatten(0, 1).shape == (6, 4)
    assert x.numel() == 24 and x.float().dtype == numpy.float32 and x.double().dtype == F64
    with pytest.raises(ValueError, match="unsqueeze: dim 4 is out of range"):
        x.unsqueeze(4)


def test_clone_copies_and_stays_in_the_graph():
    x = mg.tensor([1.0, 2.0], dtype=F64, requires_grad=True)
    y = x.clone()
    assert y.data is not x.data and y.creator is not None
    gradcheck(lambda t: (t.clone() * t).unsqueeze(0).flatten(), [x])


def test_reductions_take_dim_and_keepdim_and_max_with_dim_gives_indices():
    x = mg.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    numpy.testing.assert_array_equal(x.sum(dim=0).numpy(), [8.0, 5.0, 5.0])
    assert x.mean(dim=1, keepdim=True).shape == (2, 1)
    values, indices = x.max(dim=1)
    numpy.testing.assert_array_equal(values.numpy(), [5.0, 7.0])
    numpy.testing.assert_array_equal(indices.numpy(), [1, 0])
    assert x.min(dim=0).indices.tolist() == [0, 1, 0]
    assert x.max().item() == 7.0 and x.max(axis=1).shape == (2,)  # NumPy's spelling: the values only
    assert x.argmax().item() == 3 and x.argmin(dim=1).tolist() == [0, 1]
    assert F.softmax(x, dim=0).shape == (2, 3)


def test_factories_take_pytorch_sizes():
    assert mg.zeros(2, 3).shape == mg.zeros((2, 3)).shape == mg.ones([2, 3]).shape == (2, 3)
    assert mg.full((2, 2), 3.0).tolist() == [[3.0, 3.0], [3.0, 3.0]]
    assert mg.randn(3, 2, generator=mg.Generator(0)).shape == (3, 2)
    r = mg.rand(1000, generator=mg.Generator(0)).numpy()
    assert 0.0 <= r.min() and r.max() < 1.0
    with pytest.raises(TypeError, match=r"zeros: a shape is non-negative ints"):
        mg.zeros(2.5)


def test_nn_and_optim_are_reachable_from_the_package():
    assert mg.nn.Linear is nn.Linear and mg.optim.SGD.__name__ == "SGD"


@pytest.mark.parametrize("owner", ["module", "optimizer"])
def test_zero_grad_set_to_none(owner):
    lin = nn.Linear(2, 1, generator=mg.Generator(0))
    target = lin if owner == "module" else mg.optim.SGD(lin.parameters(), lr=0.1)
    lin(mg.ones((1, 2))).sum().backward()
    old = lin.weight.grad
    target.zero_grad(set_to_none=False)
    assert lin.weight.grad is not old and lin.weight.grad.tolist() == [[0.0, 0.0]]
    assert old.tolist() != [[0.0, 0.0]]  # the gradient held elsewhere is untouched
    target.zero_grad()
    assert lin.weight.grad is None


# -- losses (values against torch in test_torch_crosscheck_habits.py) -----------------------

def test_new_losses_gradcheck():
    rng = numpy.random.default_rng(1)
    logits = mg.tensor(rng.normal(size=(4, 3)), requires_grad=True)
    labels = mg.tensor(numpy.array([0, 2, 1, 2]))
    probs = mg.tensor(rng.uniform(0.05, 0.95, size=(4, 3)), requires_grad=True)
    targets = mg.tensor(rng.uniform(0, 1, size=(4, 3)), requires_grad=True)
    gradcheck(lambda a: F.cross_entropy(a, labels), [logits])
    gradcheck(lambda a: F.nll_loss(F.log_softmax(a, dim=1), labels, reduction="none"), [logits])
    gradcheck(lambda a, t: F.cross_entropy(a, F.softmax(t, dim=1), reduction="sum"), [logits, targets])
    gradcheck(lambda p, t: F.binary_cross_entropy(p, t, reduction="none"), [probs, targets])
    gradcheck(lambda p: nn.BCELoss(reduction="sum")(p, targets.detach()), [probs])


def test_loss_inputs_are_checked():
    with pytest.raises(ValueError, match=r"cross_entropy: labels must lie in \[0, 2\]"):
        F.cross_entropy(mg.zeros(2, 3), mg.tensor([0, 3]))
    with pytest.raises(ValueError, match="binary_cross_entropy: input must be probabilities in"):
        F.binary_cross_entropy(mg.tensor([1.5]), mg.tensor([1.0]))
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.MSELoss(reduction="avg")


def test_binary_cross_entropy_is_finite_at_0_and_1():
    p = mg.tensor([0.0, 1.0, 0.5], dtype=F64, requires_grad=True)
    loss = F.binary_cross_entropy(p, mg.tensor([1.0, 0.0, 1.0], dtype=F64), reduction="sum")
    assert loss.item() == pytest.approx(200.0 + numpy.log(2.0), rel=1e-12)  # two logs clamped at -100
    loss.backward()
    assert numpy.isfinite(p.grad.numpy()).all()


def test_cat_and_stack_take_dim():
    a, b = mg.ones(2, 3), mg.zeros(2, 3)
    assert mg.cat([a, b], dim=1).shape == (2, 6) and mg.stack([a, b], dim=-1).shape == (2, 3, 2)
    assert mg.cat([a, b]).shape == (4, 3) and mg.stack((a, b), 1).shape == (2, 2, 3)
    with pytest.raises(TypeError, match="concatenate: give axis= .* or dim="):
        mg.cat([a, b], axis=0, dim=0)


def test_more_pytorch_method_names():
    x = mg.tensor([[1.0, -2.0], [3.0, 4.0]], requires_grad=True)
    y = x * 2
    assert y.grad_fn is y.creator and y.grad_fn.name == "MulScalar" and x.grad_fn is None
    assert x.dim() == 2 and x.t().tolist() == [[1.0, 3.0], [-2.0, 4.0]]
    assert x.clamp(min=0).tolist() == [[1.0, 0.0], [3.0, 4.0]] and x.clamp(max=2).tolist() == [[1.0, -2.0], [2.0, 2.0]]
    assert x.mm(mg.tensor([[1.0], [1.0]])).tolist() == [[-1.0], [7.0]]
    assert mg.sigmoid(mg.tensor([0.0])).item() == 0.5 and mg.relu(mg.tensor([-1.0])).item() == 0.0
    with pytest.raises(ValueError, match="t: expects a tensor with at most 2 dims"):
        mg.zeros(2, 2, 2).t()


@pytest.mark.parametrize("where, name, hint", [
    ("tensor", "cuda", "x.to('cupy')"), ("tensor", "masked_fill", "minigan.where"),
    ("tensor", "zero_", "no_grad"), ("module", "float32", "numpy.float32"), ("module", "save", "checkpoint.save"),
    ("module", "from_numpy", "minigan.tensor(array)"),
])
def test_pytorch_names_minigan_lacks_raise_with_the_minigan_spelling(where, name, hint):
    owner = mg.ones(2) if where == "tensor" else mg
    with pytest.raises(AttributeError, match=rf"\(a PyTorch name\); in minigan write .*{re.escape(hint)}"):
        getattr(owner, name)
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        owner.no_such_name  # noqa: B018 - the lookup is what is tested


def test_transpose_with_two_axes_swaps_them_as_pytorch():
    x = mg.tensor(numpy.arange(24.0).reshape(2, 3, 4))
    m = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert m.transpose(0, 1).tolist() == [[1.0, 3.0], [2.0, 4.0]]  # NumPy would return m unchanged
    numpy.testing.assert_array_equal(x.transpose(0, 2).numpy(), x.numpy().swapaxes(0, 2))
    numpy.testing.assert_array_equal(x.transpose(-1, 0).numpy(), x.numpy().swapaxes(-1, 0))
    numpy.testing.assert_array_equal(x.transpose((1, 0, 2)).numpy(), x.numpy().transpose(1, 0, 2))
    numpy.testing.assert_array_equal(x.transpose().numpy(), x.numpy().T)
    assert x.permute(2, 0, 1).shape == (4, 2, 3)
    with pytest.raises(ValueError, match="permute: axes .* are not a permutation"):
        x.permute(0, 1)
    gradcheck(lambda t: t.transpose(0, 2) * 2, [mg.tensor(numpy.ones((2, 3, 4)), requires_grad=True)])
