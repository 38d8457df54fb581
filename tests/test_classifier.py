"""The MNIST classifier behind the scores (minigan/models/classifier.py) and demos/train_classifier.py.

Shapes and parameter counts from the architecture; the cross-entropy against a NumPy
reference and its closed-form gradient (softmax - onehot) / n, plus gradcheck in float64;
a float64 forward/backward cross-check with PyTorch (copied weights, dropout off: eval mode
for the forward, p = 0 for the gradients); the checkpoint round trip; the scores' identities;
a short run of the training script on a subset of real MNIST.
"""
import json
import os
import sys

import numpy
import pytest

import minigan as mg
from minigan.models.classifier import (
    FEATURES, MNISTClassifier, accuracy, cross_entropy, load_classifier, predict, save_classifier, scores,
    to_tanh_range,
)
from mnist_or_skip import load_mnist_or_skip
from placement import host

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def test_shapes_and_parameter_count():
    model = MNISTClassifier(generator=mg.Generator(0))
    expect = (1 * 32 * 16 + 32) + (32 * 64 * 16 + 64) + (64 * 49 * FEATURES + FEATURES) + (FEATURES * 10 + 10)
    assert sum(int(p.size) for p in model.parameters()) == expect
    x = mg.tensor(numpy.zeros((3, 1, 28, 28), dtype=numpy.float32))
    assert model(x).shape == (3, 10)
    assert model.features(x).shape == (3, FEATURES)
    with pytest.raises(ValueError, match=r"MNISTClassifier: expected images of shape \(N, 1, 28, 28\)"):
        model(mg.tensor(numpy.zeros((3, 28, 28), dtype=numpy.float32)))


def test_to_tanh_range():
    a = numpy.array([[[0, 255], [127, 128]]], dtype=numpy.uint8)
    x = to_tanh_range(a)
    assert x.shape == (1, 1, 2, 2) and x.dtype == numpy.float32
    numpy.testing.assert_allclose(x[0, 0], [[-1.0, 1.0], [127 / 127.5 - 1, 128 / 127.5 - 1]],
                               atol=1.2e-7)  # float32: pixel / 127.5 ~ 1 is rounded to eps(1) before the - 1
    with pytest.raises(ValueError, match="to_tanh_range: expected uint8"):
        to_tanh_range(a.astype(numpy.float32))


def test_cross_entropy_value_and_closed_form_gradient():
    rng = numpy.random.default_rng(1)
    a = rng.standard_normal((5, 10)) * 3
    y = numpy.array([0, 3, 9, 3, 7])
    logits = mg.tensor(a, requires_grad=True)
    loss = cross_entropy(logits, y)
    shifted = a - a.max(1, keepdims=True)
    log_p = shifted - numpy.log(numpy.exp(shifted).sum(1, keepdims=True))
    numpy.testing.assert_allclose(loss.item(), -log_p[numpy.arange(5), y].mean(), rtol=1e-12)
    loss.backward()
    numpy.testing.assert_allclose(logits.grad.numpy(), (numpy.exp(log_p) - numpy.eye(10)[y]) / 5, atol=1e-14)
    assert mg.gradcheck(lambda t: cross_entropy(t, y), [mg.tensor(a, requires_grad=True)])


@pytest.mark.parametrize("y, words", [
    (numpy.array([0.0, 1.0]), r"got float64 \(2,\)"),
    (numpy.array([0, 1, 2]), r"got int64 \(3,\)"),
])
def test_cross_entropy_rejects_bad_labels(y, words):
    with pytest.raises(ValueError, match=r"cross_entropy: labels must be integers of shape \(2,\), " + words):
        cross_entropy(mg.tensor(numpy.zeros((2, 10))), y)


def test_matches_torch_float64():
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    model = MNISTClassifier(dropout=0.0, dtype=numpy.float64, generator=mg.Generator(2))
    net = tnn.Sequential(tnn.Conv2d(1, 32, 4, 2, 1), tnn.ReLU(), tnn.Conv2d(32, 64, 4, 2, 1), tnn.ReLU(),
                         tnn.Flatten(), tnn.Linear(64 * 49, FEATURES), tnn.ReLU(), tnn.Linear(FEATURES, 10)).double()
    names = {"conv1": "0", "conv2": "2", "fc1": "5", "fc2": "7"}
    net.load_state_dict({names[k.split(".")[0]] + "." + k.split(".")[1]: torch.from_numpy(v)
                         for k, v in host(model.state_dict()).items()})
    rng = numpy.random.default_rng(3)
    x_np, y = numpy.tanh(rng.standard_normal((6, 1, 28, 28))), numpy.array([1, 2, 3, 4, 5, 6])
    x, tx = mg.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    loss = cross_entropy(model(x), y)
    tloss = tnn.functional.cross_entropy(net(tx), torch.from_numpy(y))
    numpy.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-11)  # float64, a few thousand-term sums
    loss.backward()
    tloss.backward()
    numpy.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-14)
    tparams = dict(net.named_parameters())
    for name, p in model.named_parameters():
        theirs = tparams[names[name.split(".")[0]] + "." + name.split(".")[1]]
        numpy.testing.assert_allclose(p.grad.numpy(), theirs.grad.numpy(), rtol=1e-9, atol=1e-14, err_msg=name)


def test_checkpoint_round_trip(tmp_path):
    model = MNISTClassifier(generator=mg.Generator(4))
    x = numpy.tanh(numpy.random.default_rng(5).standard_normal((7, 1, 28, 28))).astype(numpy.float32)
    probs, feats = predict(model, x)
    path = str(tmp_path / "clf.npz")
    save_classifier(path, model, test_acc=0.25, best_epoch=3)
    loaded, info = load_classifier(path)
    assert info == {"test_acc": 0.25, "best_epoch": 3} and not loaded.training
    probs2, feats2 = predict(loaded, x)
    numpy.testing.assert_array_equal(probs2, probs)
    numpy.testing.assert_array_equal(feats2, feats)
    numpy.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-6)
    assert accuracy(loaded, x, probs.argmax(1)) == 1.0


def test_predict_is_deterministic_despite_dropout_and_keeps_the_mode():
    model = MNISTClassifier(generator=mg.Generator(6))
    model.train()
    x = numpy.zeros((4, 1, 28, 28), dtype=numpy.float32) + 0.3
    a, _ = predict(model, x, batch_size=3)
    again, _ = predict(model, x, batch_size=3)
    b, _ = predict(model, x)
    numpy.testing.assert_array_equal(a, again)  # eval mode: dropout is off, two calls agree exactly
    # Chunks of 3 + 1 rows against one of 4: the BLAS may block (or for 1 row, use a matrix-vector
    # kernel) differently, so equality holds to float32 rounding, not bit for bit (it differed by
    # 1 ulp with OPENBLAS_NUM_THREADS=1). Dropout left on would change the values by O(1).
    numpy.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert model.training


def test_scores_of_a_set_against_itself():
    model = MNISTClassifier(generator=mg.Generator(7))
    x = numpy.tanh(numpy.random.default_rng(8).standard_normal((200, 1, 28, 28))).astype(numpy.float32)
    from minigan.gan.metrics import feature_statistics
    _, feats = predict(model, x)
    s = scores(model, x, feature_statistics(feats))
    assert abs(s["frechet_distance"]) < 1e-6  # the same statistics: FD = 0 up to eigh round-off
    assert 1.0 <= s["inception_score"] <= 10.0
    shifted = scores(model, numpy.clip(x + 0.5, -1, 1), feature_statistics(feats))
    assert shifted["frechet_distance"] > 1e-3


def test_train_classifier_smoke(tmp_path):
    load_mnist_or_skip()
    sys.path.insert(0, os.path.join(ROOT, "demos"))
    try:
        import train_classifier
        m = train_classifier.main(["--out", str(tmp_path), "--subset", "512", "--epochs", "2", "--steps", "6",
                                   "--n-ref", "200"])
    finally:
        sys.path.remove(os.path.join(ROOT, "demos"))
    assert m["steps"] == 6 and m["epochs_run"] == 2  # --steps stops inside the second epoch
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["test_acc"] == m["test_acc"] and 0.0 <= m["test_acc"] <= 1.0
    ref = saved["reference"]
    assert ref["n"] == 200 and abs(ref["frechet_test_vs_test"]) < 1e-6 and ref["frechet_test_vs_train"] > 0
    assert 1.0 <= ref["inception_score_test"] <= 10.0
    model, info = load_classifier(str(tmp_path / "classifier.npz"))
    assert info["test_acc"] == m["test_acc"] and (tmp_path / "curves.png").stat().st_size > 0
