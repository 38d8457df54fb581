"""Conditional GANs (Mirza and Osindero 2014, "Conditional generative adversarial nets").

Both players are given extra information y -- here a class label -- so that G learns the
conditional density p_g(x | y) and D judges labelled examples (x, y):

    min_G max_D  E_{(x, y) ~ p_data} log D(x | y) + E_{z ~ p_z, y ~ p(y)} log(1 - D(G(z | y) | y)).

The label enters the simplest way the paper describes: its one-hot code is concatenated to G's
input z and to D's input x (an MLP's first layer then sees dim + n_classes inputs).

A labelled example travels as a pair (x, y), as in minigan/models/dcgan.py: the noise sampler
returns (z, y), G returns (G(z | y), y) -- what a conditional G produces is a labelled sample --
and D takes (x, y). Algorithm 1 (minigan/gan/algorithm.py, class GAN) then runs the conditional
game unchanged:

    G = ConditionalG(mlp taking 2 + K inputs, K);  D = ConditionalD(mlp taking 2 + K inputs, K)
    GAN(G, D, opt_D, opt_G, LabelledNoise(NormalNoise(2), K), labelled_mixture(toy.ring()), ...)

Labels y are integer arrays (NumPy or CuPy, or integer Tensors), shape (m,), values in [0, K);
minigan/gan/labels.py checks them and builds their one-hot code on their own backend, so on a
GPU the labels this module draws (as ClassLabels, from the run's Generator) never leave it.
"""
from __future__ import annotations

from typing import Any

import numpy

from .. import backend
from .. import functional as F
from ..autograd import Tensor
from ..nn.module import Module
from ..random import Generator
from .labels import ClassLabels, check_labels, encode, one_hot, passed_on


def _labelled_pair(where, x, y):
    """(x, y) from a conditional network's arguments: a tuple (x, y) alone, or x and y; x must be (m, features)."""
    if y is None and isinstance(x, (tuple, list)):
        if len(x) != 2:
            raise ValueError(f"{where}: expected a labelled pair (x, y), got a sequence of {len(x)}")
        x, y = x
    if y is None:
        raise ValueError(f"{where}: this network is conditional; pass (x, y) or x and labels y")
    if not isinstance(x, Tensor) or x.ndim != 2:
        raise ValueError(f"{where}: expected x of shape (m, features), got {getattr(x, 'shape', type(x).__name__)}")
    return x, y


def with_labels(where, x, y, n_classes) -> Tensor:
    """[x, one_hot(y)]: the input of a conditional network's first layer, shape (m, features + n_classes)."""
    return _beside(x, check_labels(where, y, n_classes, x.shape[0]), n_classes)


def _beside(x, labels, n_classes) -> Tensor:
    """[x, the one-hot code of checked labels], the code built on x's backend."""
    return F.concatenate([x, Tensor(encode(labels, n_classes, x.dtype, x.backend))], axis=1)


class ConditionalG(Module):
    """G(z | y): net([z, one_hot(y)]), returned as the labelled sample (x, y).

    net: a Module taking z_dim + n_classes inputs. Call G((z, y)) (what LabelledNoise draws) or G(z, y).
    The y returned is y as given; device labels come back as ClassLabels once checked (labels.passed_on).
    """

    def __init__(self, net, n_classes):
        super().__init__()
        if int(n_classes) != n_classes or n_classes < 1:
            raise ValueError(f"ConditionalG: n_classes must be a positive integer, got {n_classes!r}")
        self.net, self.n_classes = net, int(n_classes)

    def forward(self, z, y=None) -> tuple[Tensor, Any]:  # (G(z | y), y)
        z, y = _labelled_pair("ConditionalG", z, y)
        labels = check_labels("ConditionalG", y, self.n_classes, z.shape[0])
        return self.net(_beside(z, labels, self.n_classes)), passed_on(y, labels, self.n_classes)


class ConditionalD(Module):
    """D(x | y): net([x, one_hot(y)]), one logit per labelled example. Call D((x, y)) or D(x, y)."""

    def __init__(self, net, n_classes):
        super().__init__()
        if int(n_classes) != n_classes or n_classes < 1:
            raise ValueError(f"ConditionalD: n_classes must be a positive integer, got {n_classes!r}")
        self.net, self.n_classes = net, int(n_classes)

    def forward(self, x, y=None) -> Tensor:
        x, y = _labelled_pair("ConditionalD", x, y)
        return self.net(with_labels("ConditionalD", x, y, self.n_classes))


class LabelledNoise:
    """(z, y): z from the prior ``p_z`` and y uniform over n_classes (or drawn from ``probs``), both
    from the run's Generator: the conditional version of p_z for Algorithm 1's ``sample_z``.

    y comes as ClassLabels (its range is known, so on a GPU the conditional networks read nothing
    to check it), drawn from the Generator's host stream on NumPy and its device stream on CuPy.
    """

    def __init__(self, p_z, n_classes, probs=None):
        if int(n_classes) != n_classes or n_classes < 1:
            raise ValueError(f"LabelledNoise: n_classes must be a positive integer, got {n_classes!r}")
        self.p_z, self.n_classes = p_z, int(n_classes)
        if probs is not None:
            probs = numpy.asarray(probs, dtype=numpy.float64)
            if probs.shape != (self.n_classes,) or probs.min() < 0 or abs(probs.sum() - 1.0) > 1e-9:
                raise ValueError(f"LabelledNoise: probs must be {self.n_classes} non-negative numbers summing to 1, "
                                 f"got {probs}")
        self.probs = probs
        self._device_cuts = None  # the cumulative probabilities, copied to the device on its first draw

    def __call__(self, generator, m):
        if not isinstance(generator, Generator):
            raise TypeError(f"LabelledNoise: the first argument must be a minigan.Generator, "
                            f"got {type(generator).__name__}")
        z = self.p_z(generator, m)
        if backend.default_backend() != "cupy":
            y = generator.np.choice(self.n_classes, size=int(m), p=self.probs)
        else:
            y = self._device_labels(generator, int(m))
        return z, ClassLabels(y, self.n_classes)

    def _device_labels(self, generator, m):
        if self.probs is None:
            return generator.integers(0, self.n_classes, (m,)).data
        # inverse CDF: y = how many of the cumulative probabilities P(y <= c), c < K - 1, u ~ U[0, 1) reaches
        if self._device_cuts is None:
            self._device_cuts = backend.to_backend(numpy.cumsum(self.probs)[:-1], "cupy")
        u = generator.uniform((m,), dtype=numpy.float64).data
        return (u[:, None] >= self._device_cuts[None, :]).sum(axis=1).astype(numpy.int64)


class labelled_mixture:  # used like a function: labelled_mixture(toy.ring())
    """p_data of a Gaussian mixture (minigan/data/toy.py) as labelled pairs (x, y), y = the component.

    ``labelled_mixture(mixture)(generator, m)`` draws y uniformly, then x = c_y + std * N(0, I).
    ``n_classes`` is the number of components; ``centers``, ``std`` and ``dim`` are the mixture's.
    y comes as ClassLabels; on CuPy both are drawn on the device, as the mixture itself draws there.
    """

    def __init__(self, mixture):
        if not (hasattr(mixture, "centers") and hasattr(mixture, "std")):
            raise TypeError(f"labelled_mixture: expected a toy.GaussianMixture, got {type(mixture).__name__}")
        self.mixture = mixture
        self.centers, self.std, self.dim = mixture.centers, mixture.std, mixture.centers.shape[1]
        self.n_classes = len(mixture.centers)
        self._device_centers = None  # the centers copied to the device once, on its first draw

    def __call__(self, generator, m):
        if not isinstance(generator, Generator):
            raise TypeError(f"labelled_mixture: the first argument must be a minigan.Generator, "
                            f"got {type(generator).__name__}")
        m, dtype = int(m), getattr(self.mixture, "dtype", numpy.float32)
        if backend.default_backend() == "cupy":
            if self._device_centers is None:
                self._device_centers = backend.to_backend(self.centers, "cupy")
            y = generator.integers(0, self.n_classes, (m,)).data
            noise = generator.normal((m, self.dim), 0.0, self.std, dtype=numpy.float64).data
            return Tensor((self._device_centers[y] + noise).astype(dtype)), ClassLabels(y, self.n_classes)
        y = generator.np.integers(0, self.n_classes, size=m)
        x = self.centers[y] + generator.np.normal(0.0, self.std, size=(m, self.dim))
        return Tensor(backend.to_backend(x.astype(dtype), backend.default_backend())), ClassLabels(y, self.n_classes)


__all__ = ["ClassLabels", "check_labels", "one_hot", "with_labels", "ConditionalG", "ConditionalD", "LabelledNoise",
           "labelled_mixture"]
