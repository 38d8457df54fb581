"""The engine in minigan/autograd.py: graph, backward pass, grad(), modes, errors."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy
import pytest

import minigan as mg
from minigan.autograd import Function, Tensor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# every test runs on each backend (numpy; the CuPy stand-in; cupy on a GPU): see tests/conftest.py
pytestmark = pytest.mark.usefixtures("xp_backend")


def test_acceptance_line_prints_2_4():
    code = ("import minigan as mg; x = mg.tensor([1.0, 2.0], requires_grad=True); "
            "y = (x * x).sum(); y.backward(); print(x.grad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[2. 4.]"


def test_chain_of_100000_ops_has_no_recursion_limit():
    """The topological order is built with an explicit stack, not recursion."""
    x = mg.tensor(0.5, requires_grad=True)
    y = x
    for i in range(100_000):
        y = y * 1.0 if i % 2 else y + 0.25
    y.backward()
    assert y.item() == pytest.approx(0.5 + 0.25 * 50_000)
    assert x.grad.item() == 1.0
    del y  # dropping a long graph must not overflow the C stack either


def test_fan_out_accumulates():
    a = mg.tensor(3.0, requires_grad=True)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad.item() == 4.0


def test_diamond_graph():
    """x feeds two branches that meet again: d/dx (x^2 * exp(x)) = (2x + x^2) exp(x)."""
    x0 = numpy.array([0.3, -1.2, 2.0])
    x = mg.tensor(x0, requires_grad=True)
    y = ((x * x) * mg.exp(x)).sum()
    y.backward()
    numpy.testing.assert_allclose(x.grad.numpy(), (2 * x0 + x0**2) * numpy.exp(x0), rtol=1e-14)


def test_retained_graph_twice_gives_the_same_answer():
    x = mg.tensor(numpy.array([0.5, -1.5, 2.0]), requires_grad=True)
    y = (x * x * x + x).sum()
    y.backward(retain_graph=True)
    first = x.grad
    first_values = first.numpy().copy()
    y.backward(retain_graph=True)
    numpy.testing.assert_array_equal(x.grad.numpy(), 2 * first_values)  # exactly: g + g = 2g
    numpy.testing.assert_array_equal(first.numpy(), first_values)  # out of place: old grad unchanged
    g1 = mg.grad(y, x, retain_graph=True)
    g2 = mg.grad(y, x, retain_graph=True)
    numpy.testing.assert_array_equal(g1.numpy(), g2.numpy())
    numpy.testing.assert_array_equal(g1.numpy(), first_values)


def test_second_backward_without_retain_graph_raises():
    x = mg.tensor(2.0, requires_grad=True)
    y = x * x
    y.backward()
    with pytest.raises(RuntimeError, match=r"backward through Mul a second time.*retain_graph=True"):
        y.backward()


def test_grad_frees_the_graph_unless_asked():
    x = mg.tensor(2.0, requires_grad=True)
    y = mg.exp(x)
    mg.grad(y, x)
    with pytest.raises(RuntimeError, match="graph was freed"):
        mg.grad(y, x)


def test_create_graph_gives_second_derivatives():
    x0 = numpy.array([-2.0, 0.5, 3.0])
    x = mg.tensor(x0, requires_grad=True)
    y = (x ** 3).sum()
    (g,) = mg.grad(y, [x], create_graph=True)
    numpy.testing.assert_allclose(g.numpy(), 3 * x0**2, rtol=1e-15)
    assert g.requires_grad
    (h,) = mg.grad(g.sum(), [x])
    numpy.testing.assert_allclose(h.numpy(), 6 * x0, rtol=1e-15)


def test_create_graph_through_backward():
    x = mg.tensor(1.5, requires_grad=True)
    (x ** 3).backward(create_graph=True)
    g = x.grad
    assert g.item() == pytest.approx(3 * 1.5**2)
    x.grad = None
    g.backward()
    assert x.grad.item() == pytest.approx(6 * 1.5)


def test_gradient_penalty_style_double_backward():
    """||grad_x f(x)||^2 with f(x) = sum(w * x^2): d/dw of sum((2 w x)^2) = 8 w x^2."""
    x0, w0 = numpy.array([1.0, -2.0]), numpy.array([0.5, 3.0])
    x, w = mg.tensor(x0, requires_grad=True), mg.tensor(w0, requires_grad=True)
    (gx,) = mg.grad((w * x * x).sum(), [x], create_graph=True)
    penalty = (gx * gx).sum()
    penalty.backward()
    numpy.testing.assert_allclose(w.grad.numpy(), 8 * w0 * x0**2, rtol=1e-14)


def test_no_grad_and_enable_grad():
    x = mg.tensor(1.0, requires_grad=True)
    assert mg.is_grad_enabled()
    with mg.no_grad():
        assert not mg.is_grad_enabled()
        y = x * 2.0
        with mg.enable_grad():
            z = x * 3.0
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()
    assert not y.requires_grad and y.creator is None and y.is_leaf
    assert z.requires_grad and z.creator is not None
    with pytest.raises(ZeroDivisionError):
        with mg.no_grad():
            _ = 1 / 0
    assert mg.is_grad_enabled(), "no_grad must restore the mode after an exception"


def test_detach_cuts_the_graph_and_shares_data():
    x = mg.tensor(numpy.array([1.0, 2.0]), requires_grad=True)
    d = (x * 2.0).detach()
    assert d.is_leaf and not d.requires_grad
    y = (x * d).sum()
    y.backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), d.numpy())  # d is a constant: dy/dx = d
    h = x * 1.0
    assert numpy.shares_memory(h.detach().data, h.data)


def test_grad_dtype_follows_the_input_dtype():
    """Decision: NumPy's promotion applies forward (float32 W times float64 x gives float64),
    and the engine casts every gradient back to its input's dtype, so a float32 parameter
    always gets a float32 .grad that an optimizer can apply without changing its dtype."""
    W = mg.tensor(numpy.array([[1.0, 2.0]], dtype=numpy.float32), requires_grad=True)
    x = mg.tensor(numpy.array([[3.0], [4.0]]), requires_grad=True)  # float64 data
    y = (W @ x).sum()
    assert y.dtype == numpy.float64
    y.backward()
    assert W.grad.dtype == numpy.float32
    assert x.grad.dtype == numpy.float64
    numpy.testing.assert_array_equal(W.grad.numpy(), [[3.0, 4.0]])
    numpy.testing.assert_array_equal(x.grad.numpy(), [[1.0], [2.0]])


def test_python_numbers_keep_the_tensor_dtype():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    assert x.dtype == numpy.float32  # Python floats become float32
    for y in (x * 0.5, 0.5 * x, x + 1, 1 - x, x / 3.0, 2.0 / x, x ** 2, x - 1.5):
        assert y.dtype == numpy.float32



def test_numpy_scalars_keep_their_dtype_like_numpy_arrays():
    """A NumPy scalar has chosen its dtype as an array has; only Python floats take the default."""
    for dtype in (numpy.float64, numpy.float32, numpy.float16):
        scalar = dtype(1.5)
        assert mg.tensor(scalar).dtype == dtype
        assert mg.tensor(scalar).dtype == mg.tensor(numpy.array(scalar)).dtype
    assert mg.tensor(1.5).dtype == numpy.float32  # a Python float takes PyTorch's default
    assert mg.tensor(numpy.float64(1.5), dtype=numpy.float32).dtype == numpy.float32  # dtype= still wins
    x = mg.tensor([1.0, 2.0])
    assert (x * numpy.float64(2.0)).dtype == numpy.float32  # as an operand, a scalar takes the tensor's dtype

class BrokenDouble(Function):
    """y = 2x, with a backward that forgets to reduce a broadcast: the engine must notice."""

    def forward(self, x):
        return 2 * x

    def backward(self, gy):
        return mg.ones((3, 3), dtype=gy.dtype)


class TooManyGradients(Function):
    def forward(self, x):
        return x + 0

    def backward(self, gy):
        return gy, gy


def test_wrong_shaped_gradient_names_the_op():
    x = mg.tensor(numpy.ones(2), requires_grad=True)
    y = BrokenDouble.apply(x)
    with pytest.raises(RuntimeError,
                       match=r"BrokenDouble\.backward: gradient of shape \(3, 3\) for an input of shape \(2,\)"):
        y.backward(mg.ones(2, dtype=numpy.float64))


def test_wrong_number_of_gradients_names_the_op():
    x = mg.tensor(numpy.ones(2), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"TooManyGradients\.backward returned 2 gradients for 1 inputs"):
        TooManyGradients.apply(x).sum().backward()


class SplitScale(Function):
    """Two outputs, (2x, 3x): exercises multi-output Functions and unused outputs."""

    def forward(self, x):
        return 2 * x, 3 * x

    def backward(self, g2, g3):
        return g2 * 2.0 + g3 * 3.0


def test_multi_output_function_with_an_unused_output():
    x = mg.tensor(numpy.array([1.0, -1.0]), requires_grad=True)
    a, b = SplitScale.apply(x)
    assert a.creator is b.creator and (a._index, b._index) == (0, 1)
    b.sum().backward()  # output 0 got no gradient: the engine hands backward zeros for it
    numpy.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_needs_grad_tells_backward_what_to_skip():
    seen = {}

    class Probe(Function):
        def forward(self, a, b):
            return a * b

        def backward(self, gy):
            seen["needs"] = self.needs_grad
            a, b = self.inputs
            return (gy * b if self.needs_grad[0] else None), (gy * a if self.needs_grad[1] else None)

    a = mg.tensor(numpy.array([2.0]), requires_grad=True)
    b = mg.tensor(numpy.array([5.0]))
    Probe.apply(a, b).sum().backward()
    assert seen["needs"] == (True, False)
    assert a.grad.item() == 5.0 and b.grad is None


def test_grad_leaves_dot_grad_alone_and_reaches_intermediates():
    x = mg.tensor(numpy.array([1.0, 2.0]), requires_grad=True)
    h = x * 3.0
    y = (h * h).sum()
    gh, gx = mg.grad(y, [h, x])
    numpy.testing.assert_allclose(gh.numpy(), 2 * h.numpy())
    numpy.testing.assert_allclose(gx.numpy(), 18 * x.numpy())
    assert x.grad is None


def test_grad_with_unused_input():
    x, z = mg.tensor(1.0, requires_grad=True), mg.tensor(2.0, requires_grad=True)
    y = x * 2.0
    with pytest.raises(RuntimeError, match="was not used to compute the outputs; pass allow_unused=True"):
        mg.grad(y, [x, z], retain_graph=True)
    gx, gz = mg.grad(y, [x, z], allow_unused=True)
    assert gx.item() == 2.0 and gz is None


def test_grad_outputs_are_required_for_non_scalars():
    x = mg.tensor(numpy.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"grad: grad_outputs is required for an output of shape \(3,\)"):
        mg.grad(x * 2.0, x)
    (g,) = mg.grad(x * 2.0, [x], grad_outputs=mg.tensor(numpy.array([1.0, 0.0, -1.0])))
    numpy.testing.assert_array_equal(g.numpy(), [2.0, 0.0, -2.0])


def test_grad_of_output_that_needs_no_grad():
    with pytest.raises(RuntimeError, match="grad: an output does not require grad"):
        mg.grad(mg.tensor(1.0) * 2.0, mg.tensor(1.0))


def test_backward_on_a_tensor_without_grad():
    with pytest.raises(RuntimeError, match=r"backward: this tensor does not require grad.*requires_grad=True"):
        (mg.tensor([1.0, 2.0]) * 2.0).sum().backward()


def test_implicit_grad_only_for_one_element_outputs():
    x = mg.tensor(numpy.ones((2, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"grad can be implicit only for a one-element output, got shape \(2, 3\)"):
        (x * 2.0).backward()


def test_explicit_grad_of_wrong_shape():
    x = mg.tensor(numpy.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"backward: grad of shape \(2,\) given for an output of shape \(3,\)"):
        (x * 2.0).backward(numpy.ones(2))


def test_explicit_grad_as_array():
    x = mg.tensor(numpy.array([1.0, 2.0]), requires_grad=True)
    (x * x).backward(numpy.array([1.0, -1.0]))
    numpy.testing.assert_array_equal(x.grad.numpy(), [2.0, -4.0])


def test_gradients_accumulate_across_backward_calls():
    x = mg.tensor(2.0, requires_grad=True)
    (x * x).backward()
    (x * 3.0).backward()
    assert x.grad.item() == 7.0
    x.zero_grad()
    assert x.grad is None


def test_only_floating_tensors_require_grad():
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients, got dtype int64"):
        Tensor(numpy.arange(3), requires_grad=True)
    with pytest.raises(TypeError, match="requires_grad_: dtype int64 is not floating point"):
        Tensor(numpy.arange(3)).requires_grad_()


def test_comparisons_give_bool_tensors_without_grad():
    x = mg.tensor(numpy.array([1.0, 2.0, 3.0]), requires_grad=True)
    m = x > 1.5
    assert m.dtype == bool and not m.requires_grad
    numpy.testing.assert_array_equal(m.numpy(), [False, True, True])


def test_ambiguous_truth_value():
    with pytest.raises(ValueError, match=r"truth value of a tensor of shape \(2,\) is ambiguous"):
        bool(mg.tensor([1.0, 2.0]))


def test_outputs_are_referenced_weakly():
    """A Function must not keep its outputs alive (that would be a reference cycle)."""
    import gc
    import weakref

    x = mg.tensor(1.0, requires_grad=True)
    y = x * 2.0
    fn = y.creator
    ref = weakref.ref(y)
    del y
    gc.collect()
    assert ref() is None
    with pytest.raises(RuntimeError, match=r"MulScalar\.backward: output 0 is no longer alive"):
        fn.output(0)


def test_apply_stores_params_and_calls_a_custom_init():
    class Scale(Function):
        def forward(self, x):
            return x * self.factor

        def backward(self, gy):
            return gy * self.factor

    class Offset(Function):
        def __init__(self, shift):
            self.shift = shift
            self.initialised = True

        def forward(self, x):
            return x + self.shift

        def backward(self, gy):
            return gy

    x = mg.tensor(numpy.array([1.0, 2.0]), requires_grad=True)
    y = Scale.apply(x, factor=3.0)
    assert y.creator.factor == 3.0
    z = Offset.apply(y, shift=1.0)
    assert z.creator.initialised and z.creator.shift == 1.0
    z.sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


class RawGradient(Function):
    def forward(self, x):
        return x * 2

    def backward(self, gy):
        return gy.data * 2  # a raw array: the engine must refuse it, naming the op


def test_backward_returning_a_raw_array_names_the_op():
    x = mg.tensor(numpy.ones(2), requires_grad=True)
    with pytest.raises(TypeError, match=r"RawGradient\.backward returned a ndarray as a gradient"):
        RawGradient.apply(x).sum().backward()
