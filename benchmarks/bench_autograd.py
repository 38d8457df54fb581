"""Autograd overhead and a small MLP: minigan against PyTorch CPU on the same work.

Three cases, measured with the interleaved paired-ratio method of benchmarks/harness.py:

(a) per-op overhead: y = a * b + a on 2x2 float32 tensors, then y.backward(ones).
    The arrays are tiny, so this times the engine itself (building Functions and
    Tensors, the topological order, gradient delivery), not NumPy arithmetic.
    Target: minigan <= 0.5x PyTorch.
(b) a 2-128-128-1 tanh MLP, forward and backward on a batch of 256 (float32).
    Target: minigan <= 1.0x PyTorch.
(c) the graph of (a) summed to a scalar: (a * b + a).sum().backward() on 2x2 float64.
    A loss is always such a scalar, so this adds what every training step pays on top
    of (a): the sum, its backward (the gradient spread back over the summed axes) and
    the implicit seed gradient 1. Target: minigan <= 0.5x PyTorch.

Both sides start from the same weights and data, and we check that they compute the
same outputs and gradients (to their dtype's tolerance) before timing anything.

With --shortcuts it measures instead what each speed shortcut saves, timing the cases it
touches paired, with it and with its plain form: the engine's ``_wrap_outputs``
(minigan/autograd.py; plain: outputs built through ``Tensor.__init__``, always as a tuple)
on (a) and (c), and ``_broadcast_array`` (minigan/ops/shape.py; plain: always NumPy's
broadcast view) on (c).

Run: python3 benchmarks/bench_autograd.py [--pairs N] [--tiny | --shortcuts] [--cpu-time]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import weakref

import numpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import harness

import minigan as mg
import minigan.autograd as autograd
import minigan.functional as F
import minigan.ops.shape as shape_ops

RTOL, ATOL = 1e-4, 1e-5  # float32: ~1e-7 per rounding, a few hundred terms per sum


def per_op_case(torch):
    """(a) y = a * b + a; y.backward(ones) on 2x2 float32, fresh gradients each step."""
    rng = numpy.random.default_rng(0)
    a0, b0 = rng.standard_normal((2, 2), dtype=numpy.float32), rng.standard_normal((2, 2), dtype=numpy.float32)
    a, b = mg.tensor(a0, requires_grad=True), mg.tensor(b0, requires_grad=True)
    ones = mg.ones((2, 2))

    def step_mg():
        a.grad = b.grad = None
        y = a * b + a
        y.backward(ones)

    step_mg()
    numpy.testing.assert_allclose(a.grad.numpy(), b0 + 1, rtol=RTOL, atol=ATOL)
    numpy.testing.assert_allclose(b.grad.numpy(), a0, rtol=RTOL, atol=ATOL)
    if torch is None:
        return step_mg, None
    ta, tb = torch.tensor(a0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    tones = torch.ones(2, 2)

    def step_torch():
        ta.grad = tb.grad = None
        y = ta * tb + ta
        y.backward(tones)

    step_torch()
    numpy.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=RTOL, atol=ATOL)
    numpy.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=RTOL, atol=ATOL)
    return step_mg, step_torch


def summed_case(torch):
    """(c) (a * b + a).sum().backward() on 2x2 float64, fresh gradients each step."""
    rng = numpy.random.default_rng(2)
    a0, b0 = rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
    a, b = mg.tensor(a0, requires_grad=True), mg.tensor(b0, requires_grad=True)

    def step_mg():
        a.grad = b.grad = None
        (a * b + a).sum().backward()

    step_mg()
    numpy.testing.assert_allclose(a.grad.numpy(), b0 + 1, rtol=1e-12)  # float64: exact up to one rounding
    numpy.testing.assert_allclose(b.grad.numpy(), a0, rtol=1e-12)
    if torch is None:
        return step_mg, None
    ta, tb = torch.tensor(a0, requires_grad=True), torch.tensor(b0, requires_grad=True)

    def step_torch():
        ta.grad = tb.grad = None
        (ta * tb + ta).sum().backward()

    step_torch()
    numpy.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-12)
    numpy.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-12)
    return step_mg, step_torch


def mlp_case(torch, batch=256, sizes=(2, 128, 128, 1)):
    """(b) tanh MLP forward + backward; loss = mean(y^2)."""
    rng = numpy.random.default_rng(1)
    weights = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / numpy.sqrt(n_in)
        weights.append(rng.uniform(-bound, bound, (n_out, n_in)).astype(numpy.float32))
        weights.append(rng.uniform(-bound, bound, (n_out,)).astype(numpy.float32))
    x0 = rng.standard_normal((batch, sizes[0]), dtype=numpy.float32)
    params = [mg.tensor(w, requires_grad=True) for w in weights]
    x = mg.tensor(x0)

    def forward_mg():
        h = x
        for i in range(0, len(params), 2):
            h = F.linear(h, params[i], params[i + 1])
            if i + 2 < len(params):
                h = F.tanh(h)
        return (h * h).mean()

    def step_mg():
        for p in params:
            p.grad = None
        loss = forward_mg()
        loss.backward()
        return loss

    loss_mg = step_mg()
    if torch is None:
        return step_mg, None
    tparams = [torch.tensor(w, requires_grad=True) for w in weights]
    tx = torch.tensor(x0)

    def step_torch():
        for p in tparams:
            p.grad = None
        h = tx
        for i in range(0, len(tparams), 2):
            h = torch.nn.functional.linear(h, tparams[i], tparams[i + 1])
            if i + 2 < len(tparams):
                h = torch.tanh(h)
        loss = (h * h).mean()
        loss.backward()
        return loss

    loss_t = step_torch()
    numpy.testing.assert_allclose(loss_mg.item(), loss_t.item(), rtol=RTOL, atol=ATOL)
    for p, tp in zip(params, tparams):
        numpy.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-3, atol=1e-6)
    return step_mg, step_torch


def mlp_floor(batch=256, sizes=(2, 128, 128, 1)):
    """The floor under case (b): the same step written by hand in NumPy (no graph, no Tensors),
    and its eight matrix products replayed alone. How close minigan comes is the real measure."""
    rng = numpy.random.default_rng(1)
    Ws = [rng.uniform(-0.5, 0.5, (n_out, n_in)).astype(numpy.float32) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    bs = [numpy.zeros(n_out, numpy.float32) for n_out in sizes[1:]]
    x = rng.standard_normal((batch, sizes[0]), dtype=numpy.float32)

    def by_hand():
        hs = [x]
        for i, (W, b) in enumerate(zip(Ws, bs)):
            a = hs[-1] @ W.T
            a += b
            hs.append(numpy.tanh(a) if i + 1 < len(Ws) else a)
        g = hs[-1] * (2.0 / hs[-1].size)  # d mean(y^2) / dy
        for i in reversed(range(len(Ws))):
            if i + 1 < len(Ws):
                g = g * (1.0 - hs[i + 1] * hs[i + 1])  # through tanh
            g.T @ hs[i], g.sum(axis=0)  # dW, db
            if i > 0:
                g = g @ Ws[i]  # dx

    products = []
    for i, W in enumerate(Ws):
        h = numpy.ones((batch, W.shape[1]), numpy.float32)
        g = numpy.ones((batch, W.shape[0]), numpy.float32)
        products.append((h, W.T))  # forward
        products.append((g.T, h))  # dW
        if i > 0:
            products.append((g, W))  # dx

    def gemms_alone():
        for a, b in products:
            a @ b

    flops = sum(2 * a.shape[0] * a.shape[1] * b.shape[1] for a, b in products)
    return by_hand, gemms_alone, flops


def plain_wrap_outputs(fn, ys, record):
    """_wrap_outputs without its shortcuts: every output through Tensor.__init__, as a tuple."""
    arrays = ys if type(ys) is tuple else (ys,)
    if record and any(a.dtype.kind == "c" for a in arrays):
        autograd._refuse_complex(fn)
    outputs = tuple(mg.Tensor(a, requires_grad=record) for a in arrays)
    if record:
        for i, t in enumerate(outputs):
            t.creator, t._index = fn, i
        fn.outputs = tuple(weakref.ref(t) for t in outputs)
    return outputs if type(ys) is tuple else outputs[0]


def plain_broadcast_array(x, shape):
    """shape._broadcast_array without its shortcut: always NumPy's broadcast view."""
    return numpy.broadcast_to(x, shape)


# (what it is, the module holding it, its name there, its plain form, the cases it touches)
SHORTCUTS = [
    ("_wrap_outputs (autograd.py)", autograd, "_wrap_outputs", plain_wrap_outputs,
     [("(a) per-op", per_op_case), ("(c) summed", summed_case)]),
    ("_broadcast_array (ops/shape.py)", shape_ops, "_broadcast_array", plain_broadcast_array,
     [("(c) summed", summed_case)]),
]


def shortcut_costs(pairs, clock):
    """Each shortcut's cases with its plain form patched in, paired against the shortcut."""
    print("| shortcut | case | plain ms | with the shortcut ms | plain / shortcut (median) | spread |\n"
          "| --- | --- | --- | --- | --- | --- |")
    for what, module, name, plain, cases in SHORTCUTS:
        kept = getattr(module, name)
        for case_name, make in cases:
            step, _ = make(None)

            def plain_step(step=step, module=module, name=name, plain=plain, kept=kept):
                setattr(module, name, plain)
                try:
                    step()
                finally:
                    setattr(module, name, kept)

            plain_step()  # the plain form computes the same gradients (make's checks ran on the shortcut)
            r = harness.compare(plain_step, step, pairs=pairs, clock=clock)
            print(f"| {what} | {case_name} | {r['ms_a']:.3f} | {r['ms_b']:.3f} | {r['ratio']:.2f}x | "
                  f"{r['lo']:.2f}-{r['hi']:.2f} |", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10, help="interleaved A/B block pairs per case")
    parser.add_argument("--tiny", action="store_true", help="only the tiny-graph cases (a) and (c)")
    parser.add_argument("--shortcuts", action="store_true", help="what each speed shortcut saves in (a), (c)")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time by the process's CPU time (fairer on a loaded machine; the cases run on one thread)")
    args = parser.parse_args(argv)
    clock = time.process_time if args.cpu_time else time.perf_counter
    if args.shortcuts:
        shortcut_costs(args.pairs, clock)
        return
    torch = harness.torch_or_none()
    print(f"BLAS threads: {harness.blas_threads()}; torch: {torch.__version__ if torch else 'absent'}\n")
    print(harness.TABLE_HEADER)
    cases = [
        ("(a) per-op: y = a*b + a, backward, 2x2 f32", per_op_case, "<= 0.5x"),
        ("(b) MLP 2-128-128-1 tanh, batch 256, fwd+bwd", mlp_case, "<= 1.0x"),
        ("(c) summed: (a*b + a).sum(), backward, 2x2 f64", summed_case, "<= 0.5x"),
    ]
    if args.tiny:
        cases = [case for case in cases if case[1] is not mlp_case]
    for name, make, target in cases:
        fn_mg, fn_torch = make(torch)
        result = harness.compare(fn_mg, fn_torch, pairs=args.pairs, clock=clock)
        print(harness.format_row(name, result, target), flush=True)
    if args.tiny:
        return
    by_hand, gemms_alone, flops = mlp_floor()
    hand = harness.compare(by_hand, None, pairs=args.pairs)["ms_a"]
    gemm = harness.compare(gemms_alone, None, pairs=args.pairs)["ms_a"]
    print(f"\nFloor for (b): the step by hand in NumPy {hand:.3f} ms; its 8 matrix products alone "
          f"{gemm:.3f} ms ({flops / 1e6:.1f} MFLOP, {flops / gemm / 1e6:.1f} GFLOP/s).")


if __name__ == "__main__":
    main()
