"""Layers: minigan's linear and convolutions against PyTorch CPU, forward + backward.

The cases are the layers of the GAN paper's MNIST MLP and of a DCGAN on 28x28 MNIST:

    Linear 784 -> 1200, batch 100                       (the paper's MLP)        target <= 1.0x
    Conv2d(1, 64, 4, 2, 1) on 1x28x28, batch 64         (D's first layer)        target <= 1.5x
    Conv2d(64, 128, 4, 2, 1) on 64x14x14, batch 64      (D's second layer)       target <= 1.5x
    ConvTranspose2d(128, 64, 4, 2, 1) on 128x7x7        (G's upsampling layer)   target <= 1.5x
    ConvTranspose2d(64, 1, 4, 2, 1) on 64x14x14         (G's output layer)       target <= 1.5x

One step is y = layer(x); y.backward(g) with a fixed output gradient g, fresh .grad each
step. The input x requires grad too, as it does in the generator's step, where gradients
flow through D into G(z). Both sides start from the same float32 weights and inputs, and
we check they compute the same outputs and gradients before timing (benchmarks/harness.py
has the timing method). The floor column is the step's GEMMs alone, replayed in NumPy on
arrays of the same shapes: what im2col/col2im and the engine add is the rest.

Run: python3 benchmarks/bench_layers.py [--pairs N] [--profile] [--threads T]

--threads T sets both sides to T threads (NumPy's OpenBLAS through OPENBLAS_NUM_THREADS, read
when numpy loads, hence before the import below; torch through set_num_threads). On a machine
shared with other jobs, T = 1 avoids the stalls a 2-thread GEMM suffers when one of its threads
is descheduled, and gives steadier ratios.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from functools import partial


def _threads_from_argv(argv):
    """The --threads value, needed before numpy is imported (OpenBLAS reads its env once)."""
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return None


if _threads_from_argv(sys.argv) is not None:
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = _threads_from_argv(sys.argv)

import numpy  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import harness  # noqa: E402

import minigan as mg  # noqa: E402
import minigan.functional as F  # noqa: E402
from minigan.ops import conv as conv_ops  # noqa: E402

RTOL, ATOL = 1e-4, 1e-4  # float32: sums of up to ~1000 products of O(1) terms, ~1e-7 relative each


THREADS = None  # set by --threads; None: harness's match of NumPy's BLAS thread count


def _torch():
    """torch (or None) with its thread count set: harness's match of NumPy's BLAS, or --threads."""
    torch = harness.torch_or_none()
    if torch is not None and THREADS is not None:
        torch.set_num_threads(THREADS)
    return torch


def _case(kind, N, C_in, C_out, H=None, k=4, s=2, p=1, seed=0):
    """(description, minigan step, torch step or None, floor step) for one layer on fixed data."""
    rng = numpy.random.default_rng(seed)
    f32 = numpy.float32
    if kind == "linear":
        x0 = rng.standard_normal((N, C_in), dtype=f32)
        W0 = rng.standard_normal((C_out, C_in), dtype=f32) / numpy.sqrt(C_in, dtype=f32)
        name = f"Linear {C_in}->{C_out}, batch {N}"
        fwd_mg = F.linear
        out_shape = (N, C_out)
    elif kind == "conv":
        x0 = rng.standard_normal((N, C_in, H, H), dtype=f32)
        W0 = rng.standard_normal((C_out, C_in, k, k), dtype=f32) / numpy.sqrt(C_in * k * k, dtype=f32)
        name = f"Conv2d({C_in},{C_out},{k},{s},{p}) {H}x{H}, batch {N}"

        def fwd_mg(x, W, b):
            return F.conv2d(x, W, b, s, p)
        Ho = (H + 2 * p - k) // s + 1
        out_shape = (N, C_out, Ho, Ho)
    else:
        x0 = rng.standard_normal((N, C_in, H, H), dtype=f32)
        W0 = rng.standard_normal((C_in, C_out, k, k), dtype=f32) / numpy.sqrt(C_in, dtype=f32)
        name = f"ConvTranspose2d({C_in},{C_out},{k},{s},{p}) {H}x{H}, batch {N}"

        def fwd_mg(x, W, b):
            return F.conv_transpose2d(x, W, b, s, p)
        Ho = (H - 1) * s - 2 * p + k
        out_shape = (N, C_out, Ho, Ho)
    b0 = rng.standard_normal(C_out, dtype=f32) * f32(0.1)
    g0 = rng.standard_normal(out_shape, dtype=f32)

    x = mg.Tensor(x0, requires_grad=True)
    W = mg.Tensor(W0, requires_grad=True)
    b = mg.Tensor(b0, requires_grad=True)
    g = mg.Tensor(g0)

    def step_mg():
        x.grad = W.grad = b.grad = None
        y = fwd_mg(x, W, b)
        y.backward(g)
        return y

    y = step_mg()
    mine = [y.data, x.grad.data, W.grad.data, b.grad.data]
    floor = _floor(kind, x0, W0, g0, k, s)

    torch = _torch()
    if torch is None:
        return name, step_mg, None, floor
    tx, tW, tb = (torch.tensor(a, requires_grad=True) for a in (x0, W0, b0))
    tg = torch.tensor(g0)
    tf = torch.nn.functional
    if kind == "linear":
        def fwd_t():
            return tf.linear(tx, tW, tb)
    elif kind == "conv":
        def fwd_t():
            return tf.conv2d(tx, tW, tb, s, p)
    else:
        def fwd_t():
            return tf.conv_transpose2d(tx, tW, tb, s, p)

    def step_torch():
        tx.grad = tW.grad = tb.grad = None
        ty = fwd_t()
        ty.backward(tg)
        return ty

    ty = step_torch()
    theirs = [ty.detach().numpy(), tx.grad.numpy(), tW.grad.numpy(), tb.grad.numpy()]
    for label, a, t in zip(("y", "dL/dx", "dL/dW", "dL/db"), mine, theirs):
        scale = float(numpy.abs(t).max()) or 1.0  # compare relative to the array's own scale
        numpy.testing.assert_allclose(a / scale, t / scale, rtol=RTOL, atol=ATOL, err_msg=f"{name}: {label}")
    return name, step_mg, step_torch, floor


def _floor(kind, x0, W0, g0, k, s):
    """The step's three GEMMs alone, on float32 arrays of the shapes minigan uses."""
    rng = numpy.random.default_rng(1)
    f32 = numpy.float32
    if kind == "linear":
        N, I = x0.shape
        O = W0.shape[0]
        A, B, G = x0, W0, g0
        return lambda: (A @ B.T, G @ B, G.T @ A)
    if kind == "conv":
        N, C, H, _ = x0.shape
        O = W0.shape[0]
        P = N * g0.shape[2] * g0.shape[3]
        K = C * k * k
        Wm = W0.reshape(O, K)
    else:
        N, C, H, _ = x0.shape  # conv_transpose: the "columns" side is the output's
        O = W0.shape[1]
        P = N * H * H
        K = O * k * k
        C, O = O, C
        Wm = W0.reshape(O, K)
    cols = rng.standard_normal((K, P), dtype=f32)
    gm = rng.standard_normal((O, P), dtype=f32)
    return lambda: (Wm @ cols, Wm.T @ gm, gm @ cols.T)


CASES = [
    ("linear", dict(N=100, C_in=784, C_out=1200), "<= 1.0x"),
    ("conv", dict(N=64, C_in=1, C_out=64, H=28), "<= 1.5x"),
    ("conv", dict(N=64, C_in=64, C_out=128, H=14), "<= 1.5x"),
    ("convT", dict(N=64, C_in=128, C_out=64, H=7), "<= 1.5x"),
    ("convT", dict(N=64, C_in=64, C_out=1, H=14), "<= 1.5x"),
]


def _time(fn, budget_s=0.4, at_least=3):
    """Median ms of single calls, repeated for about budget_s (the median shrugs off load spikes)."""
    fn()
    times = []
    end = time.perf_counter() + budget_s
    while len(times) < at_least or time.perf_counter() < end:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def profile():
    """Where a convolution step's time goes: GEMMs, im2col, col2im, the layout copies, the rest."""
    print("\n| case | step ms | GEMMs ms | im2col ms | col2im ms | transposes ms | rest ms |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for kind, kw, _ in CASES[1:]:
        name, step, _, floor = _case(kind, **kw)
        N, H = kw["N"], kw["H"]
        C_in, C_out = kw["C_in"], kw["C_out"]
        rng = numpy.random.default_rng(2)
        st, pd = (2, 2), (1, 1)
        if kind == "conv":
            x = rng.standard_normal((N, C_in, H, H), dtype=numpy.float32)
            Ho = (H + 2 - 4) // 2 + 1
            g = rng.standard_normal((N, C_out, Ho, Ho), dtype=numpy.float32)
            t_im2col = _time(partial(conv_ops._x_cols, x, 4, 4, st, pd))
            cols = numpy.ones((C_in, 4, 4, Ho, Ho, N), numpy.float32)
            t_col2im = _time(partial(conv_ops._col2im, cols, 2, 2, H + 2, H + 2))
            # g to batch-last once (shared by dL/dx and dL/dW), y and dL/dx back to NCHW
            y_cn = numpy.ones((C_out, Ho, Ho, N), numpy.float32)
            x_cn = numpy.ones((C_in, H, H, N), numpy.float32)
            t_tr = (_time(partial(conv_ops._g_mat, g)) + _time(partial(conv_ops._to_nchw, y_cn))
                    + _time(partial(conv_ops._to_nchw, x_cn)))
        else:
            Ho = (H - 1) * 2 - 2 + 4
            x = rng.standard_normal((N, C_in, H, H), dtype=numpy.float32)
            g = rng.standard_normal((N, C_out, Ho, Ho), dtype=numpy.float32)
            t_im2col = _time(partial(conv_ops._x_cols, g, 4, 4, st, pd))  # one im2col(g) serves dL/dx and dL/dW
            cols = numpy.ones((C_out, 4, 4, H, H, N), numpy.float32)
            t_col2im = _time(partial(conv_ops._col2im, cols, 2, 2, Ho + 2, Ho + 2))
            y_cn = numpy.ones((C_out, Ho, Ho, N), numpy.float32)
            x_cn = numpy.ones((C_in, H, H, N), numpy.float32)
            t_tr = (_time(partial(conv_ops._g_mat, x)) + _time(partial(conv_ops._to_nchw, y_cn))
                    + _time(partial(conv_ops._to_nchw, x_cn)))
        t_step, t_gemm = _time(step), _time(floor)
        rest = t_step - t_gemm - t_im2col - t_col2im - t_tr  # engine, bias sums, allocation
        print(f"| {name} | {t_step:.2f} | {t_gemm:.2f} | {t_im2col:.2f} | {t_col2im:.2f} | {t_tr:.2f} | {rest:.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--profile", action="store_true", help="also break each convolution step down")
    parser.add_argument("--threads", type=int, default=None, help="threads for both NumPy's BLAS and torch")
    args = parser.parse_args()
    global THREADS
    THREADS = args.threads
    torch = _torch()
    threads = torch.get_num_threads() if torch is not None else harness.blas_threads()
    print(f"threads: {threads} (NumPy BLAS and torch); torch: {torch.__version__ if torch else 'absent'}")
    header, rule = harness.TABLE_HEADER.split("\n")
    print(header + " GEMM floor ms |")
    print(rule + " --- |")
    rows = []
    for kind, kw, target in CASES:
        name, step_mg, step_t, floor = _case(kind, **kw)
        r = harness.compare(step_mg, step_t, pairs=args.pairs)
        rows.append((name, r, target, _time(floor)))
    for name, r, target, floor_ms in rows:
        print(harness.format_row(name, r, target) + f" {floor_ms:.2f} |")
    if args.profile:
        profile()


if __name__ == "__main__":
    main()
