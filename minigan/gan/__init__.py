"""minigan.gan: the GAN itself, built on the engine.

losses.py (the loss family, each with its formula), algorithm.py (Algorithm 1 of the paper),
metrics.py (how good are the samples). ``from minigan.gan import losses, GAN``.
"""
from . import losses  # noqa: F401
from .algorithm import GAN  # noqa: F401
from .divergence import DivergenceError  # noqa: F401
from . import consensus, semi_supervised, unrolled  # noqa: F401 - consensus and unrolled register in variants
