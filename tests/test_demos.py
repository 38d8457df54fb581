"""The toy demos run end to end and leave what they promise.

Smoke tests (default run): each demo for a few iterations into tmp_path, run as a user runs it (a fresh
``python3 demos/NAME.py`` process), checking the files it writes and the keys and shapes of metrics.json
and the samples -- not the quality of a GAN trained for 20 iterations, which is whatever it is.

Full runs (``-m slow``): demos/gaussian_1d.py at its default settings must meet the acceptance figures
of the paper's Figure 1 made real: D(x) = 1/2 +- 0.05 where p_data has mass, p_g's mean and standard
deviation within 5% of p_data's, 10,000 samples saved. demos/mixture_2d.py at default settings must
finish and write its metrics; vanilla GAN mode coverage is reported, not asserted (it may collapse).
"""
import json
import os
import subprocess
import sys

import numpy
import pytest


ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def run_demo(name, *args, timeout=900):
    """Run ``python3 demos/NAME.py ARGS`` as a user would, in a fresh process (so that the demo's own
    one-BLAS-thread setting takes effect before NumPy loads); fail with its output if it fails."""
    cmd = [sys.executable, os.path.join(ROOT, "demos", f"{name}.py"), *args, "--no-progress"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert done.returncode == 0, f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


def read_metrics(out):
    with open(os.path.join(out, "metrics.json")) as f:
        return json.load(f)


def assert_png(path):
    assert os.path.isfile(path), f"missing figure {path}"
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert os.path.getsize(path) > 5000, f"{path} is suspiciously small for a plot"


def assert_gif(path, frames):
    """A GIF of 2 to ``frames`` frames (Pillow merges identical consecutive frames, so it may hold fewer)."""
    from PIL import Image

    with Image.open(path) as im:
        assert im.format == "GIF" and 2 <= im.n_frames <= frames, (path, im.n_frames)


# -- smoke tests: a few iterations --------------------------------------------------------------------
def test_gaussian_1d_smoke(tmp_path):
    out = str(tmp_path / "g1d")
    done = run_demo("gaussian_1d", "--out", out, "--steps", "20", "--seed", "3")
    m = read_metrics(out)
    for key in ("d_mean_on_data", "g_mean", "g_std", "data_mean", "data_std", "steps", "seed", "files"):
        assert key in m, f"metrics.json lacks {key!r}: {sorted(m)}"
    assert m["steps"] == 20 and m["seed"] == 3 and m["backend"] == "numpy"
    assert (m["data_mean"], m["data_std"]) == (2.0, 0.5)
    assert 0.0 < m["d_mean_on_data"] < 1.0 and m["g_std"] > 0.0
    summary = done.stdout[done.stdout.index("gaussian_1d: wrote"):]  # the closing summary it prints
    assert f"p_g mean, std: {m['g_mean']:.3f}, {m['g_std']:.3f}" in summary and "goal: " in summary
    assert m["goal"] in summary and m["git_commit"] != "" and m["hyperparameters"]["steps"] == 20
    samples = numpy.load(os.path.join(out, "samples.npy"))
    assert samples.shape == (10000,) and numpy.all(numpy.isfinite(samples))
    # metrics.json agrees with the samples it describes
    assert m["g_mean"] == pytest.approx(float(samples.mean()), rel=1e-6)
    assert m["g_std"] == pytest.approx(float(samples.std()), rel=1e-6)
    for name in ("figure1.png", "curves.png"):
        assert_png(os.path.join(out, name))
        assert name in m["files"]
    assert_gif(os.path.join(out, "training.gif"), frames=1 + 20)  # iteration 0, then every max(1, 20 // 40)


def test_mixture_2d_smoke(tmp_path):
    out = str(tmp_path / "mix")
    run_demo("mixture_2d", "--out", out, "--steps", "10", "--seed", "1")
    m = read_metrics(out)
    for name, n_modes in (("ring", 8), ("grid", 25)):
        assert name in m, f"metrics.json lacks {name!r}: {sorted(m)}"
        for key in ("modes", "high_quality", "reverse_kl"):
            assert key in m[name], f"metrics.json[{name!r}] lacks {key!r}"
        assert m[name]["n_modes"] == n_modes
        assert isinstance(m[name]["modes"], int) and 0 <= m[name]["modes"] <= n_modes
        assert 0.0 <= m[name]["high_quality"] <= 1.0
        # reverse KL of the mode histogram: in [0, log K], or null when no sample is high quality
        kl = m[name]["reverse_kl"]
        assert (kl is None) == (m[name]["high_quality"] == 0.0)
        assert kl is None or -1e-12 <= kl <= numpy.log(n_modes) + 1e-12
        samples = numpy.load(os.path.join(out, f"samples_{name}.npy"))
        assert samples.shape == (2500, 2) and numpy.all(numpy.isfinite(samples))
        assert sum(m[name]["counts"]) == round(m[name]["high_quality"] * 2500)
        for fig in (f"{name}.png", f"curves_{name}.png"):
            assert_png(os.path.join(out, fig))
            assert fig in m["files"]
        assert_gif(os.path.join(out, f"training_{name}.gif"), frames=1 + 10)


def test_demos_refuse_a_missing_out():
    for name in ("gaussian_1d", "mixture_2d"):
        done = subprocess.run([sys.executable, os.path.join(ROOT, "demos", f"{name}.py"), "--steps", "1"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and "--out" in done.stderr, done.stderr


@pytest.mark.slow
def test_gaussian_1d_full_run_meets_the_acceptance_figures(tmp_path):
    """Default settings (5,000 iterations): at the end p_g = p_data to 5% in mean and std, and D = 1/2 +- 0.05
    on data and on the grid mean +- 1.5 std (where p_data has 87% of its mass)."""
    out = str(tmp_path / "g1d")
    run_demo("gaussian_1d", "--out", out)
    m = read_metrics(out)
    print(f"\n[gaussian_1d] g_mean {m['g_mean']:.4f} (data {m['data_mean']}), g_std {m['g_std']:.4f} "
          f"(data {m['data_std']}), D on data {m['d_mean_on_data']:.4f}, max |D - 1/2| on mean +- 1.5 std "
          f"{m['d_max_dev_1p5_sigma']:.4f}; {m['seconds']} s")
    assert abs(m["d_mean_on_data"] - 0.5) <= 0.05
    assert m["d_max_dev_1p5_sigma"] <= 0.05
    assert abs(m["g_mean"] - m["data_mean"]) <= 0.05 * m["data_mean"]
    assert abs(m["g_std"] - m["data_std"]) <= 0.05 * m["data_std"]
    assert m["accepted"] is True
    samples = numpy.load(os.path.join(out, "samples.npy"))
    assert samples.shape == (10000,)
    assert float(samples.mean()) == pytest.approx(m["g_mean"], rel=1e-6)


@pytest.mark.slow
def test_mixture_2d_full_run_writes_its_metrics(tmp_path):
    """Default settings: finishes, 2,500 finite samples per dataset, metrics consistent with the samples."""
    from minigan.data import toy
    from minigan.gan.metrics import mode_coverage

    out = str(tmp_path / "mix")
    run_demo("mixture_2d", "--out", out)
    m = read_metrics(out)
    def summary(r):
        kl = "null" if r["reverse_kl"] is None else f"{r['reverse_kl']:.3f}"
        return f"{r['modes']}/{r['n_modes']} modes, {100 * r['high_quality']:.1f}% high quality, reverse KL {kl}"
    print(f"\n[mixture_2d] ring: {summary(m['ring'])}; grid: {summary(m['grid'])}; {m['seconds']} s")
    for name, p_data in (("ring", toy.ring()), ("grid", toy.grid())):
        samples = numpy.load(os.path.join(out, f"samples_{name}.npy"))
        assert samples.shape == (2500, 2) and numpy.all(numpy.isfinite(samples))
        again = mode_coverage(samples, p_data.centers, p_data.std)
        assert again["modes"] == m[name]["modes"]
        assert again["high_quality"] == pytest.approx(m[name]["high_quality"])
