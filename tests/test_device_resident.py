"""A training iteration stays on the device: counted with the CuPy stand-in's copy counter.

On a GPU every copy between host and device costs a transfer, and every read of a device
number (``.item()``, ``float()``, a branch on data) waits for the queued kernels to finish.
Algorithm 1 needs neither in steady state: the data set is on the device once, z, the
minibatch indices and the dropout masks are drawn there (the Generator's device stream),
and GAN.train_step reads its four logged metrics in one transfer. These tests hold four
setups to that -- the paper's MNIST MLP (maxout and dropout in D), the DCGAN (convolutions,
batch norm), the 2-D mixture of demos/mixture_2d.py and its conditional game (labels drawn on
the device, one-hot encoded there) -- at reduced widths so they run in a second or two: the
ops are the same at any width.
"""
from __future__ import annotations

import numpy
import pytest

import minigan as mg
from minigan import nn, optim
from minigan.data import DataSampler, toy
from minigan.gan import conditional
from minigan.gan.algorithm import GAN
from minigan.models import dcgan, paper_mlp

WARMUP, STEPS = 2, 4  # warm-up iterations make the optimizers' state and copy the mixture's centers once


def _mnist_mlp(gen):
    images = numpy.random.default_rng(0).random((64, 784), dtype=numpy.float32)
    G = paper_mlp.generator(gen, z_dim=16, hidden=32, output_bias=paper_mlp.sigmoid_bias_from_marginals(images))
    D = paper_mlp.discriminator(gen, units=8, pieces=5)
    opt_D = optim.SGD(D.parameters(), lr=0.1, momentum=0.5)
    opt_G = optim.SGD(G.parameters(), lr=0.1, momentum=0.5)
    return GAN(G, D, opt_D, opt_G, paper_mlp.noise_prior(16), DataSampler(images), generator=gen, k=1, m=16)


def _dcgan(gen):
    images = numpy.random.default_rng(0).uniform(-1, 1, (32, 1, 28, 28)).astype(numpy.float32)
    G = dcgan.DCGANGenerator(z_dim=8, width=4, generator=gen)
    D = dcgan.DCGANDiscriminator(width=4, generator=gen)
    opt_D = optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_G = optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    return GAN(G, D, opt_D, opt_G, toy.NormalNoise(8), DataSampler(images), generator=gen, k=1, m=8)


def _mixture_2d(gen):
    hidden = 16
    G = nn.Sequential(nn.Linear(2, hidden, generator=gen), nn.ReLU(), nn.Linear(hidden, 2, generator=gen))
    D = nn.Sequential(nn.Linear(2, hidden, generator=gen), nn.LeakyReLU(0.2), nn.Linear(hidden, 1, generator=gen))
    opt_D = optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_G = optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
    schedules = [optim.LinearRamp(opt, "lr", 1e-3, 1e-5, start=1, end=100) for opt in (opt_D, opt_G)]
    return GAN(G, D, opt_D, opt_G, toy.NormalNoise(2), toy.ring(), generator=gen, k=1, m=32,
               schedules=schedules)


def _conditional_mixture(gen, K=8):
    hidden = 16
    G = conditional.ConditionalG(nn.Sequential(nn.Linear(2 + K, hidden, generator=gen), nn.ReLU(),
                                               nn.Linear(hidden, 2, generator=gen)), K)
    D = conditional.ConditionalD(nn.Sequential(nn.Linear(2 + K, hidden, generator=gen), nn.LeakyReLU(0.2),
                                               nn.Linear(hidden, 1, generator=gen)), K)
    opt_D = optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_G = optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
    return GAN(G, D, opt_D, opt_G, conditional.LabelledNoise(toy.NormalNoise(2), K),
               conditional.labelled_mixture(toy.ring(K)), generator=gen, k=1, m=32)


@pytest.mark.parametrize("build", [_mnist_mlp, _dcgan, _mixture_2d, _conditional_mixture],
                         ids=["mnist_mlp", "dcgan", "mixture_2d", "conditional_mixture"])
def test_steady_state_iterations_copy_nothing_to_the_device_and_read_once(stand_in, build):
    gan = build(mg.Generator(0))
    assert all(p.backend == "cupy" for p in gan.G.parameters())
    gan.train(WARMUP, progress=False)
    stand_in.transfers.reset()
    metrics = gan.train(WARMUP + STEPS, progress=False)
    h2d, d2h = stand_in.transfers.totals()
    report = stand_in.transfers.report()
    assert h2d == 0, f"host-to-device copies in steady state:\n{report}"
    assert d2h <= STEPS, f"more than one device-to-host read per logged iteration:\n{report}"
    assert set(metrics) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(numpy.isfinite(v) for v in metrics.values())


def test_the_counter_sees_a_per_iteration_host_copy(stand_in):
    """The measurement can fail: a sampler that draws on the host copies every iteration."""
    def host_noise(generator, m):
        return mg.tensor(generator.np.normal(size=(m, 2)).astype(numpy.float32))

    gan = _mixture_2d(mg.Generator(0))
    gan.sample_z = host_noise
    gan.train(WARMUP, progress=False)
    stand_in.transfers.reset()
    gan.train(WARMUP + STEPS, progress=False)
    h2d, _ = stand_in.transfers.totals()
    assert h2d == 2 * STEPS  # z for D's step and z for G's step, each iteration


def test_the_counter_sees_a_one_hot_code_built_on_the_host(stand_in, monkeypatch):
    """The conditional measurement can fail: a one-hot code built on the host and copied over is
    counted, once for each of the iteration's five conditional network calls."""
    def host_code(labels, n_classes, dtype, backend_name):
        code = numpy.zeros((len(labels), n_classes), dtype=dtype)
        code[numpy.arange(len(labels)), labels.get()] = 1
        return mg.tensor(code).data

    monkeypatch.setattr(conditional, "encode", host_code)
    gan = _conditional_mixture(mg.Generator(0))
    gan.train(WARMUP, progress=False)
    stand_in.transfers.reset()
    gan.train(WARMUP + STEPS, progress=False)
    h2d, d2h = stand_in.transfers.totals()
    assert h2d == 5 * STEPS and d2h == 6 * STEPS  # G, D(x), D(G(z)) in D's step; G, D in G's step; the metrics


def test_labels_a_user_draws_on_the_device_are_checked_once_per_network_that_first_sees_them(stand_in):
    """Labels minigan did not draw cost one read each time a network first meets them: G's in D's
    step, D's real labels, G's in G's step; D reads nothing for the pair G returns (its labels went on
    as ClassLabels). With the metrics: 4 reads per iteration, still no copy."""
    gan = _conditional_mixture(mg.Generator(0))
    sample_z, sample_data = gan.sample_z, gan.sample_data

    def plain(pair):
        x, y = pair
        return x, mg.Tensor(y.data)  # the same device labels, without ClassLabels' promise

    gan.sample_z = lambda gen, m: plain(sample_z(gen, m))
    gan.sample_data = lambda gen, m: plain(sample_data(gen, m))
    gan.train(WARMUP, progress=False)
    stand_in.transfers.reset()
    gan.train(WARMUP + STEPS, progress=False)
    h2d, d2h = stand_in.transfers.totals()
    report = stand_in.transfers.report()
    assert h2d == 0, report
    assert d2h == 4 * STEPS, report
    label_reads = sum(n for site, n in stand_in.transfers.d2h.items() if "labels.py" in site)
    assert label_reads == 3 * STEPS, report
