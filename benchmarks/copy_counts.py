"""Host/device copies per training iteration, counted on the CuPy stand-in (tests/support/fake_cupy).

Runs Algorithm 1 (GAN.train) at full size for the setups of docs/benchmarks.md's GPU section
-- the paper's MNIST MLP (m = 100), the DCGAN (m = 64), the 2-D ring mixture (m = 256), and the
conditional games: the ring's (minigan/experiments/variants.py's `conditional`, m = 256) and the
conditional DCGAN with demos/mnist_dcgan.py's own samplers (m = 64), and the ring's game again
with labels minigan did not draw -- with everything on the stand-in's pretend device, and
records how many host-to-device and device-to-host copies the steady-state iterations made, by
call site. The images and labels are random stand-ins: the copies do not depend on their values.

Run: python3 benchmarks/copy_counts.py [--out docs/figures/gpu/copy_counts.json] [--steps 3]
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))

import fake_cupy  # noqa: E402

import minigan as mg  # noqa: E402
from minigan import backend, nn, optim  # noqa: E402
from minigan.data import DataSampler, toy  # noqa: E402
from minigan.experiments import variants  # noqa: E402
from minigan.gan.algorithm import GAN  # noqa: E402
from minigan.models import dcgan, paper_mlp  # noqa: E402
from demos.mnist_dcgan import N_CLASSES, LabelledNoise, MNISTSampler  # noqa: E402

WARMUP = 2


def mnist_mlp(gen):
    images = numpy.random.default_rng(0).random((2000, paper_mlp.IMAGE_DIM), dtype=numpy.float32)
    G = paper_mlp.generator(gen, output_bias=paper_mlp.sigmoid_bias_from_marginals(images))
    D = paper_mlp.discriminator(gen)
    opt_D, opt_G = (optim.SGD(M.parameters(), lr=0.1, momentum=0.5) for M in (D, G))
    return GAN(G, D, opt_D, opt_G, paper_mlp.noise_prior(), DataSampler(images), generator=gen, k=1, m=100)


def mnist_dcgan(gen):
    images = numpy.random.default_rng(0).uniform(-1, 1, (2000, 1, 28, 28)).astype(numpy.float32)
    G, D = dcgan.build_dcgan(gen)
    opt_D, opt_G = (optim.Adam(M.parameters(), lr=2e-4, betas=(0.5, 0.999)) for M in (D, G))
    return GAN(G, D, opt_D, opt_G, toy.NormalNoise(dcgan.Z_DIM), DataSampler(images), generator=gen, k=1, m=64)


def mixture_2d(gen, hidden=128):
    G = nn.Sequential(nn.Linear(2, hidden, generator=gen), nn.ReLU(), nn.Linear(hidden, hidden, generator=gen),
                      nn.ReLU(), nn.Linear(hidden, 2, generator=gen))
    D = nn.Sequential(nn.Linear(2, hidden, generator=gen), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden, generator=gen),
                      nn.LeakyReLU(0.2), nn.Linear(hidden, 1, generator=gen))
    opt_D, opt_G = (optim.Adam(M.parameters(), lr=1e-3, betas=(0.5, 0.999)) for M in (D, G))
    schedules = [optim.LinearRamp(opt, "lr", 1e-3, 1e-5, start=1, end=6000) for opt in (opt_D, opt_G)]
    return GAN(G, D, opt_D, opt_G, toy.NormalNoise(2), toy.ring(), generator=gen, k=1, m=256, schedules=schedules)


def conditional_mixture_2d(gen):
    return variants.build("conditional", toy.ring(), gen, steps=6000).make_gan(gen)


class PlainLabels:
    """A labelled sampler whose labels come as a plain device Tensor, as a user's own sampler's would:
    minigan cannot know their range, so the networks check it."""

    def __init__(self, draw):
        self.draw = draw

    def __call__(self, generator, m):
        x, y = self.draw(generator, m)
        return x, mg.Tensor(y.data)


def conditional_mixture_2d_user_labels(gen):
    gan = conditional_mixture_2d(gen)
    gan.sample_z, gan.sample_data = PlainLabels(gan.sample_z), PlainLabels(gan.sample_data)
    return gan


def conditional_mnist_dcgan(gen):
    images = numpy.random.default_rng(0).uniform(-1, 1, (2000, 1, 28, 28)).astype(numpy.float32)
    labels = numpy.random.default_rng(1).integers(0, N_CLASSES, 2000)
    G, D = dcgan.build_dcgan(gen, n_classes=N_CLASSES)
    opt_D, opt_G = (optim.Adam(M.parameters(), lr=2e-4, betas=(0.5, 0.999)) for M in (D, G))
    return GAN(G, D, opt_D, opt_G, LabelledNoise(dcgan.Z_DIM, N_CLASSES), MNISTSampler(images, labels, labelled=True),
               generator=gen, k=1, m=64)


SETUPS = {"mnist_mlp": mnist_mlp, "mnist_dcgan": mnist_dcgan, "mixture_2d": mixture_2d,
          "conditional_mixture_2d": conditional_mixture_2d, "conditional_mixture_2d_user_labels":
          conditional_mixture_2d_user_labels, "conditional_mnist_dcgan": conditional_mnist_dcgan}


def count(build, steps):
    gan = build(mg.Generator(0))
    gan.train(WARMUP, progress=False)
    fake_cupy.transfers.reset()
    gan.train(WARMUP + steps, progress=False)
    h2d, d2h = fake_cupy.transfers.totals()
    return {"iterations": steps, "host_to_device": h2d, "device_to_host": d2h,
            "device_to_host_sites": dict(fake_cupy.transfers.d2h),
            "host_to_device_sites": dict(fake_cupy.transfers.h2d)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join("docs", "figures", "gpu", "copy_counts.json"))
    ap.add_argument("--steps", type=int, default=3, help="steady-state iterations counted per setup")
    args = ap.parse_args(argv)
    results = {}
    with backend.cupy_stand_in(fake_cupy), backend.backend_scope("cupy"):
        for name, build in SETUPS.items():
            results[name] = count(build, args.steps)
            print(name, results[name]["host_to_device"], results[name]["device_to_host"], flush=True)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"backend": "fake_cupy stand-in (tests/support/fake_cupy)", "warmup_iterations": WARMUP,
                   "setups": results}, f, indent=1)
        f.write("\n")
    return results


if __name__ == "__main__":
    main()
