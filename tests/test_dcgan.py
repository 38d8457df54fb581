"""DCGAN models (minigan/models/dcgan.py) and demos/mnist_dcgan.py.

Shapes and parameter counts come from the architecture's formulas; the float64 forward pass
and every gradient are compared with the same networks built in PyTorch with copied weights
(tolerance 1e-9 relative: float64 round-off through a few thousand-term sums is ~1e-13, so
anything above 1e-9 is a real difference); the conditional variant's label handling and its
errors; one Algorithm 1 step of each variant; and short runs of the demo (real MNIST).
"""
import json
import os
import sys

import numpy
import pytest

import minigan as mg
from minigan import backend, nn, optim
from minigan.gan import GAN
from minigan.models.dcgan import build_dcgan, dcgan_init_, one_hot
from mnist_or_skip import load_mnist_or_skip

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def n_params(module):
    return sum(int(p.size) for p in module.parameters())


def linear_count(n_in, n_out):
    return n_in * n_out + n_out


def conv_count(c_in, c_out, k):
    return c_in * c_out * k * k + c_out


# -- architecture ---------------------------------------------------------------------------------
@pytest.mark.parametrize("n_classes", [0, 10])
def test_parameter_counts_follow_the_architecture(n_classes):
    G, D = build_dcgan(mg.Generator(0), n_classes=n_classes)
    hidden = 128 * 7 * 7
    expect_G = (linear_count(100 + n_classes, hidden) + 2 * hidden      # Linear, BN1d (gamma, beta)
                + conv_count(128, 64, 4) + 2 * 64                        # ConvT, BN2d
                + conv_count(64, 1, 4))                                  # ConvT to one channel
    expect_D = (conv_count(1 + n_classes, 64, 4) + conv_count(64, 128, 4) + 2 * 128 + linear_count(hidden, 1))
    assert n_params(G) == expect_G
    assert n_params(D) == expect_D
    if n_classes == 0:  # the figures quoted in the module docstring
        assert (expect_G, expect_D) == (778305, 138817)


def test_output_shapes_and_ranges():
    gen = mg.Generator(1)
    G, D = build_dcgan(gen)
    x = G(gen.normal((5, 100)))
    assert x.shape == (5, 1, 28, 28)
    assert float(numpy.abs(x.numpy()).max()) < 1.0  # tanh
    assert D(x).shape == (5, 1)


def test_dcgan_init_draws_normal_0_002_and_zero_biases():
    G, D = build_dcgan(mg.Generator(2))
    w = G.fc.weight.numpy()
    assert abs(w.std() - 0.02) < 0.001 and abs(w.mean()) < 0.001  # 627,200 draws: std of the std ~2e-5
    for m in (G.fc, G.up1, G.up2, D.conv1, D.conv2, D.fc):
        assert numpy.all(m.bias.numpy() == 0)
    gamma = G.bn0.weight.numpy()
    assert abs(gamma.mean() - 1.0) < 0.002 and abs(gamma.std() - 0.02) < 0.002
    assert numpy.all(G.bn0.bias.numpy() == 0)
    # the same seed gives the same network; init is applied to a fresh layer in place
    G2, _ = build_dcgan(mg.Generator(2))
    numpy.testing.assert_array_equal(G2.up1.weight.numpy(), G.up1.weight.numpy())
    lin = nn.Linear(3, 4, generator=mg.Generator(0))
    assert dcgan_init_(lin, mg.Generator(0)) is lin and numpy.all(lin.bias.numpy() == 0)


def test_initial_weights_are_the_same_numbers_on_every_backend(stand_in):
    """Initialisation draws from the Generator's host stream whatever the backend (minigan/random.py), so
    a seed gives a CuPy run the NumPy run's starting weights; only what is drawn per iteration (z,
    minibatch indices, labels) comes from the device stream and differs."""
    with mg.backend_scope("numpy"):
        on_host = build_dcgan(mg.Generator(7), n_classes=10)
    on_device = build_dcgan(mg.Generator(7), n_classes=10)
    for host_net, device_net in zip(on_host, on_device):
        for (name, a), (_, b) in zip(host_net.named_parameters(), device_net.named_parameters()):
            assert a.backend == "numpy" and b.backend == "cupy"
            numpy.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_one_hot():
    code = one_hot(numpy.array([2, 0, 1]), 3).numpy()
    numpy.testing.assert_array_equal(code, numpy.eye(3)[[2, 0, 1]])


# -- conditional variant ----------------------------------------------------------------------------
def test_conditional_shapes_and_the_label_reaching_both_players():
    gen = mg.Generator(3)
    G, D = build_dcgan(gen, n_classes=10)
    z, y = gen.normal((6, 100)), numpy.array([0, 1, 2, 3, 4, 9])
    x, y_out = G(z, y)
    assert x.shape == (6, 1, 28, 28) and y_out is y
    assert D(x, y).shape == (6, 1)
    assert D((x, y)).shape == (6, 1)  # the pair G returns goes straight into D
    G.eval()
    D.eval()
    with mg.no_grad():
        same_z = mg.tensor(numpy.repeat(z.numpy()[:1], 2, axis=0))
        a = G(same_z, numpy.array([3, 7]))[0].numpy()
        assert not numpy.allclose(a[0], a[1])  # one z, two labels: two different images
        img = mg.tensor(numpy.repeat(x.numpy()[:1], 2, axis=0))
        s = D(img, numpy.array([3, 7])).numpy()
        assert s[0, 0] != s[1, 0]  # one image, two claimed labels: two different scores
    # labels may also come as an int64 Tensor
    assert G(z, mg.tensor(y))[0].shape == (6, 1, 28, 28)


@pytest.mark.parametrize("labels, error, words", [
    (None, ValueError, "pass the labels y"),
    (numpy.array([0, 1, 2, 10]), ValueError, "[0, 10)"),
    (numpy.array([0, -1, 2, 3]), ValueError, "[0, 10)"),
    (numpy.array([0.0, 1.0, 2.0, 3.0]), TypeError, "integers"),
    (numpy.array([0, 1, 2]), ValueError, "shape (4,)"),
    (numpy.array([[0, 1, 2, 3]]), ValueError, "shape (4,)"),
])
def test_conditional_label_errors(labels, error, words):
    gen = mg.Generator(4)
    G, D = build_dcgan(gen, n_classes=10)
    with pytest.raises(error, match="DCGANGenerator") as e:
        G(gen.normal((4, 100)), labels)
    assert words in str(e.value)
    with pytest.raises(error, match="DCGANDiscriminator") as e:
        D(gen.normal((4, 1, 28, 28)), labels)
    assert words in str(e.value)


def test_unconditional_refuses_labels_and_bad_shapes():
    gen = mg.Generator(5)
    G, D = build_dcgan(gen)
    with pytest.raises(ValueError, match="unconditional"):
        G(gen.normal((2, 100)), numpy.array([0, 1]))
    with pytest.raises(ValueError, match="unconditional"):
        D(gen.normal((2, 1, 28, 28)), numpy.array([0, 1]))
    with pytest.raises(ValueError, match=r"DCGANGenerator: expected z of shape \(m, 100\), got \(2, 64\)"):
        G(gen.normal((2, 64)))
    with pytest.raises(ValueError, match=r"DCGANDiscriminator: expected images of shape \(m, 1, 28, 28\)"):
        D(gen.normal((2, 1, 32, 32)))


@pytest.mark.parametrize("n_classes", [0, 10])
def test_one_algorithm_1_step_trains_both_players(n_classes):
    """GAN runs either variant unchanged: sample_z and sample_data return (z, y) and (x, y) pairs."""
    gen = mg.Generator(6)
    G, D = build_dcgan(gen, n_classes=n_classes)
    data = numpy.tanh(gen.np.standard_normal((32, 1, 28, 28))).astype(numpy.float32)

    def p_data(g, m):
        idx = g.np.integers(0, 32, m)
        x = mg.tensor(data[idx])
        return (x, idx % 10) if n_classes else x

    def p_z(g, m):
        z = g.normal((m, 100))
        return (z, g.np.integers(0, 10, m)) if n_classes else z

    opt_G = optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    before_G, before_D = G.up2.weight.numpy().copy(), D.conv1.weight.numpy().copy()
    metrics = GAN(G, D, opt_D, opt_G, p_z, p_data, generator=gen, m=8).train_step()
    assert all(numpy.isfinite(v) for v in metrics.values())
    assert 0 < metrics["d_real"] < 1 and 0 < metrics["d_fake"] < 1
    assert not numpy.array_equal(G.up2.weight.numpy(), before_G)
    assert not numpy.array_equal(D.conv1.weight.numpy(), before_D)


# -- PyTorch cross-check in float64 ------------------------------------------------------------------
def _torch_models(torch, n_classes):
    tnn = torch.nn

    class TG(tnn.Module):
        def __init__(self):
            super().__init__()
            self.fc = tnn.Linear(100 + n_classes, 128 * 49)
            self.bn0 = tnn.BatchNorm1d(128 * 49)
            self.up1 = tnn.ConvTranspose2d(128, 64, 4, 2, 1)
            self.bn1 = tnn.BatchNorm2d(64)
            self.up2 = tnn.ConvTranspose2d(64, 1, 4, 2, 1)

        def forward(self, z, y=None):
            if n_classes:
                z = torch.cat([z, tnn.functional.one_hot(y, n_classes).to(z.dtype)], 1)
            h = torch.relu(self.bn0(self.fc(z))).view(-1, 128, 7, 7)
            return torch.tanh(self.up2(torch.relu(self.bn1(self.up1(h)))))

    class TD(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(1 + n_classes, 64, 4, 2, 1)
            self.conv2 = tnn.Conv2d(64, 128, 4, 2, 1)
            self.bn2 = tnn.BatchNorm2d(128)
            self.fc = tnn.Linear(128 * 49, 1)

        def forward(self, x, y=None):
            if n_classes:
                maps = tnn.functional.one_hot(y, n_classes).to(x.dtype)[:, :, None, None].expand(-1, -1, 28, 28)
                x = torch.cat([x, maps], 1)
            h = tnn.functional.leaky_relu(self.conv1(x), 0.2)
            h = tnn.functional.leaky_relu(self.bn2(self.conv2(h)), 0.2)
            return self.fc(h.flatten(1))

    return TG().double(), TD().double()


def _copy_into_torch(torch, ours, theirs):
    state = {k: torch.from_numpy(backend.as_numpy(v)) for k, v in ours.state_dict().items()}
    missing, unexpected = theirs.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing)


def _compare(module, tmodule, torch, inputs, tinputs, y):
    """Forward in train mode (batch statistics), backward of <out, c>, compare everything."""
    out = module(*inputs, *([y] if y is not None else []))
    out = out[0] if isinstance(out, tuple) else out
    tout = tmodule(*tinputs, *([torch.from_numpy(y)] if y is not None else []))
    numpy.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-9, atol=1e-12)
    c = numpy.random.default_rng(0).standard_normal(out.shape)
    (out * mg.tensor(c)).sum().backward()
    (tout * torch.from_numpy(c)).sum().backward()
    numpy.testing.assert_allclose(inputs[0].grad.numpy(), tinputs[0].grad.numpy(), rtol=1e-9, atol=1e-12)
    tparams = dict(tmodule.named_parameters())
    for name, p in module.named_parameters():
        numpy.testing.assert_allclose(p.grad.numpy(), tparams[name].grad.numpy(), rtol=1e-9, atol=1e-12,
                                      err_msg=name)
    tbuffers = dict(tmodule.named_buffers())
    for name, b in module.named_buffers():  # the running statistics moved the same way
        numpy.testing.assert_allclose(b.numpy(), tbuffers[name].numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("n_classes", [0, 10])
def test_generator_and_discriminator_match_torch_float64(n_classes):
    torch = pytest.importorskip("torch")
    gen = mg.Generator(7)
    G, D = build_dcgan(gen, n_classes=n_classes, dtype=numpy.float64)
    TG, TD = _torch_models(torch, n_classes)
    _copy_into_torch(torch, G, TG)
    _copy_into_torch(torch, D, TD)
    y = numpy.array([1, 4, 9, 0]) if n_classes else None
    z_np = gen.np.standard_normal((4, 100))
    z, tz = mg.tensor(z_np, requires_grad=True), torch.tensor(z_np, requires_grad=True)
    _compare(G, TG, torch, [z], [tz], y)
    x_np = numpy.tanh(gen.np.standard_normal((4, 1, 28, 28)))
    x, tx = mg.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    _compare(D, TD, torch, [x], [tx], y)
    # eval mode: the running statistics both moved identically above, so eval outputs agree too
    G.eval()
    TG.eval()
    with mg.no_grad(), torch.no_grad():
        a = G(mg.tensor(z_np), y)
        a = a[0] if n_classes else a
        b = TG(torch.from_numpy(z_np), *([torch.from_numpy(y)] if n_classes else []))
        numpy.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-12)


# -- the demo -------------------------------------------------------------------------------------
def _mnist_or_skip():
    return load_mnist_or_skip()


@pytest.fixture
def demo():
    sys.path.insert(0, os.path.join(ROOT, "demos"))
    try:
        import mnist_dcgan
        yield mnist_dcgan
    finally:
        sys.path.remove(os.path.join(ROOT, "demos"))


@pytest.fixture
def untrained_classifier(tmp_path):
    from minigan.models.classifier import MNISTClassifier, save_classifier
    path = str(tmp_path / "clf.npz")
    save_classifier(path, MNISTClassifier(generator=mg.Generator(0)), test_acc=0.1)
    return path


SMOKE = ["--subset", "256", "--m", "16", "--n-eval", "50", "--sample-every", "1", "--no-progress"]
FIGURES = ("samples.png", "nearest.png", "interpolation.png", "curves.png", "checkpoint.npz", "metrics.json")


def test_demo_smoke_run_then_resume_with_scores(tmp_path, demo, untrained_classifier):
    """One iteration without a classifier (no scores), then --resume to two with one (scores)."""
    _mnist_or_skip()
    out = tmp_path / "run"
    first = demo.main(["--out", str(out), "--steps", "1", "--classifier", str(tmp_path / "absent.npz")] + SMOKE)
    assert first["steps"] == 1 and first["scores"] is None
    for name in FIGURES + ("samples_step00001.png",):
        assert (out / name).stat().st_size > 0, name
    resumed = demo.main(["--out", str(out), "--steps", "2", "--resume", "--classifier", untrained_classifier] + SMOKE)
    assert resumed["steps"] == 2 and resumed["trained_this_run"] == 1
    metrics = json.loads((out / "metrics.json").read_text())
    scores = metrics["scores"]
    assert scores["n"] == 50 and metrics["m"] == 16
    assert 1.0 <= scores["samples"]["inception_score"] <= 10.0
    assert scores["samples"]["frechet_distance"] >= 0 and scores["real"]["frechet_distance_train_vs_test"] >= 0
    assert "label_accuracy" not in scores["samples"]


def test_conditional_demo_smoke_run(tmp_path, demo, untrained_classifier):
    _mnist_or_skip()
    m = demo.main(["--out", str(tmp_path), "--steps", "1", "--conditional", "--classifier", untrained_classifier]
                  + SMOKE)
    assert m["conditional"] and m["steps"] == 1
    for name in FIGURES:
        assert (tmp_path / name).stat().st_size > 0, name
    assert 0.0 <= m["scores"]["samples"]["label_accuracy"] <= 1.0


def test_nearest_rows_is_the_brute_force_argmin():
    from minigan.gan.metrics import nearest_rows

    rng = numpy.random.default_rng(8)
    train, samples = rng.standard_normal((57, 1, 4, 4)), rng.standard_normal((5, 1, 4, 4))
    brute = ((samples.reshape(5, 1, -1) - train.reshape(1, 57, -1)) ** 2).sum(-1).argmin(1)
    numpy.testing.assert_array_equal(nearest_rows(samples, train, chunk=10), brute)
