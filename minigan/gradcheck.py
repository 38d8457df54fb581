"""Checking gradients against finite differences: the test behind every op in minigan.

For a function f with inputs x and a random output cotangent v, reverse mode gives
the vector-Jacobian product  g = J^T v, i.e. the gradient of the scalar phi(x) = <v, f(x)>.
Central differences estimate the same numbers from forward passes alone:

    dphi/dx_i  ~  (phi(x + eps e_i) - phi(x - eps e_i)) / (2 eps),     error O(eps^2).

A random v (not a plain sum) makes every output element matter, so a bug in one
corner of the Jacobian cannot hide behind a symmetric sum. In float64 with eps = 1e-6,
the truncation error (~eps^2) and the rounding error (~1e-16 / eps) are both near
1e-10, far below the tolerances (atol 1e-6, rtol 1e-4).

For large inputs, checking every element costs two forward passes each; the
*directional* mode instead compares <g, u> with (phi(x + eps u) - phi(x - eps u)) / 2 eps
for a few random unit directions u.

``gradgradcheck`` applies the same test to the backward pass itself: the map
(x, v) -> J(x)^T v, built with ``create_graph=True``, must have correct gradients too.
"""
from __future__ import annotations

import numpy

from . import backend
from .autograd import Tensor, grad, no_grad


class GradcheckError(AssertionError):
    """Raised when analytic and numerical gradients disagree; the message names the worst element."""


def _as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _phi(fn, arrays, cotangents, mask=None):
    """phi(x) = sum_k <v_k, f_k(x)>.

    With a mask the inputs keep their requires_grad flags and the graph is recorded,
    because fn may differentiate inside (as gradgradcheck's fn does); else no graph.
    """
    if mask is None:
        with no_grad():
            outs = _as_tuple(fn(*[Tensor(a) for a in arrays]))
    else:
        outs = _as_tuple(fn(*[Tensor(a, requires_grad=m) for a, m in zip(arrays, mask)]))
    return float(sum(float((backend.as_numpy(o.data) * v).sum()) for o, v in zip(outs, cotangents)))


def numerical_grad(fn, arrays, index, cotangents, eps=1e-6, mask=None) -> numpy.ndarray:
    """Central-difference gradient of phi with respect to input ``index``, element by element."""
    arrays = [a.copy() for a in arrays]
    x = arrays[index]
    flat = x.reshape(-1)  # a view: x was just copied, so it is contiguous
    g = numpy.zeros(x.size, dtype=numpy.float64)
    for i in range(x.size):
        old = flat[i].item()
        flat[i] = old + eps
        plus = _phi(fn, arrays, cotangents, mask)
        flat[i] = old - eps
        minus = _phi(fn, arrays, cotangents, mask)
        flat[i] = old
        g[i] = (plus - minus) / (2 * eps)
    return g.reshape(x.shape)


def _prepare(fn, inputs, seed):
    inputs = [x if isinstance(x, Tensor) else Tensor(x) for x in inputs]
    for k, x in enumerate(inputs):
        if x.requires_grad and x.dtype != numpy.float64:
            raise TypeError(
                f"gradcheck: input {k} has dtype {x.dtype}; finite differences need float64 "
                "(float32 rounding, ~1e-7, divided by eps swamps the derivative)"
            )
    leaves = [Tensor(x.data, requires_grad=x.requires_grad) for x in inputs]
    outs = _as_tuple(fn(*leaves))
    rng = numpy.random.default_rng(seed)
    cotangents = [rng.standard_normal(o.shape) for o in outs]
    return leaves, outs, cotangents


def _analytic(leaves, outs, cotangents):
    wrt = [x for x in leaves if x.requires_grad]
    live = [(o, v) for o, v in zip(outs, cotangents) if o.requires_grad]
    if not live or not wrt:  # nothing depends on the inputs: every gradient is zero
        return [numpy.zeros(x.shape) for x in wrt]
    xp = backend.array_module(wrt[0].data)
    gs = grad([o for o, _ in live], wrt, [Tensor(xp.asarray(v, dtype=o.dtype)) for o, v in live],
              allow_unused=True)
    return [numpy.zeros(x.shape) if g is None else backend.as_numpy(g.data).astype(numpy.float64)
            for x, g in zip(wrt, gs)]


def _fail(msg, raise_exception):
    if raise_exception:
        raise GradcheckError(msg)
    return False


def gradcheck(fn, inputs, eps=1e-6, atol=1e-6, rtol=1e-4, directional=None, n_directions=4,
              max_elements=400, seed=0, raise_exception=True, _record=False) -> bool:
    """Compare autograd's vector-Jacobian product with central differences.

    fn: callable taking Tensors, returning a Tensor or a tuple of Tensors.
    inputs: Tensors; those with requires_grad=True are checked and must be float64.
    directional: None chooses the directional mode for inputs with more than max_elements
    elements; True/False forces it. Passes when |analytic - numerical| <= atol + rtol |numerical|
    everywhere; otherwise raises GradcheckError naming the worst element (or returns False).
    """
    leaves, outs, cotangents = _prepare(fn, inputs, seed)
    analytic = _analytic(leaves, outs, cotangents)
    arrays = [x.data for x in leaves]
    mask = [x.requires_grad for x in leaves] if _record else None
    rng = numpy.random.default_rng(seed + 1)
    checked = [k for k, x in enumerate(leaves) if x.requires_grad]
    for k, g in zip(checked, analytic):
        x = arrays[k]
        use_dir = directional if directional is not None else x.size > max_elements
        if use_dir:
            for d in range(n_directions):
                u = rng.standard_normal(x.shape)
                u /= numpy.linalg.norm(u) or 1.0
                shifted = list(arrays)
                xp = backend.array_module(x)
                shifted[k] = x + xp.asarray(eps * u)
                plus = _phi(fn, shifted, cotangents, mask)
                shifted[k] = x - xp.asarray(eps * u)
                minus = _phi(fn, shifted, cotangents, mask)
                numerical = (plus - minus) / (2 * eps)
                a = float((g * u).sum())
                if abs(a - numerical) > atol + rtol * abs(numerical):
                    return _fail(
                        f"gradcheck: input {k} (shape {x.shape}), direction {d}: analytic <grad, u> = "
                        f"{a:.10g}, numerical = {numerical:.10g}, |diff| = {abs(a - numerical):.3g} "
                        f"> atol + rtol*|numerical| = {atol + rtol * abs(numerical):.3g}",
                        raise_exception)
        else:
            n = numerical_grad(fn, arrays, k, cotangents, eps, mask)
            excess = numpy.abs(g - n) - (atol + rtol * numpy.abs(n))
            if excess.size and excess.max() > 0:
                worst = numpy.unravel_index(int(excess.argmax()), excess.shape)
                return _fail(
                    f"gradcheck: input {k} (shape {x.shape}): worst element {tuple(int(i) for i in worst)}: "
                    f"analytic = {g[worst]:.10g}, numerical = {n[worst]:.10g}, "
                    f"|diff| = {abs(g[worst] - n[worst]):.3g} > atol + rtol*|numerical| = "
                    f"{atol + rtol * abs(n[worst]):.3g}; {int((excess > 0).sum())} of {excess.size} elements fail",
                    raise_exception)
    return True


def gradgradcheck(fn, inputs, eps=1e-6, atol=1e-6, rtol=1e-4, seed=0, **kwargs) -> bool:
    """gradcheck of the backward pass: the map (x, v) -> J(x)^T v must itself differentiate correctly.

    v is a random output cotangent, made an input too, so that mistakes in how the
    backward uses the incoming gradient are caught as well as mistakes in x.
    """
    inputs = [x if isinstance(x, Tensor) else Tensor(x) for x in inputs]
    outs = _as_tuple(fn(*[Tensor(x.data, requires_grad=x.requires_grad) for x in inputs]))
    rng = numpy.random.default_rng(seed + 7)
    vs = [Tensor(rng.standard_normal(o.shape), requires_grad=True) for o in outs]
    xp = backend.array_module(inputs[0].data)
    if xp is not numpy:
        vs = [Tensor(xp.asarray(v.data), requires_grad=True) for v in vs]
    n_in = len(inputs)
    mask = [x.requires_grad for x in inputs]

    def first_derivative(*args):
        xs, cot = args[:n_in], args[n_in:]
        out = _as_tuple(fn(*xs))
        live = [(o, v) for o, v in zip(out, cot) if o.requires_grad]
        wrt = [x for x, m in zip(xs, mask) if m]
        gs = grad([o for o, _ in live], wrt, [v for _, v in live], create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_derivative, list(inputs) + vs, eps=eps, atol=atol, rtol=rtol, seed=seed,
                     _record=True, **kwargs)
