"""Class labels of the conditional models (minigan/gan/labels.py) on the host and on the device.

On the CuPy stand-in: device labels are checked from their metadata plus one read of one scalar
(none for ClassLabels), the one-hot code is built on the device and equals the host's code, a
bad device label is refused with the network's name, and the label samplers draw on the device
(LabelledNoise's ``probs`` too). On NumPy: the samplers draw from the Generator's host stream
the numbers they drew before labels could live on the device, so recorded runs reproduce.
"""
from __future__ import annotations

import numpy
import pytest

import minigan as mg
from minigan.data import toy
from minigan.gan import conditional
from minigan.gan.labels import ClassLabels, check_labels, one_hot
from minigan.models import dcgan

K = 5


def device_labels(values):
    return mg.tensor(numpy.asarray(values, dtype=numpy.int64))  # on the default backend: the stand-in's device


def test_device_labels_are_encoded_on_the_device_as_on_the_host(stand_in):
    host = numpy.array([3, 0, 4, 4, 1])
    y = device_labels(host)
    stand_in.transfers.reset()
    code = one_hot(y, K, dtype=numpy.float64)
    assert stand_in.transfers.totals() == (0, 1)  # no copy; one read: is any label outside [0, 5)?
    assert code.backend == "cupy" and code.dtype == numpy.float64
    numpy.testing.assert_array_equal(code.numpy(), numpy.eye(K)[host])
    numpy.testing.assert_array_equal(one_hot(host, K).numpy(), numpy.eye(K)[host])  # host labels: the same code
    stand_in.transfers.reset()
    one_hot(ClassLabels(y.data, K), K)
    assert stand_in.transfers.totals() == (0, 0)  # a known range is not read


@pytest.mark.parametrize("values, low, high", [([0, 5, 2], 0, 5), ([-1, 2, 3], -1, 3)])
def test_a_device_label_out_of_range_is_refused_with_the_network_s_name(stand_in, values, low, high):
    y = device_labels(values)
    D = conditional.ConditionalD(lambda h: h, K)
    with pytest.raises(ValueError, match=rf"ConditionalD: labels y must lie in \[0, 5\), got values from {low} to "
                                         rf"{high}"):
        D(mg.randn(3, 2), y)
    with pytest.raises(ValueError, match=rf"DCGANGenerator: labels y must lie in \[0, 5\), got values from {low}"):
        dcgan.DCGANGenerator(z_dim=4, n_classes=K, width=2, generator=mg.Generator(0))(mg.randn(3, 4), y)
    with pytest.raises(ValueError, match=r"one_hot: labels y must lie in \[0, 3\)"):
        one_hot(ClassLabels(device_labels([0, 1, 2, 4]).data, K), 3)  # promised for 5 classes, not for 3


def test_device_labels_dtype_and_shape_are_checked_without_a_read(stand_in):
    floats, three = mg.tensor(numpy.zeros(3, numpy.float32)), device_labels([0, 1, 2])
    stand_in.transfers.reset()
    with pytest.raises(TypeError, match="ConditionalG: labels y must be integers, got dtype float32"):
        check_labels("ConditionalG", floats, K, 3)
    with pytest.raises(ValueError, match=r"ConditionalG: labels y must have shape \(4,\) to match the batch, "
                                         r"got \(3,\)"):
        check_labels("ConditionalG", three, K, 4)
    assert stand_in.transfers.totals() == (0, 0)
    with pytest.raises(TypeError, match="ClassLabels: labels must be integers"):
        ClassLabels(numpy.zeros(2), K)
    with pytest.raises(ValueError, match=r"ClassLabels: labels must have shape \(m,\), got \(1, 2\)"):
        ClassLabels(numpy.zeros((1, 2), numpy.int64), K)


def test_g_passes_checked_device_labels_on_and_host_labels_as_given(stand_in):
    G = conditional.ConditionalG(lambda h: h[:, :2], K)
    y = device_labels([1, 2])
    _, passed = G(mg.randn(2, 2), y)
    assert isinstance(passed, ClassLabels) and passed.data is y.data and passed.n_classes == K
    host = numpy.array([1, 2])
    assert G(mg.randn(2, 2), host)[1] is host


def test_the_samplers_draw_labels_on_the_device(stand_in):
    gen = mg.Generator(0)
    stand_in.transfers.reset()
    z, y = conditional.LabelledNoise(toy.NormalNoise(2), K)(gen, 64)
    x, yx = conditional.labelled_mixture(toy.ring(K))(gen, 64)
    assert stand_in.transfers.totals() == (1, 0)  # the ring's centers, copied on the first draw only
    for labels in (y, yx):
        assert isinstance(labels, ClassLabels) and labels.backend == "cupy" and labels.n_classes == K
    assert numpy.abs(x.numpy() - toy.ring_centers(K)[yx.numpy()]).max() < 6 * toy.ring().std


def test_labelled_noise_draws_probs_on_the_device(stand_in):
    probs = [0.5, 0.0, 0.25, 0.0, 0.25]
    _, y = conditional.LabelledNoise(toy.NormalNoise(1), K, probs=probs)(mg.Generator(1), 20000)
    counts = numpy.bincount(y.numpy(), minlength=K)
    assert counts[1] == counts[3] == 0  # probability 0: never drawn
    # binomial standard deviation of a frequency: sqrt(0.25 * 0.75 / 20000) = 0.0031; 5 of them
    numpy.testing.assert_allclose(counts / 20000, probs, atol=0.016)


def test_on_numpy_the_samplers_draw_what_the_host_stream_always_gave():
    with mg.backend_scope("numpy"):  # the NumPy backend's streams are the subject
        z, y = conditional.LabelledNoise(toy.NormalNoise(2), K, probs=[0.1, 0.2, 0.3, 0.2, 0.2])(mg.Generator(3), 9)
        ref = mg.Generator(3).np
        numpy.testing.assert_array_equal(z.numpy(), ref.normal(0.0, 1.0, size=(9, 2)).astype(numpy.float32))
        numpy.testing.assert_array_equal(y.numpy(), ref.choice(K, size=9, p=[0.1, 0.2, 0.3, 0.2, 0.2]))
        mixture = toy.ring(K)
        x, yx = conditional.labelled_mixture(mixture)(mg.Generator(4), 9)
        ref = mg.Generator(4).np
        k = ref.integers(0, K, size=9)
        assert isinstance(y, ClassLabels) and isinstance(yx, ClassLabels) and yx.backend == "numpy"
        numpy.testing.assert_array_equal(yx.numpy(), k)
        numpy.testing.assert_array_equal(x.numpy(), (mixture.centers[k] + ref.normal(0.0, mixture.std, size=(9, 2)))
                                         .astype(numpy.float32))
