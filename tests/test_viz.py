"""minigan.viz: Figures returned (and saved when asked), the user's matplotlib backend left alone,
image grids on a fixed value range, mixture figures that hide no data."""
import os
import subprocess
import sys

import numpy
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from minigan import viz

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _backend_after_import(setup, env_backend=None):
    code = f"import matplotlib\n{setup}\nimport minigan.viz\nprint(matplotlib.get_backend())"
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("MPLBACKEND", None)
    if env_backend:
        env["MPLBACKEND"] = env_backend
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip().lower()


def test_importing_viz_keeps_the_backend_the_user_chose():
    assert _backend_after_import("", env_backend="svg") == "svg"
    assert _backend_after_import("matplotlib.use('pdf')") == "pdf"


def _figures(tmp_path):
    rng = numpy.random.default_rng(0)
    x = numpy.linspace(-3, 3, 50)
    stage = {"label": "(a)", "p_g": numpy.exp(-x * x), "D": numpy.full(50, 0.5)}
    history = {k: list(rng.normal(size=20)) for k in ("d_loss", "g_loss", "d_real", "d_fake")}
    history["step"] = list(range(20))
    images = rng.uniform(0, 1, size=(6, 5, 5))
    return {
        "densities_1d": lambda path: viz.densities_1d(x, numpy.exp(-x * x), [stage], path=path),
        "scatter_2d": lambda path: viz.scatter_2d(rng.normal(size=(30, 2)), numpy.eye(2), path=path),
        "training_curves": lambda path: viz.training_curves(history, path=path),
        "sample_grid": lambda path: viz.sample_grid(images, nrow=3, value_range=(0, 1), path=path),
        "interpolation": lambda path: viz.interpolation(images.reshape(2, 3, 5, 5), value_range=(0, 1), path=path),
        "samples_with_nearest": lambda path: viz.samples_with_nearest(images, images, path=path),
        "parzen_curve": lambda path: viz.parzen_curve([1, 2], [3.0, 4.0], reference=(4.0, 0.5, "paper"), path=path),
    }


@pytest.mark.parametrize("name", ["densities_1d", "scatter_2d", "training_curves", "sample_grid",
                                  "interpolation", "samples_with_nearest", "parzen_curve"])
def test_every_figure_function_returns_the_figure_and_saves_it_only_when_asked(name, tmp_path):
    import matplotlib.pyplot as plt

    open_before = plt.get_fignums()
    make = _figures(tmp_path)[name]
    fig = make(None)
    assert isinstance(fig, Figure) and fig.axes
    assert list(tmp_path.iterdir()) == []
    fig = make(tmp_path / "sub" / f"{name}.png")
    assert isinstance(fig, Figure)
    assert (tmp_path / "sub" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert plt.get_fignums() == open_before  # nothing left open in pyplot
    assert viz.save(fig, tmp_path / "again.svg") == str(tmp_path / "again.svg")


def test_image_grid_brightness_depends_only_on_the_value_range():
    dim_frame = numpy.full((2, 3, 3), -0.5)  # every pixel -0.5
    bright_frame = numpy.concatenate([dim_frame, numpy.full((1, 3, 3), 1.0)])
    pixels = []
    for frame in (dim_frame, bright_frame):
        fig = viz.sample_grid(frame, nrow=3, value_range=(-1, 1))
        canvas = fig.axes[0].images[0].get_array()
        pixels.append(canvas[1:4, 1:4])  # the first image (inside the 1-pixel border)
    numpy.testing.assert_array_equal(pixels[0], 0.25)  # -0.5 on (-1, 1) is a quarter of the way to white
    numpy.testing.assert_array_equal(pixels[0], pixels[1])
    with pytest.raises(TypeError, match=r"sample_grid: give value_range=\(lo, hi\)"):
        viz.sample_grid(dim_frame)
    with pytest.raises(ValueError, match="lo < hi"):
        viz.sample_grid(dim_frame, value_range=(1, 1))


def test_scatter_2d_draws_p_data_above_the_modes_and_keeps_the_legend_off_every_mode():
    centers = numpy.array([[x, y] for x in (-4.0, -2.0, 0.0, 2.0, 4.0) for y in (-4.0, -2.0, 0.0, 2.0, 4.0)])
    rng = numpy.random.default_rng(1)
    real = centers[rng.integers(0, 25, 500)] + 0.05 * rng.normal(size=(500, 2))
    fig = viz.scatter_2d(real + 0.1, centers, real=real)
    FigureCanvasAgg(fig).draw()
    ax = fig.axes[0]
    layers = {c.get_label(): c.get_zorder() for c in ax.collections}
    assert layers["p_data"] > layers["modes"] and layers["p_data"] > layers["G(z)"]
    box = ax.get_legend().get_window_extent()
    for c in centers:
        assert not box.contains(*ax.transData.transform(c)), f"the legend covers the mode at {c}"


@pytest.mark.parametrize("fraction, text", [(0.0024, "0.24%"), (0.5, "50%"), (1.0, "100%"), (0.0, "0%"),
                                            (0.987, "99%"), (0.05, "5%"), (0.0531, "5.3%")])
def test_percent_keeps_significant_digits(fraction, text):
    assert viz.percent(fraction) == text
