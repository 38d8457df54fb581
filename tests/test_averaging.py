"""The moving average of the parameters (minigan/optim/averaging.py) and GAN(averages=...), on every backend."""
import numpy
import pytest

import minigan as mg
from minigan import checkpoint, nn, optim
from minigan.backend import as_numpy as host
from minigan.data import toy
from minigan.gan.algorithm import GAN

pytestmark = pytest.mark.usefixtures("xp_backend")


def make(seed=0, beta=0.9, average=True):
    gen = mg.Generator(seed)
    G = nn.Sequential(nn.Linear(2, 16, generator=gen), nn.ReLU(), nn.Linear(16, 2, generator=gen))
    D = nn.Sequential(nn.Linear(2, 16, generator=gen), nn.LeakyReLU(0.2), nn.Linear(16, 1, generator=gen))
    opt_D = optim.SGD(D.parameters(), lr=0.05, momentum=0.5)
    opt_G = optim.SGD(G.parameters(), lr=0.05, momentum=0.5)
    averages = [optim.ExponentialMovingAverage(opt_G, beta)] if average else []
    return GAN(G, D, opt_D, opt_G, toy.NormalNoise(2), toy.ring(), generator=gen, m=16, averages=averages)


def test_average_is_the_closed_form_weighted_mean_of_the_iterates():
    # theta_bar_n = beta^n theta_0 + (1 - beta) sum_j beta^(n - j) theta_j, with theta_0 the start.
    p = mg.tensor(numpy.array([1.0, -2.0, 0.5]), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    beta, rng = 0.8, numpy.random.default_rng(0)
    avg = optim.ExponentialMovingAverage(opt, beta)
    thetas = [p.numpy().copy()]
    for _ in range(7):
        p.data = (p + mg.tensor(rng.normal(size=3))).data  # any sequence of iterates
        thetas.append(p.numpy().copy())
        avg.step()
    n = len(thetas) - 1
    expected = beta ** n * thetas[0] + (1 - beta) * sum(beta ** (n - j) * thetas[j] for j in range(1, n + 1))
    numpy.testing.assert_allclose(host(avg.average[0]), expected, rtol=1e-12, atol=1e-12)  # float64
    assert avg.updates == 7


def test_swapped_in_evaluates_the_average_and_restores_the_parameters_even_on_error():
    gan = make()
    gan.train(5, progress=False)
    avg = gan.averages[0]
    before = [p.data for p in gan.G.parameters()]
    z = mg.tensor(numpy.ones((3, 2), dtype=numpy.float32))
    live = gan.G(z).numpy()
    with avg.swapped_in():
        inside = gan.G(z).numpy()
        assert all(numpy.array_equal(p.data, a) for p, a in zip(gan.G.parameters(), avg.average))
    assert all(p.data is b for p, b in zip(gan.G.parameters(), before))
    assert not numpy.allclose(inside, live)  # five SGD steps apart: the average is not the last iterate
    with pytest.raises(RuntimeError):
        with avg.swapped_in():
            raise RuntimeError("boom")
    assert all(p.data is b for p, b in zip(gan.G.parameters(), before))


def test_an_update_inside_swapped_in_does_not_write_into_the_average():
    p = mg.tensor(numpy.array([1.0, 2.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.5)
    avg = optim.ExponentialMovingAverage(opt, 0.9)
    with avg.swapped_in():
        p.grad = mg.tensor(numpy.array([1.0, 1.0]))
        opt.step()  # in place, into whatever p holds now
        numpy.testing.assert_array_equal(p.numpy(), [0.5, 1.5])
    numpy.testing.assert_array_equal(host(avg.average[0]), [1.0, 2.0])
    numpy.testing.assert_array_equal(p.numpy(), [1.0, 2.0])


def test_gan_steps_the_average_after_each_G_update_and_training_does_not_read_it():
    with_avg, without = make(), make(average=False)
    with_avg.train(6, progress=False)
    without.train(6, progress=False)
    assert with_avg.averages[0].updates == 6
    for a, b in zip(with_avg.G.parameters(), without.G.parameters()):
        numpy.testing.assert_array_equal(a.numpy(), b.numpy())


def test_checkpoint_resumes_the_average_exactly(tmp_path):
    path = tmp_path / "run.npz"
    straight = make()
    straight.train(8, progress=False)
    first = make()
    first.train(4, checkpoint_path=path, progress=False)
    resumed = make()
    assert resumed.load_checkpoint(path) == 4
    resumed.train(8, progress=False)
    for a, b in zip(straight.averages[0].average, resumed.averages[0].average):
        numpy.testing.assert_array_equal(host(a), host(b))
    assert resumed.averages[0].updates == 8


def test_adding_an_average_on_resume_is_explicit(tmp_path):
    path = tmp_path / "run.npz"
    plain = make(average=False)
    plain.train(3, checkpoint_path=path, progress=False)
    later = make()
    with pytest.raises(ValueError, match="average_0.*start_missing_averages"):
        later.load_checkpoint(path)
    assert later.load_checkpoint(path, start_missing_averages=True) == 3
    for a, p in zip(later.averages[0].average, later.G.parameters()):
        numpy.testing.assert_array_equal(host(a), p.numpy())  # starts at the restored parameters
    assert later.averages[0].updates == 0


def test_bad_settings_and_mismatched_states_are_refused(tmp_path):
    opt = optim.SGD([mg.tensor(numpy.zeros(2), requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="beta must be in"):
        optim.ExponentialMovingAverage(opt, beta=1.0)
    avg = optim.ExponentialMovingAverage(opt, beta=0.9)
    checkpoint.save(tmp_path / "a.npz", avg=avg)
    with pytest.raises(checkpoint.CheckpointError, match="beta 0.9"):
        checkpoint.restore(tmp_path / "a.npz", avg=optim.ExponentialMovingAverage(opt, beta=0.99))
    other = optim.SGD([mg.tensor(numpy.zeros(3), requires_grad=True)], lr=0.1)
    with pytest.raises(checkpoint.CheckpointError, match="shapes"):
        checkpoint.restore(tmp_path / "a.npz", avg=optim.ExponentialMovingAverage(other, beta=0.9))


def test_uniform_average_is_the_plain_mean_of_the_iterates_since_the_start():
    p = mg.tensor(numpy.array([1.0, -2.0, 0.5]), requires_grad=True)
    avg, rng = optim.UniformAverage(optim.SGD([p], lr=0.1)), numpy.random.default_rng(1)
    thetas = [p.numpy().copy()]
    for _ in range(9):
        p.data = (p + mg.tensor(rng.normal(size=3))).data
        thetas.append(p.numpy().copy())
        avg.step()
        mean = numpy.mean(thetas, axis=0)
        numpy.testing.assert_allclose(host(avg.average[0]), mean, rtol=1e-12, atol=1e-12)  # float64
    avg.reset()
    numpy.testing.assert_array_equal(host(avg.average[0]), thetas[-1])
    assert avg.updates == 0


def test_uniform_average_resumes_exactly_and_is_not_an_exponential_one(tmp_path):
    def run(steps, path=None, resume=False):
        gen = mg.Generator(0)
        G = nn.Sequential(nn.Linear(2, 8, generator=gen), nn.ReLU(), nn.Linear(8, 2, generator=gen))
        D = nn.Sequential(nn.Linear(2, 8, generator=gen), nn.LeakyReLU(0.2), nn.Linear(8, 1, generator=gen))
        opt_D, opt_G = optim.SGD(D.parameters(), lr=0.05), optim.SGD(G.parameters(), lr=0.05, momentum=0.5)
        gan = GAN(G, D, opt_D, opt_G, toy.NormalNoise(2), toy.ring(), generator=gen, m=16,
                  averages=[optim.UniformAverage(opt_G)])
        if resume:
            gan.load_checkpoint(path)
        gan.train(steps, checkpoint_path=path, progress=False)  # train(n) runs to iteration n
        return gan
    whole, path = run(6), tmp_path / "u.npz"
    run(3, path)
    resumed = run(6, path, resume=True)
    assert resumed.averages[0].updates == whole.averages[0].updates == 6
    for a, b in zip(resumed.averages[0].average, whole.averages[0].average):
        numpy.testing.assert_array_equal(host(a), host(b))
    ema = optim.ExponentialMovingAverage(whole.opt_G, beta=0.5)
    checkpoint.save(tmp_path / "e.npz", avg=ema)
    with pytest.raises(checkpoint.CheckpointError, match="UniformAverage"):
        checkpoint.restore(tmp_path / "e.npz", avg=optim.UniformAverage(whole.opt_G))


def test_the_average_follows_the_module_to_another_backend(xp_backend):
    """After G.to(backend) the average moves with the parameters, as optimizer state does."""
    G = nn.Linear(3, 2, generator=mg.Generator(0)).to("numpy")
    avg = optim.ExponentialMovingAverage(optim.SGD(G.parameters(), lr=0.1), beta=0.5)
    G.to(xp_backend)
    avg.step()
    assert all(mg.backend.backend_of(a) == xp_backend for a in avg.average)
    with avg.swapped_in():
        assert G.weight.backend == xp_backend
