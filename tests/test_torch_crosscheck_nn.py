"""minigan.nn against PyTorch, layer by layer, in float64 with the same weights.

PyTorch is only a reference here (skipped when absent). Forward values and the gradients
of a random linear functional <v, y> with respect to input, weights and bias must agree
to 1e-10 relative: both sides compute the same sums in a different order, so only
rounding (~1e-16 times the number of terms) separates them.
"""
import numpy
import pytest

import minigan
import minigan.functional as F
from minigan import Generator, Tensor, nn
from placement import host, on_default

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

RTOL, ATOL = 1e-10, 1e-12


def close(ours, theirs):
    numpy.testing.assert_allclose(host(ours), theirs.detach().numpy(), rtol=RTOL, atol=ATOL)


def copy_weights(ours, theirs):
    """Load minigan's parameters and buffers into the torch module (same names, same layouts)."""
    state = {k: torch.from_numpy(v.copy()) for k, v in host(ours.state_dict()).items()}
    missing, unexpected = theirs.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing)


def run_both(ours, theirs, x, seed=0):
    """Forward both on x, backprop a random cotangent, compare outputs and every gradient."""
    xm = minigan.tensor(x, requires_grad=True)  # where minigan's modules are: the default backend
    xt = torch.tensor(x, requires_grad=True)
    ym, yt = ours(xm), theirs(xt)
    close(ym.data, yt)
    v = numpy.random.default_rng(seed).standard_normal(ym.shape)
    ym.backward(minigan.tensor(v))
    yt.backward(torch.from_numpy(v))
    close(xm.grad.data, xt.grad)
    tp = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        close(p.grad.data, tp[name].grad)
    return ym, yt


@pytest.fixture
def x_dense():
    return numpy.random.default_rng(1).standard_normal((5, 7))


@pytest.mark.parametrize("bias", [True, False])
def test_linear(x_dense, bias):
    ours = nn.Linear(7, 4, bias=bias, generator=Generator(0), dtype=numpy.float64)
    theirs = torch.nn.Linear(7, 4, bias=bias, dtype=torch.float64)
    copy_weights(ours, theirs)
    run_both(ours, theirs, x_dense)


@pytest.mark.parametrize("k,stride,padding", [(3, 1, 1), (4, 2, 1), (3, 2, 0)])
def test_conv2d(k, stride, padding):
    x = numpy.random.default_rng(2).standard_normal((2, 3, 8, 7))
    ours = nn.Conv2d(3, 4, k, stride, padding, generator=Generator(0), dtype=numpy.float64)
    theirs = torch.nn.Conv2d(3, 4, k, stride, padding, dtype=torch.float64)
    copy_weights(ours, theirs)
    run_both(ours, theirs, x)


@pytest.mark.parametrize("k,stride,padding,output_padding", [(4, 2, 1, 0), (3, 2, 1, 1), (3, 1, 0, 0)])
def test_conv_transpose2d(k, stride, padding, output_padding):
    x = numpy.random.default_rng(3).standard_normal((2, 4, 5, 4))
    ours = nn.ConvTranspose2d(4, 3, k, stride, padding, output_padding, generator=Generator(0), dtype=numpy.float64)
    theirs = torch.nn.ConvTranspose2d(4, 3, k, stride, padding, output_padding, dtype=torch.float64)
    copy_weights(ours, theirs)
    run_both(ours, theirs, x)


@pytest.mark.parametrize("cls,tcls,shape", [
    (nn.BatchNorm2d, torch.nn.BatchNorm2d, (4, 3, 5, 2)),
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (6, 3)),
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (4, 3, 5)),
])
def test_batch_norm_train_then_eval(cls, tcls, shape):
    rng = numpy.random.default_rng(4)
    ours = cls(3, momentum=0.2, dtype=numpy.float64)
    theirs = tcls(3, momentum=0.2, dtype=torch.float64)
    # non-trivial gamma and beta, the same on both sides
    ours.weight.data[...] = on_default(rng.uniform(0.5, 2.0, 3))
    ours.bias.data[...] = on_default(rng.standard_normal(3))
    copy_weights(ours, theirs)
    for step in range(3):  # training mode: batch statistics, running statistics updated
        x = rng.standard_normal(shape) * (step + 1) + step
        ours.zero_grad()
        theirs.zero_grad()
        run_both(ours, theirs, x, seed=step)
        close(ours.running_mean.data, theirs.running_mean)
        close(ours.running_var.data, theirs.running_var)
    ours.eval()
    theirs.eval()
    ours.zero_grad()
    theirs.zero_grad()
    run_both(ours, theirs, rng.standard_normal(shape) + 1.0, seed=9)  # evaluation: running statistics


def test_batch_norm_double_backward_matches_torch():
    """create_graph gradients through batch norm (as in a gradient penalty) agree with torch's."""
    rng = numpy.random.default_rng(5)
    x, w = rng.standard_normal((6, 3)), rng.uniform(0.5, 2.0, 3)
    xm, wm = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    v = rng.standard_normal((6, 3))
    (gm,) = [minigan.grad(F.batch_norm(xm, wm, None) * Tensor(v), [xm], Tensor(numpy.ones((6, 3))),
                          create_graph=True)[0]]
    yt = torch.nn.functional.batch_norm(xt, None, None, wt, None, training=True)
    (gt,) = torch.autograd.grad((yt * torch.from_numpy(v)).sum(), [xt], create_graph=True)
    close(gm.data, gt)
    (gm * gm).sum().backward()
    (gt * gt).sum().backward()
    close(xm.grad.data, xt.grad)
    close(wm.grad.data, wt.grad)


def test_maxout_against_linear_view_max(x_dense):
    ours = nn.Maxout(7, 4, 3, generator=Generator(0), dtype=numpy.float64)
    lin = torch.nn.Linear(7, 12, dtype=torch.float64)

    class TorchMaxout(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight, self.bias = lin.weight, lin.bias

        def forward(self, x):
            return lin(x).view(x.shape[0], 4, 3).max(dim=-1).values

    theirs = TorchMaxout()
    copy_weights(ours, theirs)
    run_both(ours, theirs, x_dense)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits(reduction):
    rng = numpy.random.default_rng(6)
    a, t = rng.standard_normal((4, 5)) * 5, rng.uniform(0, 1, (4, 5))
    w = rng.uniform(0.5, 2.0, (1, 5))
    am, tm = Tensor(a, requires_grad=True), Tensor(t, requires_grad=True)
    at, tt = torch.tensor(a, requires_grad=True), torch.tensor(t, requires_grad=True)
    lm = F.binary_cross_entropy_with_logits(am, tm, reduction, weight=Tensor(w))
    lt = torch.nn.functional.binary_cross_entropy_with_logits(at, tt, weight=torch.from_numpy(w), reduction=reduction)
    close(lm.data, lt)
    v = rng.standard_normal(lm.shape)
    lm.backward(Tensor(v))
    lt.backward(torch.from_numpy(v))
    close(am.grad.data, at.grad)
    close(tm.grad.data, tt.grad)


def test_bce_with_huge_logits_float32_matches_torch():
    a = numpy.array([1e4, -1e4, 30.0, -30.0, 0.0], numpy.float32)
    t = numpy.array([0.0, 1.0, 1.0, 0.0, 0.5], numpy.float32)
    am = Tensor(a, requires_grad=True)
    lm = F.binary_cross_entropy_with_logits(am, Tensor(t), "none")
    at = torch.tensor(a, requires_grad=True)
    lt = torch.nn.functional.binary_cross_entropy_with_logits(at, torch.from_numpy(t), reduction="none")
    numpy.testing.assert_allclose(lm.data, lt.detach().numpy(), rtol=1e-6, atol=1e-12)
    lm.sum().backward()
    lt.sum().backward()
    numpy.testing.assert_allclose(am.grad.data, at.grad.numpy(), rtol=1e-6, atol=1e-12)
