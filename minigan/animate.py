"""Training as a moving picture: a GIF of frames recorded while a GAN trains.

    frames = []                                     # one record per snapshot, made by the caller
    gan.train(steps, on_sample=lambda step, G: frames.append(snapshot(step, G)), sample_every=50)
    training_gif("run/training.gif", frames, draw=lambda ax, frame: ax.plot(...))

The GIF is written by matplotlib's PillowWriter. Pillow is already a dependency of matplotlib,
so this needs nothing beyond the project's own dependencies. As in minigan/viz.py, the figure is
made without pyplot, so writing a GIF chooses no matplotlib backend and opens no window.
"""
from __future__ import annotations


def training_gif(path, frames, draw, *, fps=8, figsize=(5.0, 3.6), dpi=72) -> str:
    """Write one GIF frame per entry of ``frames``: ``draw(ax, frame)`` fills a cleared Axes. Returns ``path``."""
    if not frames:
        raise ValueError(f"training_gif: no frames to write to {path}")
    from matplotlib.animation import PillowWriter
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)  # drawn off screen, without pyplot: no backend chosen, no window opened
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    writer = PillowWriter(fps=fps)
    with writer.saving(fig, path, dpi):
        for frame in frames:
            ax.clear()
            draw(ax, frame)
            writer.grab_frame()
    return path
