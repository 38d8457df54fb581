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
import minigan.functional as F
from minigan import backend
from op_registry import BY_NAME, REGISTRY, REQUIRED
from strategies import layout_array, op_inputs

# float64 forward results differ from NumPy's only by the order of a few roundings
# (eps = 2.2e-16, sums of at most a few dozen terms): 1e-12 relative leaves a wide margin.
RTOL, ATOL = 1e-12, 1e-13

DIFFERENTIABLE = [s for s in REGISTRY if s.differentiable]


def _tensors(arrays, requires_grad=False):
    """Tensors on the default backend (the xp_backend fixture's, or NumPy)."""
    return [mg.tensor(a, requires_grad=requires_grad) for a in arrays]


def _placed(params):
    """Array parameters (where's cond) moved to the default backend, as an op's inputs must be."""
    return {k: backend.to_backend(v, backend.default_backend()) if isinstance(v, numpy.ndarray) else v
            for k, v in params.items()}


def test_registry_covers_every_required_op():
    missing = [name for name in REQUIRED if name not in BY_NAME]
    assert not missing, f"ops missing from tests/op_registry.py: {missing}"


@pytest.mark.parametrize("spec", REGISTRY, ids=lambda s: s.name)
@given(data=st.data())
def test_forward_matches_numpy(spec, data, xp_backend):
    arrays, params = data.draw(op_inputs(spec))
    out = spec.fn(*_tensors(arrays), **_placed(params))
    assert out.backend == xp_backend
    expected = numpy.asarray(spec.ref(*arrays, **params))
    assert out.shape == expected.shape, f"{spec.name}: shape {out.shape}, NumPy gives {expected.shape}"
    assert out.dtype == numpy.float64, f"{spec.name}: float64 inputs gave {out.dtype}"
    numpy.testing.assert_allclose(out.numpy(), expected, rtol=RTOL, atol=ATOL, err_msg=spec.name)


@pytest.mark.parametrize("spec", DIFFERENTIABLE, ids=lambda s: s.name)
@given(data=st.data())
def test_gradcheck(spec, data, xp_backend):
    arrays, params = data.draw(op_inputs(spec))
    params = _placed(params)
    assert mg.gradcheck(lambda *xs: spec.fn(*xs, **params), _tensors(arrays, requires_grad=True))


@pytest.mark.parametrize("spec", DIFFERENTIABLE, ids=lambda s: s.name)
@given(data=st.data())
def test_gradgradcheck(spec, data, xp_backend):
    arrays, params = data.draw(op_inputs(spec))
    params = _placed(params)
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
    placed = _placed(params)
    out = spec.fn(*_tensors(arrays), **placed)
    numpy.testing.assert_allclose(out.numpy(), spec.ref(*arrays, **params), rtol=RTOL, atol=ATOL)
    inputs = _tensors(arrays, requires_grad=True)
    assert mg.gradcheck(lambda *xs: spec.fn(*xs, **placed), inputs)
    if layout == "contiguous":
        assert mg.gradgradcheck(lambda *xs: spec.fn(*xs, **placed), inputs)


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
def test_float32_in_float32_out(spec, data, xp_backend):
    """float32 inputs give float32 outputs and float32 gradients (no silent upcast to float64),
    whose values are the float64 gradients at the same (float32-rounded) inputs."""
    arrays, params = data.draw(op_inputs(spec))
    params = _placed(params)
    arrays32 = [a.astype(numpy.float32) for a in arrays]
    inputs = _tensors(arrays32, requires_grad=True)
    out = spec.fn(*inputs, **params)
    assert out.dtype == numpy.float32, f"{spec.name}: float32 inputs gave {out.dtype}"
    v = numpy.random.default_rng(0).uniform(0.5, 1.5, out.shape)  # one sign: no cancellation from v
    out.backward(mg.tensor(numpy.asarray(v, dtype=numpy.float32)))  # on the fixture's backend
    inputs64 = _tensors([a.astype(numpy.float64) for a in arrays32], requires_grad=True)
    out64 = spec.fn(*inputs64, **params)
    out64.backward(mg.tensor(numpy.asarray(v, dtype=numpy.float32).astype(numpy.float64)))
    for k, (x, x64) in enumerate(zip(inputs, inputs64)):
        assert x.grad is not None and x.grad.dtype == numpy.float32 and x.grad.shape == x.shape
        # float32 rounds to 6e-8 relative; an op's backward takes a few dozen roundings, some after
        # a cancellation (var's x - mean, softmax's g - sum g y), so 1e-4 of the gradient's scale
        scale = max(1.0, float(numpy.abs(x64.grad.numpy()).max(initial=0.0)))
        numpy.testing.assert_allclose(x.grad.numpy(), x64.grad.numpy(), rtol=1e-4, atol=1e-5 * scale,
                                      err_msg=f"{spec.name}, input {k}: float32 gradient against float64")


def _t(*shape):
    return mg.Tensor(numpy.zeros(shape))


ERRORS = [
    ("reshape", lambda: _t(2, 3).reshape(4, 2),
     r"reshape: cannot reshape a tensor of shape \(2, 3\) \(6 elements\) into \(4, 2\)"),
    ("reshape two -1", lambda: _t(2, 3).reshape(-1, -1), r"reshape: cannot reshape .* into \(-1, -1\)"),
    ("transpose", lambda: _t(2, 3).transpose(0, 0),
     r"transpose: axes \(0, 0\) are not a permutation of the 2 axes of shape \(2, 3\)"),
    ("broadcast_to", lambda: F.broadcast_to(_t(2, 3), (3, 3)),
     r"broadcast_to: shape \(2, 3\) cannot be broadcast to \(3, 3\)"),
    ("concatenate", lambda: F.concatenate([_t(2, 3), _t(2, 4)], axis=0),
     r"concatenate: shapes \[\(2, 3\), \(2, 4\)\] differ outside axis 0"),
    ("concatenate empty", lambda: F.concatenate([]), r"concatenate: needs at least one tensor"),
    ("stack", lambda: F.stack([_t(2), _t(3)]), r"stack: needs tensors of one shape, got \[\(2,\), \(3,\)\]"),
    ("pad", lambda: F.pad(_t(2, 3), ((1, 1),)),
     r"pad: pad_width \(\(1, 1\),\) must give \(before, after\) >= 0 for each of the 2 axes"),
    ("pad negative", lambda: F.pad(_t(2), ((-1, 0),)), r"pad: pad_width \(\(-1, 0\),\) must give"),
    ("matmul inner", lambda: _t(2, 3) @ _t(4, 2), r"matmul: inner dimensions differ: \(2, 3\) @ \(4, 2\) \(3 != 4\)"),
    ("matmul 0-d", lambda: F.matmul(_t(), _t(2)),
     r"matmul: operands must have at least 1 dim, got shapes \(\) and \(2,\)"),
    ("linear", lambda: F.linear(_t(5, 3), _t(4, 2)),
     r"linear: expected x \(\.\.\., in\), W \(out, in\), b \(out,\); got x \(5, 3\), W \(4, 2\), b None"),
    ("linear bias", lambda: F.linear(_t(5, 2), _t(4, 2), _t(3)), r"linear: .* b \(3,\)"),
    ("clip none", lambda: F.clip(_t(2)), r"clip: give at least one of lo and hi"),
    ("clip order", lambda: F.clip(_t(2), 1.0, -1.0), r"clip: lo=1.0 is greater than hi=-1.0"),
    ("sum axis", lambda: F.sum(_t(2, 3), axis=2), r"reduction: axis 2 is out of range for a tensor with 2 dims"),
    ("max axis", lambda: F.max(_t(2, 3), axis=-3), r"reduction: axis -3 is out of range for a tensor with 2 dims"),
    ("mean empty", lambda: F.mean(_t(0, 3), axis=0),
     r"mean: reducing a tensor of shape \(0, 3\) over axes \(0,\) with no elements"),
    ("max empty", lambda: F.max(_t(0, 3), axis=0), r"max: cannot reduce an empty axis of a tensor of shape \(0, 3\)"),
    ("var ddof", lambda: F.var(_t(1, 3), axis=0, ddof=1), r"var: 1 elements over axes \(0,\) with ddof=1"),
    ("softmax axis", lambda: F.softmax(_t(2, 3), axis=2), r"softmax: axis 2 out of range for shape \(2, 3\)"),
    ("log_softmax axis", lambda: F.log_softmax(_t(2), axis=1), r"log_softmax: axis 1 out of range for shape \(2,\)"),
]


@pytest.mark.parametrize("name, call, message", ERRORS, ids=[e[0] for e in ERRORS])
def test_error_messages_name_the_op_and_the_shapes(name, call, message):
    with pytest.raises(ValueError, match=message):
        call()
