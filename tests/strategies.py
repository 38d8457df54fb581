"""Hypothesis strategies for the op tests: shapes, broadcasting pairs, memory layouts, inputs.

Values are drawn as a seed and made with NumPy's generator (fast, and a failing example
still reproduces exactly from the seed hypothesis prints). Shapes and layouts are drawn by
hypothesis itself, so it can shrink them.

Layouts matter because an op that assumes C-contiguous input (e.g. reshaping a view, or
writing through ``.reshape(-1)``) passes on fresh arrays and fails on a transposed one:
every input is drawn as a plain array, a transposed view, or a strided slice.
"""
from __future__ import annotations

import numpy
from hypothesis import strategies as st

LAYOUTS = ("contiguous", "transposed", "strided")

sides = st.integers(1, 3)


def shapes(min_ndim=0, max_ndim=3, min_side=1, max_side=3):
    """A shape with few, small axes (gradcheck costs two forward passes per element)."""
    return st.lists(st.integers(min_side, max_side), min_size=min_ndim, max_size=max_ndim).map(tuple)


@st.composite
def broadcast_pair(draw, min_ndim=0, max_ndim=3):
    """Two shapes that broadcast against each other, e.g. (3, 1, 4) and (2, 4) as in NumPy.

    The second is the first with some leading axes dropped and some sides set to 1, or
    1s put where the first has sides, so both operands get broadcast; the order is random.
    """
    full = draw(shapes(min_ndim, max_ndim))
    drop = draw(st.integers(0, len(full)))
    short = list(full[drop:])
    long_ = list(full)
    for i in range(len(short)):
        choice = draw(st.sampled_from(("same", "one_in_short", "one_in_long")))
        j = i + drop
        if choice == "one_in_short":
            short[i] = 1
        elif choice == "one_in_long":
            long_[j] = 1
    pair = (tuple(long_), tuple(short))
    return pair if draw(st.booleans()) else pair[::-1]


def layout_array(rng, shape, lo, hi, layout):
    """An array of ``shape`` with values uniform in [lo, hi), stored in the given layout."""
    shape = tuple(shape)
    if layout == "transposed" and len(shape) >= 2:
        base = rng.uniform(lo, hi, shape[::-1])
        return base.T  # same shape, Fortran order: not C-contiguous
    if layout == "strided" and len(shape) >= 1:
        base = rng.uniform(lo, hi, shape[:-1] + (2 * shape[-1],))
        return base[..., ::2]  # every other element of the last axis
    return numpy.asarray(rng.uniform(lo, hi, shape))  # a 0-d array, not a float, for shape ()


@st.composite
def op_inputs(draw, spec):
    """(arrays, params) for one registered op: shapes and params from the spec, values in its
    domain, moved away from its kinks, each input in a random layout."""
    input_shapes, params = draw(spec.case)
    seed = draw(st.integers(0, 2**32 - 1))
    layouts = draw(st.lists(st.sampled_from(LAYOUTS), min_size=len(input_shapes), max_size=len(input_shapes)))
    rng = numpy.random.default_rng(seed)
    arrays = []
    for k, (shape, layout) in enumerate(zip(input_shapes, layouts)):
        lo, hi = spec.domain_of(k)
        arrays.append(layout_array(rng, shape, lo, hi, layout))
    arrays = spec.away_from_kinks(arrays, params)
    return arrays, params
