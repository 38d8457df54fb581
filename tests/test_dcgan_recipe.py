"""The DCGAN recipe's options (demos/mnist_dcgan_recipe.py): each changes what it names and nothing else.

--real-label changes D's loss as losses.d_loss says; --lr-D and --lr-G set one optimizer each;
--width scales the channel counts; --average-G keeps an average of G whose batch-norm statistics
are measured for it, which is what gets scored when it is reported, and the reported G is chosen
on validation images, never on the test scores; a resume refuses a flag that contradicts the run.
"""
import json
import os

import numpy
import pytest

import minigan as mg
from minigan import backend, nn, runs
from minigan.gan import losses
from minigan.models.classifier import MNISTClassifier, save_classifier, to_tanh_range
from load_script import load_script
from mnist_or_skip import load_mnist_or_skip


@pytest.fixture(scope="module")
def demo():
    return load_script("demos/mnist_dcgan.py", "mnist_dcgan_recipe_under_test")


@pytest.fixture(scope="module")
def recipe(demo):
    return demo.recipe


def n_params(module):
    return sum(int(p.size) for p in module.parameters())


def built(demo, *flags, n=64):
    """The demo's GAN for these flags on n stand-in images (the recipe does not look at the pixels)."""
    args = demo.parse_args(["--out", "unused", *flags])
    x = numpy.tanh(numpy.random.default_rng(0).standard_normal((n, 1, 28, 28))).astype(numpy.float32)
    return demo.build(args, x, numpy.arange(n) % 10)[0]


# -- the flags --------------------------------------------------------------------------------------
def test_defaults_are_the_plain_dcgan_recipe(demo, recipe):
    gan = built(demo)
    assert (gan.opt_D.lr, gan.opt_G.lr, gan.real_label, gan.averages) == (2e-4, 2e-4, 1.0, [])
    assert gan.opt_D.betas == gan.opt_G.betas == (0.5, 0.999)
    assert (n_params(gan.G), n_params(gan.D)) == (778305, 138817)  # minigan/models/dcgan.py's figures
    args = demo.parse_args(["--out", "unused"])
    assert {name: getattr(args, name) for name in recipe.RECIPE} == recipe.DEFAULTS


@pytest.mark.parametrize("flag, value, words", [
    ("--real-label", "0", "(0, 1]"), ("--real-label", "1.5", "(0, 1]"), ("--width", "1.01", "whole number"),
    ("--width", "0", "> 0"), ("--average-G", "1", "[0, 1)"), ("--lr-G", "0", "> 0"), ("--bn-batches", "0", "> 0"),
])
def test_bad_recipe_values_are_refused_naming_the_flag(demo, flag, value, words, capsys):
    with pytest.raises(SystemExit):
        demo.parse_args(["--out", "unused", flag, value])
    err = capsys.readouterr().err
    assert flag in err and words in err and repr(value) in err


def test_real_label_smooths_only_the_real_term_of_D_loss(demo):
    """BCE(a, t) = softplus(a) - t a, so lowering t from 1 to 0.9 adds 0.1 * mean(a_real) and leaves the fakes."""
    gan = built(demo, "--real-label", "0.9")
    assert gan.real_label == 0.9 and gan.config()["real_label"] == 0.9  # saved with the checkpoint's config
    rng = numpy.random.default_rng(1)
    real, fake = (mg.tensor(rng.standard_normal((16, 1)) * 3) for _ in range(2))
    smoothed, plain = float(gan.d_loss(real, fake).numpy()), float(losses.d_loss(real, fake).numpy())
    assert smoothed == pytest.approx(float(losses.d_loss(real, fake, real_label=0.9).numpy()), rel=1e-12)
    assert smoothed - plain == pytest.approx(0.1 * float(real.numpy().mean()), rel=1e-9, abs=1e-12)
    assert float(built(demo).d_loss(real, fake).numpy()) == pytest.approx(plain, rel=1e-12)


def test_each_learning_rate_moves_only_its_player(demo):
    """Adam's first step moves every coordinate with a clear gradient by almost exactly lr (m/sqrt(v) = sign g)."""
    gan = built(demo, "--lr-D", "4e-4", "--lr-G", "1e-4", "--m", "16")
    assert set(map(id, gan.opt_G.params)) == set(map(id, gan.G.parameters()))
    assert (gan.opt_D.lr, gan.opt_G.lr) == (4e-4, 1e-4)
    before = {name: [p.numpy().copy() for p in net.parameters()] for name, net in (("D", gan.D), ("G", gan.G))}
    gan.train_step()
    for name, net, lr in (("D", gan.D, 4e-4), ("G", gan.G, 1e-4)):
        moved = max(float(numpy.abs(p.numpy() - b).max()) for p, b in zip(net.parameters(), before[name]))
        assert moved == pytest.approx(lr, rel=0.01), name  # float32 weights near 0.02: rounding ~1e-9


def test_width_multiplies_every_channel_count(demo):
    gan = built(demo, "--width", "2")
    assert (gan.G.up1.out_channels, gan.D.conv2.out_channels) == (128, 256)
    c = 128  # G: Linear 100 -> 2c*49, BN1d, ConvT 2c -> c, BN2d, ConvT c -> 1; D: Conv 1 -> c, Conv c -> 2c, BN, Linear
    assert n_params(gan.G) == (100 + 1) * 2 * c * 49 + 2 * 2 * c * 49 + 2 * c * c * 16 + c + 2 * c + c * 16 + 1
    assert n_params(gan.D) == 16 * c + c + c * 2 * c * 16 + 2 * c + 2 * 2 * c + 2 * c * 49 + 1
    assert gan.G(mg.tensor(numpy.zeros((2, 100), numpy.float32))).shape == (2, 1, 28, 28)


# -- the average of G and its batch-norm statistics -------------------------------------------------
def test_recompute_running_stats_is_the_plain_mean_of_the_batch_statistics():
    bn = nn.BatchNorm1d(3, dtype=numpy.float64)
    bn.eval()
    rng = numpy.random.default_rng(2)
    batches = [rng.standard_normal((8, 3)) * (i + 1) + i for i in range(4)]
    assert nn.recompute_running_stats(bn, (mg.tensor(b) for b in batches)) == 4
    numpy.testing.assert_allclose(bn.running_mean.numpy(), numpy.mean([b.mean(0) for b in batches], 0), rtol=1e-12)
    numpy.testing.assert_allclose(bn.running_var.numpy(), numpy.mean([b.var(0, ddof=1) for b in batches], 0),
                                  rtol=1e-12)
    assert bn.momentum == 0.1 and not bn.training  # the layer's own settings back
    with pytest.raises(ValueError, match="no batches"):
        nn.recompute_running_stats(bn, [])


def test_the_average_differs_from_G_and_gets_statistics_of_its_own(demo, recipe):
    gan = built(demo, "--average-G", "0.5", "--m", "8")
    for _ in range(3):
        gan.train_step()
    (avg,) = gan.averages
    assert avg.beta == 0.5 and avg.updates == 3
    theta = [p.numpy().copy() for p in gan.G.parameters()]
    stats = [b.numpy().copy() for b in gan.G.buffers()]
    assert any(not numpy.array_equal(backend.as_numpy(a), t) for a, t in zip(avg.average, theta))
    p_z = gan.sample_z
    with recipe.averaged_G(avg, gan.G, p_z, seed=0, m=8, n_batches=2):
        for p, a in zip(gan.G.parameters(), avg.average):
            numpy.testing.assert_array_equal(p.numpy(), backend.as_numpy(a))
        gen = mg.Generator(0 + recipe.BN_SEED)  # the statistics: the mean over the averaged G's own batches
        with mg.no_grad():
            h = [gan.G.fc(p_z(gen, 8)).numpy() for _ in range(2)]  # what bn0 normalises
        numpy.testing.assert_allclose(gan.G.bn0.running_mean.numpy(), numpy.mean([x.mean(0) for x in h], 0),
                                      rtol=1e-4, atol=1e-6)  # float32 means of 8 rows
    for p, t in zip(gan.G.parameters(), theta):  # G's own parameters and statistics back
        numpy.testing.assert_array_equal(p.numpy(), t)
    for b, s in zip(gan.G.buffers(), stats):
        numpy.testing.assert_array_equal(b.numpy(), s)


def test_the_reported_G_is_chosen_on_validation_never_on_test(recipe, monkeypatch):
    """The test FD favours the last iterate and the validation FD the average: the average is reported."""
    fake = {"a": {"frechet_distance": 5.0, "frechet_distance_valid": 9.0},
            "b": {"frechet_distance": 8.0, "frechet_distance_valid": 6.0}}
    monkeypatch.setattr(recipe, "score", lambda refs, samples, y=None: dict(fake[samples]))
    refs = {"info": {"n": 10}}
    result, chosen = recipe.report(refs, {recipe.LAST: "a", "average of G, beta 0.9": "b"})
    assert chosen == result["reported_G"] == "average of G, beta 0.9"
    assert result["samples"] == fake["b"] and result["report_choice"]["candidates"][recipe.LAST] == 9.0
    result, chosen = recipe.report(refs, {recipe.LAST: "a"})  # nothing to choose between
    assert chosen == recipe.LAST and "report_choice" not in result


# -- the demo: what is scored, and resume ------------------------------------------------------------
SMOKE = ["--subset", "128", "--m", "8", "--n-eval", "40", "--sample-every", "50", "--no-progress", "--bn-batches", "2"]


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("clf") / "clf.npz")
    save_classifier(path, MNISTClassifier(generator=mg.Generator(0)), test_acc=0.1)
    return path


def test_the_reported_samples_are_the_chosen_G_s_and_the_average_s_differ(demo, recipe, classifier, tmp_path):
    data = load_mnist_or_skip()
    out = tmp_path / "run"
    m = demo.main(["--out", str(out), "--steps", "3", "--average-G", "0.5", "--classifier", classifier, *SMOKE])
    cands = m["scores"]["candidates"]
    assert set(cands) == {recipe.LAST, "average of G, beta 0.5"}
    assert cands[recipe.LAST]["samples_sha256"] != cands["average of G, beta 0.5"]["samples_sha256"]
    chosen = min(cands, key=lambda name: cands[name]["frechet_distance_valid"])
    assert m["reported_G"] == m["scores"]["reported_G"] == chosen and m["scores"]["samples"] == cands[chosen]
    samples = numpy.load(out / "samples.npy")
    assert recipe.samples_sha256(samples) == cands[chosen]["samples_sha256"]
    # rebuilt from the checkpoint, each candidate's samples at the scored z are the ones metrics.json names
    args = demo.parse_args(["--out", str(out), "--average-G", "0.5", *SMOKE])
    images, labels = data["train"]
    gan, p_z = demo.build(args, to_tanh_range(images[:128]), labels[:128])
    gan.load_checkpoint(out / runs.CHECKPOINT)
    z, y = recipe.eval_noise(0, 40, False)
    for name, swapped in recipe.candidates(gan, p_z, 0, 2):
        with swapped:
            assert recipe.samples_sha256(demo.generate(gan.G, z, y)) == cands[name]["samples_sha256"], name


def test_resume_refuses_a_contradicting_recipe_flag_and_keeps_the_saved_ones(demo, tmp_path):
    load_mnist_or_skip()
    out, no_clf = str(tmp_path / "run"), ["--classifier", str(tmp_path / "absent.npz")]
    demo.main(["--out", out, "--steps", "1", "--lr-G", "1e-4", "--average-G", "0.9", *no_clf, *SMOKE])
    for flag, value, saved in (("--lr-G", "3e-4", "--lr-G 0.0001"), ("--lr-D", "1e-4", "--lr-D 0.0002"),
                               ("--real-label", "0.9", "--real-label 1.0"), ("--width", "2", "--width 1.0"),
                               ("--average-G", "0.99", "--average-G 0.9")):
        with pytest.raises(runs.RunError, match=f"{saved}; resuming it with"):
            demo.main(["--out", out, "--steps", "2", "--resume", flag, value, *no_clf, *SMOKE])
    resumed = demo.main(["--out", out, "--steps", "2", "--resume", *no_clf, *SMOKE])
    assert (resumed["steps"], resumed["lr_G"], resumed["average_G"], resumed["lr_D"]) == (2, 1e-4, 0.9, 2e-4)
    # a checkpoint from before the recipe's options ran the defaults: a flag contradicting them is refused too
    path = os.path.join(out, runs.CHECKPOINT)
    saved = runs.saved_identity(path)
    args = demo.parse_args(["--out", out, *SMOKE])
    gan, _ = demo.build(args, numpy.zeros((8, 1, 28, 28), numpy.float32), numpy.zeros(8, numpy.int64))
    gan.load_checkpoint(path)
    gan.averages, gan.identity = [], {k: saved[k] for k in ("seed", "m", "subset", "conditional")}
    gan.save_checkpoint(path)
    with pytest.raises(runs.RunError, match="--real-label 1.0; resuming it with 0.8"):
        demo.main(["--out", out, "--steps", "3", "--resume", "--real-label", "0.8", *no_clf, *SMOKE])
    assert json.loads(open(os.path.join(out, "metrics.json")).read())["steps"] == 2
