"""The MNIST demos' own p_data samplers keep the data set on the device: a minibatch is gathered
there, with no host-to-device copy per iteration (counted by the CuPy stand-in), and it holds the
same images as the sampler's definition on the host."""
from __future__ import annotations


import numpy

import minigan as mg
from load_script import load_script


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
    so a seed still reproduces the runs recorded before the data moved to the device."""
    demo = load_demo("mnist_dcgan")
    host = numpy.random.default_rng(0).uniform(-1, 1, (40, 1, 28, 28)).astype(numpy.float32)
    p_data = demo.MNISTSampler(host, numpy.arange(40) % 10, labelled=False)
    x = p_data(mg.Generator(5), 8)
    idx = mg.Generator(5).np.integers(0, 40, 8)
    numpy.testing.assert_array_equal(x.numpy(), host[idx])
