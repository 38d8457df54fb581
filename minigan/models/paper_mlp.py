"""The GAN paper's MNIST model (Goodfellow et al. 2014, Table 1): an MLP generator and a maxout discriminator.

    G: z (100, uniform on [-sqrt 3, sqrt 3], or N(0, I) as the paper's code) -> 1200 ReLU -> 1200 ReLU -> 784 sigmoid
    D: x (784) -> dropout -> maxout 240x5 -> dropout -> maxout 240x5 -> dropout -> 1 (a logit)

D returns the logit a with D(x) = sigmoid(a), because the losses are cross-entropies from
logits (minigan/gan/losses.py): log sigmoid(a) computed as -softplus(-a) keeps its gradient
when D is sure, where sigmoid-then-log would round to log 0.

**Dropout on D.** The paper's code (pylearn2's AdversaryCost2) drops D's inputs with keep
probability 0.8 and the inputs of its hidden layers with 0.5, and rescales the survivors by
1/keep (its "input_scales" 1.25 and 2): inverted dropout, minigan's F.dropout with
p = 1 - keep. Dropout stays on in both players' steps, as in the paper's cost: G is trained
against a randomly thinned D.

**Initialisation.** As best we know the paper's pylearn2 file (mnist.yaml of goodfeli/adversarial):
every weight uniform on [-irange, irange] with irange 0.05 in G and 0.005 in D, every bias 0,
except G's output bias, set from the data's marginals (pylearn2's init_sigmoid_bias_from_marginals):
b_j = logit(clip(mean_n x_nj, 1e-5, 1 - 1e-5)), so that G's first images are the mean digit
and the border pixels start at sigmoid(b) ~ 0 instead of 0.5. Pass ``output_bias=None`` to
keep that bias at 0.

Both builders take the experiment's minigan.Generator: it draws the initial weights and,
for D, every dropout mask, so one seed fixes a run and a checkpoint of that Generator
resumes it exactly.
"""
from __future__ import annotations

import math

import numpy

from .. import backend, nn
from ..data.toy import NormalNoise, UniformNoise
from ..nn import init

Z_DIM = 100
Z_BOUND = math.sqrt(3.0)  # U(-sqrt 3, sqrt 3) has variance 1
IMAGE_DIM = 28 * 28
G_HIDDEN = 1200
D_UNITS, D_PIECES = 240, 5
G_IRANGE, D_IRANGE = 0.05, 0.005
KEEP_INPUT, KEEP_HIDDEN = 0.8, 0.5  # dropout keep probabilities of D (the paper's "include probs")
MARGINAL_CLIP = 1e-5


NOISE_KINDS = ("uniform", "gaussian")


def noise_prior(z_dim=Z_DIM, kind="uniform"):
    """p_z, a sampler (generator, m) -> Tensor (m, z_dim), as Algorithm 1 expects.

    kind "uniform": z ~ U(-sqrt 3, sqrt 3)^z_dim, the prior most re-implementations
    name; "gaussian": z ~ N(0, I), what the paper's code drew (its mnist.yaml sets no ``noise``, and
    the Generator class of goodfeli/adversarial defaults to "gaussian"). Both have zero mean and
    unit variance per coordinate, so G's first layer sees inputs of the same scale either way.
    """
    if kind == "uniform":
        return UniformNoise(z_dim, -Z_BOUND, Z_BOUND)
    if kind == "gaussian":
        return NormalNoise(z_dim)
    raise ValueError(f"paper_mlp.noise_prior: kind must be one of {NOISE_KINDS}, got {kind!r}")


def sigmoid_bias_from_marginals(images, clip=MARGINAL_CLIP):
    """b = logit(p) with p the mean of each pixel over ``images`` (values in [0, 1]), clipped to [clip, 1 - clip].

    sigmoid(b) is then the mean image: G's output layer starts from the data's marginals.
    Returns float32 [784] (any [N, ...] input is flattened per row).
    """
    x = numpy.asarray(images)
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"sigmoid_bias_from_marginals: expected images [N, ...] with N >= 1, got shape {x.shape}")
    p = x.reshape(x.shape[0], -1).astype(numpy.float64).mean(axis=0)
    if p.min() < 0 or p.max() > 1:
        raise ValueError(f"sigmoid_bias_from_marginals: pixels must lie in [0, 1] (scale uint8 by 1/255), "
                         f"got range [{p.min():.3g}, {p.max():.3g}] of the means")
    p = numpy.clip(p, clip, 1.0 - clip)
    return numpy.log(p / (1.0 - p)).astype(numpy.float32)


def _uniform_layer(layer, irange, generator):
    """pylearn2's irange initialisation: W ~ U(-irange, irange), b = 0."""
    init.uniform_(layer.weight, -irange, irange, generator=generator)
    if layer.bias is not None:
        init.zeros_(layer.bias)
    return layer


def generator(gen, z_dim=Z_DIM, hidden=G_HIDDEN, out_dim=IMAGE_DIM, irange=G_IRANGE, output_bias=None,
              dtype=numpy.float32):
    """G: z -> Linear(z_dim, 1200) -> ReLU -> Linear(1200, 1200) -> ReLU -> Linear(1200, 784) -> Sigmoid.

    Returns an nn.Sequential mapping (m, z_dim) noise to (m, 784) images in (0, 1).
    output_bias: G's last bias, e.g. ``sigmoid_bias_from_marginals(train_images)``; None keeps 0.
    """
    layers = [nn.Linear(z_dim, hidden, dtype=dtype, generator=gen), nn.ReLU(),
              nn.Linear(hidden, hidden, dtype=dtype, generator=gen), nn.ReLU(),
              nn.Linear(hidden, out_dim, dtype=dtype, generator=gen), nn.Sigmoid()]
    for layer in layers[0::2]:
        _uniform_layer(layer, irange, gen)
    if output_bias is not None:
        b = numpy.asarray(output_bias, dtype=dtype)
        if b.shape != (out_dim,):
            raise ValueError(f"paper_mlp.generator: output_bias must have shape ({out_dim},), got {b.shape}")
        # written on the bias's backend: a host array cannot be written into a GPU one
        layers[4].bias.data[...] = backend.to_backend(b, layers[4].bias.backend)
    return nn.Sequential(*layers)


def discriminator(gen, in_dim=IMAGE_DIM, units=D_UNITS, pieces=D_PIECES, irange=D_IRANGE,
                  keep_input=KEEP_INPUT, keep_hidden=KEEP_HIDDEN, dtype=numpy.float32):
    """D: x -> Dropout -> Maxout(784, 240x5) -> Dropout -> Maxout(240, 240x5) -> Dropout -> Linear(240, 1).

    Returns an nn.Sequential mapping (m, 784) images to (m, 1) logits a, D(x) = sigmoid(a).
    keep_input, keep_hidden: dropout keep probabilities (nn.Dropout takes the drop probability
    1 - keep); D.eval() turns dropout off.
    """
    for name, keep in (("keep_input", keep_input), ("keep_hidden", keep_hidden)):
        if not 0.0 < keep <= 1.0:
            raise ValueError(f"paper_mlp.discriminator: {name} is a keep probability in (0, 1], got {keep}")
    layers = [nn.Dropout(1.0 - keep_input, generator=gen),
              nn.Maxout(in_dim, units, pieces, dtype=dtype, generator=gen),
              nn.Dropout(1.0 - keep_hidden, generator=gen),
              nn.Maxout(units, units, pieces, dtype=dtype, generator=gen),
              nn.Dropout(1.0 - keep_hidden, generator=gen),
              nn.Linear(units, 1, dtype=dtype, generator=gen)]
    for layer in layers[1::2]:
        _uniform_layer(layer, irange, gen)
    return nn.Sequential(*layers)


def parameter_count(module) -> int:
    """Number of trainable numbers in ``module``."""
    return sum(int(p.size) for p in module.parameters())


__all__ = ["Z_DIM", "Z_BOUND", "IMAGE_DIM", "NOISE_KINDS", "noise_prior", "sigmoid_bias_from_marginals", "generator",
           "discriminator", "parameter_count"]
