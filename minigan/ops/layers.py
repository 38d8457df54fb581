"""Two layers of the original GAN paper's MNIST discriminator: dropout and maxout.

Dropout is a composition of existing ops, so its gradients (and second derivatives) follow
from those ops. Maxout is its own Function (a max over a short axis), because NumPy reduces
over a length-5 axis some ten times slower than it takes the elementwise maximum of the five
slices; its backward is again written with ops, so it is twice differentiable.
"""
from __future__ import annotations

import numbers


from .. import backend
from ..autograd import Function, Tensor
from ..backend import Array
from ..random import resolve
from .arithmetic import as_tensor
from .shape import reshape


def dropout(x, p=0.5, training=True, generator=None) -> Tensor:
    """Inverted dropout: zero each element with probability p, scale survivors by 1/(1 - p).

        y = x * mask / (1 - p),   mask_i ~ Bernoulli(1 - p) independently,
        dL/dx = g * mask / (1 - p)   (the mask is a constant: it is not differentiated).

    p is the *drop* probability, as in PyTorch. The GAN paper (and Hinton et al.) quote a
    *keep* probability instead: "dropout with keep probability 0.8" is p = 0.2 here.
    Scaling at training time keeps E[y] = x, so evaluation (training=False) is the
    identity and needs no rescaling.

    generator: the minigan.Generator that draws the mask; pass the experiment's one for
    reproducible runs. None draws from the default Generator (reseeded by minigan.manual_seed).
    """
    x = as_tensor(x)
    if not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p is a drop probability in [0, 1], got {p!r}")
    if not training or p == 0.0:
        return x
    if p == 1.0:  # everything dropped; 1/(1 - p) would be inf and 0 * inf = nan
        return x * 0.0
    generator = resolve(generator, "dropout")
    mask = generator.bernoulli(1.0 - p, x.shape, dtype=x.dtype, backend_name=x.backend).data
    mask *= x.dtype.type(1.0 / (1.0 - p))  # in place: the 0/1 array was made for this call alone
    return x * Tensor(mask)


def maxout(x, pieces) -> Tensor:
    """Maxout (Goodfellow et al. 2013): each unit outputs the largest of its `pieces` inputs.

    Layout: x has shape (N, units * pieces, *rest) and the features of unit j are the
    consecutive block j*pieces ... j*pieces + pieces - 1, i.e. x is viewed as
    (N, units, pieces, *rest) and reduced over the pieces axis -- the same as PyTorch's
    ``x.view(N, units, pieces).max(-1)``. *rest is empty for dense layers, (H, W) for
    convolutional maxout.

        y[n, j] = max_k x[n, j*pieces + k],
        dL/dx[n, j*pieces + k] = g[n, j] if piece k is the maximum, else 0
        (ties share g equally, as in max's backward).
    """
    x = as_tensor(x)
    if not isinstance(pieces, numbers.Integral) or pieces < 1:
        raise ValueError(f"maxout: pieces must be a positive integer, got {pieces!r}")
    if x.ndim < 2 or x.shape[1] % pieces:
        raise ValueError(
            f"maxout: expected x of shape (N, units * pieces, ...) with pieces={pieces}, got shape {x.shape} "
            f"({x.shape[1] if x.ndim >= 2 else 'no'} features is not a multiple of {pieces})"
        )
    units = x.shape[1] // pieces
    grouped = reshape(x, (x.shape[0], units, pieces) + tuple(x.shape[2:]))
    return MaxOverPieces.apply(grouped)


class MaxOverPieces(Function):
    """y = max_k x[:, :, k] for x viewed as (N, units, pieces, *rest): maxout's reduction.

        dL/dx[:, :, k] = (g / c) * [x[:, :, k] == y],   c = the number of pieces equal to y
    (ties share g equally, as max's backward in ops/reductions.py; c and the indicator are constants.)

    Why not reductions.max(axis=2): with the pieces axis short (5) and innermost, NumPy's
    reduction loops over it slowly; an elementwise maximum across the ``pieces`` slices is
    about 10x faster, and so is counting ties slice by slice. This is the D of the GAN
    paper's MNIST model, so it is on the hot path of every iteration (benchmarks/bench_gan_steps.py).
    """

    def forward(self, x) -> Array:
        xp = backend.array_module(x)
        y = x[:, :, 0].copy()
        for k in range(1, x.shape[2]):
            xp.maximum(y, x[:, :, k], out=y)
        return y

    def backward(self, gy) -> Tensor:
        x = self.inputs[0].data
        y = self.output().data
        xp = backend.array_module(x)
        # 1 where a piece is its unit's maximum: written straight into the gradient's dtype (no bool array)
        wins = xp.equal(x, y[:, :, None], out=xp.empty(x.shape, gy.dtype))
        # Divide by the number of winners always (1 almost everywhere): testing first whether any
        # unit has tied pieces would read data back to the host, a synchronising copy on a GPU.
        # The division is done on g, which is `pieces` times smaller than the mask.
        count = wins[:, :, 0].copy()
        for k in range(1, x.shape[2]):
            count += wins[:, :, k]
        share_of_g = gy / Tensor(count)
        return reshape(share_of_g, (gy.shape[0], gy.shape[1], 1) + tuple(gy.shape[2:])) * Tensor(wins)


__all__ = ["dropout", "maxout"]
