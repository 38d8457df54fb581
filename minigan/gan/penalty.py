"""WGAN-GP: the gradient penalty of Gulrajani et al. (2017), "Improved Training of Wasserstein GANs".

The critic of a WGAN must be 1-Lipschitz. Instead of clipping its weights (which pushes them
to +-c and wastes capacity), WGAN-GP uses the fact that the optimal critic has gradient norm
1 almost everywhere on the lines between samples of p_data and p_g, and penalises the
deviation there (their eq. 3):

    L(D) = E_z D(G(z)) - E_x D(x) + lambda E_xhat (||grad_xhat D(xhat)||_2 - 1)^2,
    xhat = eps x + (1 - eps) G(z),   eps ~ U[0, 1], one eps per pair (x, G(z)),

with lambda = 10, n_critic = 5 and Adam (lr 1e-4, beta1 = 0, beta2 = 0.9) in the paper.

Two details matter, and tests/test_variants.py checks both:

* The norm is taken **per example**: grad_xhat D(xhat) is a batch of m gradients, one per row
  xhat_i (D treats examples independently), and each row's norm is compared with 1. A norm over
  the whole batch (sqrt(m) times a typical row) would penalise something else entirely.
* The penalty is a function of a gradient, so D's step needs the gradient of a gradient:
  grad_xhat D is computed with ``create_graph=True`` and is itself differentiated with respect
  to D's weights by the ordinary backward pass (docs: minigan/autograd.py, ``grad``).
  Layer norms or batch norm in D would make the rows depend on each other; the paper uses
  none (or layer norm) in the critic for this reason.

``GradientPenaltyCritic`` wraps D so that Algorithm 1 (minigan/gan/algorithm.py), which hands
D's loss only D's outputs, can still add a term that needs D's inputs: the wrapper remembers the
inputs of its last two calls (d_step calls D(x) and then D(G(z)) just before it computes the loss).
"""
from __future__ import annotations

from .. import functional as F
from ..autograd import Tensor, enable_grad, grad
from ..nn.module import Module
from ..random import Generator
from . import losses

#: added under the square root so that a row with a zero gradient (a dead ReLU region) has a
#: finite derivative: d sqrt(s)/ds = 1 / (2 sqrt(s)) is infinite at s = 0. It moves the norm of a
#: gradient of size g by about 1e-12 / (2 g), far below float32's resolution.
NORM_EPS = 1e-12


def per_example_norm(g) -> Tensor:
    """||g_i||_2 for each row i of g (m, ...), over every axis but the first: shape (m,).

    = sqrt(sum_j g_ij^2 + NORM_EPS).  d/dg_ij = g_ij / ||g_i||.
    """
    flat = F.reshape(g, g.shape[0], -1)
    return F.sqrt(F.sum(flat * flat, axis=1) + NORM_EPS)


def interpolate(real, fake, generator) -> Tensor:
    """xhat_i = eps_i x_i + (1 - eps_i) G(z)_i with eps_i ~ U[0, 1] drawn once per example."""
    if not isinstance(generator, Generator):
        raise TypeError(f"interpolate: generator must be a minigan.Generator, got {type(generator).__name__}")
    if real.shape != fake.shape:
        raise ValueError(f"interpolate: real {real.shape} and fake {fake.shape} minibatches must have the same shape")
    eps = generator.uniform((real.shape[0],) + (1,) * (real.ndim - 1), dtype=real.dtype,
                            backend_name=real.backend)
    return eps * real + (1.0 - eps) * fake


def gradient_penalty_at(D, xhat) -> Tensor:
    """E_xhat (||grad_xhat D(xhat)||_2 - 1)^2 at the given points, norms per example (no lambda).

    The gradient is built with create_graph=True, so the penalty can be differentiated with
    respect to D's parameters by backward. xhat is treated as a constant point. The value is a
    gradient, so it is computed with recording on even inside ``no_grad`` (an evaluation).
    """
    with enable_grad():
        xhat = xhat.detach().requires_grad_(True)  # a fresh leaf: the penalty is a function of D only
        out = D(xhat)
        # d(sum_i D(xhat_i))/d xhat_i = grad D(xhat_i): row i of D's output depends on xhat_i alone
        g = grad(F.sum(out), xhat, create_graph=True)
        return F.mean((per_example_norm(g) - 1.0) ** 2)


def gradient_penalty(D, real, fake, generator, lam=10.0) -> Tensor:
    """lambda * E (||grad D(xhat)||_2 - 1)^2 at random points xhat between x and G(z) (Gulrajani et al. 2017, eq. 3).

    real, fake: minibatches of the same shape (G(z) detached or not: xhat is made a fresh leaf).
    """
    if lam < 0:
        raise ValueError(f"gradient_penalty: lam (the penalty's weight lambda) must be >= 0, got {lam}")
    return lam * gradient_penalty_at(D, interpolate(real.detach(), fake.detach(), generator))


class GradientPenaltyCritic(Module):
    """D for WGAN-GP under Algorithm 1: forwards to the critic and remembers its last two calls.

        critic = GradientPenaltyCritic(D, generator, lam=10.0)
        GAN(G, critic, opt_D, opt_G, ..., g_loss=losses.wgan_g_loss, d_loss=critic.d_loss, k=5)

    ``d_loss(real_out, fake_out)`` = wgan_d_loss(real_out, fake_out) + lambda E (||grad D(xhat)|| - 1)^2,
    with xhat between the inputs of the two calls that produced real_out and fake_out (checked:
    another order of calls is refused rather than silently penalising the wrong points).
    """

    def __init__(self, D, generator, lam=10.0):
        super().__init__()
        if not isinstance(generator, Generator):
            raise TypeError(f"GradientPenaltyCritic: generator must be a minigan.Generator, "
                            f"got {type(generator).__name__}")
        self.D = D
        self.generator, self.lam = generator, float(lam)
        self._calls = []  # (input, output) of the last two calls

    def forward(self, x) -> Tensor:
        out = self.D(x)
        self._calls = (self._calls + [(x, out)])[-2:]
        return out

    def d_loss(self, real_out, fake_out) -> Tensor:
        """The WGAN-GP critic loss (module docstring), for GAN(d_loss=...)."""
        if len(self._calls) < 2 or self._calls[0][1] is not real_out or self._calls[1][1] is not fake_out:
            raise RuntimeError("GradientPenaltyCritic.d_loss: real_out and fake_out must be the outputs of this "
                               "critic's last two calls, D(x) then D(G(z)) (as in GAN.d_step)")
        (x, _), (fake, _) = self._calls
        return losses.wgan_d_loss(real_out, fake_out) + gradient_penalty(self.D, x, fake, self.generator, self.lam)


__all__ = ["per_example_norm", "interpolate", "gradient_penalty_at", "gradient_penalty", "GradientPenaltyCritic"]
