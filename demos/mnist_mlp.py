"""The GAN paper's MNIST experiment (Goodfellow et al. 2014, Table 1), with minigan alone.

    python3 demos/mnist_mlp.py --out runs/mnist_mlp [--steps 30000] [--seed 0] [--resume] [--minutes 60]
    python3 demos/mnist_mlp.py --out runs/mnist_mlp --evaluate-only     # re-score the saved checkpoint
    python3 demos/mnist_mlp.py --out runs/bare --no-average             # the paper's bare experiment

Model (minigan/models/paper_mlp.py): G = z(100, U[-sqrt 3, sqrt 3]) -> 1200 ReLU -> 1200 ReLU ->
784 sigmoid; D = maxout 240x5 -> maxout 240x5 -> logit, with dropout. Algorithm 1
(minigan/gan/algorithm.py) with k = 1, m = 100 and the non-saturating G loss; SGD for both players,
lr 0.1 divided by 1.000004 after every update, momentum 0.5 rising linearly to 0.7 over 250 epochs.
p_data: train[0:50000], pixels/255, in a fresh random order every epoch (demos/mnist_mlp_runs.py).
D's loss is the plain sum BCE(D(x), 1) + BCE(D(G(z)), 0) times --d-loss-scale (the paper's code
took half: 0.5); --simultaneous and --noise gaussian are the paper code's update and prior;
--instance-noise SIGMA0 blurs what D sees, less and less (minigan/gan/noise.py).

A new run keeps an average of G's parameters (beta 0.9999) and reports whichever of G and it has the
higher *validation* log-likelihood (docs/06-mnist.md 6.5); --no-average reports G, as the paper did.

Evaluation, the paper's Parzen protocol (minigan/gan/metrics.py): 10,000 samples of G from their
own seed; sigma from logspace(-1, 0, 10) maximising the mean log-likelihood of valid[0:1000];
the mean +- standard error of log p(x) over the 10,000 test images.

Every --checkpoint-every iterations: DIR/checkpoint.npz (the whole run and its identity:
minigan/runs/identity.py) and a cheap Parzen estimate (1,000 samples, scored on valid[1000:2000])
for the curve in DIR/progress.json. --resume continues exactly; --minutes stops at the next
iteration once the budget is spent, with a checkpoint.

Writes to --out: metrics.json, samples.npy, samples.png, nearest.png (the paper's Figure 2),
interpolation.png, curves.png, parzen.png, checkpoint.npz, progress.json, samples_average_*.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time

import numpy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout

import minigan as mg
from minigan import backend, optim, runs, viz
from minigan.data import load_mnist
from minigan.gan import losses
from minigan.gan.noise import InstanceNoise, NoiseSchedule
from minigan.gan.algorithm import GAN
from minigan.gan.metrics import PARZEN_SIGMAS, nearest_rows, parzen_log_likelihood, select_parzen_sigma
from minigan.models import paper_mlp
from demos.mnist_mlp_flags import (  # noqa: F401 - the command line, re-exported for the tests
    NEW_RUN_AVERAGES, PAPER_LR_DECAY, UNIFORM, anneal_spec, average_spec, parse_args, report_spec,
)
from demos.mnist_mlp_runs import (  # noqa: F401 - the run management, re-exported for the tests
    ShuffledMinibatches, apply_lr_decay, average_key, choose_reported, describe_average, evaluate_averages,
    game_lost_to_D, headline, load_progress, start_run, switch_lr_decay,
)

K = 1  # D steps per G step
PAPER = (225, 2, "Goodfellow et al. 2014")  # Table 1, adversarial nets on MNIST
GOAL = f"the paper's Table 1: {PAPER[0]} +- {PAPER[1]} nats (Parzen log-likelihood of the test set)"
EVAL_SEED_OFFSET = 1_000_003  # the evaluation samples' own stream, apart from training's
INSTANCE_NOISE_SEED_OFFSET = 2_000_003  # --instance-noise's own stream: the run's z, data and masks stay as they were


def to_unit(images):
    """uint8 [N, 28, 28] -> float32 [N, 784] in [0, 1] (pixel/255, the paper's scale)."""
    return (numpy.asarray(images, dtype=numpy.float32) / 255.0).reshape(len(images), -1)


def sample_G(G, n, seed, noise="uniform", batch=1000):
    """n samples of G (float32 NumPy [n, 784]) from p_z (``noise``) drawn by a fresh Generator(seed), in eval mode."""
    gen, p_z, out = mg.Generator(seed), paper_mlp.noise_prior(kind=noise), []
    was_training = G.training
    G.eval()
    with mg.no_grad():
        for start in range(0, n, batch):
            out.append(backend.as_numpy(G(p_z(gen, min(batch, n - start))).data))
    G.train(was_training)
    return numpy.concatenate(out).astype(numpy.float32)


def cheap_parzen(G, valid, seed, n=1000, noise="uniform"):
    """The curve's estimate: n samples; sigma chosen on valid[:n], the mean log p on valid[n:2n] (no SE)."""
    g = sample_G(G, n, seed, noise)
    sigma, _ = select_parzen_sigma(g, valid[:n], PARZEN_SIGMAS, gemm_dtype=numpy.float32)
    return parzen_log_likelihood(g, valid[n:2 * n], sigma, gemm_dtype=numpy.float32)[0], sigma


def build(args, train_x, average_betas=()):
    """G, D, their optimizers and schedules, p_z, p_data and the GAN, all from one seed; one average of G's
    parameters per entry of average_betas (a beta, or "uniform"), for evaluation only."""
    gen = mg.Generator(args.seed)
    G = paper_mlp.generator(gen, output_bias=paper_mlp.sigmoid_bias_from_marginals(train_x))
    D = paper_mlp.discriminator(gen)
    opt_D = optim.SGD(D.parameters(), lr=0.1, momentum=0.5)
    opt_G = optim.SGD(G.parameters(), lr=0.1, momentum=0.5)
    per_epoch = max(1, len(train_x) // args.m)  # 500 updates per epoch on 50,000 images
    decay = PAPER_LR_DECAY if args.lr_decay is None else args.lr_decay  # a resumed run's comes from its checkpoint
    schedules = [*optim.paper_mnist_schedules(opt_D, per_epoch, decay=decay),
                 *optim.paper_mnist_schedules(opt_G, per_epoch, decay=decay)]
    p_data = ShuffledMinibatches(backend.to_backend(train_x, backend.default_backend()), args.seed)
    scale, t = float(args.d_loss_scale), float(args.real_label)

    def d_loss(real_logits, fake_logits):
        """scale * (1/m sum BCE(D(x), t) + 1/m sum BCE(D(G(z)), 0)); the paper's code: scale 1/2, t = 1."""
        return losses.d_loss(real_logits, fake_logits, real_label=t) * scale

    D_sees = D
    if args.instance_noise > 0:  # D sees x + e and G(z) + e' (Arjovsky and Bottou 2017), e from a stream of its own
        blur = NoiseSchedule(args.instance_noise, args.instance_noise_steps, optimizer=opt_G)
        D_sees = InstanceNoise(D, blur, args.seed + INSTANCE_NOISE_SEED_OFFSET)
        schedules.append(blur)
    averages = [optim.UniformAverage(opt_G) if beta == UNIFORM else optim.ExponentialMovingAverage(opt_G, beta)
                for beta in average_betas]
    gan = GAN(G, D_sees, opt_D, opt_G, paper_mlp.noise_prior(kind=args.noise), p_data, generator=gen, k=K, m=args.m,
              g_loss="non_saturating", d_loss=d_loss, schedules=schedules, averages=averages,
              simultaneous=bool(args.simultaneous))
    return gan, p_data


def train(args, gan, valid_x, ckpt_path, progress_path, progress):
    """Train in chunks of --checkpoint-every iterations: checkpoint, cheap Parzen, progress.json after each."""
    start_wall, spent0, deadline = time.time(), progress["train_seconds"], runs.Deadline(args.minutes)
    while gan.step < args.steps:
        before, t0 = gan.step, time.time()
        target = min(args.steps, (gan.step // args.checkpoint_every + 1) * args.checkpoint_every)
        if args.anneal is not None and gan.step < args.anneal[0]:
            target = min(target, args.anneal[0])  # a chunk ends (and a checkpoint is written) at the switch
        try:
            metrics = gan.train(target, checkpoint_path=ckpt_path, progress=False, on_step=deadline.check)
        except runs.OutOfTime as stop:
            gan.save_checkpoint(ckpt_path)
            print(f"{stop}; checkpoint saved, stopping", flush=True)
            metrics = {k: gan.history[k][-1] for k in ("d_loss", "g_loss", "d_real", "d_fake")}
        ms_per_iter = 1e3 * (time.time() - t0) / max(1, gan.step - before)
        progress["train_seconds"] = spent0 + (time.time() - start_wall)
        if game_lost_to_D(metrics):
            progress.setdefault("game_lost_to_D_at", gan.step)
            print(f"warning: at iteration {gan.step} D tells data from samples perfectly (D(x) "
                  f"{metrics['d_real']:.3f}, D(G(z)) {metrics['d_fake']:.3f}): the game is lost to D and rarely "
                  "recovers (docs/appendix-mnist.md A.3, Seed 1 looked at closely)", flush=True)
        line = (f"iter {gan.step:7d} ({ms_per_iter:6.1f} ms/iter)  d_loss {metrics['d_loss']:.3f}  g_loss "
                f"{metrics['g_loss']:.3f}  D(x) {metrics['d_real']:.2f}  D(G(z)) {metrics['d_fake']:.2f}  lr "
                f"{gan.opt_D.lr:.5f}  momentum {gan.opt_D.momentum:.3f}  cheap Parzen:")
        for avg in [None, *gan.averages]:  # G's last iterate, then each average swapped in
            with contextlib.nullcontext() if avg is None else avg.swapped_in():
                ll, sigma = cheap_parzen(gan.G, valid_x, args.seed + gan.step, args.curve_samples, args.noise)
            curve = (progress["parzen_curve"] if avg is None
                     else progress["average_curves"].setdefault(str(average_key(avg)), []))
            curve.append({"step": gan.step, "ll": ll, "sigma": sigma})
            line += f"  {'G' if avg is None else average_key(avg)} {ll:7.1f} (sigma {sigma:.3f})"
        runs.write_json(progress_path, progress)
        print(line, flush=True)
        if args.anneal is not None and gan.step == args.anneal[0]:
            switch_lr_decay(gan, gan.identity["lr_decay"], args.anneal[1])
        if deadline.spent():
            break
    return progress
def evaluate(args, G, valid_x, test_x):
    """The paper's protocol: args.n_samples samples, sigma on args.n_valid validation images, mean +- SE on test."""
    t0 = time.time()
    samples = sample_G(G, args.n_samples, args.seed + EVAL_SEED_OFFSET, args.noise)
    sigma, table = select_parzen_sigma(samples, valid_x[:args.n_valid], PARZEN_SIGMAS)
    ll, se = parzen_log_likelihood(samples, test_x, sigma)
    return samples, {"parzen_ll": ll, "parzen_se": se, "sigma": sigma, "sigma_table": table,
                     "eval_seconds": round(time.time() - t0, 2)}


def figures(args, gan, samples, train_x, progress, result):
    """samples.png, nearest.png (Figure 2), interpolation.png, curves.png, parzen.png of the G reported
    (gan.G holds the reported average's parameters when one is reported). Returns the paths written."""
    out, which = args.out, "G" if result["reported_G"] == "last iterate" else result["reported_G"]
    files = [viz.save(viz.sample_grid(samples[:100].reshape(-1, 28, 28), nrow=10, value_range=(0, 1),
                                      title=f"{which} after {gan.step} iterations"), os.path.join(out, "samples.png"))]
    shown = samples[:30]
    near = train_x[nearest_rows(shown, train_x)]
    files.append(viz.save(viz.samples_with_nearest(shown.reshape(-1, 28, 28), near.reshape(-1, 28, 28)),
                          os.path.join(out, "nearest.png")))
    gen, p_z = mg.Generator(args.seed + 7), paper_mlp.noise_prior(kind=args.noise)
    z0, z1 = p_z(gen, 8).numpy(), p_z(gen, 8).numpy()
    t = numpy.linspace(0.0, 1.0, 10, dtype=numpy.float32)[None, :, None]
    path_z = (1 - t) * z0[:, None, :] + t * z1[:, None, :]  # (8 paths, 10 steps, 100): straight lines in z
    gan.G.eval()
    with mg.no_grad():
        rows = backend.as_numpy(gan.G(mg.tensor(path_z.reshape(-1, path_z.shape[-1]))).data)
    gan.G.train()
    files.append(viz.save(viz.interpolation(rows.reshape(8, 10, 28, 28), title="G along straight lines in z",
                                            value_range=(0, 1)), os.path.join(out, "interpolation.png")))
    if gan.history["step"]:
        files.append(viz.save(viz.training_curves(gan.history, title="paper MLP GAN, MNIST"),
                              os.path.join(out, "curves.png")))
    curve, n = progress["parzen_curve"], args.curve_samples
    more = [([p["step"] for p in c], [p["ll"] for p in c], describe_average(beta))
            for beta, c in progress["average_curves"].items()]
    files.append(viz.save(viz.parzen_curve(
        [p["step"] for p in curve], [p["ll"] for p in curve], more=more, reference=PAPER,
        label=f"G, cheap estimate: {n} samples, sigma on valid[0:{n}], scored on valid[{n}:{2 * n}]",
        final=(gan.step, result["parzen_ll"], result["parzen_se"])), os.path.join(out, "parzen.png")))
    return files


def main(argv=None):
    args = parse_args(argv)
    with runs.RunFolder(args.out, "mnist_mlp", resume=args.resume or args.evaluate_only, overwrite=args.overwrite,
                        records=("progress.json",), legacy=()) as run:
        return run_demo(args, argv, run)


def run_demo(args, argv, run):
    mg.use_backend(args.backend)
    t_start, mnist = time.time(), load_mnist(args.data_dir)
    train_x, valid_x = to_unit(mnist["train"].images[:args.train_size]), to_unit(mnist["valid"].images)
    test_x = to_unit(mnist["test"].images[:args.n_test])
    if len(valid_x) < 2 * args.curve_samples or len(valid_x) < args.n_valid:
        raise runs.RunError(f"mnist_mlp: need at least max(2 * --curve-samples, --n-valid) validation images, "
                            f"got {len(valid_x)}")
    gan, progress = start_run(args, run, train_x, build)
    ckpt_path, progress_path = run.checkpoint, run.path("progress.json")
    if not args.evaluate_only:
        progress = train(args, gan, valid_x, ckpt_path, progress_path, progress)

    samples, result = evaluate(args, gan.G, valid_x, test_x)  # G's last iterate: the paper's evaluation
    averaged, averaged_samples = evaluate_averages(args, gan, lambda G: evaluate(args, G, valid_x, test_x))
    reported, samples = choose_reported(args, gan, result, samples, averaged, averaged_samples)
    numpy.save(os.path.join(args.out, "samples.npy"), samples)
    result.update(steps=gan.step, epochs=round(gan.step * K * args.m / len(train_x), 2),
                  wall_seconds=round(progress["train_seconds"], 1),
                  train_seconds_per_iter=round(progress["train_seconds"] / max(1, gan.step), 4),
                  backend=args.backend, k=K, **{k: v for k, v in gan.identity.items() if k != "average_G"},
                  n_samples=args.n_samples, n_valid=args.n_valid, n_test=len(test_x), pixel_scale="1/255",
                  blas_threads=os.environ.get("OPENBLAS_NUM_THREADS", "default"),
                  paper={"parzen_ll": PAPER[0], "parzen_se": PAPER[1]}, goal=GOAL,
                  parzen_curve=progress["parzen_curve"], final_lr=gan.opt_D.lr, final_momentum=gan.opt_D.momentum,
                  average_G=averaged, average_curves=progress["average_curves"],
                  game_lost_to_D_at=progress.get("game_lost_to_D_at"))
    if gan.history["step"]:
        tail = slice(-min(500, len(gan.history["step"])), None)
        result["last_500_mean"] = {k: float(numpy.mean(gan.history[k][tail]))
                                   for k in ("d_loss", "g_loss", "d_real", "d_fake")}
    files = []
    if not args.no_figures:
        with reported.swapped_in() if reported is not None else contextlib.nullcontext():
            files = figures(args, gan, samples, train_x, progress, result)
    result["files"] = ([os.path.basename(f) for f in files] + ["samples.npy", "checkpoint.npz", "progress.json"]
                       + ["metrics.json", *(a["samples"] for a in averaged)]
                       + (["samples_last_iterate.npy"] if reported else []))
    result["total_seconds"] = round(time.time() - t_start, 1)
    result.update(runs.provenance(args, argv))
    runs.write_json(os.path.join(args.out, "metrics.json"), result)
    runs.closing_summary("mnist_mlp", args.out, result["files"], headline(result), GOAL)
    return result


if __name__ == "__main__":
    runs.run_main(main)
