"""The MNIST demos' own p_data samplers keep the data set on the device: a minibatch is gathered
there, with no host-to-device copy per iteration (counted by the CuPy stand-in), and it holds the
same images as the sampler's definition on the host. The conditional DCGAN's samplers draw their
labels on the device too, so its training iteration copies nothing and reads once."""
from __future__ import annotations


import numpy
import pytest

import minigan as mg
from conftest import on_backend
from load_script import load_script
from minigan import optim
from minigan.gan import GAN
from minigan.gan.labels import ClassLabels
from minigan.models import dcgan


def load_demo(name):
    return load_script(f"demos/{name}.py", f"{name}_samplers")


def test_mnist_mlp_minibatches_are_gathered_on_the_device(stand_in):
    demo = load_demo("mnist_mlp")
    host = numpy.random.default_rng(0).random((50, 4), dtype=numpy.float32)
    p_data = demo.ShuffledMinibatches(mg.tensor(host).data, seed=3)
    first = p_data(None, 10)  # the first minibatch brings epoch 0's order to the device
    stand_in.transfers.reset()
    rest = [p_data(None, 10) for _ in range(3)]
    h2d, _ = stand_in.transfers.totals()
    assert h2d == 0, f"host-to-device copies within an epoch:\n{stand_in.transfers.report()}"
    order = numpy.random.default_rng([3, 0]).permutation(50)  # the definition: epoch e's order
    for i, batch in enumerate([first, *rest]):
        numpy.testing.assert_array_equal(batch.numpy(), host[order[10 * i:10 * i + 10]])
    straddling = [p_data(None, 10), p_data(None, 10)]  # draws 40..50 then 50..60: into epoch 1
    numpy.testing.assert_array_equal(straddling[1].numpy(), host[numpy.random.default_rng([3, 1]).permutation(50)[:10]])
    numpy.testing.assert_array_equal(straddling[0].numpy(), host[order[40:50]])


def test_mnist_dcgan_minibatches_are_gathered_on_the_device(stand_in):
    demo = load_demo("mnist_dcgan")
    host = numpy.random.default_rng(0).uniform(-1, 1, (40, 1, 28, 28)).astype(numpy.float32)
    p_data = demo.MNISTSampler(host, numpy.arange(40) % 10, labelled=False)
    gen = mg.Generator(5)
    p_data(gen, 8)
    stand_in.transfers.reset()
    x = p_data(gen, 8)
    h2d, _ = stand_in.transfers.totals()
    assert h2d == 0, f"host-to-device copies per minibatch:\n{stand_in.transfers.report()}"
    assert x.backend == "cupy" and x.shape == (8, 1, 28, 28)


def test_mnist_dcgan_sampler_draws_the_same_minibatches_on_numpy():
    """On NumPy the indices come from the Generator's host stream, as integers(0, n, m) always did,
    so a seed still reproduces the runs recorded before the data moved to the device. Pinned to NumPy:
    on CuPy the indices come from the device stream, other numbers by design (minigan/random.py)."""
    demo = load_demo("mnist_dcgan")
    host = numpy.random.default_rng(0).uniform(-1, 1, (40, 1, 28, 28)).astype(numpy.float32)
    labels = (numpy.arange(40) * 7) % 10
    with on_backend("numpy"):
        x = demo.MNISTSampler(host, labels, labelled=False)(mg.Generator(5), 8)
        xl, y = demo.MNISTSampler(host, labels, labelled=True)(mg.Generator(5), 8)
        z, yz = demo.LabelledNoise(3, 10)(mg.Generator(6), 8)
    idx = mg.Generator(5).np.integers(0, 40, 8)
    numpy.testing.assert_array_equal(x.numpy(), host[idx])
    numpy.testing.assert_array_equal(xl.numpy(), host[idx])
    assert isinstance(y, ClassLabels) and y.backend == "numpy"
    numpy.testing.assert_array_equal(y.numpy(), labels[idx])
    ref = mg.Generator(6).np
    numpy.testing.assert_array_equal(z.numpy(), ref.normal(0.0, 1.0, size=(8, 3)).astype(numpy.float32))
    numpy.testing.assert_array_equal(yz.numpy(), ref.integers(0, 10, 8))


def test_mnist_dcgan_labelled_minibatches_keep_their_labels_on_the_device(stand_in):
    demo = load_demo("mnist_dcgan")
    host = numpy.random.default_rng(0).uniform(-1, 1, (40, 1, 28, 28)).astype(numpy.float32)
    labels = (numpy.arange(40) * 7) % 10
    p_data = demo.MNISTSampler(host, labels, labelled=True)
    gen = mg.Generator(5)
    p_data(gen, 8)
    stand_in.transfers.reset()
    x, y = p_data(gen, 8)
    assert stand_in.transfers.totals() == (0, 0)
    assert isinstance(y, ClassLabels) and y.backend == "cupy" and y.n_classes == 10
    images = x.numpy()
    rows = [int(numpy.flatnonzero((host == image).all(axis=(1, 2, 3)))[0]) for image in images]
    numpy.testing.assert_array_equal(y.numpy(), labels[rows])  # each image with its own label


def test_mnist_dcgan_sampler_refuses_labels_outside_the_classes():
    demo = load_demo("mnist_dcgan")
    images = numpy.zeros((3, 1, 28, 28), numpy.float32)
    with pytest.raises(ValueError, match=r"MNISTSampler: labels y must lie in \[0, 10\), got values from 0 to 10"):
        demo.MNISTSampler(images, numpy.array([0, 10, 2]), labelled=True)


def test_a_conditional_dcgan_iteration_copies_nothing_and_reads_once(stand_in):
    """The demo's samplers and the conditional DCGAN (reduced width): labels drawn, checked and
    one-hot encoded on the device; the one read per iteration is Algorithm 1's logged metrics."""
    demo = load_demo("mnist_dcgan")
    gen = mg.Generator(0)
    host = numpy.random.default_rng(0).uniform(-1, 1, (32, 1, 28, 28)).astype(numpy.float32)
    G = dcgan.DCGANGenerator(n_classes=10, width=4, generator=gen)
    D = dcgan.DCGANDiscriminator(n_classes=10, width=4, generator=gen)
    opt_D, opt_G = (optim.Adam(M.parameters(), lr=2e-4, betas=(0.5, 0.999)) for M in (D, G))
    gan = GAN(G, D, opt_D, opt_G, demo.LabelledNoise(dcgan.Z_DIM, 10),
              demo.MNISTSampler(host, numpy.arange(32) % 10, labelled=True), generator=gen, k=1, m=8)
    gan.train(2, progress=False)
    stand_in.transfers.reset()
    metrics = gan.train(5, progress=False)
    assert stand_in.transfers.totals() == (0, 3), stand_in.transfers.report()
    assert all(numpy.isfinite(v) for v in metrics.values())
