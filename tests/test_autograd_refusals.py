"""What autograd refuses rather than differentiate wrongly (minigan/autograd.py's docstring).

A saved input changed after the forward pass, complex values, casts to integers (which cut
the graph) and float16 reductions (which accumulate in float32).
"""
import numpy
import pytest

import minigan as mg
import minigan.functional as F


def test_replacing_data_after_the_forward_pass_is_refused_naming_the_op():
    # d/dx sum(x * x) = 2x = [2, 4] at the forward's x; with the new data it would be [20, 20].
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    x.data = numpy.array([10.0, 10.0], dtype=numpy.float32)
    with pytest.raises(RuntimeError, match=r"Mul\.backward: input 0 .*changed after the forward pass.*replaced"):
        y.backward()
    assert x.grad is None


def test_an_in_place_change_bumps_the_version_and_is_refused():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    w = mg.tensor([3.0, 4.0])
    y = F.exp(x * w).sum()
    w._bump_version()  # what an in-place Tensor method does after writing into w
    with pytest.raises(RuntimeError, match=r"Mul\.backward: input 1 .*in-place"):
        y.backward()


def test_an_in_place_operator_after_the_forward_pass_is_refused():
    # y = sum(x * w): dy/dx = w = [3, 4] as the forward pass saw it; after w *= 2 it would be [6, 8]
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    w = mg.tensor([3.0, 4.0])
    y = (x * w).sum()
    w *= 2  # nothing recorded (w needs no gradient): written into w's array
    with pytest.raises(RuntimeError, match=r"Mul\.backward: input 1 .*in-place"):
        y.backward()
    x2 = mg.tensor([1.0, 2.0], requires_grad=True)
    (x2 * w).sum().backward()  # a forward pass after the change is fine
    numpy.testing.assert_array_equal(x2.grad.numpy(), [6.0, 8.0])


def test_a_change_before_the_forward_pass_is_fine():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    x.data = numpy.array([3.0, 5.0], dtype=numpy.float32)
    x._bump_version()
    (x * x).sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [6.0, 10.0])


def test_the_check_survives_retain_graph_and_catches_a_change_between_two_backwards():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    x.data = x.data * 10
    with pytest.raises(RuntimeError, match="changed after the forward pass"):
        y.backward()


def test_complex_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="complex128"):
        mg.tensor(numpy.array([1 + 2j]), requires_grad=True)
    with pytest.raises(TypeError, match="requires_grad_: dtype complex64"):
        mg.tensor(numpy.array([1j], dtype=numpy.complex64)).requires_grad_()


def test_an_op_with_a_complex_result_is_refused_while_recording():
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    c = mg.tensor(numpy.array([1j, 2j]))
    with pytest.raises(TypeError, match=r"Mul: a complex result cannot be differentiated"):
        a * c
    with mg.no_grad():  # nothing is recorded, so nothing is wrong
        assert (a * c).dtype.kind == "c"


@pytest.mark.parametrize("dtype", [numpy.int32, numpy.int64, numpy.uint8, numpy.bool_])
def test_a_cast_to_an_integer_type_cuts_the_graph(dtype):
    x = mg.tensor([1.5, 2.5], requires_grad=True)
    n = x.astype(dtype)
    assert not n.requires_grad and n.creator is None
    # y = x * float(int(x)): only the first factor carries a gradient, d/dx = int(x) = [1, 2]
    y = (x * n.astype(numpy.float32)).sum()
    y.backward()
    expected = numpy.array([1.5, 2.5]).astype(dtype).astype(numpy.float32)
    numpy.testing.assert_array_equal(x.grad.numpy(), expected)


def test_a_cast_between_float_types_still_differentiates():
    x = mg.tensor([1.5, 2.5], requires_grad=True)
    (x.astype(numpy.float64) * 3.0).sum().backward()
    numpy.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_float16_mean_accumulates_in_float32():
    # 100,000 ones sum to more than float16's largest value, 65504: a float16 sum is inf.
    x = mg.ones((100_000,), dtype=numpy.float16, requires_grad=True)
    m = x.mean()
    assert m.dtype == numpy.float16
    assert m.item() == 1.0
    m.backward()
    assert x.grad.dtype == numpy.float16
    # 1e-5 rounded to float16 (a subnormal there): the gradient of a mean is 1/n
    numpy.testing.assert_array_equal(x.grad.numpy()[:3], numpy.float16(1e-5))


def test_float16_sum_accumulates_in_float32():
    # 0.1 in float16 is 0.0999755859375; 3000 of them sum to 299.93. A float16 accumulator
    # stalls at 256, where float16's spacing (0.25) is more than twice 0.1 (NumPy does
    # exactly that down axis 0). Accumulated in float32 and rounded once, the sum is the
    # exact float64 sum rounded to float16 (spacing 0.25 near 300).
    values = numpy.full((3000, 2), 0.1, dtype=numpy.float16)
    s = mg.tensor(values).sum(axis=0)
    assert s.dtype == numpy.float16
    numpy.testing.assert_array_equal(s.numpy(), numpy.float16(values.astype(numpy.float64).sum(axis=0)))
