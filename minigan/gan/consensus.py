"""Consensus optimisation (Mescheder, Nowozin and Geiger 2017, "The Numerics of GANs").

A game's players each descend their own loss: D descends J_D(theta_D, theta_G), G descends
J_G(theta_D, theta_G). Stacked, their gradients form the *vector field*

    v(theta) = ( grad_{theta_D} J_D,  grad_{theta_G} J_G ),

and simultaneous gradient descent is theta <- theta - eta v(theta). Where the Jacobian of v
has eigenvalues with large imaginary parts (rotation, as in the bilinear game V = -x y) the
iterates circle or spiral away from the equilibrium. Consensus optimisation lets both players
also descend the squared length of the field,

    L(theta) = 1/2 ||v(theta)||^2,       theta <- theta - eta (v(theta) + gamma grad L(theta)),

which is zero exactly at the stationary points; grad L = J_v^T v adds the "consensus" term that
damps rotation (paper, section 4). grad L is the gradient of a gradient: minigan computes v with
``grad(..., create_graph=True)`` and differentiates 1/2 ||v||^2 once more.

The paper trains both players simultaneously (one minibatch pair, both gradients at the same
point) with RMSprop and gamma = 10 on the 2-D mixtures; :class:`ConsensusGAN` is Algorithm 1's
simultaneous variant with the consensus term added.
"""
from __future__ import annotations

from ..autograd import Tensor, enable_grad, grad
from .algorithm import GAN


def _checked(players, where):
    players = list(players)
    if not players:
        raise ValueError(f"{where}: expected a list of (loss, params) pairs, one per player, got none")
    for i, pair in enumerate(players):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise TypeError(f"{where}: player {i} must be a pair (loss, params), got {type(pair).__name__}")
        loss, params = pair
        if not isinstance(loss, Tensor) or loss.size != 1:
            raise ValueError(f"{where}: player {i}'s loss must be a scalar Tensor, got "
                             f"{getattr(loss, 'shape', type(loss).__name__)}")
    return players


def consensus_regulariser(players):
    """L = 1/2 ||v||^2 and the field v itself, for players [(J_1, params_1), (J_2, params_2), ...].

    v is the concatenation of grad_{params_i} J_i over the players, each computed with
    create_graph=True so that L can be differentiated again. A parameter a loss does not use
    contributes a zero block. Returns (L, v) with v a list (per player) of lists of Tensors.
    """
    players = _checked(players, "consensus_regulariser")
    v, L = [], None
    with enable_grad():
        for loss, params in players:
            grads = grad(loss, list(params), create_graph=True, allow_unused=True)
            block = [g if g is not None else p * 0 for p, g in zip(params, grads)]
            v.append(block)
            for g in block:
                term = (g * g).sum()
                L = term if L is None else L + term
    return 0.5 * L, v


def consensus_gradients(players, gamma):
    """Each player's update direction  v_i + gamma grad_{params_i} L,  L = 1/2 ||v||^2 (the paper's eq. 9).

    players: [(J_i, params_i)]: each player's own loss and parameters. Returns a list (per
    player) of lists of Tensors, detached from the graph, ready to be put in ``.grad``.
    gamma = 0 gives plain simultaneous gradient descent.
    """
    players = _checked(players, "consensus_gradients")
    if not gamma >= 0:
        raise ValueError(f"consensus_gradients: gamma must be >= 0, got {gamma!r}")
    L, v = consensus_regulariser(players)
    if gamma == 0:
        return [[Tensor(g.data) for g in block] for block in v]
    every = [p for _, params in players for p in params]
    dL = grad(L, every, allow_unused=True)
    out, i = [], 0
    for block in v:
        row = []
        for g in block:
            extra = dL[i]
            i += 1
            row.append(Tensor(g.data if extra is None else g.data + gamma * extra.data))
        out.append(row)
    return out


class ConsensusGAN(GAN):
    """Algorithm 1's simultaneous variant, both players descending v + gamma grad 1/2 ||v||^2.

        gan = ConsensusGAN(G, D, opt_D, opt_G, sample_z, sample_data, generator=gen, gamma=10.0)

    One minibatch of z and one of x per iteration; J_D and J_G are the chosen losses (by name,
    as for GAN), v = (grad_D J_D, grad_G J_G) at the same point, and each optimiser then steps
    on its block of the consensus direction (the paper used RMSprop). ``k`` must be 1.
    """

    def __init__(self, G, D, opt_D, opt_G, sample_z, sample_data, *, generator, gamma=10.0, **kwargs):
        kwargs["simultaneous"] = True
        super().__init__(G, D, opt_D, opt_G, sample_z, sample_data, generator=generator, **kwargs)
        if not float(gamma) >= 0:
            raise ValueError(f"ConsensusGAN: gamma must be >= 0, got {gamma!r}")
        self.gamma = float(gamma)

    def simultaneous_directions(self, loss_D, loss_G):
        """Each player's block of v + gamma grad 1/2 ||v||^2, v = (grad_D J_D, grad_G J_G) at the same point.

        G(z) stays in the graph of J_D (GAN.simultaneous_step passes D one G(z) for both losses):
        v_D depends on theta_G, and the consensus term differentiates through that dependence.
        """
        return consensus_gradients([(loss_D, self.opt_D.params), (loss_G, self.opt_G.params)], self.gamma)

    def config(self) -> dict:
        return {**super().config(), "gamma": self.gamma}


__all__ = ["consensus_regulariser", "consensus_gradients", "ConsensusGAN"]
