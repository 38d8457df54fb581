"""Algorithm 1 (minigan/gan/algorithm.py): its structure, determinism, exact resume, the simultaneous variant."""
import numpy
import pytest

import minigan as mg
from minigan import nn, optim
from minigan.data import toy
from minigan.gan import losses
from minigan.gan.algorithm import GAN

# every test runs on each backend (numpy; the CuPy stand-in; cupy on a GPU): see tests/conftest.py
pytestmark = pytest.mark.usefixtures("xp_backend")


def make(seed=0, k=1, m=16, g_loss="non_saturating", simultaneous=False, dropout=False, **kw):
    gen = mg.Generator(seed)
    G = nn.Sequential(nn.Linear(2, 16, generator=gen), nn.ReLU(), nn.Linear(16, 2, generator=gen))
    layers = [nn.Linear(2, 16, generator=gen), nn.LeakyReLU(0.2)]
    if dropout:
        layers.append(nn.Dropout(0.3, generator=gen))  # masks from the run's Generator too
    D = nn.Sequential(*layers, nn.Linear(16, 1, generator=gen))
    opt_D = optim.SGD(D.parameters(), lr=0.05, momentum=0.5)
    opt_G = optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.999))
    schedules = list(optim.paper_mnist_schedules(opt_D, updates_per_epoch=4, lr=0.05))
    return GAN(G, D, opt_D, opt_G, toy.NormalNoise(2), toy.ring(), generator=gen, k=k, m=m, g_loss=g_loss,
               simultaneous=simultaneous, schedules=schedules, **kw)


def params(gan):
    return [p.numpy().copy() for p in list(gan.G.parameters()) + list(gan.D.parameters())]


class Recorder:
    """Wraps an optimizer's step and a sampler to log the order of events."""

    def __init__(self, gan):
        self.events = []
        for name, opt in (("D", gan.opt_D), ("G", gan.opt_G)):
            step = opt.step
            opt.step = (lambda s=step, n=name: (self.events.append(n), s())[1])
        z, x = gan.sample_z, gan.sample_data
        gan.sample_z = lambda g, m: (self.events.append(f"z{m}"), z(g, m))[1]
        gan.sample_data = lambda g, m: (self.events.append(f"x{m}"), x(g, m))[1]


@pytest.mark.parametrize("k", [1, 3])
def test_k_discriminator_steps_each_on_fresh_minibatches_then_one_generator_step(k):
    gan = make(k=k, m=8)
    rec = Recorder(gan)
    seen = []
    gan.train(2, on_step=lambda step, metrics: seen.append((step, sorted(metrics))), progress=False)
    one_iteration = ["z8", "x8", "D"] * k + ["z8", "G"]
    assert rec.events == one_iteration * 2
    assert seen == [(1, ["d_fake", "d_loss", "d_real", "g_loss"]), (2, ["d_fake", "d_loss", "d_real", "g_loss"])]
    assert gan.step == 2 and len(gan.history["d_loss"]) == 2


def test_simultaneous_variant_one_pair_of_minibatches_and_gradients_at_the_same_point():
    gan = make(simultaneous=True, m=8)
    rec = Recorder(gan)
    # The expected update: both gradients from one forward pass at the current parameters.
    probe = mg.Generator(0)
    probe.load_state_dict(gan.generator.state_dict())  # the same numbers the run will draw
    z, x = toy.NormalNoise(2)(probe, 8), toy.ring()(probe, 8)
    real, fake = gan.D(x), gan.D(gan.G(z))
    gD = mg.grad(losses.d_loss(real, fake), list(gan.D.parameters()), retain_graph=True)
    gG = mg.grad(losses.non_saturating_g_loss(fake), list(gan.G.parameters()))
    before_G = [p.numpy().copy() for p in gan.G.parameters()]
    lr_G = gan.opt_G.lr
    gan.train(1, progress=False)
    assert rec.events == ["z8", "x8", "D", "G"]
    # Adam's first step is lr * g / (|g| + eps): its sign follows the gradient computed above.
    for p0, p1, g in zip(before_G, gan.G.parameters(), gG):
        expected = p0 - lr_G * g.numpy() / (numpy.abs(g.numpy()) + 1e-8)
        numpy.testing.assert_allclose(p1.numpy(), expected, rtol=1e-5, atol=1e-7)
    assert all(p.grad is not None for p in gan.D.parameters()) and len(gD) == 4
    with pytest.raises(ValueError, match="simultaneous variant"):
        make(simultaneous=True, k=2)


def test_same_seed_same_run_other_seed_other_run():
    a, b, c = make(seed=3, dropout=True), make(seed=3, dropout=True), make(seed=4, dropout=True)
    for gan in (a, b, c):
        gan.train(15, progress=False)
    for p, q in zip(params(a), params(b)):
        numpy.testing.assert_array_equal(p, q)
    assert a.history == b.history
    assert not all(numpy.array_equal(p, q) for p, q in zip(params(a), params(c)))


@pytest.mark.parametrize("simultaneous", [False, True])
def test_resumed_run_is_identical_to_the_uninterrupted_one(tmp_path, simultaneous):
    k = 1 if simultaneous else 2
    straight = make(seed=0, k=k, simultaneous=simultaneous, dropout=True)
    straight.train(20, progress=False)

    path = tmp_path / "ckpt.npz"
    first = make(seed=0, k=k, simultaneous=simultaneous, dropout=True)

    class Interrupt(Exception):
        pass

    def crash(step, metrics):
        if step == 13:
            raise Interrupt  # dies after the checkpoint at step 12, before the one at 16
    with pytest.raises(Interrupt):
        first.train(20, checkpoint_path=path, checkpoint_every=4, on_step=crash, progress=False)
    assert first.step == 13

    second = make(seed=999, k=k, simultaneous=simultaneous, dropout=True)  # a new process: other weights
    assert second.load_checkpoint(path) == 12
    second.train(20, progress=False)
    for p, q in zip(params(straight), params(second)):
        numpy.testing.assert_array_equal(p, q)
    assert second.history == straight.history
    assert second.opt_D.lr == straight.opt_D.lr and second.opt_D.momentum == straight.opt_D.momentum
    assert second.generator.state_dict() == straight.generator.state_dict()


def test_checkpoint_from_other_settings_is_refused(tmp_path):
    gan = make(k=1)
    gan.train(2, progress=False)
    gan.save_checkpoint(tmp_path / "c.npz")
    other = make(k=2)
    before = params(other)
    with pytest.raises(ValueError, match=r"other settings.*'k': \(1, 2\)"):
        other.load_checkpoint(tmp_path / "c.npz")
    for p, q in zip(before, params(other)):
        numpy.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("name", ["saturating", "minimax", "non_saturating", "maximum_likelihood", "lsgan", "wgan",
                                  "ebgan"])
def test_every_loss_by_name_trains_and_changes_both_players(name):
    gan = make(g_loss=name, clip_D=0.5 if name == "wgan" else None)
    before = params(gan)
    metrics = gan.train(3, progress=False)
    assert set(metrics) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(numpy.isfinite(v) for v in metrics.values())
    changed = [not numpy.array_equal(p, q) for p, q in zip(before, params(gan))]
    if name in ("wgan", "ebgan"):
        # D's output bias b has gradient 0 here: WGAN's E D(x) - E D(G(z)) does not depend on b at all;
        # EBGAN's E D(x) + E max(m - D(G(z)), 0) has d/db = 1 - P(D(G(z)) < m) = 0 while every fake is
        # inside the margin, as at the start (D's outputs are near 0, m = 1).
        assert not changed[-1]
        changed = changed[:-1]
    assert all(changed), f"{name}: some parameters did not move: {changed}"
    assert gan.g_loss is losses.generator_loss(name)
    if name == "wgan":
        assert max(float(numpy.abs(p.numpy()).max()) for p in gan.D.parameters()) <= 0.5


def test_g_step_leaves_D_untouched_and_its_flags_restored():
    gan = make()
    D_before = [p.numpy().copy() for p in gan.D.parameters()]
    gan.g_step()
    for p, q in zip(D_before, gan.D.parameters()):
        numpy.testing.assert_array_equal(p, q.numpy())
        assert q.requires_grad and q.grad is None  # no gradient was even computed for D


def test_hooks_sampling_and_mode_restored():
    gan = make()
    calls = []

    def on_sample(step, G):
        G.eval()
        calls.append(step)

    gan.train(6, on_sample=on_sample, sample_every=3, progress=False)
    assert calls == [3, 6] and gan.G.training


def test_label_smoothing_and_bad_settings():
    gan = make(real_label=0.9)
    real = mg.tensor(numpy.array([[2.0], [-1.0]], dtype=numpy.float32))
    fake = mg.tensor(numpy.array([[0.5], [0.0]], dtype=numpy.float32))
    assert gan.d_loss(real, fake).item() == pytest.approx(losses.d_loss(real, fake, real_label=0.9).item())
    with pytest.raises(ValueError, match="real_label applies to the cross-entropy"):
        make(g_loss="wgan", real_label=0.9)
    with pytest.raises(KeyError, match="unknown GAN loss 'hinge'"):
        make(g_loss="hinge")
    with pytest.raises(ValueError, match="k .* must be a positive integer"):
        make(k=0)
    with pytest.raises(ValueError, match="on_sample needs sample_every"):
        make().train(1, on_sample=lambda s, G: None, progress=False)
    with pytest.raises(TypeError, match="minigan.Generator"):
        GAN(None, None, None, None, None, None, generator=numpy.random.default_rng(0))
