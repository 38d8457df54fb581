"""Training as a moving picture: a GIF of frames recorded while a GAN trains.

    frames = []                                     # one record per snapshot, made by the caller
    gan.train(steps, on_sample=lambda step, G: frames.append(snapshot(step, G)), sample_every=50)
    training_gif("run/training.gif", frames, draw=lambda ax, frame: ax.plot(...))

The GIF is written by matplotlib's PillowWriter. Pillow is already a dependency of matplotlib,
so this needs nothing beyond the project's own dependencies.
"""
from __future__ import annotations


def training_gif(path, frames, draw, *, fps=8, figsize=(5.0, 3.6), dpi=72) -> str:
    """Write one GIF frame per entry of ``frames``: ``draw(ax, frame)`` fills a cleared Axes. Returns ``path``."""
    if not frames:
        raise ValueError(f"training_gif: no frames to write to {path}")
    import matplotlib.pyplot as plt  # the backend is the caller's choice (headless matplotlib falls back to Agg)
    from matplotlib.animation import PillowWriter

    fig, ax = plt.subplots(figsize=figsize)
    writer = PillowWriter(fps=fps)
    try:
        with writer.saving(fig, path, dpi):
            for frame in frames:
                ax.clear()
                draw(ax, frame)
                writer.grab_frame()
    finally:
        plt.close(fig)
    return path
