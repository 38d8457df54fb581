"""One iteration of Algorithm 1 (k = 1): minigan against PyTorch CPU on the same GAN.

An iteration is everything ``minigan.gan.GAN.train_step`` does: sample z and a minibatch of
real images, G forward (no graph), D forward on both, the cross-entropy D loss, its backward
and D's optimizer step; then fresh z, D(G(z)) with D held fixed, the non-saturating G loss,
its backward and G's optimizer step; the loss and mean D outputs read back as Python floats.
The PyTorch side does the same, written as a PyTorch user would, D's parameters frozen
(requires_grad off) in G's step as minigan does.

Cases (measured with the interleaved paired-ratio method of benchmarks/harness.py):
  (a) the GAN paper's MNIST model (minigan/models/paper_mlp.py) at m = 100: G 100-1200-1200-784,
      D maxout 240x5 x2 with dropout (keep 0.8 / 0.5), SGD with momentum. Target <= 1.0x.
  (b) the DCGAN of minigan/models/dcgan.py at m = 64, batch norm in training mode, Adam
      (2e-4, beta1 0.5). Target <= 1.5x.

Before timing, each case checks that both sides compute the same losses, gradients and
updated weights from the same weights and batches (dropout off for that check: the masks
come from different random streams). For (a) it also reports the floor: the iteration's
matrix-product FLOPs divided by NumPy's float32 GEMM rate measured here, and the same GEMMs
replayed alone, both once (after the paired runs) and paired with minigan's step, interleaved
as above (target: the step <= 1.3x its replay). The paired replay runs twice: on row-major
operands only, and with each operand laid out as the step hands it to BLAS (mlp_gemms' layouts;
tests/test_bench_gan_steps.py checks them against a recorded iteration).

Threads: minigan's element-wise work (maxout, dropout, the optimisers' updates) runs on one
core whatever OPENBLAS_NUM_THREADS says; only the GEMMs use a second. So with 2 threads the
replay gets faster and the step/replay ratio larger than with 1: compare ratios at the same
thread count.

Run: python3 benchmarks/bench_gan_steps.py [--pairs N] [--case mlp|dcgan|all] [--cpu-time] [--profile]
Set OPENBLAS_NUM_THREADS on a shared machine; PyTorch gets the same thread count.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import harness

import minigan as mg
from minigan import backend, optim
from minigan.gan.algorithm import GAN
from minigan.models import dcgan, paper_mlp

N_IMAGES = 2000  # a pool of stand-in images; the step's cost does not depend on their values


def get_torch():
    """torch with as many threads as NumPy's BLAS (harness.torch_or_none), or None."""
    return harness.torch_or_none()


# -- samplers shared by both sides: one NumPy stream each, seeded alike -----------------------------
def uniform_z(rng, m):
    return rng.uniform(-paper_mlp.Z_BOUND, paper_mlp.Z_BOUND, size=(m, paper_mlp.Z_DIM)).astype(numpy.float32)


def normal_z(rng, m):
    return rng.standard_normal((m, dcgan.Z_DIM), dtype=numpy.float32)


def minibatch(images, rng, m):
    return images[rng.integers(0, len(images), m)]


def close(name, a, b, rtol=1e-3):
    """float32 agreement: summed over up to ~10^4 terms, rounding reaches ~1e-4 relative; the atol
    scales with the array's size so that exact zeros (e.g. a bias before batch norm) pass as noise."""
    a, b = numpy.asarray(a, dtype=numpy.float64), numpy.asarray(b, dtype=numpy.float64)
    atol = 1e-4 * max(1e-3, float(numpy.abs(b).max()))
    if not numpy.allclose(a, b, rtol=rtol, atol=atol):
        raise AssertionError(f"bench_gan_steps: {name} differs between minigan and torch: "
                             f"max |diff| {numpy.abs(a - b).max():.3g}, max |torch| {numpy.abs(b).max():.3g}")


def gan_for(G, D, opt_D, opt_G, z_fn, images, seed, m):
    """minigan's Algorithm 1 over samplers that draw from the run's Generator's NumPy stream."""
    gen = mg.Generator(seed)
    return GAN(G, D, opt_D, opt_G, lambda g, n: mg.tensor(z_fn(g.np, n)),
               lambda g, n: mg.tensor(minibatch(images, g.np, n)), generator=gen, k=1, m=m,
               g_loss="non_saturating")


def torch_iteration(torch, G, D, opt_D, opt_G, x, z, next_z, real_label=1.0):
    """One iteration of Algorithm 1 in PyTorch (k = 1, the non-saturating G loss): D's step on x and
    G(z), real examples labelled ``real_label`` (< 1: one-sided label smoothing), then G's step on
    ``next_z()`` at D's updated parameters. Returns the tensors (d_loss, g_loss, real_out, fake_out);
    reading them is left to the caller, as each benchmark mirrors minigan's own reads."""
    F = torch.nn.functional
    with torch.no_grad():
        fake = G(z)
    real_out, fake_out = D(x), D(fake)
    d_loss = (F.binary_cross_entropy_with_logits(real_out, torch.full_like(real_out, real_label))
              + F.binary_cross_entropy_with_logits(fake_out, torch.zeros_like(fake_out)))
    opt_D.zero_grad()
    d_loss.backward()
    opt_D.step()
    d_params = list(D.parameters())
    for p in d_params:
        p.requires_grad_(False)
    g_loss = F.softplus(-D(G(next_z()))).mean()
    opt_G.zero_grad()
    g_loss.backward()
    for p in d_params:
        p.requires_grad_(True)
    opt_G.step()
    return d_loss, g_loss, real_out, fake_out


def torch_step(torch, G, D, opt_D, opt_G, z_fn, images, rng, m):
    """The same iteration written in PyTorch on the CPU; returns (d_loss, g_loss)."""

    def step():
        z = torch.from_numpy(z_fn(rng, m))
        x = torch.from_numpy(minibatch(images, rng, m))
        d_loss, g_loss, real_out, fake_out = torch_iteration(
            torch, G, D, opt_D, opt_G, x, z, lambda: torch.from_numpy(z_fn(rng, m)))
        with torch.no_grad():  # minigan's train_step reads D's outputs' means too
            torch.sigmoid(real_out).mean().item(), torch.sigmoid(fake_out).mean().item()
        return d_loss.item(), g_loss.item()

    return step


def copy_weights(torch, mg_module, torch_module):
    """minigan's state_dict into a torch module whose state_dict has the same names and shapes."""
    theirs = torch_module.state_dict()
    mine = {k: backend.as_numpy(v) for k, v in mg_module.state_dict().items()}  # off the device too
    torch_only = {k for k in theirs if k.endswith("num_batches_tracked")}  # a counter minigan does not keep
    missing = (set(theirs) - torch_only) ^ set(mine)
    if missing:
        raise KeyError(f"bench_gan_steps: state_dict names differ: {sorted(missing)}")
    torch_module.load_state_dict({k: torch.from_numpy(numpy.array(v)).reshape(theirs[k].shape)
                                  for k, v in mine.items()}, strict=False)


def check_and_align(torch, gan, G_t, D_t, opt_D_t, opt_G_t, z_fn, images, m, mg_to_train):
    """One iteration on each side from the same weights and batches; losses, gradients and weights must agree."""
    for mg_mod, t_mod in ((gan.G, G_t), (gan.D, D_t)):
        copy_weights(torch, mg_mod, t_mod)
    step_t = torch_step(torch, G_t, D_t, opt_D_t, opt_G_t, z_fn, images, numpy.random.default_rng(123), m)
    gan.generator = mg.Generator(123)
    metrics = gan.train_step()
    d_loss, g_loss = step_t()
    close("D's loss", metrics["d_loss"], d_loss)
    close("G's loss", metrics["g_loss"], g_loss)
    for name, mg_mod, t_mod in (("D", gan.D, D_t), ("G", gan.G, G_t)):
        t_params = dict(t_mod.named_parameters())
        for pname, p in mg_mod.named_parameters():
            close(f"{name}.{pname}.grad", p.grad.numpy(), t_params[pname].grad.numpy())
            close(f"{name}.{pname} after the step", p.numpy(), t_params[pname].detach().numpy())
    mg_to_train()


# -- (a) the paper's MLP GAN ------------------------------------------------------------------------
def torch_paper_mlp(torch):
    nn = torch.nn

    class Maxout(nn.Module):
        """Linear(n_in, units * pieces) then the max over each unit's consecutive pieces, minigan's layout."""

        def __init__(self, n_in, units, pieces):
            super().__init__()
            self.units, self.pieces = units, pieces
            self.weight = nn.Parameter(torch.empty(units * pieces, n_in))
            self.bias = nn.Parameter(torch.empty(units * pieces))

        def forward(self, x):
            y = nn.functional.linear(x, self.weight, self.bias)
            return y.view(x.shape[0], self.units, self.pieces).amax(-1)

    G = nn.Sequential(nn.Linear(100, 1200), nn.ReLU(), nn.Linear(1200, 1200), nn.ReLU(), nn.Linear(1200, 784),
                      nn.Sigmoid())
    D = nn.Sequential(nn.Dropout(0.2), Maxout(784, 240, 5), nn.Dropout(0.5), Maxout(240, 240, 5), nn.Dropout(0.5),
                      nn.Linear(240, 1))
    return G, D


def mlp_case(torch, m=100):
    images = numpy.random.default_rng(0).random((N_IMAGES, 784), dtype=numpy.float32)
    gen = mg.Generator(0)
    G, D = paper_mlp.generator(gen), paper_mlp.discriminator(gen)
    opt_D = optim.SGD(D.parameters(), lr=0.1, momentum=0.5)
    opt_G = optim.SGD(G.parameters(), lr=0.1, momentum=0.5)
    gan = gan_for(G, D, opt_D, opt_G, uniform_z, images, 1, m)
    if torch is None:
        return gan.train_step, None
    G_t, D_t = torch_paper_mlp(torch)
    opt_D_t = torch.optim.SGD(D_t.parameters(), lr=0.1, momentum=0.5)
    opt_G_t = torch.optim.SGD(G_t.parameters(), lr=0.1, momentum=0.5)
    D.eval()
    D_t.eval()  # dropout off for the check: both sides' masks come from different streams
    check_and_align(torch, gan, G_t, D_t, opt_D_t, opt_G_t, uniform_z, images, m, lambda: (D.train(), D_t.train()))
    return gan.train_step, torch_step(torch, G_t, D_t, opt_D_t, opt_G_t, uniform_z, images,
                                      numpy.random.default_rng(5), m)


def mlp_gemms(m=100):
    """(rows, inner, cols, layout) of every matrix product in one iteration of the paper's MLP GAN, k = 1.

    Linear y = x W^T costs (m, in, out); its backward costs (m, out, in) for dL/dx and (out, m, in)
    for dL/dW, each only when needed: no dL/dx into data, z or G's detached output; no dL/dW for
    D in G's step (D is frozen). The layout says which operand the step hands to BLAS transposed
    (a view, not a copy), since W is stored (out, in) as in PyTorch: "nt" for x W^T, "nn" for
    dL/dx = G W, "tn" for dL/dW = G^T x.
    """
    g_layers = [(100, 1200), (1200, 1200), (1200, 784)]
    d_layers = [(784, 1200), (240, 1200), (240, 1)]

    def fwd(layers):  # the forward GEMMs x W^T of one pass through the layers
        return [(m, i, o, "nt") for i, o in layers]

    def grad_W(layers):
        return [(o, m, i, "tn") for i, o in layers]

    def grad_x(layers):
        return [(m, o, i, "nn") for i, o in layers]

    d_step = fwd(g_layers) + 2 * fwd(d_layers)
    for _ in range(2):  # backward through D for the real and for the fake minibatch
        d_step += grad_W(d_layers) + grad_x(d_layers[1:])
    g_step = fwd(g_layers) + fwd(d_layers) + grad_x(d_layers)
    g_step += grad_W(g_layers) + grad_x(g_layers[1:])
    return d_step + g_step


def gemm_rate(n=1024, seconds=1.0):
    """NumPy's float32 GEMM rate on n x n x n products (FLOP/s), best of repeated runs."""
    rng = numpy.random.default_rng(0)
    a, b = rng.random((n, n), dtype=numpy.float32), rng.random((n, n), dtype=numpy.float32)
    a @ b
    best, end = math.inf, time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best


def gemm_operands(gemms, as_called=False):
    """Fresh float32 operand pairs (A, B) for the listed products.

    Plain, every operand is a C-contiguous matrix: the fastest layout, a floor the step cannot
    quite reach, since some operand of dL/dW = G^T x must be read transposed. ``as_called``
    gives each operand the layout the step hands to BLAS (mlp_gemms' "nt", "nn", "tn"):
    the same products, as the step runs them, and nothing else.
    """
    rng = numpy.random.default_rng(0)

    def operand(rows, cols, transposed):
        if transposed and as_called:
            return rng.random((cols, rows), dtype=numpy.float32).T
        return rng.random((rows, cols), dtype=numpy.float32)

    return [(operand(r, k, layout[0] == "t"), operand(k, c, layout[1] == "t")) for r, k, c, layout in gemms]


def gemm_replayer(gemms, as_called=False):
    """A callable that runs the listed products alone, on the operands of gemm_operands."""
    ops = gemm_operands(gemms, as_called)

    def replay():
        for a, b in ops:
            a @ b

    return replay


def gemm_replay(gemms, repeats=5):
    """Median seconds to run the listed products alone (gemm_replayer), after one warm-up run."""
    replay = gemm_replayer(gemms)
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        replay()
        times.append(time.perf_counter() - t0)
    return float(numpy.median(times[1:]))


# -- (b) DCGAN ------------------------------------------------------------------------------------
def torch_dcgan(torch, n_classes=0, width=dcgan.BASE_CHANNELS):
    """minigan/models/dcgan.py's G and D in PyTorch, with its layer names (state_dicts copy across) and its
    calling convention: G(z) or G((z, y)) -> x or (x, y); D(x) or D((x, y)) -> logits (m, 1). Conditional
    (n_classes > 0): one_hot(y) beside z for G, n_classes label maps beside the image for D. PyTorch's own
    initialisation; ``dcgan_init_torch`` gives DCGAN's."""
    nn, c = torch.nn, width

    def split(inputs):
        return inputs if isinstance(inputs, (tuple, list)) else (inputs, None)

    class G(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.bn0 = nn.Linear(dcgan.Z_DIM + n_classes, 2 * c * 7 * 7), nn.BatchNorm1d(2 * c * 7 * 7)
            self.up1, self.bn1 = nn.ConvTranspose2d(2 * c, c, 4, 2, 1), nn.BatchNorm2d(c)
            self.up2 = nn.ConvTranspose2d(c, 1, 4, 2, 1)

        def forward(self, inputs):
            z, y = split(inputs)
            h = torch.cat([z, nn.functional.one_hot(y, n_classes).to(z.dtype)], 1) if n_classes else z
            h = torch.relu(self.bn0(self.fc(h))).view(z.shape[0], 2 * c, 7, 7)
            x = torch.tanh(self.up2(torch.relu(self.bn1(self.up1(h)))))
            return (x, y) if n_classes else x

    class D(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(1 + n_classes, c, 4, 2, 1), nn.Conv2d(c, 2 * c, 4, 2, 1)
            self.bn2, self.fc = nn.BatchNorm2d(2 * c), nn.Linear(2 * c * 7 * 7, 1)

        def forward(self, inputs):
            x, y = split(inputs)
            if n_classes:
                maps = nn.functional.one_hot(y, n_classes).to(x.dtype)[:, :, None, None].expand(-1, -1, 28, 28)
                x = torch.cat([x, maps], 1)
            F = nn.functional
            h = F.leaky_relu(self.conv1(x), 0.2)
            h = F.leaky_relu(self.bn2(self.conv2(h)), 0.2)
            return self.fc(h.flatten(1))

    return G(), D()


def dcgan_init_torch(torch, module, std=0.02):
    """minigan.models.dcgan.dcgan_init_ in PyTorch: weights ~ N(0, std^2), biases 0, batch norm gamma ~ N(1, std^2)."""
    nn = torch.nn
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
    return module


def dcgan_case(torch, m=64):
    images = numpy.random.default_rng(0).uniform(-1, 1, (N_IMAGES, 1, 28, 28)).astype(numpy.float32)
    G, D = dcgan.build_dcgan(mg.Generator(0))
    opt_D = optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_G = optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    gan = gan_for(G, D, opt_D, opt_G, normal_z, images, 1, m)
    if torch is None:
        return gan.train_step, None
    G_t, D_t = torch_dcgan(torch)
    opt_D_t = torch.optim.Adam(D_t.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_G_t = torch.optim.Adam(G_t.parameters(), lr=2e-4, betas=(0.5, 0.999))
    check_dcgan(torch, gan, G_t, D_t, opt_D_t, opt_G_t, images, m)
    return gan.train_step, torch_step(torch, G_t, D_t, opt_D_t, opt_G_t, normal_z, images,
                                      numpy.random.default_rng(5), m)


def check_dcgan(torch, gan, G_t, D_t, opt_D_t, opt_G_t, images, m):
    """As check_and_align, on losses and gradients only. Adam's first step is lr * g / |g|, a sign, so a
    gradient that is zero up to rounding (a bias just before batch norm, skipped here) moves by +-lr on
    either side; G's gradients, taken after D's step, are compared at rtol 1e-2 for that reason."""
    for mg_mod, t_mod in ((gan.G, G_t), (gan.D, D_t)):
        copy_weights(torch, mg_mod, t_mod)
    step_t = torch_step(torch, G_t, D_t, opt_D_t, opt_G_t, normal_z, images, numpy.random.default_rng(123), m)
    gan.generator = mg.Generator(123)
    metrics = gan.train_step()
    d_loss, g_loss = step_t()
    close("DCGAN D's loss", metrics["d_loss"], d_loss)
    close("DCGAN G's loss", metrics["g_loss"], g_loss)
    before_bn = {("G", "fc.bias"), ("G", "up1.bias"), ("D", "conv2.bias")}
    for name, mg_mod, t_mod in (("D", gan.D, D_t), ("G", gan.G, G_t)):
        t_params = dict(t_mod.named_parameters())
        for pname, p in mg_mod.named_parameters():
            if (name, pname) in before_bn:
                continue
            close(f"DCGAN {name}.{pname}.grad", p.grad.numpy(), t_params[pname].grad.numpy(), rtol=1e-2)


def profile_step(case, steps=30, rows=25):
    """cProfile of minigan's step (case "mlp" or "dcgan") by the process's CPU time: where the non-GEMM time goes.

    The matrix products are the rows ``linalg.py ... (forward)`` (MatMul and Linear, the latter with
    its bias add); everything else is element-wise work (and, for the DCGAN, the unfolding of
    im2col/col2im), the optimiser and the engine. cProfile adds its own cost to every Python call,
    so the engine's rows read high.
    """
    import cProfile
    import pstats

    step, _ = (mlp_case if case == "mlp" else dcgan_case)(None)
    for _ in range(3):
        step()
    prof = cProfile.Profile(time.process_time)
    prof.enable()
    for _ in range(steps):
        step()
    prof.disable()
    stats = pstats.Stats(prof)
    print(f"cProfile of {steps} {case} steps (CPU time), per step: {1e3 * stats.total_tt / steps:.1f} ms in all")
    rows_by_time = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:rows]
    print("| ms per step (own time) | calls per step | function |\n| --- | --- | --- |")
    for (path, line, name), (_, calls, own, _, _) in rows_by_time:
        where = f"{os.path.relpath(path) if path.startswith(os.sep) else path}:{line}({name})"
        if "site-packages" in where or where.startswith(".."):
            where = f"{os.path.basename(path)}:{line}({name})"
        print(f"| {1e3 * own / steps:.2f} | {calls / steps:.0f} | {where} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=10)
    ap.add_argument("--case", choices=("mlp", "dcgan", "all"), default="all")
    ap.add_argument("--profile", action="store_true",
                    help="cProfile minigan's step of --case (mlp when all) instead (CPU time)")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time by the process's CPU time (fair on a loaded machine with 1 BLAS thread only)")
    args = ap.parse_args(argv)
    clock = time.process_time if args.cpu_time else time.perf_counter
    clock_name = "CPU time" if args.cpu_time else "wall time"
    if args.profile:
        profile_step("dcgan" if args.case == "dcgan" else "mlp")
        return {}
    torch = get_torch()
    print(f"BLAS threads {harness.blas_threads()}" + ("" if torch is None else f", torch {torch.__version__} threads "
                                                                   f"{torch.get_num_threads()}"))
    print(harness.TABLE_HEADER)
    results = {}
    if args.case in ("mlp", "all"):
        a, b = mlp_case(torch)
        results["mlp"] = r = harness.compare(a, b, pairs=args.pairs, clock=clock)
        print(harness.format_row("paper MLP GAN, Algorithm 1 step, m=100", r, "<= 1.0x"), flush=True)
    if args.case in ("dcgan", "all"):
        a, b = dcgan_case(torch)
        results["dcgan"] = r = harness.compare(a, b, pairs=args.pairs, clock=clock)
        print(harness.format_row("DCGAN, Algorithm 1 step, m=64", r, "<= 1.5x"), flush=True)
    if "mlp" in results:
        step, _ = mlp_case(None)  # minigan's step again, timed paired against its own GEMMs replayed alone
        for key, as_called, what in (("mlp_vs_replay", False, "plain operands"),
                                     ("mlp_vs_replay_as_called", True, "operands laid out as the step's")):
            results[key] = r = harness.compare(step, gemm_replayer(mlp_gemms(), as_called), pairs=args.pairs,
                                               clock=clock)
            print(f"\nMLP step / its {len(mlp_gemms())} GEMMs replayed alone ({what}), paired ({clock_name}): "
                  f"{r['ms_a']:.1f} ms / {r['ms_b']:.1f} ms, ratio {r['ratio']:.2f}x (spread {r['lo']:.2f}-"
                  f"{r['hi']:.2f}); target <= 1.3x", flush=True)
        gemms = mlp_gemms()
        flops = sum(2 * r * k * c for r, k, c, _ in gemms)
        rate = gemm_rate()
        replay = gemm_replay(gemms)
        ms = results["mlp"]["ms_a"]
        print(f"\nMLP floor: {len(gemms)} GEMMs, {flops / 1e9:.2f} GFLOP per iteration; NumPy float32 GEMM "
              f"{rate / 1e9:.1f} GFLOP/s (1024^3) -> floor {1e3 * flops / rate:.1f} ms; the same GEMMs replayed "
              f"alone {1e3 * replay:.1f} ms. minigan {ms:.1f} ms = {ms / (1e3 * flops / rate):.2f}x the floor, "
              f"{ms / (1e3 * replay):.2f}x the replay.")
    return results


if __name__ == "__main__":
    main()
