"""A registry of GAN variants and tricks for the 2-D mode-collapse benchmarks (ring and grid).

Each entry is a *builder*: a function that, given the data density and the run's Generator,
returns a :class:`Setup` -- the two players, their optimizers, the samplers and the keyword
arguments of Algorithm 1 (minigan/gan/algorithm.py, class GAN) that make up that variant:

    from minigan.experiments import variants
    setup = variants.build("wgan_gp", toy.ring(), gen, steps=2000)
    gan = setup.make_gan(gen)          # a GAN (or setup.gan_cls) ready to train
    gan.train(2000)
    samples = setup.generate(gen, 2500)  # (2500, 2) float64 NumPy array of G's samples

A builder has the signature

    builder(p_data, generator, *, steps, m=256, hidden=128, g_layers=2) -> Setup

* p_data: a sampler ``(generator, m) -> Tensor (m, dim)`` (minigan/data/toy.py); its ``dim``
  gives the width of D's input and G's output; ``centers`` and ``std`` (mixtures) may be used
  to scale a variant's settings.
* generator: the run's minigan.Generator (weights, and any randomness a trick needs).
* steps: the number of Algorithm-1 iterations the run will do (schedules that decay, such as
  instance noise and the learning-rate ramp, are laid out over it).
* m: the minibatch size; hidden: the width of G's and D's hidden layers; g_layers: how many hidden
  layers G has (D always has two).

Every variant shares the networks of demos/mixture_2d.py (G: dim_z -> hidden -> hidden -> dim,
ReLU, or g_layers hidden layers; D: dim -> hidden -> hidden -> 1, LeakyReLU 0.2) unless its idea is a change of network,
and z ~ N(0, I_2). A variant that changes the update rule itself (unrolled GANs, consensus
optimisation) sets ``Setup.gan_cls`` to a subclass of GAN. Register a new one with
``@register("name")`` on a builder, or ``register("name", builder)``; ``names()`` lists them in
registration order.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy

from .. import nn, optim
from ..autograd import no_grad
from ..data import toy
from ..gan import conditional, ebgan, losses, minibatch, noise, penalty
from ..gan.algorithm import GAN
from ..gan.consensus import ConsensusGAN
from ..gan.unrolled import UnrolledGAN

#: name -> builder, in registration order
VARIANTS: dict = {}


@dataclass
class Setup:
    """One variant, ready for Algorithm 1: ``GAN(G, D, opt_D, opt_G, sample_z, sample_data, **gan_kwargs)``.

    gan_kwargs holds k, m, g_loss, d_loss, real_label, clip_D, schedules ... (everything of
    class GAN's keyword arguments except ``generator``). gan_cls is the trainer class: GAN, or
    a subclass for variants that change the update rule itself (unrolled GANs, consensus).
    """

    name: str
    G: object
    D: object
    opt_D: object
    opt_G: object
    sample_z: object
    sample_data: object
    gan_kwargs: dict = field(default_factory=dict)
    gan_cls: type = GAN

    def make_gan(self, generator):
        """The trainer: ``gan_cls(G, D, opt_D, opt_G, sample_z, sample_data, generator=generator, **gan_kwargs)``."""
        return self.gan_cls(self.G, self.D, self.opt_D, self.opt_G, self.sample_z, self.sample_data,
                            generator=generator, **self.gan_kwargs)

    def generate(self, generator, n) -> numpy.ndarray:
        """n samples G(z), z ~ p_z, as a float64 NumPy array (no graph recorded); of a conditional G's
        labelled samples (x, y), the x."""
        with no_grad():
            out = self.G(self.sample_z(generator, n))
        if isinstance(out, tuple):
            out = out[0]
        return out.numpy().astype(numpy.float64)


def register(name, builder=None):
    """Add ``builder`` to the registry under ``name``; as a decorator when builder is omitted."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"variants.register: name must be a non-empty str, got {name!r}")

    def add(fn):
        if not callable(fn):
            raise TypeError(f"variants.register({name!r}): the builder must be callable, got {type(fn).__name__}")
        if name in VARIANTS and VARIANTS[name] is not fn:
            raise ValueError(f"variants.register: a variant called {name!r} is already registered")
        VARIANTS[name] = fn
        return fn

    return add if builder is None else add(builder)


def names() -> list:
    """The registered variants' names, in registration order."""
    return list(VARIANTS)


def build(name, p_data, generator, *, steps, **options) -> Setup:
    """The Setup of variant ``name`` for density p_data.

    options: m, hidden, g_layers (every builder), and a builder's own keywords (its signature): kernels and
    kernel_dims (minibatch_discrimination), code and pt_weight (ebgan), n_ref (vbn), sigma_fraction
    (instance_noise).
    """
    if name not in VARIANTS:
        raise KeyError(f"variants.build: unknown variant {name!r}; registered: {', '.join(VARIANTS)}")
    if int(steps) != steps or steps < 1:
        raise ValueError(f"variants.build({name!r}): steps must be a positive integer, got {steps!r}")
    return VARIANTS[name](p_data, generator, steps=int(steps), **options)


# -- the shared pieces ------------------------------------------------------------------------------
DIM_Z = 2


def mlp_G(generator, dim_x, hidden=128, layers=2, dim_z=DIM_Z):
    """G: dim_z -> hidden -> ... -> hidden -> dim_x with ``layers`` hidden ReLU layers (2: demos/mixture_2d.py;
    4: the PacGAN paper's G). A deeper G can fold a connected z space onto more separate modes."""
    _check_layers("mlp_G", layers)
    body, width = [], dim_z
    for _ in range(layers):
        body += [nn.Linear(width, hidden, generator=generator), nn.ReLU()]
        width = hidden
    return nn.Sequential(*body, nn.Linear(width, dim_x, generator=generator))


def _check_layers(where, layers):
    if isinstance(layers, bool) or not isinstance(layers, (int, numpy.integer)) or layers < 1:
        raise ValueError(f"{where}: g_layers (G's hidden layers) must be a positive integer, got {layers!r}")


def mlp_D_body(generator, dim_in, hidden=128):
    """D without its output layer: dim_in -> hidden -> hidden, LeakyReLU 0.2 (for heads that vary)."""
    return [nn.Linear(dim_in, hidden, generator=generator), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden, generator=generator), nn.LeakyReLU(0.2)]


def mlp_D(generator, dim_in, hidden=128):
    """D: dim_in -> hidden -> hidden -> 1 with LeakyReLU 0.2: one logit (or score) per example."""
    return nn.Sequential(*mlp_D_body(generator, dim_in, hidden), nn.Linear(hidden, 1, generator=generator))


def adam_pair(G, D, steps, k=1, lr=1e-3, betas=(0.5, 0.999), decay=True):
    """Adam for both players (demos/mixture_2d.py's settings); with ``decay`` the learning rates fall
    linearly to lr/100 over the second half of the run. A schedule counts its optimizer's updates,
    so D's ramp (k updates per iteration) is laid out over k times as many of them."""
    opt_D = optim.Adam(D.parameters(), lr=lr, betas=betas)
    opt_G = optim.Adam(G.parameters(), lr=lr, betas=betas)
    schedules = []
    if decay:
        half = max(1, steps // 2)
        for opt, per_iter in ((opt_D, k), (opt_G, 1)):
            schedules.append(optim.LinearRamp(opt, "lr", lr, lr / 100, start=half * per_iter,
                                              end=max(half + 1, steps) * per_iter))
    return opt_D, opt_G, schedules


def _dim(p_data):
    return int(getattr(p_data, "dim", 2))


def _mode_spacing(p_data, default=1.0):
    """The smallest distance between two modes of a mixture (default when p_data has no centers)."""
    c = getattr(p_data, "centers", None)
    if c is None or len(c) < 2:
        return default
    d = numpy.sqrt(((c[:, None, :] - c[None, :, :]) ** 2).sum(-1))
    return float(d[~numpy.eye(len(c), dtype=bool)].min())


def _standard(name, p_data, generator, steps, m, hidden, g_layers=2, *, g_loss="non_saturating", k=1, **gan_kwargs):
    """The common case: mixture_2d's G and D and Adam; only the losses (or k) change."""
    dim = _dim(p_data)
    G, D = mlp_G(generator, dim, hidden, g_layers), mlp_D(generator, dim, hidden)
    opt_D, opt_G, schedules = adam_pair(G, D, steps, k=k)
    return Setup(name, G, D, opt_D, opt_G, toy.NormalNoise(DIM_Z), p_data,
                 dict(k=k, m=m, g_loss=g_loss, schedules=schedules, **gan_kwargs))


# -- the variants -----------------------------------------------------------------------------------
@register("vanilla")
def vanilla(p_data, generator, *, steps, m=256, hidden=128, g_layers=2):
    """The GAN of Goodfellow et al. (2014), Algorithm 1 with k = 1 and the non-saturating G loss
    -E_z log D(G(z)): the baseline every trick is measured against (demos/mixture_2d.py)."""
    return _standard("vanilla", p_data, generator, steps, m, hidden, g_layers)


@register("wgan")
def wgan(p_data, generator, *, steps, m=256, hidden=128, g_layers=2):
    """WGAN (Arjovsky, Chintala and Bottou 2017, Algorithm 1): the critic maximises
    E_x D(x) - E_z D(G(z)) over weights clipped to [-0.01, 0.01] (a crude Lipschitz bound),
    n_critic = 5 critic updates per generator update, RMSprop with lr 5e-5 for both (the paper's
    settings: momentum-based optimisers made the critic unstable)."""
    dim = _dim(p_data)
    G, D = mlp_G(generator, dim, hidden, g_layers), mlp_D(generator, dim, hidden)
    opt_D = optim.RMSprop(D.parameters(), lr=5e-5)
    opt_G = optim.RMSprop(G.parameters(), lr=5e-5)
    return Setup("wgan", G, D, opt_D, opt_G, toy.NormalNoise(DIM_Z), p_data,
                 dict(k=5, m=m, g_loss="wgan", clip_D=0.01))


@register("wgan_gp")
def wgan_gp(p_data, generator, *, steps, m=256, hidden=128, g_layers=2):
    """WGAN-GP (Gulrajani et al. 2017, Algorithm 1): the WGAN critic loss plus the gradient penalty
    lambda E (||grad D(xhat)||_2 - 1)^2 at random points between x and G(z) (minigan/gan/penalty.py),
    lambda = 10, n_critic = 5, Adam with lr 1e-4 for both players, no clipping. The paper's betas are
    (0, 0.9); we keep beta1 = 0.5, as every other Adam row of the table does, so that the rows differ
    in the penalty alone."""
    dim = _dim(p_data)
    G = mlp_G(generator, dim, hidden, g_layers)
    critic = penalty.GradientPenaltyCritic(mlp_D(generator, dim, hidden), generator, lam=10.0)
    opt_D = optim.Adam(critic.parameters(), lr=1e-4, betas=(0.5, 0.9))
    opt_G = optim.Adam(G.parameters(), lr=1e-4, betas=(0.5, 0.9))
    return Setup("wgan_gp", G, critic, opt_D, opt_G, toy.NormalNoise(DIM_Z), p_data,
                 dict(k=5, m=m, g_loss=losses.wgan_g_loss, d_loss=critic.d_loss, d_output="raw"))


@register("lsgan")
def lsgan(p_data, generator, *, steps, m=256, hidden=128, g_layers=2):
    """LSGAN (Mao et al. 2017): least squares instead of cross-entropy, with targets b = 1 (real),
    a = 0 (fake) for D and c = 1 for G: J(D) = 1/2 E_x (D(x) - 1)^2 + 1/2 E_z D(G(z))^2,
    J(G) = E_z (D(G(z)) - 1)^2 (minigan/gan/losses.py)."""
    return _standard("lsgan", p_data, generator, steps, m, hidden, g_layers, g_loss="lsgan")


@register("ml")
def maximum_likelihood(p_data, generator, *, steps, m=256, hidden=128, g_layers=2):
    """The maximum-likelihood generator loss J(G) = -1/2 E_z exp(a(G(z))) (Goodfellow 2014, "On
    distinguishability criteria"; NIPS 2016 tutorial eq. 14): with D optimal its expected gradient
    is 1/2 grad KL(p_data || p_g). D is the usual cross-entropy discriminator."""
    return _standard("ml", p_data, generator, steps, m, hidden, g_layers, g_loss="maximum_likelihood")


@register("label_smoothing")
def label_smoothing(p_data, generator, *, steps, m=256, hidden=128, g_layers=2):
    """One-sided label smoothing (Salimans et al. 2016, section 3.4): D's targets for real examples
    are 0.9 instead of 1, fakes stay at 0, so D*(x) = 0.9 p_data / (p_data + p_g) and D is not
    rewarded for ever more confident logits on real data."""
    return _standard("label_smoothing", p_data, generator, steps, m, hidden, g_layers, real_label=0.9)


@register("instance_noise")
def instance_noise(p_data, generator, *, steps, m=256, hidden=128, g_layers=2, sigma_fraction=0.25):
    """Instance noise (Sønderby et al. 2017; Arjovsky and Bottou 2017): D sees x + e and G(z) + e',
    e ~ N(0, sigma_t^2 I), sigma_t falling linearly from sigma_0 to 0 over the first half of the run
    (minigan/gan/noise.py). sigma_0 = sigma_fraction times the smallest distance between two modes; the
    default, a quarter, is 0.19 on the ring and 0.5 on the grid: wide enough to make neighbouring modes'
    blurred densities overlap."""
    if not (isinstance(sigma_fraction, (int, float)) and sigma_fraction > 0):
        raise ValueError(f"instance_noise: sigma_fraction (sigma_0 over the mode spacing) must be a positive "
                         f"number, got {sigma_fraction!r}")
    setup = _standard("instance_noise", p_data, generator, steps, m, hidden, g_layers)
    schedule = noise.NoiseSchedule(sigma_fraction * _mode_spacing(p_data), max(1, steps // 2), optimizer=setup.opt_G)
    setup.D = noise.InstanceNoise(setup.D, schedule, generator)
    setup.gan_kwargs["schedules"] = setup.gan_kwargs["schedules"] + [schedule]
    return setup


@register("minibatch_discrimination")
def minibatch_discrimination(p_data, generator, *, steps, m=256, hidden=128, g_layers=2, kernels=8, kernel_dims=4):
    """Minibatch discrimination (Salimans et al. 2016, section 3.2): before its output layer D appends
    o(x_i)_b = sum_j exp(-||M_{i,b} - M_{j,b}||_1), B = 8 kernels of C = 4 dimensions, to each example's
    features, so it can tell a collapsed minibatch from a diverse one (minigan/gan/minibatch.py)."""
    dim = _dim(p_data)
    G = mlp_G(generator, dim, hidden, g_layers)
    D = nn.Sequential(*mlp_D_body(generator, dim, hidden),
                      minibatch.MinibatchDiscrimination(hidden, kernels, kernel_dims, generator=generator),
                      nn.Linear(hidden + kernels, 1, generator=generator))
    opt_D, opt_G, schedules = adam_pair(G, D, steps)
    return Setup("minibatch_discrimination", G, D, opt_D, opt_G, toy.NormalNoise(DIM_Z), p_data,
                 dict(k=1, m=m, g_loss="non_saturating", schedules=schedules))


def _pacgan(pack, p_data, generator, steps, m, hidden, g_layers=2):
    """PacGAN (Lin et al. 2018): D decides on packs of ``pack`` examples concatenated into one input."""
    dim = _dim(p_data)
    if m % pack:
        raise ValueError(f"variants: pacgan{pack} needs a minibatch size m divisible by {pack}, got m = {m}")
    G = mlp_G(generator, dim, hidden, g_layers)
    D = minibatch.Packed(mlp_D(generator, pack * dim, hidden), pack)
    opt_D, opt_G, schedules = adam_pair(G, D, steps)
    return Setup(f"pacgan{pack}", G, D, opt_D, opt_G, toy.NormalNoise(DIM_Z), p_data,
                 dict(k=1, m=m, g_loss="non_saturating", schedules=schedules))


@register("pacgan2")
def pacgan2(p_data, generator, *, steps, m=256, hidden=128, g_layers=2):
    """PacGAN2 (Lin et al. 2018): the vanilla GAN with D deciding on pairs of examples, input 2 * dim
    (minigan/gan/minibatch.py, Packed); m / 2 decisions per minibatch."""
    return _pacgan(2, p_data, generator, steps, m, hidden, g_layers)


@register("pacgan4")
def pacgan4(p_data, generator, *, steps, m=256, hidden=128, g_layers=2):
    """PacGAN4 (Lin et al. 2018): as pacgan2 with packs of four (the paper's best row on the 25-grid)."""
    return _pacgan(4, p_data, generator, steps, m, hidden, g_layers)


@register("vbn")
def virtual_batch_norm(p_data, generator, *, steps, m=256, hidden=128, g_layers=2, n_ref=128):
    """Virtual batch normalisation in G (Salimans et al. 2016, section 3.5): each hidden layer of G is
    normalised with the statistics of a reference batch z_ref of n_ref = 128 noise vectors drawn once at
    the start (minigan/nn/virtual_batchnorm.py), so G(z_i) does not depend on the rest of its minibatch."""
    dim = _dim(p_data)
    p_z = toy.NormalNoise(DIM_Z)
    _check_layers("vbn", g_layers)
    body, width = [], DIM_Z
    for _ in range(g_layers):
        body += [nn.Linear(width, hidden, generator=generator), nn.VirtualBatchNorm(hidden), nn.ReLU()]
        width = hidden
    net = nn.Sequential(*body, nn.Linear(width, dim, generator=generator))
    G = nn.ReferenceBatch(net, p_z(generator, n_ref))
    D = mlp_D(generator, dim, hidden)
    opt_D, opt_G, schedules = adam_pair(G, D, steps)
    return Setup("vbn", G, D, opt_D, opt_G, p_z, p_data, dict(k=1, m=m, g_loss="non_saturating", schedules=schedules))


def _second_moment(p_data, default=1.0):
    """E x_j^2 per coordinate of a mixture: the energy (MSE) of an autoencoder that outputs 0."""
    c = getattr(p_data, "centers", None)
    return default if c is None else float((c ** 2).mean() + getattr(p_data, "std", 0.0) ** 2)


@register("ebgan")
def ebgan_pt(p_data, generator, *, steps, m=256, hidden=128, g_layers=2, code=8, pt_weight=0.1):
    """EBGAN-PT (Zhao, Mathieu and LeCun 2017): D is an autoencoder (dim -> hidden -> hidden -> code = 8,
    code -> hidden -> dim) whose energy D(x) is its reconstruction MSE; L_D = E_x D(x) + E_z [m - D(G(z))]^+,
    L_G = E_z D(G(z)) + 0.1 f_PT (the pulling-away term, minigan/gan/ebgan.py). The margin m is the
    data's per-coordinate second moment (0.5 on the ring, 8 on the grid): the energy of reconstructing 0."""
    dim = _dim(p_data)
    G = mlp_G(generator, dim, hidden, g_layers)
    enc = nn.Sequential(*mlp_D_body(generator, dim, hidden), nn.Linear(hidden, code, generator=generator))
    dec = nn.Sequential(nn.Linear(code, hidden, generator=generator), nn.LeakyReLU(0.2),
                        nn.Linear(hidden, dim, generator=generator))
    D = ebgan.AutoencoderD(enc, dec)
    g_loss, d_loss = ebgan.ebgan_losses(D, margin=_second_moment(p_data), pt_weight=pt_weight)
    opt_D, opt_G, schedules = adam_pair(G, D, steps)
    return Setup("ebgan", G, D, opt_D, opt_G, toy.NormalNoise(DIM_Z), p_data,
                 dict(k=1, m=m, g_loss=g_loss, d_loss=d_loss, d_output="raw", schedules=schedules))


@register("conditional")
def conditional_gan(p_data, generator, *, steps, m=256, hidden=128, g_layers=2):
    """Conditional GAN (Mirza and Osindero 2014) told which mode each example comes from: y = the
    mixture component, one-hot, concatenated to z and to D's input (minigan/gan/conditional.py); y is
    uniform in G's samples. It uses labels that no other variant gets, so its coverage is a supervised
    reference, not a row to compare with the unsupervised ones. Needs a mixture (centers, std)."""
    data = conditional.labelled_mixture(p_data)
    K, dim = data.n_classes, data.dim
    G = conditional.ConditionalG(mlp_G(generator, dim, hidden, g_layers, dim_z=DIM_Z + K), K)
    D = conditional.ConditionalD(mlp_D(generator, dim + K, hidden), K)
    opt_D, opt_G, schedules = adam_pair(G, D, steps)
    return Setup("conditional", G, D, opt_D, opt_G, conditional.LabelledNoise(toy.NormalNoise(DIM_Z), K), data,
                 dict(k=1, m=m, g_loss="non_saturating", schedules=schedules))


@register("consensus")
def consensus(p_data, generator, *, steps, m=256, hidden=128, g_layers=2, gamma=10.0, lr=1e-4):
    """Consensus optimisation (Mescheder, Nowozin and Geiger 2017) on the vanilla variant's networks and
    losses, as in their 2-D experiment: simultaneous updates, RMSprop (lr 1e-4) for both players,
    gamma = 10 (minigan/gan/consensus.py)."""
    setup = vanilla(p_data, generator, steps=steps, m=m, hidden=hidden, g_layers=g_layers)
    setup.opt_D = optim.RMSprop(setup.D.parameters(), lr=lr)
    setup.opt_G = optim.RMSprop(setup.G.parameters(), lr=lr)
    setup.name, setup.gan_cls = "consensus", ConsensusGAN
    setup.gan_kwargs.update(gamma=gamma, schedules=[])
    return setup


@register("unrolled")
def unrolled(p_data, generator, *, steps, m=256, hidden=128, g_layers=2, unroll_steps=5):
    """Unrolled GAN (Metz et al. 2016) with K = 5 (the paper varies K from 0 to 10 on its 2-D mixture;
    5 fits our budget): the vanilla variant's networks, losses and Adam, G's loss taken against D after
    K unrolled Adam steps (minigan/gan/unrolled.py)."""
    setup = vanilla(p_data, generator, steps=steps, m=m, hidden=hidden, g_layers=g_layers)
    setup.name, setup.gan_cls = "unrolled", UnrolledGAN
    setup.gan_kwargs["unroll_steps"] = unroll_steps
    return setup


__all__ = ["Setup", "VARIANTS", "register", "names", "build", "mlp_G", "mlp_D", "mlp_D_body", "adam_pair"]
