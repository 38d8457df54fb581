"""The run management of demos/mnist_mlp.py: data order, learning-rate segments, averages of G, resume.

A run of the paper's MNIST experiment can be stopped and resumed, annealed part-way and given
averages of G on the way; this module keeps the books so that a resumed run is the run it was:

* ``ShuffledMinibatches``: p_data in an order fixed by the seed and the epoch alone, so a resume
  at iteration t just skips t * k * m images;
* the run's identity (minigan/runs/identity.py), stored in every checkpoint: the seed, the
  minibatch size, the data subset, the objective (``--d-loss-scale``, ``--simultaneous``,
  ``--noise``, ``--instance-noise``), the averages of G with the iteration each started at, the learning-rate decay
  segments and the reported average. A resume takes them from the checkpoint and refuses a flag
  that contradicts one;
* progress.json: what can be recomputed (the cheap-Parzen curves, the training time, the first
  iteration at which D won the game), cut back to the checkpoint's iteration on resume.
"""
from __future__ import annotations

import json
import os

import numpy

import minigan as mg
from minigan import backend, checkpoint, optim, runs, viz

from .mnist_mlp_flags import NEW_RUN_AVERAGES, UNIFORM

# the flags that define a run: a resume takes them from the checkpoint
DEFINING = ("seed", "m", "train_size", "d_loss_scale", "real_label", "simultaneous", "noise", "instance_noise",
            "instance_noise_steps")


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
        if epoch != self._epoch:  # one host-to-device copy per epoch (n / m iterations), none per minibatch
            order = numpy.random.default_rng([self.seed, epoch]).permutation(self.n)
            self._epoch, self._order = epoch, backend.to_backend(order, backend.backend_of(self.images))
        return self._order

    def __call__(self, generator, m):  # generator unused: the order is fixed by seed and epoch
        parts, t, end = [], self.drawn, self.drawn + m
        while t < end:  # at most two epochs per minibatch
            epoch, pos = divmod(t, self.n)
            take = min(end - t, self.n - pos)
            parts.append(self._order_of(epoch)[pos:pos + take])
            t += take
        self.drawn = end
        idx = parts[0] if len(parts) == 1 else backend.array_module(*parts).concatenate(parts)
        return mg.Tensor(self.images[idx])


# -- the run's identity ---------------------------------------------------------------------------
def resolve_identity(args, ckpt_path, progress_path, resuming) -> dict:
    """The identity of the run in --out: a new run's from the flags; a resumed run's from its checkpoint.

    A checkpoint saved before identities were stored has none: its objective is then read from
    progress.json, where such runs kept it (absent keys: the values every run had before the flag)."""
    saved = {}
    if resuming:
        saved = runs.saved_identity(ckpt_path)
        if not saved:
            legacy, step = read_json(progress_path), checkpoint.load(ckpt_path)["step"]
            saved = {"d_loss_scale": 1.0, "simultaneous": False, "noise": "uniform",
                     **{k: legacy[k] for k in ("d_loss_scale", "simultaneous", "noise", "report_average")
                        if k in legacy},  # and what started after the checkpoint's iteration dropped:
                     **{k: [x for x in legacy[k] if x["from_step"] <= step] for k in ("average_G", "lr_decay")
                        if k in legacy}}
    identity = runs.resolve_identity(args, saved, DEFINING, where=ckpt_path)
    args.d_loss_scale = identity["d_loss_scale"] = float(args.d_loss_scale)
    args.real_label = identity["real_label"] = float(args.real_label)
    identity.update(average_G=list(saved.get("average_G", [])), lr_decay=list(saved.get("lr_decay", [])),
                    report_average=saved.get("report_average"))
    return identity


def plan_averages(args, identity, resuming):
    """(kept, added): the averages of G the run keeps and those this command starts. Fills in a new run's
    defaults (NEW_RUN_AVERAGES, reported if validation prefers it) unless --no-average."""
    kept = [a["beta"] for a in identity["average_G"]]
    if args.no_average and (resuming or args.average_G or args.report_average not in (None, "best")):
        raise runs.RunError("mnist_mlp: --no-average starts a new run without an average of G; it cannot be given "
                            f"with --resume of an existing checkpoint, --average-G or --report-average "
                            f"{args.report_average}")
    if not resuming and not args.no_average:  # the Table 1 recipe (docs/06-mnist.md 6.5) unless told otherwise
        args.average_G = list(NEW_RUN_AVERAGES) if args.average_G is None else args.average_G
        args.report_average = "best" if args.report_average is None else args.report_average
    added = [beta for beta in dict.fromkeys(args.average_G or []) if beta not in kept]
    if args.evaluate_only and added:
        raise runs.RunError(f"mnist_mlp: the checkpoint has no average of G {added}; --average-G starts one "
                            f"when training, so it cannot be evaluated without training (the run keeps "
                            f"{kept or 'none'})")
    if args.report_average not in (None, "best") and args.report_average not in kept + added:
        raise runs.RunError(f"mnist_mlp: --report-average {args.report_average} names no average of G of this "
                            f"run (it keeps {kept + added or 'none'}; start one with --average-G)")
    return kept, added


# -- progress.json: what can be recomputed --------------------------------------------------------
def read_json(path):
    """The JSON file at ``path`` ({} when absent); a damaged one is an error naming it."""
    if not os.path.exists(path):
        return {}
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise runs.RunError(f"mnist_mlp: cannot read {path} ({e}); move it away to resume without the curves") \
            from None


def load_progress(saved, step):
    """The cheap-Parzen curves and training seconds of a saved progress.json as of the checkpoint's iteration
    ``step`` (later entries, from a run that went on past it, dropped)."""
    progress = {"parzen_curve": [], "train_seconds": 0.0, "average_curves": {},
                **{k: saved[k] for k in ("parzen_curve", "train_seconds", "average_curves", "game_lost_to_D_at")
                   if k in saved}}
    progress["parzen_curve"] = [p for p in progress["parzen_curve"] if p["step"] <= step]
    progress["average_curves"] = {beta: [p for p in curve if p["step"] <= step]
                                  for beta, curve in progress["average_curves"].items()}
    return progress


# -- the learning-rate decay --------------------------------------------------------------------
def lr_schedules(gan):
    """The learning-rate decays of both players (one ExponentialDecay each)."""
    return [s for s in gan.schedules if isinstance(s, optim.ExponentialDecay) and s.attr == "lr"]


def lr_decay_factor(gan):
    return lr_schedules(gan)[0].factor


def switch_lr_decay(gan, segments, factor):
    """From this iteration on, divide both learning rates by ``factor`` after every update (no jump)."""
    if factor == lr_decay_factor(gan):
        return
    for s in lr_schedules(gan):
        s.rebase(factor)
    segments.append({"from_step": gan.step, "factor": factor})
    print(f"from iteration {gan.step}: lr {gan.opt_D.lr:.5f}, divided by {factor} after every update", flush=True)


def apply_lr_decay(args, gan, segments):
    """--lr-decay on a resumed run: from this iteration on, divide both learning rates by the new factor;
    --anneal STEP:FACTOR on a run resumed at or past STEP: the switch train() would have made at STEP.

    The learning rate does not jump (ExponentialDecay.rebase); ``segments`` (the identity's "lr_decay")
    lists [{"from_step", "factor"}, ...], so the run's whole schedule can be replayed."""
    if args.lr_decay is not None and args.anneal is not None and gan.step >= args.anneal[0]:
        raise runs.RunError(f"mnist_mlp: --lr-decay {args.lr_decay} and --anneal {args.anneal[0]}:{args.anneal[1]} "
                            f"both set the decay from iteration {gan.step} on; give one")
    if not segments:  # a new run, or one from before the option: one factor since step 0
        segments.append({"from_step": 0, "factor": lr_decay_factor(gan)})
    if args.evaluate_only:
        return
    if args.lr_decay is not None:
        switch_lr_decay(gan, segments, args.lr_decay)
    if args.anneal is not None and gan.step >= args.anneal[0]:  # resumed at or past the switch: make sure it is made
        switch_lr_decay(gan, segments, args.anneal[1])


# -- averages of G ------------------------------------------------------------------------------
def average_key(avg):
    """How the run names an average of G: its beta, or "uniform" (the identity, metrics.json, file names)."""
    return UNIFORM if isinstance(avg, optim.UniformAverage) else avg.beta


def describe_average(key):
    return "uniform average of G" if key == UNIFORM else f"average of G, beta {key}"


def game_lost_to_D(metrics, margin=0.01):
    """True when D tells every real image from every sample: D(x) > 1 - margin and D(G(z)) < margin.

    The non-saturating loss still gives G a gradient there, but a game that stays there rarely comes
    back (docs/appendix-mnist.md A.3, "Seed 1 looked at closely, and new seeds")."""
    return metrics["d_real"] > 1.0 - margin and metrics["d_fake"] < margin


def best_valid_ll(result):
    """The mean validation log-likelihood at the sigma the protocol chose (the best of its sigma_table)."""
    return max(ll for _sigma, ll in result["sigma_table"])


def choose_reported(args, gan, result, samples, averaged, averaged_samples):
    """The G the run reports: its last iterate, the average --report-average names, or with 'best' the one
    with the highest validation log-likelihood (never chosen on test images). An average reported takes
    over result's figures and ``samples``; the last iterate's are kept in result["last_iterate"] and
    samples_last_iterate.npy. Returns (the reported average or None, the reported samples)."""
    choice = args.report_average
    if choice == "best":  # chosen on validation images, as sigma is: never on the test set
        valid_ll = {None: best_valid_ll(result), **{row["beta"]: best_valid_ll(row) for row in averaged}}
        choice = max(valid_ll, key=lambda beta: valid_ll[beta])
        result["report_choice"] = {"by": "mean validation log-likelihood at each one's sigma",
                                   "candidates": {"last iterate" if b is None else str(b): v
                                                  for b, v in valid_ll.items()}}
    reported = next((a for a in gan.averages if average_key(a) == choice), None)
    if reported is not None:  # the average's figure and samples become the run's; the last iterate's stay beside
        numpy.save(os.path.join(args.out, "samples_last_iterate.npy"), samples)
        result["last_iterate"] = {k: v for k, v in result.items() if k != "report_choice"}
        result["last_iterate"]["samples"] = "samples_last_iterate.npy"
        row = next(r for r in averaged if r["beta"] == choice)
        result.update({key: row[key] for key in ("parzen_ll", "parzen_se", "sigma", "sigma_table", "eval_seconds")})
        samples = averaged_samples[choice]
    result["reported_G"] = "last iterate" if reported is None else describe_average(choice)
    return reported, samples


def evaluate_averages(args, gan, evaluate):
    """``evaluate(G) -> (samples, result)``, the demo's protocol with its z, for each average of G swapped into G;
    samples_average_<beta>.npy and .png. Returns the metrics.json rows and {beta: samples}."""
    rows, samples_of = [], {}
    for avg, saved in zip(gan.averages, gan.identity["average_G"]):
        with avg.swapped_in():
            samples, result = evaluate(gan.G)
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


def start_run(args, run, train_x, build):
    """The GAN of the run in ``run`` (a runs.RunFolder): a new one, or the checkpoint's with its identity, the
    averages this command adds and the learning-rate segments it changes; and its progress (load_progress)."""
    ckpt_path, progress_path = run.checkpoint, run.path("progress.json")
    resuming = os.path.exists(ckpt_path)
    if args.evaluate_only and not resuming:
        raise runs.RunError(f"mnist_mlp: --evaluate-only needs {ckpt_path}; train first")
    identity = resolve_identity(args, ckpt_path, progress_path, resuming)
    kept, added = plan_averages(args, identity, resuming)
    gan, p_data = build(args, train_x, kept + added)
    gan.identity = identity  # saved with every checkpoint from now on
    if resuming:
        gan.load_checkpoint(ckpt_path, start_missing_averages=bool(added))
        p_data.drawn = gan.step * gan.k * gan.m  # the data order continues where it stopped
        print(f"resumed from {ckpt_path} at iteration {gan.step}", flush=True)
    progress = load_progress(read_json(progress_path) if resuming else {}, gan.step)
    identity["average_G"] += [{"beta": beta, "from_step": gan.step} for beta in added]
    if args.report_average is None:  # the run's own choice, so --evaluate-only reproduces its figure
        args.report_average = identity["report_average"]
    elif not args.evaluate_only:
        identity["report_average"] = args.report_average
    apply_lr_decay(args, gan, identity["lr_decay"])
    return gan, progress


def headline(result):
    """The closing summary's numbers: the reported figure, then each average's."""
    lines = {f"Parzen log-likelihood, {result['reported_G']}":
             f"{result['parzen_ll']:.1f} +- {result['parzen_se']:.1f} (sigma {result['sigma']:.3f}) after "
             f"{result['steps']} iterations, {result['wall_seconds']:.0f} s of training"}
    lines.update({f"{describe_average(a['beta'])}, from iteration {a['from_step']}":
                  f"{a['parzen_ll']:.1f} +- {a['parzen_se']:.1f}" for a in result["average_G"]})
    return lines
