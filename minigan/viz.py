"""Figures for GAN experiments: each function draws one matplotlib Figure and returns it.

Give ``path=`` to also save it (PNG, SVG or PDF by the extension); ``save(fig, path)``
does the same afterwards and returns the path, so a demo can list what it wrote. In a
notebook the returned Figure shows inline. Inputs are NumPy arrays (call
``tensor.numpy()`` first).

The figures are ``matplotlib.figure.Figure`` objects made without pyplot, so importing
this module chooses no backend (an ``MPLBACKEND`` or an earlier ``matplotlib.use`` stays
in force), opens no window, and leaves no figure open in pyplot's list.

* :func:`densities_1d`: the paper's Figure 1 -- p_data, p_g and D(x) at several stages;
* :func:`scatter_2d`: samples over the modes of a 2-D mixture;
* :func:`training_curves`: both players' losses and D's mean outputs against the step;
* :func:`sample_grid`: a grid of generated images; :func:`interpolation`: rows of images along
  latent paths; :func:`percent`: a fraction as a percentage with its significant digits.
"""
from __future__ import annotations

import os

import numpy
from matplotlib.figure import Figure


def new_figure(figsize=(6.0, 4.0)) -> Figure:
    """An empty Figure that belongs to no pyplot window (add axes with ``fig.subplots``)."""
    return Figure(figsize=figsize)


def save(fig: Figure, path) -> str:
    """Write ``fig`` to ``path`` (its folder is created) and return the path as a string."""
    path = os.fspath(path)
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def _finish(fig: Figure, path) -> Figure:
    if path is not None:
        save(fig, path)
    return fig


def percent(fraction: float, digits: int = 2) -> str:
    """``fraction`` as a percentage with ``digits`` significant digits: 0.0024 -> "0.24%", 0.5 -> "50%".

    A fixed number of decimals would print 0.24% as "0%", which reads as "none".
    """
    value = 100.0 * float(fraction)
    if value == 0.0 or not numpy.isfinite(value):
        return f"{value:g}%"
    text = numpy.format_float_positional(value, precision=digits, unique=False, fractional=False, trim="-")
    return text + "%"


def kde_1d(samples, x, bandwidth=None) -> numpy.ndarray:
    """A Gaussian kernel density estimate of 1-D ``samples`` on the points ``x`` (Silverman's bandwidth
    1.06 s n^(-1/5) by default): how p_g is drawn, since a generator has no density formula."""
    s = numpy.asarray(samples, dtype=numpy.float64).ravel()
    x = numpy.asarray(x, dtype=numpy.float64)
    h = bandwidth or 1.06 * max(s.std(), 1e-12) * len(s) ** (-0.2)
    out = numpy.zeros_like(x)
    for chunk in numpy.array_split(s, max(1, len(s) // 2000)):  # bounded memory
        out += numpy.exp(-0.5 * ((x[:, None] - chunk[None, :]) / h) ** 2).sum(axis=1)
    return out / (len(s) * h * numpy.sqrt(2.0 * numpy.pi))


def densities_1d(x, p_data, stages, title=None, path=None) -> Figure:
    """One panel per stage, as the paper's Figure 1: p_data (black, dotted), p_g (green), D(x) (blue, dashed).

    x: the grid (n,); p_data: its density on x (n,). stages: a list of dicts with
      label: the panel's caption, e.g. "(a) start";
      p_g: G's density on x (e.g. kde_1d of its samples); D: D(x) on x, in (0, 1);
      D_star (optional): p_data / (p_data + p_g), the optimal discriminator, drawn thin grey;
      z, Gz (optional): a few noise values and their images, drawn as the paper's arrows
        from the line of z (below) to the line of x.
    """
    n = len(stages)
    fig = new_figure((3.6 * n, 3.3))
    axes = fig.subplots(1, n, sharey=True, squeeze=False)
    top = max(1.05, 1.1 * max(float(numpy.max(p_data)), *(float(numpy.max(s["p_g"])) for s in stages)))
    for ax, stage in zip(axes[0], stages):
        ax.plot(x, p_data, ":", color="black", lw=2, label="p_data")
        ax.plot(x, stage["p_g"], "-", color="green", lw=1.8, label="p_g")
        ax.plot(x, stage["D"], "--", color="blue", lw=1.8, label="D(x)")
        if stage.get("D_star") is not None:
            ax.plot(x, stage["D_star"], "-", color="0.6", lw=1, label="D*(x)")
        if stage.get("z") is not None:
            z, gz = numpy.ravel(stage["z"]), numpy.ravel(stage["Gz"])
            z_pos = x[0] + (x[-1] - x[0]) * (0.5 + z / 8.0)  # the z axis, drawn under the x axis
            low, high = -0.32 * top, -0.08 * top
            ax.hlines([low, high], x[0], x[-1], color="0.3", lw=0.8)
            for a, b in zip(z_pos, gz):
                if x[0] <= b <= x[-1]:
                    ax.annotate("", xy=(b, high), xytext=(a, low),
                                arrowprops=dict(arrowstyle="->", color="0.45", lw=0.6))
            ax.text(x[0], low - 0.04 * top, "z", fontsize=8, va="top")
            ax.text(x[0], high + 0.02 * top, "x", fontsize=8, va="bottom")
            ax.set_ylim(-0.42 * top, top)
        else:
            ax.set_ylim(0.0, top)
        ax.set_title(stage["label"], fontsize=10)
        ax.set_xlabel("x")
        ax.axhline(0.5, color="0.85", lw=0.6, zorder=0)
    axes[0][0].legend(fontsize=8, loc="upper left")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return _finish(fig, path)


def scatter_2d(samples, centers=None, title=None, real=None, limit=None, path=None) -> Figure:
    """Samples of G (blue dots) and of p_data (black dots) over the mixture's mode centres (red crosses).

    The crosses are drawn first and thin, p_data's points above them, so a mode's data stays
    visible; the legend sits outside the axes, so it covers no mode.
    """
    s = numpy.asarray(samples)
    fig = new_figure((5.6, 4.6))
    ax = fig.subplots()
    if centers is not None:
        c = numpy.asarray(centers)
        ax.scatter(c[:, 0], c[:, 1], s=60, marker="x", color="red", linewidths=0.8, label="modes", zorder=1)
    ax.scatter(s[:, 0], s[:, 1], s=3, color="tab:blue", alpha=0.5, label="G(z)", zorder=2)
    if real is not None:
        r = numpy.asarray(real)
        ax.scatter(r[:, 0], r[:, 1], s=2, color="black", alpha=0.6, label="p_data", zorder=3)
    if limit is None and centers is not None:
        limit = 1.35 * float(numpy.abs(numpy.asarray(centers)).max())
    if limit is not None:
        ax.set_xlim(-limit, limit)
        ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, markerscale=2)
    if title:
        ax.set_title(title, fontsize=10)
    return _finish(fig, path)


def training_curves(history, title=None, path=None) -> Figure:
    """Left: D's and G's losses per step; right: mean D(x) and mean D(G(z)). ``history`` maps
    "step", "d_loss", "g_loss", "d_real", "d_fake" to sequences (GAN.history)."""
    step = numpy.asarray(history["step"])
    fig = new_figure((9, 3.2))
    ax1, ax2 = fig.subplots(1, 2)
    for key, color in (("d_loss", "tab:red"), ("g_loss", "tab:green")):
        ax1.plot(step, _smooth(history[key]), color=color, lw=1, label=key)
    ax1.set_xlabel("iteration")
    ax1.set_title("losses (moving average)", fontsize=10)
    ax1.legend(fontsize=8)
    ax2.plot(step, _smooth(history["d_real"]), color="black", lw=1, label="mean D(x)")
    ax2.plot(step, _smooth(history["d_fake"]), color="tab:blue", lw=1, label="mean D(G(z))")
    ax2.axhline(0.5, color="0.7", lw=0.6, ls=":")
    ax2.set_xlabel("iteration")
    ax2.set_title("discriminator outputs", fontsize=10)
    ax2.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return _finish(fig, path)


def _smooth(values, window=None):
    v = numpy.asarray(values, dtype=numpy.float64)
    window = window or max(1, len(v) // 100)
    if window <= 1:
        return v
    kernel = numpy.ones(window) / window
    padded = numpy.concatenate([numpy.full(window - 1, v[0]), v])
    return numpy.convolve(padded, kernel, mode="valid")


def _value_range(where, value_range):
    if value_range is None:
        raise TypeError(
            f"viz.{where}: give value_range=(lo, hi), the values drawn black and white, e.g. (-1, 1) for a "
            "tanh output or (0, 1) for a sigmoid; a range guessed per call would change the brightness "
            "between frames"
        )
    lo, hi = (float(v) for v in value_range)
    if not hi > lo:
        raise ValueError(f"viz.{where}: value_range must be (lo, hi) with lo < hi, got {value_range!r}")
    return lo, hi


def _tile(images, nrow, value_range):
    """(n, H, W) or (n, C, H, W) images with values in value_range -> one (rows*H, nrow*W[, 3]) canvas in [0, 1]."""
    a = numpy.asarray(images, dtype=numpy.float64)
    if a.ndim == 4 and a.shape[1] in (1, 3):
        a = a.transpose(0, 2, 3, 1)
        if a.shape[-1] == 1:
            a = a[..., 0]
    if a.ndim not in (3, 4):
        raise ValueError(f"viz: images must be (n, H, W) or (n, C, H, W) with C in (1, 3), got {numpy.shape(images)}")
    lo, hi = value_range
    a = numpy.clip((a - lo) / (hi - lo), 0.0, 1.0)
    n, h, w = a.shape[:3]
    rows = -(-n // nrow)
    canvas = numpy.ones((rows * (h + 1) + 1, nrow * (w + 1) + 1) + a.shape[3:])
    for i in range(n):
        r, c = divmod(i, nrow)
        canvas[1 + r * (h + 1): 1 + r * (h + 1) + h, 1 + c * (w + 1): 1 + c * (w + 1) + w] = a[i]
    return canvas


def sample_grid(images, nrow=10, title=None, *, value_range=None, path=None) -> Figure:
    """Generated images tiled nrow per row (grey scale or RGB).

    value_range=(lo, hi): the values drawn black and white (required: (-1, 1) for a tanh
    output, (0, 1) for a sigmoid). Fixed by the caller, it keeps the brightness of a frame
    comparable with the next one; values outside it are clipped.
    """
    canvas = _tile(images, nrow, _value_range("sample_grid", value_range))
    fig = new_figure((canvas.shape[1] / 30 + 0.5, canvas.shape[0] / 30 + 0.5))
    ax = fig.subplots()
    ax.imshow(canvas, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    return _finish(fig, path)


def interpolation(rows, title=None, *, value_range=None, path=None) -> Figure:
    """Latent interpolations: ``rows`` is (n_paths, n_steps, H, W[...]): each row is G along a path z1 -> z2."""
    r = numpy.asarray(rows)
    if r.ndim < 4:
        raise ValueError(f"viz.interpolation: rows must be (n_paths, n_steps, H, W), got shape {r.shape}")
    return sample_grid(r.reshape((-1,) + r.shape[2:]), nrow=r.shape[1], title=title, value_range=value_range,
                       path=path)


__all__ = ["kde_1d", "densities_1d", "scatter_2d", "training_curves", "sample_grid", "interpolation", "percent",
           "new_figure", "save"]


# -- MNIST figures of the GAN paper (demos/mnist_mlp.py) -------------------------------------------
def samples_with_nearest(samples, nearest, pairs_per_row=5, title=None, path=None) -> Figure:
    """The paper's Figure 2: each sample of G with its nearest training example beside it (framed in yellow).

    samples, nearest: (n, H, W) in [0, 1], nearest[i] the training image closest to samples[i]
    (the caller chooses the distance; Euclidean in pixel space is the paper's). A sample that
    merely copied a training image would look like its neighbour.
    """
    s, t = numpy.asarray(samples, dtype=numpy.float64), numpy.asarray(nearest, dtype=numpy.float64)
    if s.ndim != 3 or s.shape != t.shape:
        raise ValueError(f"viz.samples_with_nearest: samples and nearest must both be (n, H, W), "
                         f"got {s.shape} and {t.shape}")
    n, h, w = s.shape
    rows = -(-n // pairs_per_row)
    cell_h, cell_w = h + 2, 2 * (w + 2) + 4  # a 1-pixel frame around each image, a gap between pairs
    canvas = numpy.ones((rows * cell_h + 2, pairs_per_row * cell_w + 2, 3))
    yellow = numpy.array([1.0, 0.85, 0.0])
    for i in range(n):
        r, c = divmod(i, pairs_per_row)
        top, left = 1 + r * cell_h, 1 + c * cell_w
        canvas[top + 1:top + 1 + h, left + 1:left + 1 + w] = numpy.clip(s[i], 0, 1)[..., None]
        left2 = left + w + 2
        canvas[top:top + h + 2, left2:left2 + w + 2] = yellow
        canvas[top + 1:top + 1 + h, left2 + 1:left2 + 1 + w] = numpy.clip(t[i], 0, 1)[..., None]
    fig = new_figure((canvas.shape[1] / 30 + 0.5, canvas.shape[0] / 30 + 0.5))
    ax = fig.subplots()
    ax.imshow(canvas, interpolation="nearest")
    ax.axis("off")
    ax.set_title(title or "samples of G, each with its nearest training example (yellow frame)", fontsize=9)
    return _finish(fig, path)


def parzen_curve(steps, lls, label="Parzen estimate", final=None, reference=None, title=None,
                 more=(), path=None) -> Figure:
    """Parzen-window log-likelihood against the training iteration.

    steps, lls: the curve (say in ``label`` how it was estimated: sample count, data, sigma choice).
    more: further curves on the same axes, each (steps, lls, label) (say, averages of G's parameters).
    final: optional (step, mean, standard_error) of the full protocol, drawn as a point with error bar.
    reference: optional (value, standard_error, name), e.g. (225, 2, "paper"), drawn as a band.
    """
    fig = new_figure((6, 3.4))
    ax = fig.subplots()
    if len(steps):
        ax.plot(numpy.asarray(steps), numpy.asarray(lls), "o-", ms=3, lw=1, color="tab:blue", label=label)
    for (more_steps, more_lls, more_label), color in zip(more, ("tab:green", "tab:orange", "tab:purple", "tab:brown")):
        ax.plot(numpy.asarray(more_steps), numpy.asarray(more_lls), "o-", ms=2, lw=1, color=color, label=more_label)
    if reference is not None:
        value, se, name = reference
        ax.axhline(value, color="tab:red", lw=0.8, ls="--", label=f"{name}: {value} \u00b1 {se}")
        ax.axhspan(value - se, value + se, color="tab:red", alpha=0.12)
    if final is not None:
        step, mean, se = final
        ax.errorbar([step], [mean], yerr=[se], fmt="s", color="black", ms=5, capsize=3,
                    label=f"full protocol: {mean:.1f} \u00b1 {se:.1f}")
    ax.set_xlabel("iteration")
    ax.set_ylabel("mean log-likelihood (nats)")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title or "Parzen-window log-likelihood over training", fontsize=10)
    fig.tight_layout()
    return _finish(fig, path)


__all__ += ["samples_with_nearest", "parzen_curve"]
