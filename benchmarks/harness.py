"""The measuring method of docs/benchmarks.md, shared by every benchmark.

Two callables doing the same work (minigan's step and PyTorch's) are timed in one
process: warm up ~1.5 s, then interleave blocks A, B, A, B ... of ~0.15 s each with a
~0.15 s sleep before every block (thread pools keep spinning for ~0.1 s after work),
and report the median of the paired ratios A/B with its min-max spread.
"""
from __future__ import annotations

import statistics
import time


def blas_threads() -> int:
    """NumPy's BLAS thread count: OPENBLAS_NUM_THREADS / OMP_NUM_THREADS when set (OpenBLAS reads
    them when NumPy loads), else threadpoolctl's report when installed, else the CPU count."""
    import os

    env = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        from threadpoolctl import threadpool_info

        counts = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
        if counts:
            return max(counts)
    except ImportError:
        pass
    return os.cpu_count() or 1


def torch_or_none():
    """torch, with its thread count matched to NumPy's BLAS, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(blas_threads())
    return torch


def _calls_per_block(fn, block_s, clock):
    t0 = clock()
    fn()
    one = max(clock() - t0, 1e-6)
    return max(1, int(block_s / one))


def _block(fn, n, clock):
    t0 = clock()
    for _ in range(n):
        fn()
    return (clock() - t0) / n


def compare(fn_a, fn_b, pairs=10, block_s=0.15, warmup_s=1.5, sleep_s=0.15, clock=time.perf_counter):
    """Interleaved paired timing of fn_a (minigan) against fn_b (torch, or None).

    Returns a dict: ms_a, ms_b (medians), ratio (median of per-pair a/b), lo, hi (its spread).
    clock: wall time by default. ``time.process_time`` (the CPU time of this process) leaves out
    the time other jobs hold the core, so on a loaded machine it is the fairer clock for code
    that runs on one thread; with more threads it also counts their idle spinning.
    """
    end = time.perf_counter() + warmup_s
    while time.perf_counter() < end:
        fn_a()
        if fn_b is not None:
            fn_b()
    n_a = _calls_per_block(fn_a, block_s, clock)
    n_b = _calls_per_block(fn_b, block_s, clock) if fn_b is not None else 0
    times_a, times_b, ratios = [], [], []
    for _ in range(pairs):
        time.sleep(sleep_s)
        ta = _block(fn_a, n_a, clock)
        times_a.append(ta)
        if fn_b is not None:
            time.sleep(sleep_s)
            tb = _block(fn_b, n_b, clock)
            times_b.append(tb)
            ratios.append(ta / tb)
    result = {"ms_a": statistics.median(times_a) * 1e3}
    if fn_b is not None:
        result.update(ms_b=statistics.median(times_b) * 1e3, ratio=statistics.median(ratios),
                      lo=min(ratios), hi=max(ratios))
    return result


def format_row(name, r, target=None):
    if "ratio" not in r:
        return f"| {name} | {r['ms_a']:.3f} | (torch absent) | - | - | {target or ''} |"
    return (f"| {name} | {r['ms_a']:.3f} | {r['ms_b']:.3f} | {r['ratio']:.2f}x | "
            f"{r['lo']:.2f}-{r['hi']:.2f} | {target or ''} |")


TABLE_HEADER = ("| case | minigan ms | torch ms | ratio (median) | spread | target |\n"
                "| --- | --- | --- | --- | --- | --- |")
