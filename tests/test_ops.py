"""Every op in tests/op_registry.py, checked three ways on hypothesis-drawn inputs (float64):

1. forward equals its NumPy reference;
2. gradcheck: the vector-Jacobian product equals central differences;
3. gradgradcheck: so does the derivative of the backward pass (create_graph).

Inputs come in random shapes, broadcasting pairs, and non-contiguous layouts
(tests/strategies.py), and stay away from each op's kinks (the registry's ``fix``).
"""
from __future__ import annotations

import numpy
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigan as mg
from op_registry import BY_NAME, REGISTRY, REQUIRED
from strategies import layout_array, op_inputs

# float64 forward results differ from NumPy's only by the order of a few roundings
# (eps = 2.2e-16, sums of at most a few dozen terms): 1e-12 relative leaves a wide margin.
RTOL, ATOL = 1e-12, 1e-13

DIFFERENTIABLE = [s for s in REGISTRY if s.differentiable]


def _tensors(arrays, requires_grad=False):
    return [mg.Tensor(a, requires_grad=requires_grad) for a in arrays]


def test_registry_covers_every_required_op():
    missing = [name for name in REQUIRED if name not in BY_NAME]
    assert not missing, f"ops missing from tests/op_registry.py: {missing}"


@pytest.mark.parametrize("spec", REGISTRY, ids=lambda s: s.name)
@given(data=st.data())
def test_forward_matches_numpy(spec, data):
    arrays, params = data.draw(op_inputs(spec))
    out = spec.fn(*_tensors(arrays), **params)
    expected = numpy.asarray(spec.ref(*arrays, **params))
    assert out.shape == expected.shape, f"{spec.name}: shape {out.shape}, NumPy gives {expected.shape}"
    assert out.dtype == numpy.float64, f"{spec.name}: float64 inputs gave {out.dtype}"
    numpy.testing.assert_allclose(out.numpy(), expected, rtol=RTOL, atol=ATOL, err_msg=spec.name)


@pytest.mark.parametrize("spec", DIFFERENTIABLE, ids=lambda s: s.name)
@given(data=st.data())
def test_gradcheck(spec, data):
    arrays, params = data.draw(op_inputs(spec))
    assert mg.gradcheck(lambda *xs: spec.fn(*xs, **params), _tensors(arrays, requires_grad=True))


@pytest.mark.parametrize("spec", DIFFERENTIABLE, ids=lambda s: s.name)
@given(data=st.data())
def test_gradgradcheck(spec, data):
    arrays, params = data.draw(op_inputs(spec))
    assert mg.gradgradcheck(lambda *xs: spec.fn(*xs, **params), _tensors(arrays, requires_grad=True))


BINARY_BROADCASTING = [s for s in REGISTRY if s.broadcasts and s.name not in ("matmul", "where")]


@pytest.mark.parametrize("spec", BINARY_BROADCASTING + [BY_NAME["where"]], ids=lambda s: s.name)
@pytest.mark.parametrize("shapes", [((3, 1, 4), (2, 4)), ((2, 4), (3, 1, 4)), ((), (2, 3)), ((2, 1), (1, 3))])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "strided"])
def test_broadcasting_pairs(spec, shapes, layout):
    """NumPy's own example, (3, 1, 4) with (2, 4): both operands are broadcast, and the
    backward must sum each gradient back to its operand's shape."""
    rng = numpy.random.default_rng(7)
    arrays = [layout_array(rng, s, *spec.domain_of(k), layout) for k, s in enumerate(shapes)]
    arrays = spec.away_from_kinks(arrays, {})
    params = {}
    if spec.name == "where":
        params["cond"] = rng.random(numpy.broadcast_shapes(*shapes)) < 0.5
    out = spec.fn(*_tensors(arrays), **params)
    numpy.testing.assert_allclose(out.numpy(), spec.ref(*arrays, **params), rtol=RTOL, atol=ATOL)
    inputs = _tensors(arrays, requires_grad=True)
    assert mg.gradcheck(lambda *xs: spec.fn(*xs, **params), inputs)
    if layout == "contiguous":
        assert mg.gradgradcheck(lambda *xs: spec.fn(*xs, **params), inputs)


@pytest.mark.parametrize("layout", ["transposed", "strided"])
def test_layouts_really_are_non_contiguous(layout):
    """The strategies' non-contiguous layouts survive into the Tensor (no silent copy)."""
    a = layout_array(numpy.random.default_rng(0), (3, 4), -1, 1, layout)
    assert not a.flags.c_contiguous
    t = mg.Tensor(a)
    assert not t.data.flags.c_contiguous
    assert numpy.shares_memory(t.data, a)


@pytest.mark.parametrize("spec", REGISTRY, ids=lambda s: s.name)
@given(data=st.data())
def test_float32_in_float32_out(spec, data):
    """float32 inputs give float32 outputs and float32 gradients (no silent upcast to float64)."""
    arrays, params = data.draw(op_inputs(spec))
    inputs = _tensors([a.astype(numpy.float32) for a in arrays], requires_grad=True)
    out = spec.fn(*inputs, **params)
    assert out.dtype == numpy.float32, f"{spec.name}: float32 inputs gave {out.dtype}"
    out.backward(mg.ones_like(out))
    for x in inputs:
        assert x.grad is not None and x.grad.dtype == numpy.float32 and x.grad.shape == x.shape
