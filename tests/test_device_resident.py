"""A training iteration stays on the device: counted with the CuPy stand-in's copy counter.

On a GPU every copy between host and device costs a transfer, and every read of a device
number (``.item()``, ``float()``, a branch on data) waits for the queued kernels to finish.
Algorithm 1 needs neither in steady state: the data set is on the device once, z, the
minibatch indices and the dropout masks are drawn there (the Generator's device stream),
and GAN.train_step reads its four logged metrics in one transfer. These tests hold three
setups to that -- the paper's MNIST MLP (maxout and dropout in D), the DCGAN (convolutions,
batch norm) and the 2-D mixture of demos/mixture_2d.py -- at reduced widths so they run in
a second or two: the ops are the same at any width.
"""
from __future__ import annotations

import numpy
import pytest

import minigan as mg
from minigan import nn, optim
from minigan.data import DataSampler, toy
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


@pytest.mark.parametrize("build", [_mnist_mlp, _dcgan, _mixture_2d], ids=["mnist_mlp", "dcgan", "mixture_2d"])
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
