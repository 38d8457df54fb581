"""Convolutions: conv2d and conv_transpose2d (minigan/ops/conv.py), the adjoint pair.

Four kinds of test, over random kernel, stride, padding, output_padding and channel sizes:
- values against naive loops written straight from the definitions (a sliding window sum
  for conv2d, a scatter of scaled kernels for conv_transpose2d), independent of im2col;
- the adjoint identity <conv2d(x, W), y> = <x, conv_transpose2d(y, W)> and the output sizes;
- finite differences for the gradients in x, W, b, and for the gradients of the gradients;
- PyTorch in float64, values and gradients to 1e-10 relative (skipped without torch).
Float64 throughout: the sums have at most 3 * 4 * 4 = 48 terms of size O(1), so rounding
is ~1e-15 and 1e-12 is a tolerance no real mistake could hide under.
"""
import os

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigan
import minigan.functional as F
from minigan import Tensor, gradcheck, gradgradcheck
from strategies import LAYOUTS, layout_array

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOL = dict(rtol=1e-12, atol=1e-12)


# -- naive references (loops over every output or input pixel) --------------------------------

# every test runs on each backend (numpy; the CuPy stand-in; cupy on a GPU): see tests/conftest.py
pytestmark = pytest.mark.usefixtures("xp_backend")


def conv2d_ref(x, W, b, stride, padding):
    """y[n, o, y, x] = b[o] + sum_{c, i, j} W[o, c, i, j] x_pad[n, c, s y + i, s x + j], pixel by pixel."""
    (sh, sw), (ph, pw) = stride, padding
    N, C, H, Wd = x.shape
    O, _, kh, kw = W.shape
    xp = numpy.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (Wd + 2 * pw - kw) // sw + 1
    y = numpy.zeros((N, O, Ho, Wo))
    for n in range(N):
        for o in range(O):
            for i in range(Ho):
                for j in range(Wo):
                    y[n, o, i, j] = (W[o] * xp[n, :, sh * i:sh * i + kh, sw * j:sw * j + kw]).sum()
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def conv_transpose2d_ref(x, W, b, stride, padding, output_padding):
    """Every input pixel adds x[n, c, y, x] * W[c] into the output at (s y, s x); crop p; + b."""
    (sh, sw), (ph, pw), (oh, ow) = stride, padding, output_padding
    N, C, H, Wd = x.shape
    _, O, kh, kw = W.shape
    full = numpy.zeros((N, O, (H - 1) * sh + kh + oh, (Wd - 1) * sw + kw + ow))
    for n in range(N):
        for c in range(C):
            for i in range(H):
                for j in range(Wd):
                    full[n, :, sh * i:sh * i + kh, sw * j:sw * j + kw] += x[n, c, i, j] * W[c]
    Ho, Wo = full.shape[2] - 2 * ph, full.shape[3] - 2 * pw
    y = full[:, :, ph:ph + Ho, pw:pw + Wo]
    return y if b is None else y + b.reshape(1, -1, 1, 1)


# -- strategies ------------------------------------------------------------------------------


@st.composite
def conv_cases(draw, max_side=6, max_channels=3, max_kernel=4, max_batch=2):
    """(x, W, b, stride, padding) for conv2d: every size drawn, H + 2p >= k so the output exists.

    x is drawn in a random memory layout (contiguous, transposed, strided view)."""
    N, C, O = draw(st.integers(1, max_batch)), draw(st.integers(1, max_channels)), draw(st.integers(1, max_channels))
    kh, kw = draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    H = draw(st.integers(max(1, kh - 2 * padding[0]), max_side))
    Wd = draw(st.integers(max(1, kw - 2 * padding[1]), max_side))
    rng = numpy.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = layout_array(rng, (N, C, H, Wd), -1, 1, draw(st.sampled_from(LAYOUTS)))
    W = rng.uniform(-1, 1, (O, C, kh, kw))
    b = rng.uniform(-1, 1, O) if draw(st.booleans()) else None
    return x, W, b, stride, padding


@st.composite
def conv_transpose_cases(draw, max_side=4, max_channels=3, max_kernel=4, max_batch=2):
    """(x, W, b, stride, padding, output_padding) for conv_transpose2d, output size >= 1.

    output_padding < stride; padding at most what leaves one output row: 2p <= (H-1)s + k + op - 1."""
    N, C, O = draw(st.integers(1, max_batch)), draw(st.integers(1, max_channels)), draw(st.integers(1, max_channels))
    sizes = []
    for _ in range(2):
        H, k, s = draw(st.integers(1, max_side)), draw(st.integers(1, max_kernel)), draw(st.integers(1, 3))
        op = draw(st.integers(0, s - 1))
        p = draw(st.integers(0, min(2, ((H - 1) * s + k + op - 1) // 2)))
        sizes.append((H, k, s, p, op))
    (H, kh, sh, ph, oh), (Wd, kw, sw, pw, ow) = sizes
    rng = numpy.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = layout_array(rng, (N, C, H, Wd), -1, 1, draw(st.sampled_from(LAYOUTS)))
    W = rng.uniform(-1, 1, (C, O, kh, kw))
    b = rng.uniform(-1, 1, O) if draw(st.booleans()) else None
    return x, W, b, (sh, sw), (ph, pw), (oh, ow)


def _tensors(x, W, b, grad=False):
    return [Tensor(a, requires_grad=grad) for a in ((x, W) if b is None else (x, W, b))]


def _adjoint_output_padding(x_shape, W_shape, stride, padding):
    """op = (H + 2p - k) mod s: what conv_transpose2d needs to map conv2d's output size back to H."""
    return tuple((x_shape[2 + a] + 2 * padding[a] - W_shape[2 + a]) % stride[a] for a in (0, 1))


# -- values ----------------------------------------------------------------------------------


@given(conv_cases())
def test_conv2d_matches_the_naive_loop(case):
    x, W, b, stride, padding = case
    y = F.conv2d(*_tensors(x, W, b), stride=stride, padding=padding)
    numpy.testing.assert_allclose(y.data, conv2d_ref(x, W, b, stride, padding), **TOL)


@given(conv_transpose_cases())
def test_conv_transpose2d_matches_the_naive_scatter_loop(case):
    x, W, b, stride, padding, output_padding = case
    y = F.conv_transpose2d(*_tensors(x, W, b), stride=stride, padding=padding, output_padding=output_padding)
    numpy.testing.assert_allclose(y.data, conv_transpose2d_ref(x, W, b, stride, padding, output_padding), **TOL)


def test_int_and_pair_arguments_agree_and_float32_stays_float32():
    rng = numpy.random.default_rng(0)
    x, W = rng.standard_normal((2, 3, 7, 7)), rng.standard_normal((4, 3, 3, 3))
    a = F.conv2d(Tensor(x), Tensor(W), stride=2, padding=1).data
    numpy.testing.assert_array_equal(a, F.conv2d(Tensor(x), Tensor(W), stride=(2, 2), padding=[1, 1]).data)
    y32 = F.conv2d(Tensor(x.astype(numpy.float32)), Tensor(W.astype(numpy.float32)), stride=2, padding=1)
    assert y32.dtype == numpy.float32
    numpy.testing.assert_allclose(y32.data, a, rtol=1e-5, atol=1e-5)  # float32: ~27 terms, eps 6e-8 each
    yt = F.conv_transpose2d(Tensor(a.astype(numpy.float32)), Tensor(W.astype(numpy.float32)), stride=2, padding=1)
    assert yt.dtype == numpy.float32 and yt.shape == (2, 3, 7, 7)


# -- the adjoint pair and the output-size formulas -------------------------------------------


@given(conv_cases())
def test_adjoint_identity(case):
    """<conv2d(x, W), y> = <x, conv_transpose2d(y, W)>: conv_transpose2d(., W) is conv2d(., W)^T."""
    x, W, _, stride, padding = case
    Wt = Tensor(W)
    cx = F.conv2d(Tensor(x), Wt, stride=stride, padding=padding)
    y = numpy.random.default_rng(int(abs(x).sum() * 1e6) % 2**32).standard_normal(cx.shape)
    op = _adjoint_output_padding(x.shape, W.shape, stride, padding)
    ty = F.conv_transpose2d(Tensor(y), Wt, stride=stride, padding=padding, output_padding=op)
    assert ty.shape == x.shape
    lhs, rhs = float((cx.data * y).sum()), float((x * ty.data).sum())
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, float(numpy.abs(cx.data * y).sum()))


@given(conv_transpose_cases())
def test_conv_transpose2d_output_size_formula(case):
    """H'' = (H - 1) s - 2p + k + output_padding, and conv2d with the same (k, s, p) maps H'' back to H."""
    x, W, b, stride, padding, output_padding = case
    y = F.conv_transpose2d(*_tensors(x, W, b), stride=stride, padding=padding, output_padding=output_padding)
    N, _, H, Wd = x.shape
    expected = tuple((n - 1) * s - 2 * p + k + op
                     for n, s, p, k, op in zip((H, Wd), stride, padding, W.shape[2:], output_padding))
    assert y.shape == (N, W.shape[1]) + expected
    # every output_padding < s gives a size that a strided conv2d maps back onto H
    back = F.conv2d(y, Tensor(W), stride=stride, padding=padding)  # W (C_in, C_out, ..) is conv2d's (O, C, ..)
    assert back.shape == x.shape


@given(conv_cases())
def test_conv2d_output_size_formula(case):
    x, W, b, stride, padding = case
    y = F.conv2d(*_tensors(x, W, b), stride=stride, padding=padding)
    expected = tuple((n + 2 * p - k) // s + 1 for n, s, p, k in zip(x.shape[2:], stride, padding, W.shape[2:]))
    assert y.shape == (x.shape[0], W.shape[0]) + expected


# -- gradients -------------------------------------------------------------------------------

small = dict(max_side=4, max_channels=2, max_kernel=3)


def _check_grads(fn, arrays, mask, second_order):
    inputs = [Tensor(numpy.array(a), requires_grad=m) for a, m in zip(arrays, mask)]
    gradcheck(fn, inputs)
    if second_order:
        gradgradcheck(fn, inputs)


@settings(max_examples=15)
@given(conv_cases(**small), st.lists(st.booleans(), min_size=3, max_size=3).filter(any))
def test_conv2d_gradcheck_in_x_W_b(case, mask):
    """Any subset of (x, W, b) requiring grad: each backward branch, and the arrays it shares, alone."""
    x, W, b, stride, padding = case
    b = numpy.zeros(W.shape[0]) + 0.5 if b is None else b
    _check_grads(lambda x, W, b: F.conv2d(x, W, b, stride, padding), (x, W, b), mask, False)


@settings(max_examples=15)
@given(conv_transpose_cases(max_side=3, max_channels=2, max_kernel=3),
       st.lists(st.booleans(), min_size=3, max_size=3).filter(any))
def test_conv_transpose2d_gradcheck_in_x_W_b(case, mask):
    x, W, b, stride, padding, output_padding = case
    b = numpy.zeros(W.shape[1]) + 0.5 if b is None else b
    _check_grads(lambda x, W, b: F.conv_transpose2d(x, W, b, stride, padding, output_padding), (x, W, b), mask,
                 False)


@settings(max_examples=6)
@given(conv_cases(max_side=3, max_channels=2, max_kernel=2, max_batch=1))
def test_conv2d_gradgradcheck(case):
    """The backward pass is made of conv ops, so it differentiates again (WGAN-GP needs this)."""
    x, W, b, stride, padding = case
    b = numpy.zeros(W.shape[0]) + 0.5 if b is None else b
    _check_grads(lambda x, W, b: F.conv2d(x, W, b, stride, padding), (x, W, b), (True, True, True), True)


@settings(max_examples=6)
@given(conv_transpose_cases(max_side=3, max_channels=2, max_kernel=2, max_batch=1))
def test_conv_transpose2d_gradgradcheck(case):
    x, W, b, stride, padding, output_padding = case
    b = numpy.zeros(W.shape[1]) + 0.5 if b is None else b
    _check_grads(lambda x, W, b: F.conv_transpose2d(x, W, b, stride, padding, output_padding), (x, W, b),
                 (True, True, True), True)


@pytest.mark.parametrize("k,s,p", [(4, 2, 1), (3, 2, 1), (3, 1, 0)])
def test_dcgan_shaped_gradcheck(k, s, p):
    """A D-like conv followed by a G-like transposed conv back to the input size, in one graph."""
    rng = numpy.random.default_rng(k * 10 + s)
    x = Tensor(rng.standard_normal((2, 2, 6, 5)), requires_grad=True)
    W1 = Tensor(rng.standard_normal((3, 2, k, k)), requires_grad=True)
    W2 = Tensor(rng.standard_normal((3, 2, k, k)), requires_grad=True)
    op = _adjoint_output_padding(x.shape, W1.shape, (s, s), (p, p))

    def f(x, W1, W2):
        h = F.conv2d(x, W1, stride=s, padding=p)
        return F.conv_transpose2d(h * h, W2, stride=s, padding=p, output_padding=op)

    assert f(x, W1, W2).shape == x.shape
    gradcheck(f, [x, W1, W2])
    gradgradcheck(f, [x, W1, W2], directional=True)


def test_backward_twice_on_a_retained_graph_gives_the_same_gradients():
    """The cached unfolded arrays (im2col of x, g batch-last) are read, never written, by backward."""
    rng = numpy.random.default_rng(3)
    x = Tensor(rng.standard_normal((2, 3, 6, 6)), requires_grad=True)
    W = Tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    Wt = Tensor(rng.standard_normal((4, 2, 3, 3)), requires_grad=True)
    y = F.conv_transpose2d(F.conv2d(x, W, stride=2, padding=1), Wt, stride=2, padding=1, output_padding=1)
    g = Tensor(rng.standard_normal(y.shape))
    y.backward(g, retain_graph=True)
    first = [t.grad.data.copy() for t in (x, W, Wt)]
    for t in (x, W, Wt):
        t.grad = None
    y.backward(g)
    for a, t in zip(first, (x, W, Wt)):
        numpy.testing.assert_array_equal(a, t.grad.data)


# -- errors ----------------------------------------------------------------------------------

z = numpy.zeros


@pytest.mark.parametrize("call,message", [
    (lambda: F.conv2d(z((2, 3, 8, 8)), z((4, 2, 3, 3))),
     r"conv2d: x has 3 channels \(shape \(2, 3, 8, 8\)\) but weight \(O, C, kh, kw\) of shape \(4, 2, 3, 3\)"),
    (lambda: F.conv_transpose2d(z((2, 3, 8, 8)), z((4, 3, 3, 3))),
     r"conv_transpose2d: x has 3 channels .* weight \(C_in, C_out, kh, kw\) of shape \(4, 3, 3, 3\) expects 4"),
    (lambda: F.conv2d(z((3, 8, 8)), z((4, 3, 3, 3))), r"conv2d: expected x of shape \(N, C, H, W\).*\(3, 8, 8\)"),
    (lambda: F.conv_transpose2d(z((2, 3, 8, 8, 1)), z((3, 4, 3, 3))),
     r"conv_transpose2d: expected x of shape \(N, C, H, W\).*\(2, 3, 8, 8, 1\)"),
    (lambda: F.conv2d(z((2, 3, 8, 8)), z((4, 3, 3))), r"conv2d: expected weight .*4 dims.*\(4, 3, 3\)"),
    (lambda: F.conv2d(z((2, 3, 8, 8)), z((4, 3, 3, 3)), z(3)),
     r"conv2d: expected bias of shape \(4,\) for weight \(4, 3, 3, 3\), got \(3,\)"),
    (lambda: F.conv_transpose2d(z((2, 3, 8, 8)), z((3, 4, 3, 3)), stride=2, output_padding=2),
     r"conv_transpose2d: output_padding \(2, 2\) must be smaller than stride \(2, 2\)"),
    (lambda: F.conv_transpose2d(z((2, 3, 8, 8)), z((3, 4, 3, 3)), output_padding=(0, 1)),
     r"conv_transpose2d: output_padding \(0, 1\) must be smaller than stride \(1, 1\)"),
    (lambda: F.conv2d(z((2, 3, 2, 2)), z((4, 3, 3, 3))), r"conv2d: output size \(0, 0\) <= 0.*kernel \(3, 3\)"),
    (lambda: F.conv_transpose2d(z((1, 3, 1, 1)), z((3, 4, 1, 1)), padding=1),
     r"conv_transpose2d: output size \(-1, -1\) <= 0"),
    (lambda: F.conv2d(z((2, 3, 8, 8)), z((4, 3, 3, 3)), stride=0), r"conv2d: stride must be >= 1, got 0"),
    (lambda: F.conv2d(z((2, 3, 8, 8)), z((4, 3, 3, 3)), padding=-1), r"conv2d: padding must be >= 0, got -1"),
])
def test_bad_shapes_and_arguments_raise_naming_the_op_and_shapes(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_non_integer_stride_is_a_type_error():
    with pytest.raises(TypeError, match=r"conv2d: stride must be an int or a pair of ints, got 1\.5"):
        F.conv2d(z((1, 1, 4, 4)), z((1, 1, 2, 2)), stride=1.5)
    with pytest.raises(TypeError, match=r"conv_transpose2d: padding must be an int or a pair of ints, got \(1, 1, 1\)"):
        F.conv_transpose2d(z((1, 1, 4, 4)), z((1, 1, 2, 2)), padding=(1, 1, 1))


# -- PyTorch (float64, 1e-10 relative: the same sums in a different order) ------------------


def _torch_pair(torch_fn, ours_fn, arrays, seed):
    """Values and every input gradient of <v, f(...)> on both sides."""
    torch = pytest.importorskip("torch")
    ts = [torch.tensor(numpy.array(a), requires_grad=True) for a in arrays]
    ms = [Tensor(numpy.array(a), requires_grad=True) for a in arrays]
    yt, ym = torch_fn(*ts), ours_fn(*ms)
    numpy.testing.assert_allclose(ym.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    v = numpy.random.default_rng(seed).standard_normal(ym.shape)
    yt.backward(torch.from_numpy(v))
    ym.backward(Tensor(v))
    for name, m, t in zip(("x", "W", "b"), ms, ts):
        numpy.testing.assert_allclose(m.grad.data, t.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=f"dL/d{name}")


@pytest.mark.torch
@given(conv_cases())
def test_conv2d_against_torch(case):
    torch = pytest.importorskip("torch")
    x, W, b, stride, padding = case
    b = numpy.linspace(-1, 1, W.shape[0]) if b is None else b
    _torch_pair(lambda x, W, b: torch.nn.functional.conv2d(x, W, b, stride, padding),
                lambda x, W, b: F.conv2d(x, W, b, stride, padding), (x, W, b), seed=x.size)


@pytest.mark.torch
@given(conv_transpose_cases())
def test_conv_transpose2d_against_torch(case):
    torch = pytest.importorskip("torch")
    x, W, b, stride, padding, output_padding = case
    b = numpy.linspace(-1, 1, W.shape[1]) if b is None else b
    _torch_pair(lambda x, W, b: torch.nn.functional.conv_transpose2d(x, W, b, stride, padding, output_padding),
                lambda x, W, b: F.conv_transpose2d(x, W, b, stride, padding, output_padding), (x, W, b), seed=x.size)


@pytest.mark.torch
@pytest.mark.parametrize("transposed", [False, True])
def test_double_backward_against_torch(transposed):
    """d/d(x, W, v) of <u, dL/dx>, L = <v, y>: the gradient of the gradient, as a gradient penalty takes it."""
    torch = pytest.importorskip("torch")
    rng = numpy.random.default_rng(7)
    x0, W0 = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((3, 4, 3, 3))
    kw = dict(stride=2, padding=1)
    if transposed:
        kw["output_padding"] = 1
    ours = F.conv_transpose2d if transposed else F.conv2d
    theirs = torch.nn.functional.conv_transpose2d if transposed else torch.nn.functional.conv2d
    if not transposed:
        W0 = numpy.swapaxes(W0, 0, 1).copy()
    y_shape = ours(Tensor(x0), Tensor(W0), **kw).shape
    v0, u0 = rng.standard_normal(y_shape), rng.standard_normal(x0.shape)

    xm, Wm, vm = (Tensor(a, requires_grad=True) for a in (x0, W0, v0))
    (gx,) = minigan.grad([ours(xm, Wm, **kw) * ours(xm, Wm, **kw)], [xm], [vm], create_graph=True)
    (gx * Tensor(u0)).sum().backward()
    xt, Wt, vt = (torch.tensor(a, requires_grad=True) for a in (x0, W0, v0))
    (gxt,) = torch.autograd.grad([theirs(xt, Wt, **kw) ** 2], [xt], [vt], create_graph=True)
    (gxt * torch.from_numpy(u0)).sum().backward()
    for name, m, t in (("x", xm, xt), ("W", Wm, Wt), ("v", vm, vt)):
        numpy.testing.assert_allclose(m.grad.data, t.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=f"d/d{name}")


# -- backends and the chapter ----------------------------------------------------------------


@pytest.mark.parametrize("xp_backend", [pytest.param("cupy", marks=pytest.mark.gpu),
                                        pytest.param("stand-in", marks=pytest.mark.stand_in)], indirect=True)
def test_same_values_on_cupy_as_on_numpy(xp_backend):
    """The im2col code uses only xp array operations, so CuPy runs it unchanged. The reference is
    the NumPy run (itself checked against PyTorch above), so there is no numpy-against-numpy case."""
    from minigan import backend

    rng = numpy.random.default_rng(5)
    x0, W0 = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 4, 4))
    Wt0 = rng.standard_normal((4, 2, 3, 3))
    x, W, Wt = (Tensor(backend.to_backend(a, xp_backend), requires_grad=True) for a in (x0, W0, Wt0))
    assert x.backend == xp_backend
    y = F.conv_transpose2d(F.conv2d(x, W, stride=2, padding=1), Wt, stride=2, padding=1, output_padding=1)
    y.sum().backward()
    x_ref, W_ref, Wt_ref = (Tensor(a, requires_grad=True) for a in (x0, W0, Wt0))
    y_ref = F.conv_transpose2d(F.conv2d(x_ref, W_ref, stride=2, padding=1), Wt_ref, stride=2, padding=1,
                               output_padding=1)
    y_ref.sum().backward()
    assert y.backend == xp_backend and W.grad.backend == xp_backend
    for a, r in ((y, y_ref), (x.grad, x_ref.grad), (W.grad, W_ref.grad), (Wt.grad, Wt_ref.grad)):
        numpy.testing.assert_allclose(backend.as_numpy(a.data), r.data, rtol=1e-12, atol=1e-12)
