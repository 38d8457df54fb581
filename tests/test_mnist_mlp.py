"""The GAN paper's MNIST model (minigan/models/paper_mlp.py) and its demo (demos/mnist_mlp.py)."""
import json
import math
import os

import numpy
import pytest

import minigan as mg
from minigan.data import load_mnist
from minigan import checkpoint, nn
from minigan.models import paper_mlp
from mnist_or_skip import load_mnist_or_skip
from load_script import load_script


def load_demo():
    return load_script("demos/mnist_mlp.py", "mnist_mlp_demo")


def linear_count(n_in, n_out):
    return n_in * n_out + n_out


# -- the model ------------------------------------------------------------------------------------
def test_generator_shapes_range_and_parameter_count():
    G = paper_mlp.generator(mg.Generator(0))
    z = paper_mlp.noise_prior()(mg.Generator(1), 7)
    assert z.shape == (7, 100)
    assert float(z.numpy().min()) >= -math.sqrt(3) and float(z.numpy().max()) <= math.sqrt(3)
    x = G(z).numpy()
    assert x.shape == (7, 784) and x.dtype == numpy.float32
    assert x.min() > 0 and x.max() < 1  # a sigmoid output
    expected = linear_count(100, 1200) + linear_count(1200, 1200) + linear_count(1200, 784)
    assert paper_mlp.parameter_count(G) == expected
    kinds = [type(m).__name__ for m in G]
    assert kinds == ["Linear", "ReLU", "Linear", "ReLU", "Linear", "Sigmoid"]


def test_discriminator_shapes_maxout_layout_and_parameter_count():
    D = paper_mlp.discriminator(mg.Generator(0))
    out = D(mg.tensor(numpy.random.default_rng(0).random((5, 784), dtype=numpy.float32)))
    assert out.shape == (5, 1)
    maxouts = [m for m in D if isinstance(m, nn.Maxout)]
    assert [(m.in_features, m.out_features, m.pieces) for m in maxouts] == [(784, 240, 5), (240, 240, 5)]
    expected = linear_count(784, 240 * 5) + linear_count(240, 240 * 5) + linear_count(240, 1)
    assert paper_mlp.parameter_count(D) == expected


def test_initialisation_follows_the_irange_convention():
    """Weights U(-irange, irange): inside the range, with the uniform's std irange/sqrt(3); biases 0."""
    G, D = paper_mlp.generator(mg.Generator(0)), paper_mlp.discriminator(mg.Generator(0))
    for net, irange in ((G, paper_mlp.G_IRANGE), (D, paper_mlp.D_IRANGE)):
        for name, p in net.named_parameters():
            a = p.numpy()
            if name.endswith("bias"):
                assert not a.any(), name
            else:
                assert numpy.abs(a).max() <= irange
                # std of n >= 240 uniform draws: relative SE about 1/sqrt(n) * 0.45 < 3%, allow 10%
                assert abs(a.std() / (irange / math.sqrt(3)) - 1) < 0.1, name


def test_output_bias_from_marginals_gives_the_mean_image():
    images = numpy.random.default_rng(0).random((50, 784)) ** 3
    images[:, :10] = 0.0  # a border pixel that is always off: clipped, not -inf
    b = paper_mlp.sigmoid_bias_from_marginals(images)
    assert numpy.isfinite(b).all()
    p = 1 / (1 + numpy.exp(-b.astype(numpy.float64)))
    numpy.testing.assert_allclose(p[10:], images.mean(axis=0)[10:], rtol=1e-5)
    numpy.testing.assert_allclose(p[:10], paper_mlp.MARGINAL_CLIP, rtol=1e-3)
    G = paper_mlp.generator(mg.Generator(0), output_bias=b)
    numpy.testing.assert_array_equal(G[4].bias.numpy(), b)
    with pytest.raises(ValueError, match="sigmoid_bias_from_marginals"):
        paper_mlp.sigmoid_bias_from_marginals(images * 255)
    with pytest.raises(ValueError, match="output_bias"):
        paper_mlp.generator(mg.Generator(0), output_bias=b[:10])


def test_dropout_keep_rates():
    """Keep 0.8 on the pixels, 0.5 on both hidden layers; survivors scaled by 1/keep; eval() is deterministic."""
    D = paper_mlp.discriminator(mg.Generator(0))
    drops = [m for m in D if isinstance(m, nn.Dropout)]
    assert [round(1 - m.p, 6) for m in drops] == [0.8, 0.5, 0.5]
    ones = mg.ones((200, 784))
    for layer, keep in zip(drops, (0.8, 0.5, 0.5)):
        y = layer(ones).numpy()
        kept = y != 0
        # 156,800 Bernoulli(keep) draws: SE of the rate < 0.0013; 0.01 is over 7 SE
        assert abs(kept.mean() - keep) < 0.01
        numpy.testing.assert_allclose(y[kept], 1 / keep, rtol=1e-6)
    x = mg.tensor(numpy.random.default_rng(1).random((4, 784), dtype=numpy.float32))
    assert not numpy.array_equal(D(x).numpy(), D(x).numpy())  # fresh masks in training mode
    D.eval()
    numpy.testing.assert_array_equal(D(x).numpy(), D(x).numpy())


def test_bad_keep_probability_is_refused():
    with pytest.raises(ValueError, match="keep_hidden"):
        paper_mlp.discriminator(mg.Generator(0), keep_hidden=0.0)


# -- the demo's pieces ----------------------------------------------------------------------------
def test_shuffled_minibatches_visit_every_image_once_per_epoch_and_resume():
    demo = load_demo()
    images = numpy.arange(10, dtype=numpy.float32)[:, None] * numpy.ones((1, 3), dtype=numpy.float32)
    s = demo.ShuffledMinibatches(images, seed=3)
    seen = numpy.concatenate([s(None, 4).numpy()[:, 0] for _ in range(5)])  # 20 draws = 2 epochs
    assert sorted(seen[:10]) == list(range(10)) and sorted(seen[10:]) == list(range(10))
    assert not numpy.array_equal(seen[:10], seen[10:])  # a new order each epoch
    resumed = demo.ShuffledMinibatches(images, seed=3)
    resumed.drawn = 8
    numpy.testing.assert_array_equal(numpy.concatenate([resumed(None, 4).numpy()[:, 0] for _ in range(3)]), seen[8:])


def mnist_or_skip():
    load_mnist_or_skip()


def test_paper_schedules_after_n_updates(tmp_path):
    """After n iterations (k = 1): lr = 0.1 / 1.000004^n for both players; momentum 0.5 + 0.2 * epochs / 250."""
    mnist_or_skip()
    demo = load_demo()
    args = demo.parse_args(["--out", str(tmp_path), "--train-size", "200"])  # 2 updates per epoch
    train_x = demo.to_unit(load_mnist()["train"].images[:200])
    gan, _ = demo.build(args, train_x)
    assert gan.opt_D.lr == pytest.approx(0.1) and gan.opt_D.momentum == pytest.approx(0.5)
    n = 5
    for _ in range(n):
        gan.train_step()
    for opt in (gan.opt_D, gan.opt_G):
        assert opt.lr == pytest.approx(0.1 / 1.000004**n, rel=1e-12)
        assert opt.momentum == pytest.approx(0.5 + 0.2 * (n // 2) / 250, rel=1e-12)


SMOKE = ["--train-size", "500", "--n-samples", "300", "--n-valid", "100", "--n-test", "200", "--checkpoint-every", "2",
         "--curve-samples", "200"]


def test_demo_smoke_run_writes_metrics_samples_figures_and_resumes_exactly(tmp_path, capsys):
    """4 iterations straight vs 2 + resume to 4: the same samples; metrics.json has the Table 1 keys."""
    mnist_or_skip()
    demo = load_demo()
    straight, split = str(tmp_path / "straight"), str(tmp_path / "split")
    metrics = demo.main(["--out", straight, "--steps", "4", *SMOKE])
    demo.main(["--out", split, "--steps", "2", "--no-figures", *SMOKE])
    demo.main(["--out", split, "--steps", "4", "--resume", "--no-figures", *SMOKE])
    with open(os.path.join(straight, "metrics.json")) as f:
        saved = json.load(f)
    for key in ("parzen_ll", "parzen_se", "sigma", "steps", "wall_seconds"):
        assert key in saved, key
    assert saved["steps"] == 4 and saved == json.loads(json.dumps(metrics))
    assert math.isfinite(saved["parzen_ll"]) and saved["parzen_se"] > 0
    assert saved["sigma"] in [pytest.approx(s) for s in numpy.logspace(-1, 0, 10)]
    samples = numpy.load(os.path.join(straight, "samples.npy"))
    assert samples.shape == (300, 784) and samples.dtype == numpy.float32
    assert samples.min() >= 0 and samples.max() <= 1
    for name in ("samples.png", "nearest.png", "interpolation.png", "curves.png", "parzen.png", "checkpoint.npz"):
        assert os.path.getsize(os.path.join(straight, name)) > 0, name
    numpy.testing.assert_array_equal(numpy.load(os.path.join(split, "samples.npy")), samples)
    with open(os.path.join(split, "metrics.json")) as f:
        resumed = json.load(f)
    assert resumed["parzen_ll"] == saved["parzen_ll"]
    assert [p["step"] for p in resumed["parzen_curve"]] == [2, 4]
    # the evaluation command re-scores the checkpoint to the same figure
    again = demo.main(["--out", straight, "--evaluate-only", "--no-figures", *SMOKE])
    assert again["parzen_ll"] == saved["parzen_ll"] and again["steps"] == 4


def test_maxout_fast_path_matches_the_reduction_and_splits_ties():
    """ops/layers.MaxOverPieces (the D's hot path) against reductions.max, with and without tied pieces."""
    from minigan import functional as F
    rng = numpy.random.default_rng(0)
    for x0 in (rng.standard_normal((4, 6, 3)), numpy.repeat(rng.standard_normal((4, 6, 1)), 3, axis=2)):
        x0[0, 0] = [1.0, 1.0, -2.0]  # one unit with two tied winners in both cases
        a, b = mg.tensor(x0.reshape(4, 18), requires_grad=True), mg.tensor(x0, requires_grad=True)
        w = rng.standard_normal((4, 6))
        (F.maxout(a, 3) * mg.tensor(w)).sum().backward()
        (F.max(b, axis=2) * mg.tensor(w)).sum().backward()
        numpy.testing.assert_allclose(a.grad.numpy().reshape(4, 6, 3), b.grad.numpy(), rtol=1e-12)
        numpy.testing.assert_allclose(a.grad.numpy()[0, :3], [w[0, 0] / 2, w[0, 0] / 2, 0.0], rtol=1e-12)


def test_demo_d_loss_scale_default_half_option_and_resume_keeps_its_factor(tmp_path):
    """A new run takes factor 1.0 (the sum); --d-loss-scale 0.5 gives pylearn2's AdversaryCost2,
    d_obj = 0.5 (BCE(D(x), 1) + BCE(D(G(z)), 0)); a resumed run keeps the factor it started with, and
    asking for another one is refused."""
    mnist_or_skip()
    demo = load_demo()
    from minigan.gan import losses
    plain = demo.main(["--out", str(tmp_path / "plain"), "--steps", "2", "--no-figures", *SMOKE])
    assert plain["d_loss_scale"] == 1.0
    out = str(tmp_path / "run")
    metrics = demo.main(["--out", out, "--steps", "2", "--d-loss-scale", "0.5", "--no-figures", *SMOKE])
    assert metrics["d_loss_scale"] == 0.5
    gan, _ = demo.build(demo.parse_args(["--out", out, "--d-loss-scale", "0.5", *SMOKE]),
                        numpy.zeros((200, 784), numpy.float32))
    real, fake = mg.tensor(numpy.array([0.3, -1.2])), mg.tensor(numpy.array([2.0, 0.1]))
    assert gan.d_loss(real, fake).item() == pytest.approx(0.5 * losses.d_loss(real, fake).item(), rel=1e-15)
    with pytest.raises(ValueError, match="--d-loss-scale 0.5"):
        demo.main(["--out", out, "--steps", "4", "--resume", "--d-loss-scale", "1", "--no-figures", *SMOKE])
    resumed = demo.main(["--out", out, "--steps", "4", "--resume", "--no-figures", *SMOKE])
    assert resumed["d_loss_scale"] == 0.5 and resumed["steps"] == 4


def test_demo_real_label_smooths_only_the_data_term_and_resume_keeps_it(tmp_path):
    """--real-label t is one-sided label smoothing: D's loss becomes BCE(D(x), t) + BCE(D(G(z)), 0),
    times --d-loss-scale; the fake term is untouched. A resumed run keeps t and refuses another."""
    mnist_or_skip()
    demo = load_demo()
    from minigan.gan import losses
    out = str(tmp_path / "run")
    metrics = demo.main(["--out", out, "--steps", "2", "--real-label", "0.9", "--no-figures", *SMOKE])
    assert metrics["real_label"] == 0.9
    args = demo.parse_args(["--out", out, "--real-label", "0.9", "--d-loss-scale", "0.5", *SMOKE])
    gan, _ = demo.build(args, numpy.zeros((200, 784), numpy.float32))
    real, fake = mg.tensor(numpy.array([0.3, -1.2])), mg.tensor(numpy.array([2.0, 0.1]))
    a_real, a_fake = real.numpy(), fake.numpy()  # BCE(a, t) = softplus(a) - t a, softplus(a) = logaddexp(0, a)
    expected = 0.5 * (numpy.mean(numpy.logaddexp(0.0, a_real) - 0.9 * a_real)
                      + numpy.mean(numpy.logaddexp(0.0, a_fake)))
    assert gan.d_loss(real, fake).item() == pytest.approx(expected, rel=1e-12)
    assert gan.d_loss(real, fake).item() != pytest.approx(0.5 * losses.d_loss(real, fake).item(), rel=1e-6)
    with pytest.raises(ValueError, match="--real-label 0.9"):
        demo.main(["--out", out, "--steps", "4", "--resume", "--real-label", "1", "--no-figures", *SMOKE])
    assert demo.main(["--out", out, "--steps", "4", "--resume", "--no-figures", *SMOKE])["real_label"] == 0.9
    with pytest.raises(SystemExit):
        demo.parse_args(["--out", out, "--real-label", "0.2"])  # below 1/2 the labels would swap meaning


def test_demo_instance_noise_changes_only_what_D_sees_and_resumes_exactly(tmp_path):
    """--instance-noise draws from a stream of its own: after the same iterations the run's Generator
    (z, minibatches, dropout masks) is where the run without noise leaves it, while D's parameters
    differ; 4 iterations straight equal 2 + resume to 4, and a resume keeps sigma_0 and its steps."""
    mnist_or_skip()
    demo = load_demo()
    train_x = demo.to_unit(load_mnist()["train"].images[:200])
    flags = ["--out", str(tmp_path), "--train-size", "200", "--instance-noise", "0.3", "--instance-noise-steps", "3"]
    noisy, _ = demo.build(demo.parse_args(flags), train_x)
    clean, _ = demo.build(demo.parse_args(flags[:4]), train_x)
    for gan in (noisy, clean):
        for _ in range(2):
            gan.train_step()
    assert noisy.generator.state_dict() == clean.generator.state_dict()
    D_noisy, D_clean = noisy.D.D.state_dict(), clean.D.state_dict()
    assert list(D_noisy) == list(D_clean)
    assert not all(numpy.array_equal(D_noisy[k], D_clean[k]) for k in D_clean)
    assert noisy.schedules[-1].sigma == pytest.approx(0.1)  # 0.3 (1 - 2/3)
    straight, split = str(tmp_path / "straight"), str(tmp_path / "split")
    noise_flags = ["--instance-noise", "0.3", "--instance-noise-steps", "3", "--no-figures", *SMOKE]
    demo.main(["--out", straight, "--steps", "4", *noise_flags])
    demo.main(["--out", split, "--steps", "2", *noise_flags])
    resumed = demo.main(["--out", split, "--steps", "4", "--resume", "--no-figures", *SMOKE])
    assert (resumed["instance_noise"], resumed["instance_noise_steps"]) == (0.3, 3)
    numpy.testing.assert_array_equal(numpy.load(os.path.join(split, "samples.npy")),
                                     numpy.load(os.path.join(straight, "samples.npy")))
    with pytest.raises(ValueError, match="--instance-noise 0.3"):
        demo.main(["--out", split, "--steps", "6", "--resume", "--instance-noise", "0.1", "--no-figures", *SMOKE])


def test_gaussian_noise_prior_has_unit_variance_and_bad_kind_is_refused():
    """The paper's code drew z ~ N(0, I) (goodfeli/adversarial's Generator default); the uniform
    prior on [-sqrt 3, sqrt 3] has the same mean and variance. 20,000 x 100 draws put the sample
    variance within 0.01 of 1 (its standard error is sqrt(2 / 2e6) ~ 0.001 for the Gaussian)."""
    for kind in paper_mlp.NOISE_KINDS:
        z = paper_mlp.noise_prior(kind=kind)(mg.Generator(3), 20000).numpy().astype(numpy.float64)
        assert z.shape == (20000, paper_mlp.Z_DIM)
        assert abs(z.mean()) < 0.01 and abs(z.var() - 1.0) < 0.01
    z = paper_mlp.noise_prior(kind="gaussian")(mg.Generator(3), 20000).numpy()
    assert numpy.abs(z).max() > paper_mlp.Z_BOUND  # not the bounded uniform
    with pytest.raises(ValueError, match="noise_prior.*'cauchy'"):
        paper_mlp.noise_prior(kind="cauchy")


def test_demo_resume_keeps_the_runs_update_rule_and_noise(tmp_path):
    """--simultaneous and --noise define the objective: saved in the checkpoint's identity, kept on resume,
    and a contradicting flag on resume is refused."""
    mnist_or_skip()
    demo = load_demo()
    out = str(tmp_path / "paper_code")
    first = demo.main(["--out", out, "--steps", "2", "--simultaneous", "--noise", "gaussian",
                       "--d-loss-scale", "0.5", "--no-figures", *SMOKE])
    assert (first["simultaneous"], first["noise"], first["d_loss_scale"]) == (True, "gaussian", 0.5)
    saved = checkpoint.load(os.path.join(out, "checkpoint.npz"))["identity"]
    assert (saved["simultaneous"], saved["noise"], saved["d_loss_scale"]) == (True, "gaussian", 0.5)
    with open(os.path.join(out, "progress.json")) as f:
        assert not {"simultaneous", "noise", "d_loss_scale"} & set(json.load(f))  # only what can be recomputed
    with pytest.raises(ValueError, match="--noise gaussian"):
        demo.main(["--out", out, "--steps", "4", "--resume", "--noise", "uniform", "--no-figures", *SMOKE])
    resumed = demo.main(["--out", out, "--steps", "4", "--resume", "--no-figures", *SMOKE])
    assert (resumed["simultaneous"], resumed["noise"], resumed["steps"]) == (True, "gaussian", 4)
    plain = demo.main(["--out", str(tmp_path / "plain"), "--steps", "1", "--no-figures", *SMOKE])
    assert (plain["simultaneous"], plain["noise"]) == (False, "uniform")


def test_demo_lr_decay_from_the_start_and_changed_on_resume_without_a_jump(tmp_path):
    """--lr-decay F divides lr by F after every update; given on resume it applies from the
    checkpoint's iteration on (both players), and progress.json/metrics.json list the segments."""
    mnist_or_skip()
    demo = load_demo()
    out = str(tmp_path / "run")
    first = demo.main(["--out", out, "--steps", "2", "--lr-decay", "1.001", "--no-figures", *SMOKE])
    assert first["final_lr"] == pytest.approx(0.1 / 1.001**2, rel=1e-12)
    assert first["lr_decay"] == [{"from_step": 0, "factor": 1.001}]
    second = demo.main(["--out", out, "--steps", "4", "--resume", "--lr-decay", "1.01", "--no-figures", *SMOKE])
    assert second["final_lr"] == pytest.approx(0.1 / 1.001**2 / 1.01**2, rel=1e-12)
    assert second["lr_decay"] == [{"from_step": 0, "factor": 1.001}, {"from_step": 2, "factor": 1.01}]
    third = demo.main(["--out", out, "--steps", "5", "--resume", "--no-figures", *SMOKE])  # keeps 1.01
    assert third["final_lr"] == pytest.approx(0.1 / 1.001**2 / 1.01**3, rel=1e-12)
    assert third["lr_decay"] == second["lr_decay"]
    with pytest.raises(SystemExit):
        demo.parse_args(["--out", out, "--lr-decay", "0.9"])


def test_demo_average_of_G_scored_beside_G_added_on_resume_and_kept(tmp_path):
    """--average-G BETA keeps theta_bar beside G and scores it with the same protocol and z; given with
    --resume it starts at the checkpoint, and later resumes keep it without the flag."""
    mnist_or_skip()
    demo = load_demo()
    out = str(tmp_path / "run")
    plain = demo.main(["--out", out, "--steps", "2", "--no-average", "--no-figures", *SMOKE])
    assert plain["average_G"] == [] and plain["reported_G"] == "last iterate"
    second = demo.main(["--out", out, "--steps", "4", "--resume", "--average-G", "0.5", "--no-figures", *SMOKE])
    (row,) = second["average_G"]
    assert row["beta"] == 0.5 and row["from_step"] == 2 and row["updates"] == 2
    assert math.isfinite(row["parzen_ll"]) and row["parzen_ll"] != second["parzen_ll"]
    averaged = numpy.load(os.path.join(out, row["samples"]))
    assert averaged.shape == (300, 784)
    assert not numpy.array_equal(averaged, numpy.load(os.path.join(out, "samples.npy")))
    assert [p["step"] for p in second["average_curves"]["0.5"]] == [4]
    third = demo.main(["--out", out, "--steps", "6", "--resume", "--no-figures", *SMOKE])  # kept without the flag
    assert [(a["beta"], a["from_step"], a["updates"]) for a in third["average_G"]] == [(0.5, 2, 4)]
    # the same training with or without the average: G's own figure is unchanged by it
    straight = demo.main(["--out", str(tmp_path / "plain"), "--steps", "6", "--no-average", "--no-figures", *SMOKE])
    assert straight["parzen_ll"] == third["parzen_ll"]
    again = demo.main(["--out", out, "--evaluate-only", "--no-figures", *SMOKE])
    assert again["average_G"][0]["parzen_ll"] == third["average_G"][0]["parzen_ll"]
    with pytest.raises(ValueError, match="cannot be evaluated without training"):
        demo.main(["--out", out, "--evaluate-only", "--average-G", "0.9", "--no-figures", *SMOKE])
    with pytest.raises(SystemExit):
        demo.parse_args(["--out", out, "--average-G", "1.0"])


def test_demo_report_average_makes_the_average_the_runs_figure_and_keeps_the_last_iterate(tmp_path):
    mnist_or_skip()
    demo = load_demo()
    out = str(tmp_path / "run")
    with pytest.raises(ValueError, match="names no average of G"):
        demo.main(["--out", out, "--steps", "2", "--report-average", "0.5", "--no-figures", *SMOKE])
    result = demo.main(["--out", out, "--steps", "3", "--average-G", "0.5", "--report-average", "0.5", *SMOKE])
    (row,) = result["average_G"]
    assert result["reported_G"] == "average of G, beta 0.5"
    assert (result["parzen_ll"], result["sigma"]) == (row["parzen_ll"], row["sigma"])
    numpy.testing.assert_array_equal(numpy.load(os.path.join(out, "samples.npy")),
                                     numpy.load(os.path.join(out, row["samples"])))
    plain = demo.main(["--out", str(tmp_path / "plain"), "--steps", "3", "--no-average", "--no-figures", *SMOKE])
    assert plain["reported_G"] == "last iterate"
    assert result["last_iterate"]["parzen_ll"] == plain["parzen_ll"]  # the same training, G's own figure
    numpy.testing.assert_array_equal(numpy.load(os.path.join(out, "samples_last_iterate.npy")),
                                     numpy.load(os.path.join(str(tmp_path / "plain"), "samples.npy")))
    for name in ("samples.png", "nearest.png", "interpolation.png", "parzen.png", "samples_average_0.5.png"):
        assert os.path.getsize(os.path.join(out, name)) > 0, name
    again = demo.main(["--out", out, "--evaluate-only", "--no-figures", *SMOKE])  # the run remembers its choice
    assert (again["reported_G"], again["parzen_ll"]) == (result["reported_G"], result["parzen_ll"])


def test_demo_anneal_switches_the_decay_at_its_step_as_a_resume_with_lr_decay_would(tmp_path):
    """--anneal 2:1.01 in one command == 2 iterations, then --resume --lr-decay 1.01: the same schedule and samples."""
    mnist_or_skip()
    demo = load_demo()
    one, two = str(tmp_path / "one"), str(tmp_path / "two")
    single = demo.main(["--out", one, "--steps", "5", "--anneal", "2:1.01", "--checkpoint-every", "3", "--no-figures",
                        *SMOKE[:-4], "--curve-samples", "200"])
    demo.main(["--out", two, "--steps", "2", "--no-figures", *SMOKE])
    split = demo.main(["--out", two, "--steps", "5", "--resume", "--lr-decay", "1.01", "--no-figures", *SMOKE])
    assert single["lr_decay"] == split["lr_decay"] == [{"from_step": 0, "factor": 1.000004},
                                                        {"from_step": 2, "factor": 1.01}]
    assert single["final_lr"] == pytest.approx(0.1 / 1.000004**2 / 1.01**3, rel=1e-12)
    assert [p["step"] for p in single["parzen_curve"]] == [2, 3, 5]  # a chunk ends at the switch
    numpy.testing.assert_array_equal(numpy.load(os.path.join(one, "samples.npy")),
                                     numpy.load(os.path.join(two, "samples.npy")))
    again = demo.main(["--out", one, "--steps", "6", "--resume", "--anneal", "2:1.01", "--no-figures", *SMOKE])
    assert again["lr_decay"] == single["lr_decay"]  # already switched: nothing new
    with pytest.raises(ValueError, match="give one"):
        demo.main(["--out", one, "--steps", "7", "--resume", "--anneal", "2:1.01", "--lr-decay", "1.02",
                   "--no-figures", *SMOKE])
    for bad in ("75000", "x:1.1", "10:0.9"):
        with pytest.raises(SystemExit):
            demo.parse_args(["--out", one, "--anneal", bad])


def test_demo_report_best_chooses_on_validation_images_not_test(tmp_path):
    mnist_or_skip()
    demo = load_demo()
    out = str(tmp_path / "run")
    result = demo.main(["--out", out, "--steps", "3", "--average-G", "0.5", "--average-G", "0.9",
                        "--report-average", "best", "--no-figures", *SMOKE])
    candidates = result["report_choice"]["candidates"]
    rows = {"last iterate": result.get("last_iterate", result), **{str(r["beta"]): r for r in result["average_G"]}}
    for name, row in rows.items():
        assert candidates[name] == max(ll for _s, ll in row["sigma_table"])  # the validation mean at its sigma
    winner = max(candidates, key=candidates.get)
    expected = "last iterate" if winner == "last iterate" else f"average of G, beta {winner}"
    assert result["reported_G"] == expected
    assert result["parzen_ll"] == rows[winner]["parzen_ll"]
    with pytest.raises(SystemExit):
        demo.parse_args(["--out", out, "--report-average", "worst"])


def test_demo_uniform_average_added_on_resume_is_the_mean_of_the_iterates_since_then(tmp_path):
    """--average-G uniform on a resume at iteration 2: after 3 more updates its parameters are the mean of
    G's parameters at 2, 3, 4, 5 (read from checkpoints), and it can be reported like a beta."""
    mnist_or_skip()
    demo = load_demo()
    out = str(tmp_path / "run")
    demo.main(["--out", out, "--steps", "2", "--no-average", "--no-figures", *SMOKE])
    iterates = []
    for step in (3, 4, 5):
        args = ["--average-G", "uniform"] if step == 3 else []
        result = demo.main(["--out", out, "--steps", str(step), "--resume", "--report-average", "uniform", *args,
                            "--no-figures", *SMOKE])
        with numpy.load(os.path.join(out, "checkpoint.npz"), allow_pickle=False) as npz:
            iterates.append({k: npz[k] for k in npz.files})
    (row,) = result["average_G"]
    assert (row["beta"], row["from_step"], row["updates"]) == ("uniform", 2, 3)
    assert result["reported_G"] == "uniform average of G" and result["parzen_ll"] == row["parzen_ll"]
    assert os.path.exists(os.path.join(out, "samples_average_uniform.npy"))
    saved = iterates[-1]
    G_keys = [k for k in saved if k.startswith("G/")]  # in G.parameters() order, as the average's list
    avg_keys = sorted((k for k in saved if k.startswith("average_0/average/")), key=lambda k: int(k.split("/")[-1]))
    assert len(avg_keys) == len(G_keys) > 0
    start = iterates[0]  # the average at 3 is (theta_2 + theta_3) / 2; recover theta_2 from it
    for g, a in zip(G_keys, avg_keys):
        theta_2 = 2 * start[a].astype(numpy.float64) - start[g]
        mean = (theta_2 + sum(it[g].astype(numpy.float64) for it in iterates)) / 4
        numpy.testing.assert_allclose(saved[a], mean, rtol=1e-5, atol=1e-6)  # float32 parameters
    with pytest.raises(SystemExit):
        demo.parse_args(["--out", out, "--average-G", "mean"])


def test_demo_new_run_in_a_used_folder_starts_its_progress_afresh(tmp_path):
    """A new run (--overwrite) in a folder an earlier run left: the earlier run's averages, schedule and
    curve are not merged into the new one, and the new run resumes as itself."""
    mnist_or_skip()
    demo = load_demo()
    out = str(tmp_path / "run")
    demo.main(["--out", out, "--steps", "2", "--average-G", "0.5", "--lr-decay", "1.01", "--no-figures", *SMOKE])
    fresh = demo.main(["--out", out, "--steps", "2", "--average-G", "0.9", "--overwrite", "--no-figures", *SMOKE])
    assert [(a["beta"], a["from_step"]) for a in fresh["average_G"]] == [(0.9, 0)]
    assert fresh["lr_decay"] == [{"from_step": 0, "factor": 1.000004}]
    assert [p["step"] for p in fresh["parzen_curve"]] == [2]
    resumed = demo.main(["--out", out, "--steps", "4", "--resume", "--no-figures", *SMOKE])
    assert [(a["beta"], a["updates"]) for a in resumed["average_G"]] == [(0.9, 4)]


def test_demo_new_run_keeps_the_table1_average_and_reports_by_validation_unless_no_average(tmp_path):
    """Without flags a new run keeps NEW_RUN_AVERAGES and reports 'best' (chosen on validation images);
    --no-average is the paper's bare run; its resume keeps none; --no-average on a resume is refused."""
    mnist_or_skip()
    demo = load_demo()
    out, bare = str(tmp_path / "run"), str(tmp_path / "bare")
    result = demo.main(["--out", out, "--steps", "2", "--no-figures", *SMOKE])
    assert [a["beta"] for a in result["average_G"]] == list(demo.NEW_RUN_AVERAGES) == [0.9999]
    assert set(result["report_choice"]["candidates"]) == {"last iterate", "0.9999"}
    resumed = demo.main(["--out", out, "--steps", "3", "--resume", "--no-figures", *SMOKE])
    assert [(a["beta"], a["updates"]) for a in resumed["average_G"]] == [(0.9999, 3)] and "report_choice" in resumed
    plain = demo.main(["--out", bare, "--steps", "2", "--no-average", "--no-figures", *SMOKE])
    assert plain["average_G"] == [] and plain["reported_G"] == "last iterate" and "report_choice" not in plain
    assert plain["parzen_ll"] == result.get("last_iterate", result)["parzen_ll"]  # the average never touches training
    again = demo.main(["--out", bare, "--steps", "3", "--resume", "--no-figures", *SMOKE])
    assert again["average_G"] == []
    with pytest.raises(ValueError, match="--no-average starts a new run"):
        demo.main(["--out", bare, "--steps", "4", "--resume", "--no-average", "--no-figures", *SMOKE])
    assert demo.parse_args(["--out", out]).steps == 30000


def test_game_lost_to_D_flags_only_a_perfect_discriminator():
    demo = load_demo()
    assert demo.game_lost_to_D({"d_real": 1.0, "d_fake": 0.0})  # seed 1 at 5,000 iterations
    assert demo.game_lost_to_D({"d_real": 0.995, "d_fake": 0.004})
    for healthy in ({"d_real": 0.61, "d_fake": 0.41}, {"d_real": 0.93, "d_fake": 0.08},
                    {"d_real": 1.0, "d_fake": 0.02}):
        assert not demo.game_lost_to_D(healthy)
