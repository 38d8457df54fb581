"""The training recipe of demos/mnist_dcgan.py: its options, the average of G, and which G is reported.

Four options, each defaulting to the plain DCGAN recipe (Radford et al. 2016):

* ``--average-G BETA``: keep θ̄ ← β θ̄ + (1 − β) θ_G after every update of G (minigan/optim/
  averaging.py; Yazıcı et al. 2019) and score it beside G's last iterate.
* ``--lr-D``, ``--lr-G``: Adam's learning rate for each player, 2e-4 both by default; unequal rates
  are the two time-scale update rule (TTUR, Heusel et al. 2017), usually a faster D.
* ``--real-label T``: the target of real examples in D's cross-entropy; T < 1 is one-sided label
  smoothing (Salimans et al. 2016; minigan/gan/losses.py's d_loss says why only real labels).
* ``--width W``: every channel count of G and D times W (minigan/models/dcgan.py, channels_for).

All four belong to the run's identity (RECIPE), saved in its checkpoint: a resume takes them from
there and refuses a flag that contradicts one (minigan/runs/identity.py).

**Batch norm under the average.** G's batch-norm layers keep running statistics that eval mode
normalises with. Training accumulated them for G's last iterates; the averaged weights produce
other activations, so those statistics do not belong to them (and averaging the statistics too
would not help: an average of statistics of other weights is not the statistics of the average
weights, because the layers are not linear). ``averaged_G`` therefore measures them again for θ̄:
it swaps θ̄ in, resets the statistics and runs G in train mode, without a graph, on --bn-batches
minibatches of m noise vectors from p_z (nn.recompute_running_stats), drawn from their own
Generator so training's stream is untouched; G's own statistics are put back afterwards.

**Which G is reported.** Both G's are scored on the same z. The one reported is the one whose
samples are nearer to *validation* images (the lower Fréchet distance to valid[0:n]); the test
set, against which the reported scores are computed, never takes part in the choice.
"""
from __future__ import annotations

import argparse
import hashlib
from contextlib import contextmanager, nullcontext

import numpy

import minigan as mg
from minigan import nn, optim, runs
from minigan.gan.metrics import feature_statistics, frechet_distance, inception_score
from minigan.models.classifier import load_classifier, predict, to_tanh_range
from minigan.models.dcgan import Z_DIM, channels_for

RECIPE = ("average_G", "lr_D", "lr_G", "real_label", "width")
DEFAULTS = {"average_G": None, "lr_D": 2e-4, "lr_G": 2e-4, "real_label": 1.0, "width": 1.0}
BETAS = (0.5, 0.999)  # Adam's, the DCGAN paper's, for both players
BN_BATCHES = 100  # minibatches of z whose batch statistics become the averaged G's running statistics
LAST = "last iterate"
EVAL_SEED, BN_SEED = 3, 4  # offsets from --seed of the scored z and of the batch-norm z


def real_label(text):
    """A target in (0, 1] for --real-label."""
    value = runs.finite_float(text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a target probability in (0, 1] such as 0.9, got {text!r}")
    return value


def width_factor(text):
    """A factor w > 0 with 64 w a whole number of channels, for --width."""
    value = runs.positive(float)(text)
    try:
        channels_for(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected w > 0 with 64 * w a whole number of channels (1, 1.5, 2), "
                                         f"got {text!r}") from None
    return value


def add_recipe_flags(ap):
    ap.add_argument("--average-G", type=runs.unit_interval, default=None, metavar="BETA",
                    help="keep an exponential moving average of G's parameters with this beta; score it beside G "
                         "and report the one nearer to validation images")
    ap.add_argument("--lr-D", type=runs.positive(float), default=DEFAULTS["lr_D"], help="Adam's learning rate for D")
    ap.add_argument("--lr-G", type=runs.positive(float), default=DEFAULTS["lr_G"], help="Adam's learning rate for G")
    ap.add_argument("--real-label", type=real_label, default=DEFAULTS["real_label"],
                    help="D's target for real images (0.9: one-sided label smoothing)")
    ap.add_argument("--width", type=width_factor, default=DEFAULTS["width"],
                    help="multiply G's and D's channel counts by this")
    ap.add_argument("--bn-batches", type=runs.positive(int), default=BN_BATCHES,
                    help="minibatches of z that measure the averaged G's batch-norm statistics")


def saved_with_defaults(saved):
    """A resumed checkpoint's identity; a recipe option it does not name had its default (such runs predate it)."""
    return {**DEFAULTS, **saved}


def optimizers(args, G, D):
    """(opt_D, opt_G): Adam for each player at its own learning rate."""
    return (optim.Adam(D.parameters(), lr=args.lr_D, betas=BETAS),
            optim.Adam(G.parameters(), lr=args.lr_G, betas=BETAS))


def averages(args, opt_G):
    return [] if args.average_G is None else [optim.ExponentialMovingAverage(opt_G, args.average_G)]


def describe(avg):
    return f"average of G, beta {avg.beta}"


@contextmanager
def averaged_G(avg, G, p_z, seed, m, n_batches=BN_BATCHES):
    """Inside the block G holds the average θ̄ and batch-norm statistics measured for it; G's own after."""
    held = [(b, b.data.copy()) for b in G.buffers()]
    try:
        with avg.swapped_in():
            gen = mg.Generator(seed + BN_SEED)
            nn.recompute_running_stats(G, (p_z(gen, m) for _ in range(n_batches)))
            yield G
    finally:
        for b, data in held:
            b.data = data


def candidates(gan, p_z, seed, n_batches=BN_BATCHES):
    """[(name, context)]: G's last iterate, then each average of G with its statistics (averaged_G)."""
    return [(LAST, nullcontext())] + [(describe(a), averaged_G(a, gan.G, p_z, seed, gan.m, n_batches))
                                      for a in gan.averages]


def eval_noise(seed, n, conditional, n_classes=10):
    """The z (and y, balanced over the classes) every scored G is sampled at: its own Generator."""
    z = mg.Generator(seed + EVAL_SEED).np.standard_normal((n, Z_DIM)).astype(numpy.float32)
    return z, (numpy.arange(n) % n_classes if conditional else None)


def references(classifier_path, data, n):
    """The classifier and the real images' statistics every score needs: test (the reported FD), valid
    (the choice), and real images' own scores as the scale to read them on."""
    clf, info = load_classifier(classifier_path)
    stats, probs = {}, {}
    for split in ("test", "valid", "train"):
        probs[split], feats = predict(clf, to_tanh_range(data[split][0][:n]))
        stats[split] = feature_statistics(feats)
    is_test, is_test_std = inception_score(probs["test"])
    real = {"inception_score_test": is_test, "inception_score_test_std": is_test_std,
            "inception_score_train": inception_score(probs["train"])[0],
            "frechet_distance_train_vs_test": frechet_distance(*stats["train"], *stats["test"]),
            "frechet_distance_train_vs_valid": frechet_distance(*stats["train"], *stats["valid"])}
    return {"clf": clf, "stats": stats, "info": {"classifier": classifier_path,
                                                 "classifier_test_acc": info.get("test_acc"), "n": n, "real": real}}


def samples_sha256(samples):
    """SHA-256 of the samples as scored: float32, C order (numpy.load of samples.npy gives the same bytes)."""
    return hashlib.sha256(numpy.ascontiguousarray(samples, dtype=numpy.float32).tobytes()).hexdigest()


def score(refs, samples, y=None):
    """IS and FD against the test set, FD against valid (for the choice), label accuracy given y, checksum."""
    probs, feats = predict(refs["clf"], samples)
    mean, std = inception_score(probs)
    mu, sigma = feature_statistics(feats)
    out = {"inception_score": mean, "inception_score_std": std,
           "frechet_distance": frechet_distance(mu, sigma, *refs["stats"]["test"]),
           "frechet_distance_valid": frechet_distance(mu, sigma, *refs["stats"]["valid"]),
           "samples_sha256": samples_sha256(samples)}
    if y is not None:  # does G(z | y) look like a y to the classifier?
        out["label_accuracy"] = float((probs.argmax(1) == y).mean())
    return out


def report(refs, samples_of, y=None):
    """metrics.json's "scores": each candidate's scores, the reported one chosen by validation FD and its test
    scores under "samples". Returns (scores, the reported candidate's name)."""
    scored = {name: score(refs, s, y) for name, s in samples_of.items()}
    chosen = min(scored, key=lambda name: scored[name]["frechet_distance_valid"])
    result = {**refs["info"], "reported_G": chosen, "samples": scored[chosen], "candidates": scored}
    if len(scored) > 1:
        result["report_choice"] = {"by": f"Frechet distance to valid[0:{refs['info']['n']}] (lower is chosen)",
                                   "candidates": {n: s["frechet_distance_valid"] for n, s in scored.items()}}
    return result, chosen


def closing_summary(name, out, metrics, goal, trained_note="of training"):
    """The run's last words on the terminal (minigan.runs.closing_summary): iterations, and the reported G's scores."""
    s = (metrics["scores"] or {}).get("samples", {})
    runs.closing_summary(name, out, metrics["files"], {
        "iterations": f"{metrics['steps']} ({metrics['train_seconds']} s {trained_note})",
        f"Inception-style score, Frechet distance ({metrics['reported_G']})":
            f"{s.get('inception_score')}, {s.get('frechet_distance')}" if s else "not scored (no classifier)"}, goal)

