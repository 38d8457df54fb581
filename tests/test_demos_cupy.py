"""Every demo runs with ``--backend cupy`` on the CuPy stand-in (tests/support/fake_cupy).

Each demo runs as a user runs it, in a fresh ``python3 demos/NAME.py`` process, with tiny
settings. The environment variable MINIGAN_CUPY_MODULE=fake_cupy makes minigan import the
stand-in as cupy, so a host array used as a device operand, a host array written into a
device array or numpy.asarray of a device array fails the run as it would on a GPU.
What is checked is that the run finishes and records the backend, not the numbers.
"""
import json
import os
import subprocess
import sys

import pytest
from mnist_or_skip import load_mnist_or_skip

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUPPORT = os.path.join(ROOT, "tests", "support")


def _mnist_or_skip():
    load_mnist_or_skip()  # skips only when MNIST is not installed; any other error fails


def run_on_stand_in(name, out, *args, timeout=600):
    env = dict(os.environ, MINIGAN_CUPY_MODULE="fake_cupy",
               PYTHONPATH=os.pathsep.join(p for p in (SUPPORT, os.environ.get("PYTHONPATH")) if p))
    env.pop("MINIGAN_BACKEND", None)
    cmd = [sys.executable, os.path.join(ROOT, "demos", f"{name}.py"), "--out", str(out), "--backend", "cupy", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)
    assert done.returncode == 0, \
        f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    with open(os.path.join(out, "metrics.json")) as f:
        return json.load(f)


def _backend_of(metrics):
    return metrics.get("backend") or metrics.get("settings", {}).get("backend")


DEMOS = {
    "gaussian_1d": (False, ["--steps", "5", "--seed", "3", "--no-progress"]),
    "mixture_2d": (False, ["--steps", "3", "--seed", "1", "--no-progress"]),
    "mode_collapse": (False, ["--variants", "vanilla,wgan_gp", "--seeds", "1", "--steps", "2", "--m", "16",
                              "--hidden", "8", "--workers", "1", "--datasets", "ring"]),
    "mnist_mlp": (True, ["--steps", "2", "--train-size", "500", "--n-samples", "300", "--n-valid", "100",
                         "--n-test", "200", "--curve-samples", "200", "--no-figures"]),
    "mnist_dcgan": (True, ["--steps", "1", "--subset", "256", "--m", "16", "--n-eval", "50", "--sample-every", "1",
                           "--no-progress", "--classifier", "absent.npz"]),
    "train_classifier": (True, ["--subset", "512", "--epochs", "1", "--steps", "2", "--n-ref", "200"]),
    "semi_supervised_mnist": (True, ["--steps", "2", "--widths", "32,16", "--m", "20", "--eval-every", "2"]),
}


@pytest.mark.stand_in
@pytest.mark.parametrize("name", sorted(DEMOS))
def test_demo_runs_with_backend_cupy_on_the_stand_in(name, tmp_path):
    needs_mnist, args = DEMOS[name]
    if needs_mnist:
        _mnist_or_skip()
    metrics = run_on_stand_in(name, tmp_path / name, *args)
    backend = _backend_of(metrics)
    assert backend in (None, "cupy"), f"{name} recorded backend {backend!r}"
