"""The GAN loss family, each a function of the discriminator's raw outputs.

Notation (Goodfellow et al. 2014; Goodfellow 2016, "NIPS tutorial", section 3.2):

* D's last layer gives a **logit** a(x); the probability that x is real is D(x) = sigmoid(a(x)).
  The losses below take the logits, never the probabilities, because

      log D(x)       = log sigmoid(a)      = -softplus(-a)
      log(1 - D(x))  = log sigmoid(-a)     = -softplus(a)

  and softplus(a) = max(a, 0) + log1p(exp(-|a|)) is accurate for every finite a, whereas
  1 - sigmoid(a) already rounds to 0 in float32 at a = 17 (a = 37 in float64), so that
  log(1 - D) = log(0) = -inf for a discriminator that is merely confident. Clipping the
  probability to [eps, 1 - eps] hides the -inf but sets the gradient to zero past the clip:
  exactly the regime (D confidently rejecting G's samples) where G most needs a gradient.
* ``real_logits`` = a(x) for a minibatch x ~ p_data; ``fake_logits`` = a(G(z)) for z ~ p_z.
* Every loss returns a scalar: expectations are minibatch means, E_x f(x) ~ 1/m sum_i f(x_i).
* LSGAN, WGAN and EBGAN use D's raw output directly (no sigmoid); their arguments are called
  ``real_out``/``fake_out``.

The value function of the game is

    V(D, G) = E_x log D(x) + E_z log(1 - D(G(z)))                          (paper, eq. 1)

D ascends V, G descends it. Every "loss" here is minimised by its player.
``generator_loss(name)`` / ``discriminator_loss(name)`` look the functions up by name, so
that minigan/gan/algorithm.py can be told ``g_loss="non_saturating"``.

The gradients with respect to a single logit (tests/test_gan_losses.py checks each):

    loss (per example)                  d/da
    log_D(a)           = -softplus(-a)   1 - sigmoid(a)
    log_one_minus_D(a) = -softplus(a)    -sigmoid(a)
    saturating          -softplus(a)     -sigmoid(a)        -> 0 when D(G(z)) -> 0
    non-saturating       softplus(-a)    -(1 - sigmoid(a))  -> -1 when D(G(z)) -> 0
    maximum likelihood  -exp(a) / 2      -exp(a) / 2
"""
from __future__ import annotations

import functools

from .. import functional as F
from ..autograd import Tensor
from ..ops.arithmetic import as_tensor


def _logits(where, x, name):
    x = as_tensor(x)
    if not isinstance(x, Tensor) or x.dtype.kind != "f":
        raise TypeError(f"{where}: {name} must be a floating-point Tensor of D's outputs, got dtype {x.dtype}")
    return x


def _real_and_fake(where, real, fake, names=("real_logits", "fake_logits")):
    """D's outputs on a real and a fake minibatch, checked: float Tensors of one dtype on one backend."""
    real, fake = _logits(where, real, names[0]), _logits(where, fake, names[1])
    if real.dtype != fake.dtype:
        raise TypeError(
            f"{where}: {names[0]} is {real.dtype} but {names[1]} is {fake.dtype}; D should give both the same dtype"
        )
    if real.backend != fake.backend:
        raise TypeError(f"{where}: {names[0]} is on {real.backend} but {names[1]} is on {fake.backend}")
    return real, fake


# -- the two terms of V, per example --------------------------------------------------------------
def log_D(a):
    """log D(x) = log sigmoid(a) = -softplus(-a), per example.   d/da = 1 - sigmoid(a)."""
    return F.log_sigmoid(_logits("log_D", a, "a"))


def log_one_minus_D(a):
    """log(1 - D(x)) = log sigmoid(-a) = -softplus(a), per example.   d/da = -sigmoid(a)."""
    return -F.softplus(_logits("log_one_minus_D", a, "a"))


def value(real_logits, fake_logits):
    """The minibatch estimate of V(D, G) = E_x log D(x) + E_z log(1 - D(G(z))).

    = mean(-softplus(-a_real)) + mean(-softplus(a_fake)). Its maximum over D, for fixed G,
    is -log 4 + 2 JSD(p_data || p_g) (paper, Theorem 1; tests/test_theory.py).
    """
    real, fake = _real_and_fake("value", real_logits, fake_logits)
    return F.mean(log_D(real)) + F.mean(log_one_minus_D(fake))


# -- the standard (cross-entropy) discriminator ----------------------------------------------------
def d_loss(real_logits, fake_logits, real_label=1.0):
    """Discriminator loss: binary cross-entropy, real examples labelled ``real_label``, fakes 0.

        J(D) = E_x BCE(a(x), t) + E_z BCE(a(G(z)), 0),   BCE(a, t) = softplus(a) - t a
             = -E_x log D(x) - E_z log(1 - D(G(z)))      (t = 1)
             = -V(D, G)

    so minimising it is Algorithm 1's "ascend V" for D. (The NIPS tutorial writes J(D) with
    a factor 1/2 on each term; the minimiser and the gradient direction are the same.)

    ``real_label`` = t < 1 (e.g. 0.9) is one-sided label smoothing (Salimans et al. 2016; NIPS 2016
    tutorial, section 4.2). The optimal D becomes t p_data / (p_data + p_g): it never exceeds t,
    so D cannot grow arbitrarily confident on real data, and it is still 0 where p_data = 0 and
    p_g > 0, so G's samples there are still pushed towards the data. Only real labels are
    smoothed: a fake label s > 0 would make the optimal D equal s wherever p_data = 0, and G's
    samples off the data would no longer be pushed back. d/da_real = sigmoid(a) - t,
    d/da_fake = sigmoid(a).
    """
    real, fake = _real_and_fake("d_loss", real_logits, fake_logits)
    if not 0.0 <= float(real_label) <= 1.0:
        raise ValueError(f"d_loss: real_label is a target probability in [0, 1], got {real_label}")
    return (F.binary_cross_entropy_with_logits(real, float(real_label))
            + F.binary_cross_entropy_with_logits(fake, 0.0))


# -- generator losses in the cross-entropy family ---------------------------------------------------
def saturating_g_loss(fake_logits):
    """Zero-sum (minimax) generator loss: G minimises E_z log(1 - D(G(z))) = -E_z softplus(a).

    This is V's second term (the first does not depend on G), so J(G) = -J(D) up to a
    constant: the game of the paper's eq. 1. Per example d/da = -sigmoid(a) = -D(G(z)):
    when D rejects G's samples confidently (D(G(z)) -> 0, early in training) the gradient
    vanishes -- the loss *saturates*.
    """
    a = _logits("saturating_g_loss", fake_logits, "fake_logits")
    return -F.mean(F.softplus(a))


def non_saturating_g_loss(fake_logits):
    """Non-saturating ("heuristic") generator loss: G minimises -E_z log D(G(z)) = E_z softplus(-a).

    The paper's practical choice (section 3): G maximises the log-probability of D being
    mistaken instead of minimising that of D being right. Same fixed point, but per example
    d/da = -(1 - sigmoid(a)) -> -1 when D(G(z)) -> 0: strong gradients exactly when G is bad.
    Equals binary cross-entropy of the fake logits against the label "real".
    """
    a = _logits("non_saturating_g_loss", fake_logits, "fake_logits")
    return F.mean(F.softplus(-a))


def maximum_likelihood_g_loss(fake_logits):
    """Maximum-likelihood generator loss: J(G) = -1/2 E_z exp(sigmoid^-1(D(G(z)))) = -1/2 E_z exp(a).

    With D optimal, a(x) = log p_data(x) / p_g(x) (the log density ratio), so
    exp(a) = p_data / p_g and the expected gradient of J(G) with respect to G's parameters
    is 1/2 grad KL(p_data || p_g): this G does maximum likelihood (Goodfellow 2014,
    "On distinguishability criteria"; NIPS tutorial eq. 14). Per example d/da = -exp(a)/2.
    Unlike the log losses it is unbounded: exp(a) overflows for a > 88 (float32), which is
    the loss saying that D believes x is infinitely more likely under p_data than under p_g.
    """
    a = _logits("maximum_likelihood_g_loss", fake_logits, "fake_logits")
    return -0.5 * F.mean(F.exp(a))


# -- least squares (Mao et al. 2017) ----------------------------------------------------------------
def lsgan_d_loss(real_out, fake_out, a=0.0, b=1.0):
    """LSGAN discriminator: J(D) = 1/2 E_x (D(x) - b)^2 + 1/2 E_z (D(G(z)) - a)^2, D a raw output.

    Real target b, fake target a. For fixed G the minimiser is
    D*(x) = (b p_data(x) + a p_g(x)) / (p_data(x) + p_g(x))  (tests/test_theory.py).
    """
    real, fake = _real_and_fake("lsgan_d_loss", real_out, fake_out, ("real_out", "fake_out"))
    return 0.5 * F.mean((real - b) ** 2) + 0.5 * F.mean((fake - a) ** 2)


def lsgan_g_loss(fake_out, c=1.0):
    """LSGAN generator: J(G) = E_z (D(G(z)) - c)^2, c the value G wants D to believe (1: "real").

    (Mao et al. write 1/2 E_z; the factor scales the gradient, not the minimiser.)
    """
    fake = _logits("lsgan_g_loss", fake_out, "fake_out")
    return F.mean((fake - c) ** 2)


# -- Wasserstein (Arjovsky et al. 2017) -------------------------------------------------------------
def wgan_d_loss(real_out, fake_out):
    """WGAN critic: J(D) = -(E_x D(x) - E_z D(G(z))), D a raw score (the "critic").

    Maximising E_x D(x) - E_z D(G(z)) over 1-Lipschitz D gives the Wasserstein-1 distance
    between p_data and p_g (Kantorovich-Rubinstein duality). The paper keeps D Lipschitz by
    clipping its weights to [-c, c] after every step (``GAN(..., clip_D=0.01)``), and trains
    the critic several steps per generator step (k = 5).
    """
    real, fake = _real_and_fake("wgan_d_loss", real_out, fake_out, ("real_out", "fake_out"))
    return F.mean(fake) - F.mean(real)


def wgan_g_loss(fake_out):
    """WGAN generator: J(G) = -E_z D(G(z)) (the only term of the critic's objective that depends on G)."""
    fake = _logits("wgan_g_loss", fake_out, "fake_out")
    return -F.mean(fake)


# -- energy-based, hinge form (Zhao et al. 2017) ----------------------------------------------------
def ebgan_d_loss(real_energy, fake_energy, margin=1.0):
    """EBGAN discriminator: J(D) = E_x D(x) + E_z max(m - D(G(z)), 0), D an energy (low = real).

    D lowers the energy of real data and raises that of fakes, but only up to the margin m:
    fakes already above m cost nothing (d/dD(G(z)) = -1 below the margin, 0 above).
    """
    real, fake = _real_and_fake("ebgan_d_loss", real_energy, fake_energy, ("real_energy", "fake_energy"))
    if margin <= 0:
        raise ValueError(f"ebgan_d_loss: margin must be positive, got {margin}")
    return F.mean(real) + F.mean(F.relu(margin - fake))


def ebgan_g_loss(fake_energy):
    """EBGAN generator: J(G) = E_z D(G(z)): G lowers the energy of its samples."""
    fake = _logits("ebgan_g_loss", fake_energy, "fake_energy")
    return F.mean(fake)


# -- look-up by name --------------------------------------------------------------------------------
#: name -> (generator loss, the discriminator loss it is played against, what D outputs)
LOSSES = {
    "saturating": (saturating_g_loss, d_loss, "logit"),
    "non_saturating": (non_saturating_g_loss, d_loss, "logit"),
    "maximum_likelihood": (maximum_likelihood_g_loss, d_loss, "logit"),
    "lsgan": (lsgan_g_loss, lsgan_d_loss, "raw"),
    "wgan": (wgan_g_loss, wgan_d_loss, "raw"),
    "ebgan": (ebgan_g_loss, ebgan_d_loss, "raw"),
}
ALIASES = {"minimax": "saturating", "zero_sum": "saturating", "heuristic": "non_saturating",
           "non-saturating": "non_saturating", "ml": "maximum_likelihood"}


def canonical_name(name: str) -> str:
    """The registry's name for ``name`` (aliases: minimax/zero_sum -> saturating, ...)."""
    if not isinstance(name, str):
        raise TypeError(f"GAN losses are looked up by name (a str), got {type(name).__name__}")
    key = ALIASES.get(name, name)
    if key not in LOSSES:
        known = sorted(LOSSES) + sorted(ALIASES)
        raise KeyError(f"unknown GAN loss {name!r}; known names: {', '.join(known)}")
    return key


def generator_loss(name: str):
    """The generator loss called ``name``: "saturating" (alias "minimax"), "non_saturating",
    "maximum_likelihood", "lsgan", "wgan" or "ebgan". Returns a function of D's outputs on G(z)."""
    return LOSSES[canonical_name(name)][0]


def discriminator_loss(name: str, **settings):
    """The discriminator loss that the generator loss ``name`` is played against: d_loss (cross-entropy)
    for the first three, lsgan_d_loss, wgan_d_loss or ebgan_d_loss. ``settings`` are bound as keyword
    arguments (real_label=0.9, margin=2.0, a=-1.0 ...)."""
    fn = LOSSES[canonical_name(name)][1]
    return functools.partial(fn, **settings) if settings else fn


def output_kind(name: str) -> str:
    """'logit' when D(x) = sigmoid(output) for this loss, 'raw' when the loss reads D's output directly."""
    return LOSSES[canonical_name(name)][2]


__all__ = [
    "log_D", "log_one_minus_D", "value", "d_loss", "saturating_g_loss", "non_saturating_g_loss",
    "maximum_likelihood_g_loss", "lsgan_d_loss", "lsgan_g_loss", "wgan_d_loss", "wgan_g_loss",
    "ebgan_d_loss", "ebgan_g_loss", "generator_loss", "discriminator_loss", "output_kind", "LOSSES",
]
