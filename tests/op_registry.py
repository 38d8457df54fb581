"""The op registry: every differentiable op of minigan with what a test needs to know about it.

For each op:
  fn      the op on Tensors, ``fn(*tensors, **params)``;
  ref     its NumPy reference on arrays, ``ref(*arrays, **params)``;
  case    a hypothesis strategy giving (input shapes, params): its arity, whether it
          broadcasts (binary ops draw broadcasting pairs), its axes and keepdims;
  domain  the interval each input is drawn from (log/sqrt positive, a pow base positive);
  kinks   where the op is not differentiable, and ``fix`` moves inputs away from there
          (relu/abs at 0, clip at its bounds, maximum/minimum and max/min at ties),
          because a finite difference straddling a kink measures an average of two slopes.

tests/test_ops.py turns each entry into forward, gradcheck and gradgradcheck tests; the
strategies live in tests/strategies.py.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy
from hypothesis import strategies as st

import minigan as mg
import minigan.functional as F
from strategies import broadcast_pair, shapes, sides

REAL = (-2.0, 2.0)
POSITIVE = (0.5, 2.0)


@dataclass(frozen=True)
class OpSpec:
    name: str
    fn: Callable
    ref: Callable
    case: st.SearchStrategy
    domain: tuple = REAL  # one (lo, hi) for every input, or a tuple of them, one per input
    kinks: str = ""
    fix: Callable | None = None  # fix(arrays, params): move inputs off the kinks, in place
    broadcasts: bool = False
    differentiable: bool = True

    def domain_of(self, k):
        return self.domain[k] if isinstance(self.domain[0], tuple) else self.domain

    def away_from_kinks(self, arrays, params):
        if self.fix is not None:
            self.fix(arrays, params)
        return arrays


# -- moving inputs off kinks (in place, so non-contiguous layouts survive) -----------------

def _off_zero(margin):
    """|x| >= margin: the kink of relu, abs, leaky_relu (and a denominator's pole) is at 0."""
    def fix(arrays, params, which=(0,)):
        for k in which:
            a = arrays[k]
            a[...] = numpy.where(a >= 0, 1.0, -1.0) * (margin + numpy.abs(a))
    return fix


def _off_zero_second(margin):
    base = _off_zero(margin)
    return lambda arrays, params: base(arrays, params, which=(1,))


def _no_ties(arrays, params):
    """maximum/minimum: a on the grid 0.25 k + 0.125, b on 0.25 k, so |a - b| >= 0.125 always."""
    a, b = arrays
    a[...] = numpy.floor(a * 4) / 4 + 0.125
    b[...] = numpy.floor(b * 4) / 4


def _distinct(arrays, params):
    """max/min reductions: replace values by their ranks * 0.1, so no two elements tie."""
    a = arrays[0]
    flat = a.reshape(-1) if a.flags.c_contiguous else a.flatten()
    ranks = numpy.argsort(numpy.argsort(flat, kind="stable"), kind="stable")
    a[...] = ((ranks - flat.size / 2) * 0.1).reshape(a.shape)


def _off_clip_bounds(arrays, params):
    """clip: keep every x at least 0.05 away from lo and hi."""
    a = arrays[0]
    for bound in (params.get("lo"), params.get("hi")):
        if bound is not None:
            near = numpy.abs(a - bound) < 0.05
            a[...] = numpy.where(near, bound + numpy.where(a >= bound, 0.1, -0.1), a)


# -- cases: (input shapes, params) ---------------------------------------------------------

def unary(min_ndim=0):
    return shapes(min_ndim=min_ndim).map(lambda s: ((s,), {}))


binary = broadcast_pair().map(lambda pair: (pair, {}))


@st.composite
def _axis_case(draw, keepdims=True, ddof=False, min_ndim=1):
    shape = draw(shapes(min_ndim=min_ndim))
    ndim = len(shape)
    kind = draw(st.sampled_from(("none", "int", "negative", "tuple")))
    if kind == "none":
        axis = None
    elif kind == "int":
        axis = draw(st.integers(0, ndim - 1))
    elif kind == "negative":
        axis = draw(st.integers(-ndim, -1))
    else:
        axis = tuple(draw(st.sets(st.integers(0, ndim - 1), min_size=1, max_size=ndim)))
    params = {"axis": axis}
    if keepdims:
        params["keepdims"] = draw(st.booleans())
    if ddof:
        axes = range(ndim) if axis is None else ((axis,) if isinstance(axis, int) else axis)
        count = math.prod(shape[a] for a in axes)
        params["ddof"] = draw(st.integers(0, 1)) if count > 1 else 0
    return (shape,), params


@st.composite
def _softmax_case(draw):
    shape = draw(shapes(min_ndim=1))
    return (shape,), {"axis": draw(st.integers(-len(shape), len(shape) - 1))}


@st.composite
def _matmul_case(draw):
    n, k, m, b = draw(sides), draw(sides), draw(sides), draw(st.integers(2, 3))
    variant = draw(st.sampled_from(("2d", "batched", "broadcast_batch", "vec_mat", "mat_vec", "vec_vec",
                                    "batch_vec")))
    return {
        "2d": ((n, k), (k, m)),
        "batched": ((b, n, k), (b, k, m)),
        "broadcast_batch": ((b, 1, n, k), (2, k, m)),
        "vec_mat": ((k,), (k, m)),
        "mat_vec": ((n, k), (k,)),
        "vec_vec": ((k,), (k,)),
        "batch_vec": ((b, n, k), (k,)),
    }[variant], {}


@st.composite
def _linear_case(draw):
    lead = draw(shapes(min_ndim=0, max_ndim=2))
    n_in, n_out = draw(sides), draw(sides)
    if draw(st.booleans()):
        return (lead + (n_in,), (n_out, n_in), (n_out,)), {}
    return (lead + (n_in,), (n_out, n_in)), {}


@st.composite
def _reshape_case(draw):
    shape = draw(shapes(min_ndim=1))
    size = math.prod(shape)
    factors = [p for p in range(1, size + 1) if size % p == 0]
    first = draw(st.sampled_from(factors))
    rest = size // first
    target = draw(st.sampled_from(((first, rest), (first, -1), (-1,), (rest, 1, first), (size,))))
    return (shape,), {"shape": target}


@st.composite
def _transpose_case(draw):
    shape = draw(shapes(min_ndim=1))
    axes = tuple(draw(st.permutations(range(len(shape)))))
    if draw(st.booleans()):  # negative axes name the same permutation
        axes = tuple(a - len(shape) for a in axes)
    return (shape,), {"axes": axes}


@st.composite
def _broadcast_to_case(draw):
    target = draw(shapes(min_ndim=1))
    drop = draw(st.integers(0, len(target)))
    src = tuple(1 if draw(st.booleans()) else n for n in target[drop:])
    return (src,), {"shape": target}


@st.composite
def _getitem_basic_case(draw):
    shape = draw(shapes(min_ndim=1))
    index = []
    for n in shape:
        kind = draw(st.sampled_from(("slice", "int", "full", "step", "reverse")))
        if kind == "int":
            index.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            start = draw(st.integers(0, n - 1))
            index.append(slice(start, draw(st.integers(start + 1, n))))
        elif kind == "step":
            index.append(slice(None, None, 2))
        elif kind == "reverse":
            index.append(slice(None, None, -1))
        else:
            index.append(slice(None))
    if draw(st.booleans()):
        index.insert(draw(st.integers(0, len(index))), None)  # a new axis
    return (shape,), {"index": tuple(index)}


@st.composite
def _getitem_repeat_case(draw):
    """Integer arrays with repeated entries: the backward must add (scatter-add), not assign."""
    shape = draw(shapes(min_ndim=1))
    rows = draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=1, max_size=5))
    rows = rows + [rows[0]]  # at least one repeat
    if len(shape) >= 2 and draw(st.booleans()):
        cols = draw(st.lists(st.integers(0, shape[1] - 1), min_size=len(rows), max_size=len(rows)))
        return (shape,), {"index": (numpy.array(rows), numpy.array(cols))}
    return (shape,), {"index": numpy.array(rows)}


@st.composite
def _getitem_mask_case(draw):
    shape = draw(shapes(min_ndim=1))
    lead = draw(st.integers(1, len(shape)))
    mask = numpy.array(draw(st.lists(st.booleans(), min_size=math.prod(shape[:lead]),
                                     max_size=math.prod(shape[:lead])))).reshape(shape[:lead])
    return (shape,), {"index": mask}


@st.composite
def _concatenate_case(draw):
    shape = list(draw(shapes(min_ndim=1)))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    n = draw(st.integers(1, 3))
    out = []
    for _ in range(n):
        s = list(shape)
        s[axis] = draw(sides)
        out.append(tuple(s))
    return tuple(out), {"axis": axis}


@st.composite
def _stack_case(draw):
    shape = draw(shapes(min_ndim=0))
    axis = draw(st.integers(-len(shape) - 1, len(shape)))
    return (shape,) * draw(st.integers(1, 3)), {"axis": axis}


@st.composite
def _pad_case(draw):
    shape = draw(shapes(min_ndim=1))
    widths = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in shape)
    return (shape,), {"pad_width": widths, "value": draw(st.sampled_from((0.0, -1.5)))}


@st.composite
def _where_case(draw):
    a, b = draw(broadcast_pair())
    out = numpy.broadcast_shapes(a, b)
    cond = numpy.array(draw(st.lists(st.booleans(), min_size=math.prod(out), max_size=math.prod(out))),
                       dtype=bool).reshape(out)
    return (a, b), {"cond": cond}


@st.composite
def _clip_case(draw):
    shape = draw(shapes())
    bounds = draw(st.sampled_from(({"lo": -0.5, "hi": 0.5}, {"lo": -0.5, "hi": None}, {"lo": None, "hi": 0.5})))
    return (shape,), dict(bounds)


def _scalar_case(values):
    return st.tuples(shapes(), st.sampled_from(values)).map(lambda t: ((t[0],), {"c": t[1]}))


# -- NumPy references ----------------------------------------------------------------------

def _ref_axes(axis):
    return axis if axis is None or isinstance(axis, int) else tuple(axis)


def _np_reduce(name):
    return lambda x, axis, keepdims, **kw: getattr(numpy, name)(x, axis=_ref_axes(axis), keepdims=keepdims, **kw)


def _np_logsumexp(x, axis=None, keepdims=False):
    axis = _ref_axes(axis)
    m = x.max(axis=axis, keepdims=True)
    out = numpy.log(numpy.exp(x - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdims else out.squeeze(axis=axis)


def _np_softmax(x, axis):
    e = numpy.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_linear(x, W, b=None):
    y = x @ W.T
    return y if b is None else y + b


def _np_sigmoid(x):
    return 1.0 / (1.0 + numpy.exp(-x))


# -- the registry --------------------------------------------------------------------------

def _spec(name, fn, ref, case, **kw):
    return OpSpec(name=name, fn=fn, ref=ref, case=case, **kw)


REGISTRY = [
    # arithmetic, broadcasting
    _spec("add", lambda a, b: a + b, numpy.add, binary, broadcasts=True),
    _spec("sub", lambda a, b: a - b, numpy.subtract, binary, broadcasts=True),
    _spec("mul", lambda a, b: a * b, numpy.multiply, binary, broadcasts=True),
    _spec("div", lambda a, b: a / b, numpy.divide, binary, broadcasts=True,
          kinks="pole at b = 0", fix=_off_zero_second(0.5)),
    _spec("pow", lambda a, b: a ** b, numpy.power, binary, broadcasts=True, domain=(POSITIVE, REAL)),
    _spec("maximum", mg.maximum, numpy.maximum, binary, broadcasts=True, kinks="ties a = b", fix=_no_ties),
    _spec("minimum", mg.minimum, numpy.minimum, binary, broadcasts=True, kinks="ties a = b", fix=_no_ties),
    _spec("where", lambda a, b, cond: mg.where(cond, a, b), lambda a, b, cond: numpy.where(cond, a, b),
          _where_case(), broadcasts=True),
    # a Python number on one side (the scalar ops)
    _spec("add_scalar", lambda x, c: x + c, lambda x, c: x + c, _scalar_case((2.5, -1, 0.0))),
    _spec("rsub_scalar", lambda x, c: c - x, lambda x, c: c - x, _scalar_case((2.5, -1))),
    _spec("sub_scalar", lambda x, c: x - c, lambda x, c: x - c, _scalar_case((2.5, -1))),
    _spec("mul_scalar", lambda x, c: x * c, lambda x, c: x * c, _scalar_case((2.5, -3, 0.0))),
    _spec("rmul_scalar", lambda x, c: c * x, lambda x, c: c * x, _scalar_case((2.5, -3))),
    _spec("div_scalar", lambda x, c: x / c, lambda x, c: x / c, _scalar_case((2.5, -4))),
    _spec("rdiv_scalar", lambda x, c: c / x, lambda x, c: c / x, _scalar_case((2.5, -4)),
          kinks="pole at x = 0", fix=_off_zero(0.5)),
    _spec("pow_scalar", lambda x, c: x ** c, lambda x, c: x ** c, _scalar_case((2, 3, 0.5, -1.5, 2.7)),
          domain=POSITIVE),
    _spec("rpow_scalar", lambda x, c: c ** x, lambda x, c: c ** x, _scalar_case((2.5, 0.5))),
    # elementwise unary
    _spec("neg", lambda x: -x, numpy.negative, unary()),
    _spec("exp", mg.exp, numpy.exp, unary()),
    _spec("log", mg.log, numpy.log, unary(), domain=POSITIVE),
    _spec("log1p", mg.log1p, numpy.log1p, unary(), domain=(-0.5, 2.0)),
    _spec("sqrt", mg.sqrt, numpy.sqrt, unary(), domain=POSITIVE),
    _spec("abs", mg.abs, numpy.abs, unary(), kinks="x = 0", fix=_off_zero(0.1)),
    _spec("clip", mg.clip, lambda x, lo, hi: numpy.clip(x, lo, hi), _clip_case(), kinks="x = lo, x = hi",
          fix=_off_clip_bounds),
    _spec("relu", F.relu, lambda x: numpy.maximum(x, 0), unary(), kinks="x = 0", fix=_off_zero(0.1)),
    _spec("leaky_relu", lambda x, negative_slope: F.leaky_relu(x, negative_slope),
          lambda x, negative_slope: numpy.where(x > 0, x, negative_slope * x),
          # max(x, s x) for s <= 1, min for s > 1
          st.tuples(shapes(), st.sampled_from((0.01, 0.2, -0.5, 1.0, 3.0))).map(
              lambda t: ((t[0],), {"negative_slope": t[1]})),
          kinks="x = 0", fix=_off_zero(0.1)),
    _spec("sigmoid", F.sigmoid, _np_sigmoid, unary()),
    _spec("tanh", F.tanh, numpy.tanh, unary()),
    _spec("softplus", F.softplus, lambda x: numpy.log1p(numpy.exp(x)), unary()),
    _spec("log_sigmoid", F.log_sigmoid, lambda x: -numpy.log1p(numpy.exp(-x)), unary()),
    # reductions
    _spec("sum", mg.sum, _np_reduce("sum"), _axis_case()),
    _spec("mean", mg.mean, _np_reduce("mean"), _axis_case()),
    _spec("max", F.max, _np_reduce("max"), _axis_case(), kinks="ties between elements", fix=_distinct),
    _spec("min", F.min, _np_reduce("min"), _axis_case(), kinks="ties between elements", fix=_distinct),
    _spec("var", mg.var, _np_reduce("var"), _axis_case(ddof=True)),
    _spec("logsumexp", F.logsumexp, _np_logsumexp, _axis_case()),
    _spec("softmax", F.softmax, _np_softmax, _softmax_case()),
    _spec("log_softmax", F.log_softmax, lambda x, axis: numpy.log(_np_softmax(x, axis)), _softmax_case()),
    # linear algebra
    _spec("matmul", lambda a, b: a @ b, numpy.matmul, _matmul_case(), broadcasts=True),
    _spec("linear", F.linear, _np_linear, _linear_case()),
    # shape
    _spec("reshape", lambda x, shape: x.reshape(shape), lambda x, shape: x.reshape(shape), _reshape_case()),
    _spec("transpose", lambda x, axes: x.transpose(axes), lambda x, axes: x.transpose(axes), _transpose_case()),
    _spec("permute", lambda x, axes: x.permute(*axes), lambda x, axes: numpy.transpose(x, axes), _transpose_case()),
    _spec("broadcast_to", F.broadcast_to, numpy.broadcast_to, _broadcast_to_case()),
    _spec("getitem_basic", lambda x, index: x[index], lambda x, index: x[index], _getitem_basic_case()),
    _spec("getitem_repeats", lambda x, index: x[index], lambda x, index: x[index], _getitem_repeat_case()),
    _spec("getitem_mask", lambda x, index: x[index], lambda x, index: x[index], _getitem_mask_case()),
    _spec("concatenate", lambda *xs, axis: F.concatenate(xs, axis=axis),
          lambda *xs, axis: numpy.concatenate(xs, axis=axis), _concatenate_case()),
    _spec("stack", lambda *xs, axis: F.stack(xs, axis=axis), lambda *xs, axis: numpy.stack(xs, axis=axis),
          _stack_case()),
    _spec("pad", F.pad, lambda x, pad_width, value: numpy.pad(x, pad_width, constant_values=value), _pad_case()),
]

BY_NAME = {spec.name: spec for spec in REGISTRY}
assert len(BY_NAME) == len(REGISTRY), "two registry entries share a name"

# The names the issue asks the registry to cover (tests/test_ops.py checks each is present).
REQUIRED = (
    "add sub mul div neg pow pow_scalar matmul exp log log1p sqrt abs maximum minimum where clip sum mean max "
    "min var reshape transpose permute broadcast_to getitem_basic getitem_repeats getitem_mask concatenate "
    "stack pad relu leaky_relu sigmoid tanh softplus log_sigmoid softmax log_softmax linear logsumexp"
).split()
