"""EBGAN: the energy-based GAN of Zhao, Mathieu and LeCun (2017), with an autoencoder as discriminator.

D assigns an **energy** to each example, low for data and high for everything else. EBGAN takes
the reconstruction error of an autoencoder as that energy (section 2.3):

    D(x) = 1/d ||Dec(Enc(x)) - x||_2^2          (mean squared error over x's d coordinates)

and trains the players with a margin m > 0 (section 2.1; losses.ebgan_d_loss / ebgan_g_loss):

    L_D = E_x D(x) + E_z [m - D(G(z))]^+,       L_G = E_z D(G(z)).

D learns to reconstruct real data well, and generated data badly but only up to m: fakes with
energy above m cost D nothing. At the equilibrium p_g = p_data (their Theorem 2).

**The pulling-away term** (section 2.4) fights mode collapse in G's loss. With S the matrix of
the encoder's codes Enc(G(z_i)) for a minibatch of n generated samples (one row per sample),

    f_PT(S) = 1 / (n (n - 1)) sum_i sum_{j != i} ( S_i^T S_j / (||S_i|| ||S_j||) )^2,

the mean squared cosine similarity between different samples' codes: 0 for mutually orthogonal
codes, 1 when all codes point the same way (a collapsed minibatch). G minimises
L_G + lambda_PT f_PT (lambda_PT = 0.1 in the paper). Its gradient is through S only.

Algorithm 1 hands G's loss only D's outputs, so ``AutoencoderD`` keeps the codes of its last call
(``last_code``); ``ebgan_losses(D)`` builds the pair (g_loss, d_loss) that reads them.
"""
from __future__ import annotations

import functools
from collections.abc import Callable

from .. import functional as F
from ..autograd import Tensor
from ..nn.module import Module
from . import losses

#: keeps a zero code's norm differentiable (d sqrt(s)/ds is infinite at 0); far below float32 resolution
NORM_EPS = 1e-12


class AutoencoderD(Module):
    """D(x) = mean over coordinates of (Dec(Enc(x)) - x)^2, one energy per example: shape (m,).

    encoder, decoder: Modules (or callables); Enc(x) of shape (m, k) is remembered as ``last_code``
    for the pulling-away term, together with the energies it produced (``last_energy``).
    """

    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.last_code = self.last_energy = None

    def forward(self, x) -> Tensor:
        code = self.encoder(x)
        rec = self.decoder(code)
        if rec.shape != x.shape:
            raise ValueError(f"AutoencoderD: the decoder's output {rec.shape} must have the input's shape {x.shape}")
        err = F.reshape((rec - x) ** 2, x.shape[0], -1)
        energy = F.mean(err, axis=1)
        self.last_code, self.last_energy = code, energy
        return energy


def pulling_away(S) -> Tensor:
    """f_PT(S) = 1/(n(n-1)) sum_{i != j} cos^2(S_i, S_j) for codes S of shape (n, k), n >= 2.

    With unit rows u_i = S_i / ||S_i|| and the Gram matrix C = U U^T (C_ij = cos(S_i, S_j)):
    f_PT = (sum_ij C_ij^2 - sum_i C_ii^2) / (n (n - 1)).
    """
    if not isinstance(S, Tensor) or S.ndim < 2 or S.shape[0] < 2:
        raise ValueError(f"pulling_away: expected codes of shape (n, k) with n >= 2, got "
                         f"{getattr(S, 'shape', type(S).__name__)}")
    n = S.shape[0]
    S = F.reshape(S, n, -1)
    U = S / F.sqrt(F.sum(S * S, axis=1, keepdims=True) + NORM_EPS)
    C = U @ F.transpose(U)
    diag = F.sum(U * U, axis=1)                      # C_ii (= 1 up to rounding and NORM_EPS)
    return (F.sum(C * C) - F.sum(diag * diag)) / (n * (n - 1))


def ebgan_g_loss_pt(D, pt_weight=0.1) -> Callable[[Tensor], Tensor]:
    """G's loss E_z D(G(z)) + pt_weight * f_PT(Enc(G(z))) for AutoencoderD D, as a function of D's outputs.

    The returned function checks that the energies it receives are D's latest ones, so that the
    codes it reads belong to the same samples.
    """
    if not isinstance(D, AutoencoderD):
        raise TypeError(f"ebgan_g_loss_pt: D must be an AutoencoderD (it provides the codes), got {type(D).__name__}")
    if pt_weight < 0:
        raise ValueError(f"ebgan_g_loss_pt: pt_weight must be >= 0, got {pt_weight}")

    def g_loss(fake_energy):
        if fake_energy is not D.last_energy:
            raise RuntimeError("ebgan_g_loss_pt: fake_energy must be the output of D's latest call, D(G(z))")
        loss = losses.ebgan_g_loss(fake_energy)
        return loss + pt_weight * pulling_away(D.last_code) if pt_weight else loss

    g_loss.__name__ = "ebgan_pt"
    return g_loss


def ebgan_losses(D, margin=1.0, pt_weight=0.1) -> tuple[Callable[[Tensor], Tensor], Callable[[Tensor, Tensor], Tensor]]:
    """(g_loss, d_loss) for GAN(g_loss=..., d_loss=..., d_output="raw"): EBGAN with the margin and the
    pulling-away term (pt_weight = 0 turns it off)."""
    if margin <= 0:
        raise ValueError(f"ebgan_losses: margin must be positive, got {margin}")
    return ebgan_g_loss_pt(D, pt_weight), functools.partial(losses.ebgan_d_loss, margin=float(margin))


__all__ = ["AutoencoderD", "pulling_away", "ebgan_g_loss_pt", "ebgan_losses"]
