"""Tests of the GAN variants and tricks (minigan/gan/penalty.py, noise.py, minibatch.py, ebgan.py,
conditional.py, minigan/experiments/variants.py and minigan/nn/virtual_batchnorm.py): each against its formula, by
closed form or a NumPy loop, gradients by minigan.gradcheck in float64 (atol 1e-6 / rtol 1e-4:
central differences with eps = 1e-6 are accurate to ~1e-10 there), and a few Algorithm-1
iterations of every registered variant on the 8-Gaussian ring.
"""
from __future__ import annotations

import math

import numpy
import pytest

import minigan as mg
from minigan import functional as F
from minigan import nn, optim
from minigan.data import toy
from minigan.experiments import variants
from minigan.gan import conditional, ebgan, minibatch, noise, penalty
from placement import on_default

RNG_SEED = 1234


def t64(a, requires_grad=False):
    """A float64 tensor on the default backend, where the layers under test put their parameters."""
    return mg.tensor(numpy.asarray(a, dtype=numpy.float64), requires_grad=requires_grad)


# -- WGAN-GP gradient penalty -------------------------------------------------------------------------
def half_square_norm(x):
    """D(x_i) = 1/2 ||x_i||^2, so grad D(x_i) = x_i: each row's gradient norm is known."""
    return 0.5 * F.sum(x * x, axis=1)


def test_penalty_norm_is_per_example():
    x = t64([[0.3, 0.4], [1.0, 0.0], [0.0, -2.0], [3.0, 0.0]])   # row norms 0.5, 1, 2, 3
    got = penalty.gradient_penalty_at(half_square_norm, x).item()
    norms = numpy.linalg.norm(x.numpy(), axis=1)
    assert got == pytest.approx(numpy.mean((norms - 1.0) ** 2), abs=1e-10)   # (0.25 + 0 + 1 + 4) / 4
    whole_batch = (numpy.linalg.norm(x.numpy()) - 1.0) ** 2                   # the wrong reading: 7.7
    assert abs(got - whole_batch) > 1.0


def test_penalty_per_example_on_images_flattens_all_but_the_batch_axis():
    rng = numpy.random.default_rng(RNG_SEED)
    x = t64(rng.standard_normal((3, 2, 2, 2)))
    got = penalty.gradient_penalty_at(lambda t: 0.5 * F.sum(F.reshape(t * t, 3, -1), axis=1), x).item()
    norms = numpy.sqrt((x.numpy() ** 2).reshape(3, -1).sum(1))
    assert got == pytest.approx(numpy.mean((norms - 1.0) ** 2), abs=1e-10)


def test_penalty_of_unit_gradient_critic_is_zero_and_lambda_scales():
    w = t64([[0.6], [0.8]])                                   # ||w|| = 1: D(x) = x w is 1-Lipschitz

    def D(x):
        return x @ w

    gen = mg.Generator(0)
    real, fake = t64(numpy.ones((5, 2))), t64(numpy.zeros((5, 2)))
    assert penalty.gradient_penalty(D, real, fake, gen).item() == pytest.approx(0.0, abs=1e-10)
    w2 = t64([[1.2], [1.6]])                                  # ||w|| = 2 everywhere: penalty = lam * 1
    assert penalty.gradient_penalty(lambda x: x @ w2, real, fake, gen, lam=10.0).item() == pytest.approx(10.0)


def test_interpolates_lie_on_the_segments_with_one_eps_per_example():
    gen = mg.Generator(3)
    real, fake = t64(numpy.tile([[2.0, 4.0]], (50, 1))), t64(numpy.zeros((50, 2)))
    xhat = penalty.interpolate(real, fake, gen).numpy()
    eps = xhat[:, 0] / 2.0
    numpy.testing.assert_allclose(xhat[:, 1], 4.0 * eps)       # the same eps for both coordinates of a row
    assert eps.min() >= 0.0 and eps.max() <= 1.0 and eps.std() > 0.1


def test_penalty_gradcheck_through_create_graph():
    rng = numpy.random.default_rng(RNG_SEED)
    W1, W2 = t64(rng.standard_normal((2, 5)), True), t64(rng.standard_normal((5, 1)), True)
    xhat = t64(rng.standard_normal((6, 2)))

    def fn(W1, W2):  # LeakyReLU after tanh: a kink in D' would break the check only on the kink itself
        return penalty.gradient_penalty_at(lambda t: F.leaky_relu(F.tanh(t @ W1), 0.2) @ W2, xhat)

    assert mg.gradcheck(fn, [W1, W2])


def test_gradient_penalty_critic_checks_the_order_of_calls():
    gen = mg.Generator(0)
    critic = penalty.GradientPenaltyCritic(variants.mlp_D(gen, 2, 8), gen)
    x, fake = toy.ring()(gen, 4), toy.ring()(gen, 4)
    real_out, fake_out = critic(x), critic(fake)
    loss = critic.d_loss(real_out, fake_out)
    assert numpy.isfinite(loss.item())
    with pytest.raises(RuntimeError, match="GradientPenaltyCritic.d_loss"):
        critic.d_loss(fake_out, real_out)


# -- the registry ---------------------------------------------------------------------------------------
def test_registry_refuses_unknown_and_duplicate_names():
    with pytest.raises(KeyError, match="unknown variant 'no_such'"):
        variants.build("no_such", toy.ring(), mg.Generator(0), steps=5)
    with pytest.raises(ValueError, match="already registered"):
        variants.register("vanilla", lambda *a, **k: None)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        variants.build("vanilla", toy.ring(), mg.Generator(0), steps=0)


@pytest.mark.parametrize("name", variants.names())
def test_every_variant_runs_five_iterations_on_the_ring(name, xp_backend):
    gen = mg.Generator(7)
    setup = variants.build(name, toy.ring(), gen, steps=5, m=32, hidden=16)
    assert setup.name == name
    gan = setup.make_gan(gen)
    assert all(p.backend == xp_backend for p in setup.G.parameters())
    before = [p.numpy().copy() for p in setup.G.parameters()]  # numpy() is the array itself on NumPy
    for _ in range(5):
        metrics = gan.train_step()
        assert all(math.isfinite(v) for v in metrics.values()), (name, metrics)
    moved = [not numpy.array_equal(b, p.numpy()) for b, p in zip(before, setup.G.parameters())]
    assert any(moved), f"{name}: G never moved"
    samples = setup.generate(gen, 50)
    assert samples.shape == (50, 2) and numpy.isfinite(samples).all()


@pytest.mark.parametrize("name", variants.names())
def test_g_layers_sets_the_depth_of_every_variants_G(name):
    """g_layers = 3: G has four Linear layers (three hidden, one output), and still trains."""
    gen = mg.Generator(2)
    setup = variants.build(name, toy.ring(), gen, steps=2, m=16, hidden=8, g_layers=3)
    weights = [p for p in setup.G.parameters() if p.data.ndim == 2]
    assert len(weights) == 4, (name, [w.shape for w in weights])
    setup.make_gan(gen).train(2, progress=False)
    assert numpy.isfinite(setup.generate(gen, 10)).all()


def test_instance_noise_sigma_fraction_sets_sigma_0():
    grid = toy.grid()  # mode spacing 2
    for fraction in (0.25, 0.5):
        setup = variants.build("instance_noise", grid, mg.Generator(0), steps=8, m=16, hidden=8,
                               sigma_fraction=fraction)
        assert setup.D.schedule.sigma == pytest.approx(2.0 * fraction)
    with pytest.raises(ValueError, match="instance_noise: sigma_fraction"):
        variants.build("instance_noise", grid, mg.Generator(0), steps=8, sigma_fraction=0.0)


def test_g_layers_must_be_a_positive_integer():
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="g_layers"):
            variants.build("vanilla", toy.ring(), mg.Generator(0), steps=2, g_layers=bad)
    with pytest.raises(ValueError, match="vbn: g_layers"):
        variants.build("vbn", toy.ring(), mg.Generator(0), steps=2, g_layers=0)


# -- instance noise -------------------------------------------------------------------------------------
def test_noise_schedule_decays_linearly_to_zero_and_stays():
    s = noise.NoiseSchedule(0.5, decay_steps=4)
    seen = [s.sigma] + [s.step() for _ in range(6)]
    assert seen == pytest.approx([0.5, 0.375, 0.25, 0.125, 0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="NoiseSchedule: decay_steps"):
        noise.NoiseSchedule(0.5, decay_steps=0)
    restored = noise.NoiseSchedule(0.5, decay_steps=4)
    restored.load_state_dict(noise.NoiseSchedule(0.5, 4).state_dict() | {"t": 2})
    assert restored.sigma == pytest.approx(0.25)


def test_instance_noise_has_the_scheduled_std_and_none_at_zero():
    gen = mg.Generator(RNG_SEED)
    s = noise.NoiseSchedule(0.3, decay_steps=2)
    D = noise.InstanceNoise(lambda x: x, s, gen)               # the identity "D" returns what it sees
    x = t64(numpy.zeros((20000, 2)))
    for sigma in (0.3, 0.15):
        e = D(x).numpy()
        # the sample std of 40,000 normals is within ~0.5% of sigma (std error sigma / sqrt(2 n))
        assert e.std() == pytest.approx(sigma, rel=0.02) and abs(e.mean()) < 0.01
        s.step()
    assert numpy.array_equal(D(x).numpy(), x.numpy())          # sigma = 0: D sees clean inputs
    s.t = 0
    D.eval()
    assert numpy.array_equal(D(x).numpy(), x.numpy())          # eval mode: no noise either


def test_instance_noise_from_a_seed_draws_iteration_t_from_its_own_stream():
    """generator=s: the calls of iteration t draw, in order, from Generator([s, t]); the next iteration
    starts Generator([s, t + 1]); a run's Generator is never touched."""
    s = noise.NoiseSchedule(0.5, decay_steps=100)
    D = noise.InstanceNoise(lambda x: x, s, 7)
    x = t64(numpy.zeros((3, 4)))
    first, second = D(x).numpy(), D(x).numpy()
    ref = mg.Generator([7, 0])
    numpy.testing.assert_array_equal(first, ref.normal((3, 4), std=0.5, dtype=numpy.float64).numpy())
    numpy.testing.assert_array_equal(second, ref.normal((3, 4), std=0.5, dtype=numpy.float64).numpy())
    s.step()
    numpy.testing.assert_array_equal(D(x).numpy(), mg.Generator([7, 1]).normal((3, 4), std=0.495,
                                                                               dtype=numpy.float64).numpy())
    s.t = 0  # back at iteration 0 (a resume): the same noise as the first time
    numpy.testing.assert_array_equal(D(x).numpy(), first)
    for bad in (-1, 1.5, True, None):
        with pytest.raises(TypeError, match="InstanceNoise: generator must be"):
            noise.InstanceNoise(lambda x: x, s, bad)


def test_instance_noise_schedule_steps_once_per_iteration_in_algorithm_1(tmp_path):
    gen = mg.Generator(0)
    setup = variants.build("instance_noise", toy.ring(), gen, steps=8, m=16, hidden=8)
    gan = setup.make_gan(gen)
    sched = setup.D.schedule
    assert sched.decay_steps == 4 and sched.sigma0 == pytest.approx(0.25 * 2 * math.sin(math.pi / 8))
    for _ in range(4):
        gan.train_step()
    assert sched.t == 4 and sched.sigma == 0.0
    gan.save_checkpoint(tmp_path / "ckpt.npz")                 # the schedule travels in the checkpoint
    again = variants.build("instance_noise", toy.ring(), mg.Generator(0), steps=8, m=16, hidden=8)
    again.make_gan(mg.Generator(0)).load_checkpoint(tmp_path / "ckpt.npz")
    assert again.D.schedule.t == 4


# -- minibatch discrimination and PacGAN ---------------------------------------------------------------
def minibatch_features_loop(f, T, B, C):
    """Salimans et al. (2016), section 3.2, one example pair and one kernel at a time."""
    n = f.shape[0]
    M = (f @ T).reshape(n, B, C)
    o = numpy.zeros((n, B))
    for i in range(n):
        for b in range(B):
            for j in range(n):
                o[i, b] += math.exp(-numpy.abs(M[i, b] - M[j, b]).sum())
    return numpy.concatenate([f, o], axis=1)


def test_minibatch_discrimination_matches_a_loop():
    rng = numpy.random.default_rng(RNG_SEED)
    layer = minibatch.MinibatchDiscrimination(3, 4, 2, dtype=numpy.float64, generator=mg.Generator(0))
    f = rng.standard_normal((5, 3))
    got = layer(t64(f)).numpy()
    assert got.shape == (5, 3 + 4)
    numpy.testing.assert_allclose(got, minibatch_features_loop(f, layer.T.numpy(), 4, 2), rtol=1e-12)


def test_minibatch_discrimination_sees_collapse():
    layer = minibatch.MinibatchDiscrimination(3, 4, 2, dtype=numpy.float64, generator=mg.Generator(0))
    same = layer(t64(numpy.ones((6, 3)))).numpy()[:, 3:]
    numpy.testing.assert_allclose(same, 6.0)                  # every c_b = exp(0) = 1, six of them
    spread = layer(t64(100.0 * numpy.random.default_rng(0).standard_normal((6, 3)))).numpy()[:, 3:]
    assert spread.max() < 1.5                                 # only the j = i term is left (~1)


def test_minibatch_discrimination_gradcheck():
    rng = numpy.random.default_rng(RNG_SEED)
    layer = minibatch.MinibatchDiscrimination(3, 2, 2, dtype=numpy.float64, generator=mg.Generator(0))
    f = t64(rng.standard_normal((4, 3)), True)
    assert mg.gradcheck(lambda f: layer(f), [f])              # d/df, through the pairwise L1 distances

    def with_T(f, T):  # the layer's own forward with T swapped for an input Tensor, for d/dT
        saved = layer._parameters["T"]
        layer._parameters["T"] = T
        try:
            return layer(f)
        finally:
            layer._parameters["T"] = saved

    assert mg.gradcheck(with_T, [f, t64(layer.T.numpy(), True)])


def test_minibatch_discrimination_refuses_wrong_shapes():
    layer = minibatch.MinibatchDiscrimination(3, 2, 2, generator=mg.Generator(0))
    with pytest.raises(ValueError, match=r"MinibatchDiscrimination\(3, ...\): expected features of shape \(n, 3\)"):
        layer(mg.zeros((4, 5)))


def test_pack_groups_consecutive_examples():
    x = t64(numpy.arange(16.0).reshape(8, 2))
    p = minibatch.pack(x, 4).numpy()
    assert p.shape == (2, 8)
    numpy.testing.assert_array_equal(p[1], numpy.arange(8.0, 16.0))   # examples 4..7, one after another
    assert minibatch.pack(t64(numpy.zeros((6, 1, 2, 2))), 3).shape == (2, 12)
    with pytest.raises(ValueError, match="m = 6 .* not a multiple of pack = 4"):
        minibatch.pack(t64(numpy.zeros((6, 2))), 4)


@pytest.mark.parametrize("k", [2, 4])
def test_packed_D_sees_m_over_pack_examples_of_pack_times_dim(k):
    seen = []

    def D(x):
        seen.append(x.shape)
        return F.sum(x, axis=1)

    out = minibatch.Packed(D, k)(t64(numpy.ones((8, 2))))
    assert seen == [(8 // k, 2 * k)] and out.shape == (8 // k,)
    setup = variants.build(f"pacgan{k}", toy.ring(), mg.Generator(0), steps=5, m=16, hidden=8)
    assert setup.D.D[0].in_features == 2 * k
    assert setup.D(toy.ring()(mg.Generator(1), 16)).shape == (16 // k, 1)


# -- virtual batch normalisation -------------------------------------------------------------------------
def vbn_reference_numpy(h, h_ref, gamma, beta, eps):
    axes = (0,) + tuple(range(2, h.ndim))
    shape = (1, -1) + (1,) * (h.ndim - 2)
    mu, var = h_ref.mean(axis=axes, keepdims=True), h_ref.var(axis=axes, keepdims=True)
    return (h - mu) / numpy.sqrt(var + eps) * gamma.reshape(shape) + beta.reshape(shape)


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2, 2)])
def test_vbn_normalises_with_the_reference_statistics(shape):
    rng = numpy.random.default_rng(RNG_SEED)
    layer = nn.VirtualBatchNorm(3, eps=1e-5, dtype=numpy.float64)
    layer.weight.data[:] = on_default(rng.uniform(0.5, 2.0, 3))
    layer.bias.data[:] = on_default(rng.standard_normal(3))
    h_ref = 3.0 + 2.0 * rng.standard_normal((7,) + shape[1:])
    h = rng.standard_normal(shape)
    layer.reference(t64(h_ref))
    expected = vbn_reference_numpy(h, h_ref, layer.weight.numpy(), layer.bias.numpy(), 1e-5)
    numpy.testing.assert_allclose(layer(t64(h)).numpy(), expected, rtol=1e-12, atol=1e-12)


def test_vbn_output_for_an_example_ignores_the_rest_of_its_batch():
    rng = numpy.random.default_rng(RNG_SEED)
    gen = mg.Generator(0)

    def net(norm):
        return nn.Sequential(nn.Linear(3, 4, generator=mg.Generator(0), dtype=numpy.float64), norm, nn.ReLU(),
                             nn.Linear(4, 2, generator=mg.Generator(1), dtype=numpy.float64))

    G = nn.ReferenceBatch(net(nn.VirtualBatchNorm(4, dtype=numpy.float64)), gen.normal((16, 3), dtype=numpy.float64))
    x = t64(rng.standard_normal((6, 3)))
    whole = G(x).numpy()
    for i in range(6):
        numpy.testing.assert_allclose(G(x[i:i + 1]).numpy()[0], whole[i], rtol=1e-12, atol=1e-14)
    shuffled = G(t64(numpy.concatenate([x.numpy()[:1], rng.standard_normal((9, 3))]))).numpy()
    numpy.testing.assert_allclose(shuffled[0], whole[0], rtol=1e-12, atol=1e-14)
    bn = net(nn.BatchNorm1d(4, dtype=numpy.float64))           # ordinary batch norm does depend on the batch
    assert not numpy.allclose(bn(x[0:2]).numpy()[0], bn(x).numpy()[0])
    G2 = nn.ReferenceBatch(G.net, gen.normal((16, 3), dtype=numpy.float64))
    assert not numpy.allclose(G2(x).numpy(), whole)            # another reference batch, other statistics


def test_vbn_gradcheck_through_input_reference_and_affine():
    rng = numpy.random.default_rng(RNG_SEED)
    layer = nn.VirtualBatchNorm(3, dtype=numpy.float64)

    def fn(h, h_ref, gamma, beta):
        saved = dict(layer._parameters)
        layer._parameters["weight"], layer._parameters["bias"] = gamma, beta
        try:
            layer.reference(h_ref)
            return layer(h)
        finally:
            layer._parameters.update(saved)

    args = [t64(rng.standard_normal((4, 3)), True), t64(rng.standard_normal((6, 3)), True),
            t64(rng.uniform(0.5, 2.0, 3), True), t64(rng.standard_normal(3), True)]
    assert mg.gradcheck(fn, args)


def test_vbn_refuses_an_input_before_a_reference_batch():
    with pytest.raises(RuntimeError, match=r"VirtualBatchNorm\(3\): no reference batch"):
        nn.VirtualBatchNorm(3)(mg.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"VirtualBatchNorm\(3\): expected input \(N, 3\)"):
        nn.VirtualBatchNorm(3).reference(mg.zeros((2, 4)))


# -- EBGAN --------------------------------------------------------------------------------------------------
def pulling_away_loop(S):
    n = len(S)
    total = 0.0
    for i in range(n):
        for j in range(n):
            if i != j:
                total += (S[i] @ S[j] / (numpy.linalg.norm(S[i]) * numpy.linalg.norm(S[j]))) ** 2
    return total / (n * (n - 1))


def test_pulling_away_term_against_its_formula():
    S = numpy.random.default_rng(RNG_SEED).standard_normal((6, 4))
    assert ebgan.pulling_away(t64(S)).item() == pytest.approx(pulling_away_loop(S), rel=1e-10)


def test_pulling_away_is_zero_for_orthogonal_rows_and_one_for_parallel_rows():
    Q = numpy.linalg.qr(numpy.random.default_rng(0).standard_normal((5, 5)))[0] * [[1.0], [2.0], [0.5], [3.0], [1.5]]
    assert ebgan.pulling_away(t64(Q)).item() == pytest.approx(0.0, abs=1e-12)
    parallel = numpy.outer([1.0, -2.0, 3.0, 0.5], [0.3, 0.4, 1.2])
    assert ebgan.pulling_away(t64(parallel)).item() == pytest.approx(1.0, rel=1e-10)


def test_pulling_away_gradcheck():
    S = t64(numpy.random.default_rng(RNG_SEED).standard_normal((5, 3)), True)
    assert mg.gradcheck(ebgan.pulling_away, [S])


def test_autoencoder_energy_is_the_per_example_reconstruction_mse():
    gen = mg.Generator(0)
    enc = nn.Linear(2, 3, generator=gen, dtype=numpy.float64)
    dec = nn.Linear(3, 2, generator=gen, dtype=numpy.float64)
    D = ebgan.AutoencoderD(enc, dec)
    x = numpy.random.default_rng(1).standard_normal((4, 2))
    rec = (x @ enc.weight.numpy().T + enc.bias.numpy()) @ dec.weight.numpy().T + dec.bias.numpy()
    numpy.testing.assert_allclose(D(t64(x)).numpy(), ((rec - x) ** 2).mean(axis=1), rtol=1e-12)
    assert D.last_code.shape == (4, 3)


def test_ebgan_losses_margin_and_pt():
    gen = mg.Generator(0)
    D = ebgan.AutoencoderD(nn.Linear(2, 3, generator=gen, dtype=numpy.float64),
                           nn.Linear(3, 2, generator=gen, dtype=numpy.float64))
    g_loss, d_loss = ebgan.ebgan_losses(D, margin=2.0, pt_weight=0.5)
    fake = t64(numpy.random.default_rng(2).standard_normal((5, 2)))
    e = D(fake)
    expected = e.numpy().mean() + 0.5 * pulling_away_loop(D.last_code.numpy())
    assert g_loss(e).item() == pytest.approx(expected, rel=1e-10)
    real_e, fake_e = t64([0.1, 0.3]), t64([1.0, 3.0])
    assert d_loss(real_e, fake_e).item() == pytest.approx(0.2 + (1.0 + 0.0) / 2)   # [2 - 1]^+ and [2 - 3]^+ = 0
    D(fake)
    with pytest.raises(RuntimeError, match="ebgan_g_loss_pt: fake_energy must be the output of D's latest call"):
        g_loss(e)


# -- conditional GAN -------------------------------------------------------------------------------------
def test_one_hot_codes_and_label_validation():
    code = conditional.one_hot(numpy.array([2, 0, 1, 2]), 3).numpy()
    numpy.testing.assert_array_equal(code, numpy.eye(3)[[2, 0, 1, 2]])
    assert conditional.one_hot(mg.Tensor(numpy.array([1, 1])), 2, dtype=numpy.float64).dtype == numpy.float64
    with pytest.raises(ValueError, match=r"one_hot: labels y must lie in \[0, 3\), got values from 0 to 3"):
        conditional.one_hot(numpy.array([0, 3]), 3)
    with pytest.raises(ValueError, match=r"one_hot: labels y must lie in \[0, 3\), got values from -1"):
        conditional.one_hot(numpy.array([-1, 2]), 3)
    with pytest.raises(TypeError, match="one_hot: labels y must be integers, got dtype float64"):
        conditional.one_hot(numpy.array([0.0, 1.0]), 3)
    with pytest.raises(ValueError, match=r"one_hot: labels y must have shape \(m,\), got \(2, 1\)"):
        conditional.one_hot(numpy.array([[0], [1]]), 3)
    with pytest.raises(ValueError, match="one_hot: n_classes must be a positive integer"):
        conditional.one_hot(numpy.array([0]), 0)


def test_conditional_players_see_the_label_concatenated():
    seen = []

    def net(h):
        seen.append(h.numpy())
        return F.sum(h, axis=1)

    D = conditional.ConditionalD(net, 3)
    x = t64([[0.5, -1.0], [2.0, 3.0]])
    D((x, numpy.array([2, 0])))
    numpy.testing.assert_array_equal(seen[-1], [[0.5, -1.0, 0, 0, 1], [2.0, 3.0, 1, 0, 0]])
    G = conditional.ConditionalG(lambda h: h[:, :2] * 2.0, 3)
    out, y = G(x, numpy.array([1, 1]))
    numpy.testing.assert_array_equal(out.numpy(), 2.0 * x.numpy())
    assert list(y) == [1, 1]
    with pytest.raises(ValueError, match=r"ConditionalD: labels y must have shape \(2,\) to match the batch"):
        D(x, numpy.array([0, 1, 2]))
    with pytest.raises(ValueError, match="ConditionalG: this network is conditional"):
        G(x)


def test_labelled_mixture_draws_each_x_near_its_labels_center():
    p = conditional.labelled_mixture(toy.ring())
    x, y = p(mg.Generator(0), 500)
    y = y.numpy()  # labels come as a Tensor (ClassLabels), on the default backend
    assert p.n_classes == 8 and set(numpy.unique(y)) == set(range(8))
    assert numpy.abs(x.numpy() - p.centers[y]).max() < 6 * p.std      # 6 std: no draw of 1,000 gets that far
    z, yz = conditional.LabelledNoise(toy.NormalNoise(2), 8)(mg.Generator(0), 100)
    yz = yz.numpy()
    assert z.shape == (100, 2) and yz.shape == (100,) and yz.min() >= 0 and yz.max() < 8


def test_registry_settings_follow_the_papers():
    ring = toy.ring()
    w = variants.build("wgan", ring, mg.Generator(0), steps=5, m=16, hidden=8)
    assert isinstance(w.opt_D, optim.RMSprop) and w.opt_D.lr == 5e-5 and w.opt_G.lr == 5e-5
    gan = w.make_gan(mg.Generator(0))
    assert gan.k == 5 and gan.clip_D == 0.01
    gan.train_step()
    assert max(float(numpy.abs(p.data).max()) for p in w.D.parameters()) <= 0.01   # clipped after every update
    gp = variants.build("wgan_gp", ring, mg.Generator(0), steps=5, m=16, hidden=8)
    gan = gp.make_gan(mg.Generator(0))
    assert gan.k == 5 and gan.clip_D is None and gp.D.lam == 10.0
    assert gp.opt_D.lr == 1e-4 and tuple(gp.opt_D.betas) == (0.5, 0.9)
    assert variants.build("label_smoothing", ring, mg.Generator(0), steps=5).make_gan(mg.Generator(0)).real_label == 0.9
    assert variants.build("ml", ring, mg.Generator(0), steps=5).make_gan(mg.Generator(0)).g_loss_name == \
        "maximum_likelihood"
    assert variants.build("lsgan", ring, mg.Generator(0), steps=5).make_gan(mg.Generator(0)).g_loss_name == "lsgan"
