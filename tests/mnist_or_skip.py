"""The one reason an MNIST test may skip: the data set is not installed on this machine.

``load_mnist`` raises DataNotFoundError, and only that, when it finds no copy of MNIST (its
message says how to get one). Any other error -- a decoder that breaks, a copy that fails its
verification, a bug in the test -- is a failure, not a skip: a skip on a broad ``except`` would
turn a broken loader into a green run.
"""
from __future__ import annotations

import pytest

from minigan.data import load_mnist
from minigan.data.mnist import DataNotFoundError


def load_mnist_or_skip(**kwargs):
    """``load_mnist(**kwargs)``, or skip the calling test when MNIST is not installed."""
    try:
        return load_mnist(**kwargs)
    except DataNotFoundError as e:
        pytest.skip(f"MNIST is not installed: {e}")
