"""Data scaling: uint8 pixels reach the networks on exactly the scale each model was built for.

MNIST stores ink as 0..255. The GAN paper's MLP (sigmoid outputs) sees pixel / 255 in [0, 1];
DCGAN and the evaluation classifier (tanh outputs) see pixel / 127.5 - 1 in [-1, 1]. A map with
256 in place of 255 is off by 0.4% and passes every shape and range check, while it moves the
Parzen log-likelihood by about 784 log(256/255) = 3 nats; so the end points are checked exactly:
0 and 255 must land on 0.0 and 1.0 (or -1.0 and 1.0), and the values between on p/255 (p/127.5 - 1).
(The decoding of the uint8 pixels themselves, from an empty cache, is tested in tests/test_data.py.)
"""
from __future__ import annotations


import numpy
import pytest

from minigan.models.classifier import to_tanh_range
from load_script import load_script


PIXELS = numpy.array([[[0, 255], [128, 1]]], dtype=numpy.uint8)  # one 2 x 2 "image"


def load_demo(name):
    return load_script(f"demos/{name}.py", f"{name}_pixels")


def test_mnist_mlp_demo_maps_0_and_255_to_exactly_0_and_1():
    x = load_demo("mnist_mlp").to_unit(PIXELS)
    assert x.dtype == numpy.float32 and x.shape == (1, 4)
    numpy.testing.assert_array_equal(x[0], numpy.array([0.0, 1.0, 128 / 255, 1 / 255], dtype=numpy.float32))


def test_semi_supervised_demo_maps_0_and_255_to_exactly_0_and_1():
    x = load_demo("semi_supervised_mnist").to_unit(PIXELS)
    assert x.dtype == numpy.float32 and x.shape == (1, 4)
    numpy.testing.assert_array_equal(x[0], numpy.array([0.0, 1.0, 128 / 255, 1 / 255], dtype=numpy.float32))


def test_classifier_and_dcgan_map_0_and_255_to_exactly_minus_1_and_1():
    """models/classifier.py's to_tanh_range is the map demos/mnist_dcgan.py and train_classifier.py use."""
    x = to_tanh_range(PIXELS)
    assert x.dtype == numpy.float32 and x.shape == (1, 1, 2, 2)
    numpy.testing.assert_array_equal(x[0, 0, 0], [-1.0, 1.0])
    # inside the range, p / 127.5 - 1 in float32 cancels: a few float32 ulps of 1 (6e-8 each)
    numpy.testing.assert_allclose(x[0, 0, 1], [128 / 127.5 - 1, 1 / 127.5 - 1], rtol=0, atol=2.5e-7)
    with pytest.raises(ValueError, match="to_tanh_range: expected uint8 images"):
        to_tanh_range(PIXELS.astype(numpy.float32))
