"""minigan on the GPU (CuPy) against PyTorch on CUDA: one Algorithm-1 iteration and the per-op overhead.

Cases (each one iteration of GAN.train_step, k = 1, everything on the device: the training
images are placed there once, z, minibatch indices and dropout masks are drawn there):
  (a) the GAN paper's MNIST MLP (minigan/models/paper_mlp.py) at m = 100, SGD with momentum.
      Target on an H100/H200-class GPU: <= 1.5x PyTorch-CUDA.
  (b) the DCGAN of minigan/models/dcgan.py at m = 64, Adam. Target: <= 2.0x PyTorch-CUDA.
  (c) per-op overhead: y = a * b + a; y.backward(ones) on 2 x 2 float32, the cost of an op's
      Python bookkeeping plus a kernel launch, where the GPU does no real work.

A GPU runs kernels asynchronously: a clock read right after a step measures the launches,
not the work. Every timed call here ends by synchronising the device (minigan.backend.synchronize,
torch.cuda.synchronize), so the clock includes the work. The PyTorch side is the CPU
benchmark's model (benchmarks/bench_gan_steps.py) moved to "cuda"; it is skipped, and only
minigan's times are printed, when torch has no CUDA.

Run: python3 benchmarks/bench_gpu.py [--backend cupy|numpy] [--case mlp|dcgan|op|all] [--pairs N]
(--backend numpy times the same code on the CPU: a check of this script where no GPU is lent.)
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import bench_gan_steps as cpu  # the PyTorch twins of minigan's models
import harness

import minigan as mg
from minigan import backend, optim
from minigan.data import DataSampler, toy
from minigan.gan.algorithm import GAN
from minigan.models import dcgan, paper_mlp

N_IMAGES = 2000


def synced(fn, sync):
    """fn followed by a wait for the device, so a timing of it includes the GPU's work."""
    def call():
        fn()
        sync()
    return call


def torch_cuda():
    """torch when it can use a CUDA device, else None."""
    torch = harness.torch_or_none()
    if torch is None or not torch.cuda.is_available():
        return None
    return torch


def _torch_twin(torch, make, mg_G, mg_D):
    G_t, D_t = make(torch)
    for mg_mod, t_mod in ((mg_G, G_t), (mg_D, D_t)):
        cpu.copy_weights(torch, mg_mod, t_mod)
    return G_t.to("cuda"), D_t.to("cuda")


def torch_step(torch, G, D, opt_D, opt_G, z_fn, images, m):
    """The same iteration in PyTorch with everything on the GPU (z, indices, images)."""

    def step():
        z = z_fn(m)
        x = images[torch.randint(0, images.shape[0], (m,), device="cuda")]
        d_loss, g_loss, real_out, fake_out = cpu.torch_iteration(torch, G, D, opt_D, opt_G, x, z, lambda: z_fn(m))
        d_real, d_fake = torch.sigmoid(real_out).mean().detach(), torch.sigmoid(fake_out).mean().detach()
        torch.stack([d_loss.detach(), g_loss.detach(), d_real, d_fake]).cpu()  # one read, as minigan's train_step

    return step


def mlp_case(torch, m=100):
    gen = mg.Generator(0)
    images = numpy.random.default_rng(0).random((N_IMAGES, paper_mlp.IMAGE_DIM), dtype=numpy.float32)
    G, D = paper_mlp.generator(gen), paper_mlp.discriminator(gen)
    opt_D = optim.SGD(D.parameters(), lr=0.1, momentum=0.5)
    opt_G = optim.SGD(G.parameters(), lr=0.1, momentum=0.5)
    gan = GAN(G, D, opt_D, opt_G, paper_mlp.noise_prior(), DataSampler(images), generator=gen, k=1, m=m)
    if torch is None:
        return gan.train_step, None
    G_t, D_t = _torch_twin(torch, cpu.torch_paper_mlp, G, D)
    opt_D_t = torch.optim.SGD(D_t.parameters(), lr=0.1, momentum=0.5)
    opt_G_t = torch.optim.SGD(G_t.parameters(), lr=0.1, momentum=0.5)
    bound = paper_mlp.Z_BOUND

    def z_fn(n):
        return torch.empty(n, paper_mlp.Z_DIM, device="cuda").uniform_(-bound, bound)

    return gan.train_step, torch_step(torch, G_t, D_t, opt_D_t, opt_G_t, z_fn, torch.from_numpy(images).cuda(), m)


def dcgan_case(torch, m=64):
    gen = mg.Generator(0)
    images = numpy.random.default_rng(0).uniform(-1, 1, (N_IMAGES, 1, 28, 28)).astype(numpy.float32)
    G, D = dcgan.build_dcgan(gen)
    opt_D = optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_G = optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    gan = GAN(G, D, opt_D, opt_G, toy.NormalNoise(dcgan.Z_DIM), DataSampler(images), generator=gen, k=1, m=m)
    if torch is None:
        return gan.train_step, None
    G_t, D_t = _torch_twin(torch, cpu.torch_dcgan, G, D)
    opt_D_t = torch.optim.Adam(D_t.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_G_t = torch.optim.Adam(G_t.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def z_fn(n):
        return torch.randn(n, dcgan.Z_DIM, device="cuda")

    return gan.train_step, torch_step(torch, G_t, D_t, opt_D_t, opt_G_t, z_fn, torch.from_numpy(images).cuda(), m)


def op_case(torch):
    a, b = mg.Generator(0).normal((2, 2)), mg.Generator(1).normal((2, 2))
    a.requires_grad_(), b.requires_grad_()
    ones = mg.ones((2, 2))

    def step_mg():
        a.grad = b.grad = None
        (a * b + a).backward(ones)

    if torch is None:
        return step_mg, None
    ta = torch.randn(2, 2, device="cuda", requires_grad=True)
    tb = torch.randn(2, 2, device="cuda", requires_grad=True)
    tones = torch.ones(2, 2, device="cuda")

    def step_torch():
        ta.grad = tb.grad = None
        (ta * tb + ta).backward(tones)

    return step_mg, step_torch


CASES = {"mlp": ("(a) paper MLP GAN step, m = 100", mlp_case, "<= 1.5x"),
         "dcgan": ("(b) DCGAN step, m = 64", dcgan_case, "<= 2.0x"),
         "op": ("(c) per-op overhead, 2x2 a*b+a and backward", op_case, "")}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("cupy", "numpy"), default="cupy")
    parser.add_argument("--case", choices=tuple(CASES) + ("all",), default="all")
    parser.add_argument("--pairs", type=int, default=10, help="interleaved A/B block pairs per case")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)
    mg.use_backend(args.backend)  # a BackendError with the reason and the fix when CuPy is not usable
    torch = torch_cuda() if args.backend == "cupy" else None
    sync_t = torch.cuda.synchronize if torch is not None else (lambda: None)
    print(f"backend {args.backend}; torch CUDA: {'yes' if torch is not None else 'absent'}")
    print(harness.TABLE_HEADER)
    results = {}
    for key in CASES if args.case == "all" else (args.case,):
        name, build, target = CASES[key]
        step_mg, step_t = build(torch)
        r = harness.compare(synced(step_mg, backend.synchronize),
                            synced(step_t, sync_t) if step_t is not None else None, pairs=args.pairs)
        results[key] = r
        print(harness.format_row(name, r, target), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"backend": args.backend, "torch_cuda": torch is not None, "results": results}, f, indent=1)
    return results


if __name__ == "__main__":
    main()
