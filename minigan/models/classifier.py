"""A small MNIST classifier, trained with minigan, that turns samples of G into two scores.

    x (1, 28, 28) in [-1, 1] -> Conv(1, 32, 4, 2, 1) -> ReLU        (32, 14, 14)
                             -> Conv(32, 64, 4, 2, 1) -> ReLU       (64, 7, 7)
                             -> Linear 64*7*7 -> 128 -> ReLU        the features f(x), 128-d
                             -> Dropout 0.5 -> Linear 128 -> 10     logits; p(y|x) = softmax

Strided convolutions stand in for pooling (minigan has no max-pool op, and DCGAN's
discriminator downsamples the same way). Inputs use G's scale, pixels mapped to [-1, 1]
(``to_tanh_range``), so G's tanh outputs go in unchanged. Training minimises the softmax
cross-entropy -1/n sum_i log p(y_i | x_i), computed as F.log_softmax picked at the label
(demos/train_classifier.py).

The two scores (minigan/gan/metrics.py has the formulas, docs/06-mnist.md the discussion):

* **Inception-style score** (Salimans et al. 2016, with this classifier in place of Inception):
  IS = exp(E_x KL(p(y|x) || p(y))), between 1 and 10. High when each sample is classified
  confidently (p(y|x) is peaked: the sample looks like *some* digit) and the classes are
  used equally (p(y) is flat: no digit is missing).
* **Fréchet distance** on the 128-d penultimate features f(x) (Heusel et al. 2017's FID, with
  this classifier in place of Inception): fit Gaussians N(mu_g, S_g) to f(G(z)) and
  N(mu_r, S_r) to f of real images and report ||mu_g - mu_r||^2 + tr(S_g + S_r - 2 (S_g S_r)^{1/2}).
  0 for identical feature statistics; it sees both quality and diversity.

Both scores are only comparable between runs that use the same classifier checkpoint, and
only meaningful beside the reference values of real data (``reference_scores``).
"""
from __future__ import annotations

import numpy

from .. import backend
from .. import checkpoint as ckpt
from .. import functional as F
from .. import nn
from ..autograd import Tensor, no_grad
from ..gan.metrics import feature_statistics, frechet_distance, inception_score

N_CLASSES = 10
FEATURES = 128


def to_tanh_range(images_uint8):
    """uint8 pixels [N, 28, 28] -> float32 [N, 1, 28, 28] in [-1, 1]: x = pixel / 127.5 - 1 (G's tanh scale)."""
    a = numpy.asarray(images_uint8)
    if a.dtype != numpy.uint8 or a.ndim != 3:
        raise ValueError(f"to_tanh_range: expected uint8 images [N, H, W], got {a.dtype} of shape {a.shape}")
    return (a.astype(numpy.float32) / 127.5 - 1.0)[:, None]


class MNISTClassifier(nn.Module):
    """x (N, 1, 28, 28) in [-1, 1] -> 10 logits. ``features(x)`` gives the 128-d penultimate layer."""

    def __init__(self, width=32, n_features=FEATURES, dropout=0.5, *, dtype=numpy.float32, generator=None):
        super().__init__()
        kw = dict(dtype=dtype, generator=generator)
        self.conv1 = nn.Conv2d(1, width, 4, 2, 1, **kw)               # 28 -> 14
        self.conv2 = nn.Conv2d(width, 2 * width, 4, 2, 1, **kw)       # 14 -> 7
        self.fc1 = nn.Linear(2 * width * 7 * 7, n_features, **kw)
        self.drop = nn.Dropout(dropout, generator=generator)
        self.fc2 = nn.Linear(n_features, N_CLASSES, **kw)

    def features(self, x):
        """f(x): the 128 ReLU units before the last layer, where the Fréchet distance is measured."""
        if not isinstance(x, Tensor) or x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"MNISTClassifier: expected images of shape (N, 1, 28, 28), got "
                             f"{getattr(x, 'shape', type(x).__name__)}")
        h = F.relu(self.conv1(x))
        h = F.relu(self.conv2(h))
        return F.relu(self.fc1(F.reshape(h, (h.shape[0], -1))))

    def forward(self, x):
        return self.fc2(self.drop(self.features(x)))


def cross_entropy(logits, y):
    """Softmax cross-entropy -1/n sum_i log softmax(logits_i)[y_i], y integer labels (n,).

    The label picks its log-probability through a one-hot mask (a constant), so the gradient
    is F.log_softmax's: dL/dlogits_i = (softmax(logits_i) - onehot(y_i)) / n.
    """
    y = numpy.asarray(backend.as_numpy(y.data if isinstance(y, Tensor) else y))
    if y.dtype.kind not in "iu" or y.shape != (logits.shape[0],):
        raise ValueError(f"cross_entropy: labels must be integers of shape ({logits.shape[0]},), "
                         f"got {y.dtype} {y.shape}")
    mask = numpy.zeros(logits.shape, dtype=logits.dtype)
    mask[numpy.arange(len(y)), y] = 1
    mask = Tensor(backend.to_backend(mask, logits.backend))
    return -F.sum(F.log_softmax(logits, axis=1) * mask) / logits.shape[0]


def predict(model, images, batch_size=500):
    """(probs [N, 10], features [N, 128]) as float64 host arrays, in eval mode, for images [N, 1, 28, 28] in [-1, 1]."""
    was_training = model.training
    model.eval()
    probs, feats = [], []
    try:
        with no_grad():
            for i in range(0, len(images), batch_size):
                chunk = images[i:i + batch_size]
                x = chunk if isinstance(chunk, Tensor) else Tensor(backend.to_backend(
                    numpy.asarray(chunk, dtype=numpy.float32), backend.default_backend()))
                f = model.features(x)
                probs.append(backend.as_numpy(F.softmax(model.fc2(f), axis=1).data).astype(numpy.float64))
                feats.append(backend.as_numpy(f.data).astype(numpy.float64))
    finally:
        model.train(was_training)
    return numpy.concatenate(probs), numpy.concatenate(feats)


def accuracy(model, images, labels, batch_size=500):
    probs, _ = predict(model, images, batch_size)
    return float((probs.argmax(axis=1) == numpy.asarray(labels)).mean())


def scores(model, images, reference_stats, splits=10):
    """{"inception_score", "inception_score_std", "frechet_distance"} of ``images`` ([N, 1, 28, 28] in [-1, 1])
    against ``reference_stats`` = (mu, sigma) of real features (feature_statistics)."""
    probs, feats = predict(model, images)
    mean, std = inception_score(probs, splits=splits)
    mu, sigma = feature_statistics(feats)
    return {"inception_score": mean, "inception_score_std": std,
            "frechet_distance": frechet_distance(mu, sigma, *reference_stats)}


def save_classifier(path, model, **info):
    """Write the classifier's weights and plain ``info`` (accuracies, epochs) with minigan.checkpoint."""
    ckpt.save(path, classifier=model, info=info)


def load_classifier(path):
    """(model in eval mode, info) from a checkpoint written by save_classifier."""
    model = MNISTClassifier()
    rest = ckpt.restore(path, classifier=model)
    model.eval()
    return model, rest.get("info", {})


__all__ = ["MNISTClassifier", "cross_entropy", "predict", "accuracy", "scores", "save_classifier",
           "load_classifier", "to_tanh_range", "N_CLASSES", "FEATURES"]
