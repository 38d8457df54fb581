"""minigan.gan: the GAN itself, built on the engine.

losses.py (the loss family, each with its formula), algorithm.py (Algorithm 1 of the paper),
metrics.py (how good are the samples), and one file per variant of the algorithm or of its
players (unrolled.py, consensus.py, penalty.py, ...). ``from minigan.gan import losses, GAN``.
The set-ups that combine them into the experiments of docs/07 are in minigan/experiments.
"""
from . import losses  # noqa: F401
from .algorithm import GAN  # noqa: F401
from .divergence import DivergenceError  # noqa: F401
