"""Toy densities for GANs: a 1-D Gaussian, the 8-Gaussian ring and the 25-Gaussian grid, and the noise priors p_z.

Every sampler is a callable ``sampler(generator, m) -> Tensor of shape (m, dim)`` that takes
all its randomness from ``generator`` (a minigan.Generator), so that Algorithm 1
(minigan/gan/algorithm.py) can draw "m examples from p_data" and "m noise vectors from p_z"
the same way for a toy density and for MNIST, and a seed fixes a whole run.

Numbers are drawn where the default backend lives: on NumPy from the Generator's host
stream (NumPy's PCG64), on CuPy from its device stream, so a GPU iteration copies nothing
from the host (minigan/random.py says what a seed reproduces on each). Each density also has ``pdf(x)`` (NumPy, for
figures and for the exact D* = p_data / (p_data + p_g) in tests).

The 2-D mixtures are the mode-collapse benchmarks of the unrolled-GAN paper (Metz et al. 2016):
eight Gaussians of std 0.01 on a circle of radius 1 (:func:`ring`), and 25 Gaussians of std
0.05 on the grid {-4, -2, 0, 2, 4}^2 (:func:`grid`). Their modes are far apart compared to
their width, so a generator that covers only some of them is easy to see and to count
(minigan.gan.metrics.mode_coverage).
"""
from __future__ import annotations

import math

import numpy

from .. import backend
from ..autograd import Tensor
from ..random import Generator


def _place(host_array, dtype) -> Tensor:
    return Tensor(backend.to_backend(numpy.asarray(host_array, dtype=dtype), backend.default_backend()))


def _on_device() -> bool:
    return backend.default_backend() == "cupy"


def _check_call(name, generator, m):
    if not isinstance(generator, Generator):
        raise TypeError(f"{name}: the first argument must be a minigan.Generator, got {type(generator).__name__}")
    if int(m) != m or m < 1:
        raise ValueError(f"{name}: m (the minibatch size) must be a positive integer, got {m!r}")
    return int(m)


class Gaussian:
    """N(mean, std^2 I) in ``dim`` dimensions (1 by default): the p_data of the paper's Figure 1."""

    def __init__(self, mean=0.0, std=1.0, dim=1, dtype=numpy.float32):
        if std <= 0:
            raise ValueError(f"Gaussian: std must be positive, got {std}")
        self.mean, self.std, self.dim, self.dtype = float(mean), float(std), int(dim), dtype

    def __call__(self, generator, m) -> Tensor:
        m = _check_call("Gaussian", generator, m)
        if _on_device():
            return generator.normal((m, self.dim), self.mean, self.std, dtype=self.dtype)
        return _place(generator.np.normal(self.mean, self.std, size=(m, self.dim)), self.dtype)

    def pdf(self, x):
        """The density at points x (1-D: any shape; dim > 1: shape (n, dim))."""
        x = numpy.asarray(x, dtype=numpy.float64)
        if self.dim == 1:
            return gaussian_pdf(x, self.mean, self.std)
        return numpy.prod(gaussian_pdf(x, self.mean, self.std), axis=-1)

    def __repr__(self):
        return f"Gaussian(mean={self.mean}, std={self.std}, dim={self.dim})"


class GaussianMixture:
    """An equal-weight mixture of isotropic Gaussians N(c_k, std^2 I), one per row of ``centers``.

    Sampling: pick a component k uniformly for each example, then add std * N(0, I) to c_k.
    """

    def __init__(self, centers, std, dtype=numpy.float32):
        centers = numpy.asarray(centers, dtype=numpy.float64)
        if centers.ndim != 2 or len(centers) == 0:
            raise ValueError(f"GaussianMixture: centers must have shape (K, dim), got {centers.shape}")
        if std <= 0:
            raise ValueError(f"GaussianMixture: std must be positive, got {std}")
        self.centers, self.std, self.dtype = centers, float(std), dtype
        self._device_centers = None  # the centers copied to the GPU once, on the first device draw

    @property
    def dim(self) -> int:
        return self.centers.shape[1]

    def __call__(self, generator, m) -> Tensor:
        m = _check_call("GaussianMixture", generator, m)
        if _on_device():
            if self._device_centers is None:
                self._device_centers = backend.to_backend(self.centers, "cupy")
            k = generator.integers(0, len(self.centers), (m,)).data
            noise = generator.normal((m, self.dim), 0.0, self.std, dtype=numpy.float64).data
            return Tensor((self._device_centers[k] + noise).astype(self.dtype))
        k = generator.np.integers(0, len(self.centers), size=m)
        noise = generator.np.normal(0.0, self.std, size=(m, self.dim))
        return _place(self.centers[k] + noise, self.dtype)

    def pdf(self, x):
        """The mixture density at points x of shape (n, dim)."""
        x = numpy.asarray(x, dtype=numpy.float64)
        d2 = ((x[:, None, :] - self.centers[None, :, :]) ** 2).sum(-1)
        norm = (2.0 * math.pi * self.std**2) ** (self.dim / 2.0)
        return numpy.exp(-0.5 * d2 / self.std**2).mean(axis=1) / norm

    def __repr__(self):
        return f"GaussianMixture({len(self.centers)} components in {self.dim}-D, std={self.std})"


def ring_centers(n_modes=8, radius=1.0) -> numpy.ndarray:
    """(n_modes, 2) points r (cos t_k, sin t_k) at the angles t_k = 2 pi k / n_modes."""
    t = 2.0 * math.pi * numpy.arange(n_modes) / n_modes
    return radius * numpy.stack([numpy.cos(t), numpy.sin(t)], axis=1)


def grid_centers(values=(-4.0, -2.0, 0.0, 2.0, 4.0)) -> numpy.ndarray:
    """(len(values)^2, 2) points of the grid values x values, row by row."""
    v = numpy.asarray(values, dtype=numpy.float64)
    xs, ys = numpy.meshgrid(v, v, indexing="ij")
    return numpy.stack([xs.ravel(), ys.ravel()], axis=1)


def ring(n_modes=8, radius=1.0, std=0.01, dtype=numpy.float32) -> GaussianMixture:
    """The 8-Gaussian ring: modes on a circle of radius 1, std 0.01 each."""
    return GaussianMixture(ring_centers(n_modes, radius), std, dtype)


def grid(values=(-4.0, -2.0, 0.0, 2.0, 4.0), std=0.05, dtype=numpy.float32) -> GaussianMixture:
    """The 25-Gaussian grid: modes at {-4, -2, 0, 2, 4}^2, std 0.05 each."""
    return GaussianMixture(grid_centers(values), std, dtype)


# -- the noise prior p_z ---------------------------------------------------------------------------
class NormalNoise:
    """z ~ N(0, I) in ``dim`` dimensions: ``NormalNoise(dim)(generator, m)`` has shape (m, dim)."""

    def __init__(self, dim, dtype=numpy.float32):
        self.dim, self.dtype = int(dim), dtype

    def __call__(self, generator, m) -> Tensor:
        m = _check_call("NormalNoise", generator, m)
        if _on_device():
            return generator.normal((m, self.dim), dtype=self.dtype)
        return _place(generator.np.normal(0.0, 1.0, size=(m, self.dim)), self.dtype)

    def __repr__(self):
        return f"NormalNoise(dim={self.dim})"


class UniformNoise:
    """z ~ U(low, high)^dim (the GAN paper's MNIST generator drew z uniformly)."""

    def __init__(self, dim, low=-1.0, high=1.0, dtype=numpy.float32):
        if not low < high:
            raise ValueError(f"UniformNoise: need low < high, got low={low}, high={high}")
        self.dim, self.low, self.high, self.dtype = int(dim), float(low), float(high), dtype

    def __call__(self, generator, m) -> Tensor:
        m = _check_call("UniformNoise", generator, m)
        if _on_device():
            return generator.uniform((m, self.dim), self.low, self.high, dtype=self.dtype)
        return _place(generator.np.uniform(self.low, self.high, size=(m, self.dim)), self.dtype)

    def __repr__(self):
        return f"UniformNoise(dim={self.dim}, low={self.low}, high={self.high})"


def gaussian_pdf(x, mean, std):
    """N(x; mean, std^2) elementwise, in NumPy float64."""
    x = numpy.asarray(x, dtype=numpy.float64)
    return numpy.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2.0 * math.pi))


__all__ = [
    "Gaussian", "GaussianMixture", "ring", "grid", "ring_centers", "grid_centers", "NormalNoise",
    "UniformNoise", "gaussian_pdf",
]
