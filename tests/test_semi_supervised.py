"""The n + 1 class discriminator (minigan/gan/semi_supervised.py): its identities and gradients, in float64.

Identities against direct NumPy computations (rtol 1e-12: a few float64 roundings of log/exp);
gradients against central differences with minigan.gradcheck (float64, its default tolerances).
"""
from __future__ import annotations

import numpy
import pytest

import minigan as mg
from minigan.gan import semi_supervised as ss
from mnist_or_skip import load_mnist_or_skip
from load_script import load_script

RNG = numpy.random.default_rng(0)
L_REAL = RNG.standard_normal((6, 10)) * 3
L_FAKE = RNG.standard_normal((5, 10)) * 3 - 2
Y = RNG.integers(0, 10, size=6)


def test_D_is_Z_over_Z_plus_1_and_equals_one_minus_the_fake_class_probability():
    Z = numpy.exp(L_REAL).sum(axis=1)
    D = ss.D_of(mg.tensor(L_REAL)).numpy()
    numpy.testing.assert_allclose(D, Z / (Z + 1), rtol=1e-12)
    numpy.testing.assert_allclose(ss.real_logit(mg.tensor(L_REAL)).numpy(), numpy.log(Z), rtol=1e-12)
    # the explicit n+1 softmax with l_{n+1} = 0: p(fake | x) = 1/(Z + 1) = 1 - D(x)
    full = numpy.concatenate([L_REAL, numpy.zeros((6, 1))], axis=1)
    p = numpy.exp(full) / numpy.exp(full).sum(axis=1, keepdims=True)
    numpy.testing.assert_allclose(p[:, -1], 1 - D, rtol=1e-12)


def test_D_is_stable_for_huge_logits():
    big = mg.tensor(numpy.array([[1000.0, 999.0], [-1000.0, -1001.0]]))
    D = ss.D_of(big).numpy()
    assert D[0] == 1.0 and D[1] == pytest.approx(numpy.exp(-1000 + numpy.log1p(numpy.exp(-1.0))), rel=1e-12)


def test_unsupervised_loss_is_the_direct_formula():
    Zr, Zf = numpy.exp(L_REAL).sum(axis=1), numpy.exp(L_FAKE).sum(axis=1)
    direct = -numpy.mean(numpy.log(Zr / (Zr + 1))) - numpy.mean(numpy.log(1 / (Zf + 1)))
    got = ss.unsupervised_loss(mg.tensor(L_REAL), mg.tensor(L_FAKE)).item()
    assert got == pytest.approx(direct, rel=1e-12)


def test_supervised_loss_is_cross_entropy_over_the_real_classes():
    logp = L_REAL - numpy.log(numpy.exp(L_REAL).sum(axis=1, keepdims=True))
    direct = -numpy.mean(logp[numpy.arange(6), Y])
    assert ss.supervised_loss(mg.tensor(L_REAL), Y).item() == pytest.approx(direct, rel=1e-12)
    total = ss.d_loss(mg.tensor(L_REAL), Y, mg.tensor(L_REAL), mg.tensor(L_FAKE), unsupervised_weight=0.5).item()
    unsup = ss.unsupervised_loss(mg.tensor(L_REAL), mg.tensor(L_FAKE)).item()
    assert total == pytest.approx(direct + 0.5 * unsup, rel=1e-12)


def test_feature_matching_loss_formula():
    fr, ff = RNG.standard_normal((7, 4)), RNG.standard_normal((3, 4))
    direct = ((fr.mean(0) - ff.mean(0)) ** 2).sum()
    assert ss.feature_matching_loss(mg.tensor(fr), mg.tensor(ff)).item() == pytest.approx(direct, rel=1e-12)


def test_gradients():
    lr = mg.tensor(L_REAL, requires_grad=True)
    lf = mg.tensor(L_FAKE, requires_grad=True)
    assert mg.gradcheck(lambda a, b: ss.unsupervised_loss(a, b), [lr, lf])
    assert mg.gradcheck(lambda a: ss.supervised_loss(a, Y), [lr])
    assert mg.gradcheck(lambda a: ss.non_saturating_g_loss(a), [lf])
    assert mg.gradcheck(lambda a, b: ss.feature_matching_loss(a, b), [mg.tensor(RNG.standard_normal((4, 3)),
                        requires_grad=True), mg.tensor(RNG.standard_normal((5, 3)), requires_grad=True)])
    # closed form: d log Z / d l = softmax(l)
    (g,) = mg.grad(ss.real_logit(lr).sum(), [lr])
    soft = numpy.exp(L_REAL) / numpy.exp(L_REAL).sum(axis=1, keepdims=True)
    numpy.testing.assert_allclose(g.numpy(), soft, rtol=1e-12)


def test_predict_and_errors():
    numpy.testing.assert_array_equal(ss.predict(mg.tensor(L_REAL)), L_REAL.argmax(axis=1))
    with pytest.raises(ValueError, match=r"labels must be 6 integers in \[0, 10\)"):
        ss.supervised_loss(mg.tensor(L_REAL), Y + 10)
    with pytest.raises(ValueError, match=r"real_logit: logits must be a Tensor \[m, n\]"):
        ss.real_logit(mg.tensor(numpy.zeros(3)))
    with pytest.raises(ValueError, match="different feature counts"):
        ss.feature_matching_loss(mg.tensor(numpy.zeros((2, 3))), mg.tensor(numpy.zeros((2, 4))))


def test_demo_smoke_run(tmp_path):
    """demos/semi_supervised_mnist.py for three iterations with a small D: files, keys, 10 labels per class."""
    import json
    import os

    mnist = load_mnist_or_skip()
    demo = load_script("demos/semi_supervised_mnist.py", "ssl_demo")
    out = str(tmp_path)
    metrics = demo.main(["--out", out, "--steps", "3", "--widths", "32,16", "--m", "20", "--eval-every", "2"])
    with open(os.path.join(out, "metrics.json")) as f:
        assert json.load(f) == json.loads(json.dumps(metrics))
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["steps"] == 3
    assert [c["step"] for c in metrics["curve"]] == [2, 3]
    labels = mnist["train"].labels[numpy.array(metrics["labelled_indices"])]
    assert metrics["labels"] == 100 and numpy.bincount(labels, minlength=10).tolist() == [10] * 10
    assert all(i < 50000 for i in metrics["labelled_indices"])  # drawn from the paper's train split only
    for name in ("samples.png", "curve.png"):
        assert os.path.getsize(os.path.join(out, name)) > 0
