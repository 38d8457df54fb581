"""Consensus optimisation (minigan/gan/consensus.py): grad 1/2 ||v||^2 against finite differences; the bilinear game.

tests/test_theory.py derives the bilinear game's contraction rate by hand; here the same game is
played through the module's API (consensus_gradients), and the regulariser's gradient -- a
gradient of gradients -- is checked against central differences of 1/2 ||v||^2 in float64
(step 1e-6: error ~1e-10 relative, so rtol 1e-6).
"""
from __future__ import annotations

import math

import numpy
import pytest

import minigan as mg
import minigan.functional as F
from minigan import nn, optim
from minigan.data import toy
from minigan.gan import losses
from minigan.gan.consensus import ConsensusGAN, consensus_gradients, consensus_regulariser
from minigan.gradcheck import numerical_grad

F64 = numpy.float64
RNG = numpy.random.default_rng(0)
X = RNG.standard_normal((5, 2))   # a fixed minibatch of "data"
Z = RNG.standard_normal((5, 2))   # and of noise, made tensors in tiny_game, on the default backend then


def tiny_game(w, b, A, c):
    """D(x) = sigmoid(tanh(x) . w + b), G(z) = z A + c; the GAN's two cross-entropy losses as the players'."""
    def D(x):
        return F.tanh(x) @ w + b
    fake = mg.tensor(Z) @ A + c
    loss_D = losses.d_loss(D(mg.tensor(X)), D(fake))
    loss_G = losses.non_saturating_g_loss(D(fake))
    return [(loss_D, [w, b]), (loss_G, [A, c])]


def start():
    return [mg.tensor(a, requires_grad=True) for a in
            (RNG.standard_normal(2), RNG.standard_normal(1), RNG.standard_normal((2, 2)), RNG.standard_normal(2))]


def test_regulariser_gradient_matches_finite_differences_of_half_squared_field():
    theta = start()

    def L_of(*t):
        return consensus_regulariser(tiny_game(*t))[0]

    L, v = consensus_regulariser(tiny_game(*theta))
    # L is 1/2 of the squared gradients, computed independently of the module
    direct = 0.5 * sum(float((g.numpy() ** 2).sum()) for block in v for g in block)
    assert L.item() == pytest.approx(direct, rel=1e-14)
    dL = mg.grad(L, theta)
    arrays = [t.data.copy() for t in theta]
    for k, g in enumerate(dL):
        fd = numerical_grad(L_of, arrays, k, [numpy.array(1.0)], eps=1e-6, mask=[True] * 4)
        numpy.testing.assert_allclose(g.numpy(), fd, rtol=1e-6, atol=1e-9)


def test_consensus_direction_is_v_plus_gamma_grad_L():
    theta = start()
    dirs0 = consensus_gradients(tiny_game(*theta), gamma=0.0)
    dirs = consensus_gradients(tiny_game(*theta), gamma=2.5)
    L, _ = consensus_regulariser(tiny_game(*theta))
    dL = mg.grad(L, theta)
    flat0 = [d for block in dirs0 for d in block]
    flat = [d for block in dirs for d in block]
    for d0, d, g in zip(flat0, flat, dL):
        numpy.testing.assert_allclose(d.numpy(), d0.numpy() + 2.5 * g.numpy(), rtol=1e-13, atol=1e-15)
        assert not d.requires_grad


def test_bilinear_game_converges_with_consensus_and_spirals_out_without():
    """V = -x y (x minimises V, y minimises -V). Both players step on consensus_gradients with eta = 0.1."""
    def play(gamma, steps=300):
        x, y = mg.tensor(1.0, dtype=F64, requires_grad=True), mg.tensor(0.0, dtype=F64, requires_grad=True)
        for _ in range(steps):
            V = -(x * y)
            (dx,), (dy,) = consensus_gradients([(V, [x]), (-V, [y])], gamma)
            x = mg.tensor(x.item() - 0.1 * dx.item(), dtype=F64, requires_grad=True)
            y = mg.tensor(y.item() - 0.1 * dy.item(), dtype=F64, requires_grad=True)
        return math.hypot(x.item(), y.item())
    assert play(0.0) > 1.5          # (1 + eta^2)^150 = 4.4: simultaneous descent spirals out
    assert play(1.0) < 1e-8         # the consensus term contracts the spiral to the equilibrium


def test_consensus_gan_step_is_the_consensus_update():
    """One ConsensusGAN iteration with SGD moves every parameter by -lr (v + gamma grad L) at the drawn minibatches."""
    gen = mg.Generator(1)
    G = nn.Sequential(nn.Linear(2, 3, dtype=F64, generator=gen), nn.Tanh(), nn.Linear(3, 2, dtype=F64, generator=gen))
    D = nn.Sequential(nn.Linear(2, 4, dtype=F64, generator=gen), nn.Tanh(), nn.Linear(4, 1, dtype=F64, generator=gen))
    lr, gamma = 0.05, 3.0
    gan = ConsensusGAN(G, D, optim.SGD(D.parameters(), lr=lr), optim.SGD(G.parameters(), lr=lr),
                       toy.NormalNoise(2, dtype=F64), toy.grid(dtype=F64), generator=gen, m=7, gamma=gamma)
    params_D, params_G = list(D.parameters()), list(G.parameters())
    before = [p.numpy().copy() for p in params_D + params_G]
    replay = mg.Generator(0)
    replay.load_state_dict(gen.state_dict())   # the same minibatches the step is about to draw
    z, x = gan.sample_z(replay, 7), gan.sample_data(replay, 7)
    fake_out = D(G(z))
    players = [(losses.d_loss(D(x), fake_out), params_D), (losses.non_saturating_g_loss(fake_out), params_G)]
    expected = [d.numpy() for block in consensus_gradients(players, gamma) for d in block]
    gan.train_step()
    for p, b, e in zip(params_D + params_G, before, expected):
        numpy.testing.assert_allclose(p.numpy(), b - lr * e, rtol=1e-12, atol=1e-14)
    assert gan.config()["gamma"] == gamma and gan.config()["simultaneous"]


def test_errors():
    with pytest.raises(ValueError, match="gamma"):
        consensus_gradients(tiny_game(*start()), gamma=-1.0)
    with pytest.raises(ValueError, match="scalar"):
        consensus_regulariser([(mg.zeros(3, dtype=F64), [])])
    with pytest.raises(ValueError, match="none"):
        consensus_regulariser([])
