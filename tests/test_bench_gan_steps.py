"""benchmarks/bench_gan_steps.py's floor for the paper's MLP: the GEMMs it replays are the step's own.

The step / replay ratio means something only if the replay runs the same products as the step,
with the same shapes and, for the "as called" replay, the same operand layouts. This test runs
one real iteration of Algorithm 1 with every matrix product recorded, and compares.
"""
from __future__ import annotations

import collections

import numpy

from load_script import load_script
from minigan.ops import linalg

bench = load_script("benchmarks/bench_gan_steps.py", "bench_gan_steps_under_test")


def _layout(array) -> str:
    """'t' for an operand handed to BLAS as a transposed view, 'n' for a row-major one."""
    return "n" if array.flags.c_contiguous else "t"


def _normalised(gemms):
    """A vector operand (one of its sides 1) reads the same transposed or not: call it 'n'."""
    out = []
    for r, k, c, layout in gemms:
        a = "n" if 1 in (r, k) else layout[0]
        b = "n" if 1 in (k, c) else layout[1]
        out.append((r, k, c, a + b))
    return collections.Counter(out)


def _recorded_gemms(monkeypatch):
    seen = []
    linear_forward, matmul_forward = linalg.Linear.forward, linalg.MatMul.forward

    def record_linear(self, x, W, b=None):
        seen.append((x.shape[0], x.shape[1], W.shape[0], _layout(x) + _layout(W.T)))
        return linear_forward(self, x, W, b)

    def record_matmul(self, a, b):
        seen.append((a.shape[0], a.shape[1], b.shape[1], _layout(a) + _layout(b)))
        return matmul_forward(self, a, b)

    monkeypatch.setattr(linalg.Linear, "forward", record_linear)
    monkeypatch.setattr(linalg.MatMul, "forward", record_matmul)
    step, _ = bench.mlp_case(None)
    seen.clear()  # building the case may run products of its own
    step()
    return seen


def test_replayed_gemms_are_the_steps_own(monkeypatch):
    recorded = _recorded_gemms(monkeypatch)
    assert len(recorded) == 33
    assert _normalised(recorded) == _normalised(bench.mlp_gemms())


def test_as_called_replay_hands_blas_the_steps_layouts():
    """The plain replay's operands are all row-major; the "as called" one transposes where the step does."""
    gemms = [(3, 4, 5, "nt"), (3, 4, 5, "tn"), (3, 4, 5, "nn")]
    for as_called in (False, True):
        ops = bench.gemm_operands(gemms, as_called)
        layouts = [_layout(a) + _layout(b) for a, b in ops]
        assert layouts == ([g[3] for g in gemms] if as_called else ["nn"] * 3)
        assert [(a.shape[0], a.shape[1], b.shape[1]) for a, b in ops] == [g[:3] for g in gemms]
        assert all(a.dtype == numpy.float32 and b.dtype == numpy.float32 for a, b in ops)
