"""DCGAN for 28 x 28 MNIST (Radford, Metz & Chintala 2016), and its class-conditional variant.

    G: z (100) -> Linear 128*7*7 -> BN -> ReLU -> (128, 7, 7)
               -> ConvTranspose(128, 64, 4, 2, 1) -> BN -> ReLU      (64, 14, 14)
               -> ConvTranspose(64, 1, 4, 2, 1) -> tanh               (1, 28, 28), in (-1, 1)
    D: x (1, 28, 28) -> Conv(1, 64, 4, 2, 1) -> LeakyReLU 0.2       (64, 14, 14)
               -> Conv(64, 128, 4, 2, 1) -> BN -> LeakyReLU 0.2      (128, 7, 7)
               -> Linear 128*7*7 -> 1                                 a logit: D(x) = sigmoid(logit)

The DCGAN paper's rules, all followed here: strided convolutions instead of pooling (D
learns its own downsampling, G its own upsampling), batch norm in both players except on
G's output and D's input, ReLU in G with tanh on its output (so the data are scaled to
[-1, 1]), LeakyReLU(0.2) in D, and every weight initialised from N(0, 0.02^2) (batch
norm's gamma from N(1, 0.02^2), biases at 0): see ``dcgan_init_``.

**The conditional variant** (Mirza & Osindero 2014, "Conditional Generative Adversarial
Nets"): both players see the class label y, so G learns p_g(x | y) and D judges whether
(x, y) is a real labelled example. The minimax game becomes

    min_G max_D  E_{x,y ~ p_data}[log D(x | y)] + E_{z ~ p_z, y ~ p(y)}[log(1 - D(G(z | y) | y))].

How the label enters (with ``n_classes`` > 0):
  * G: the one-hot code of y is concatenated to z, so the first Linear sees 100 + 10 inputs;
  * D: y becomes ``n_classes`` constant 28 x 28 feature maps (map y is all ones, the others
    zero) stacked on the image as extra input channels, so the first Conv sees 1 + 10
    channels and every one of its filters can respond to the digit *and* its claimed class.
Both codes are built where the labels live (minigan/gan/labels.py): on a GPU, labels on the
device never cross to the host.
A labelled example travels as a pair: ``G(z, y)`` returns ``(x, y)`` -- what the
conditional p_g produces is a labelled sample -- and ``D(x, y)`` (or ``D((x, y))``) scores
it, so minigan.gan.GAN's Algorithm 1 runs the conditional game unchanged with
``sample_z`` returning (z, y) and ``sample_data`` returning (x, y).

Parameter counts (unconditional): G 778,305 (Linear 633,472, BN1d 12,544, ConvT 131,136,
BN2d 128, ConvT 1,025); D 138,817 (Conv 1,088, Conv 131,200, BN2d 256, Linear 6,273).

**Width.** Every channel count above is a multiple of one number, c = 64 (the 128 are 2c), so
``build_dcgan(width_factor=w)`` builds the same networks with c = 64 w channels. A wider G has
more filters at each resolution. The Linear layers and batch norms grow as w, the convolutions
between two hidden layers (2c x c filters of 4 x 4) as w^2: at w = 2, G has 1,818,753 parameters
and D 539,777.
"""
from __future__ import annotations

from typing import Any

import numpy

from .. import backend
from .. import functional as F
from .. import nn
from ..autograd import Tensor
from ..gan.labels import check_labels, encode, one_hot, passed_on
from ..nn import init

Z_DIM = 100
IMAGE_SHAPE = (1, 28, 28)
BASE_CHANNELS = 64  # c: G's last hidden layer and D's first have c channels, the others 2c


def channels_for(width_factor) -> int:
    """c = 64 * width_factor, the channel count of a DCGAN ``width_factor`` times as wide; it must be a
    whole number >= 1 (1.5 gives 96; 1.01 gives 64.64, refused)."""
    c = BASE_CHANNELS * float(width_factor)
    if not (c >= 1 and c == round(c)):
        raise ValueError(f"DCGAN width factor: expected a number w > 0 with 64 * w a whole number of channels, "
                         f"got {width_factor!r} (64 * w = {c:g})")
    return int(round(c))


def dcgan_init_(module, generator=None, std=0.02) -> nn.Module:
    """DCGAN's initialisation, in place: conv, transposed-conv and linear weights ~ N(0, std^2),
    their biases 0; batch norm's gamma ~ N(1, std^2), beta 0. Returns ``module``."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            init.normal_(m.weight, 0.0, std, generator=generator)
            if m.bias is not None:
                init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and m.weight is not None:
            init.normal_(m.weight, 1.0, std, generator=generator)
            init.zeros_(m.bias)
    return module


def _labels(where, y, n_classes, m):
    """y checked (minigan/gan/labels.py): integers of shape (m,) in [0, n_classes), on y's own backend."""
    if y is None:
        raise ValueError(f"{where}: this model is conditional on {n_classes} classes; pass the labels y, shape ({m},)")
    return check_labels(where, y, n_classes, m)


class DCGANGenerator(nn.Module):
    """G: z (m, 100) [and labels y (m,)] -> images (m, 1, 28, 28) in (-1, 1); conditional: -> (images, y).

    n_classes = 0 for the plain DCGAN; > 0 concatenates one_hot(y) to z (see the module docstring).
    """

    def __init__(self, z_dim=Z_DIM, n_classes=0, width=64, *, dtype=numpy.float32, generator=None):
        super().__init__()
        self.z_dim, self.n_classes, self.width = int(z_dim), int(n_classes), int(width)
        c2 = 2 * self.width  # 128 channels at 7 x 7, 64 at 14 x 14
        kw = dict(dtype=dtype, generator=generator)
        self.fc = nn.Linear(self.z_dim + self.n_classes, c2 * 7 * 7, **kw)
        self.bn0 = nn.BatchNorm1d(c2 * 7 * 7, dtype=dtype)
        self.up1 = nn.ConvTranspose2d(c2, self.width, 4, 2, 1, **kw)    # 7 -> 14
        self.bn1 = nn.BatchNorm2d(self.width, dtype=dtype)
        self.up2 = nn.ConvTranspose2d(self.width, 1, 4, 2, 1, **kw)     # 14 -> 28
        dcgan_init_(self, generator)

    def forward(self, z, y=None) -> Tensor | tuple[Tensor, Any]:  # x, or (x, y as given)
        if y is None and isinstance(z, (tuple, list)):
            z, y = z
        name = type(self).__name__
        if not isinstance(z, Tensor) or z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"{name}: expected z of shape (m, {self.z_dim}), got "
                             f"{getattr(z, 'shape', type(z).__name__)}")
        h = z
        if self.n_classes:
            labels = _labels(name, y, self.n_classes, z.shape[0])
            h = F.cat([z, Tensor(encode(labels, self.n_classes, z.dtype, z.backend))], axis=1)
            y = passed_on(y, labels, self.n_classes)
        elif y is not None:
            raise ValueError(f"{name}: this generator is unconditional (n_classes=0) but labels y were given")
        h = F.relu(self.bn0(self.fc(h)))
        h = F.reshape(h, (h.shape[0], 2 * self.width, 7, 7))
        h = F.relu(self.bn1(self.up1(h)))
        x = F.tanh(self.up2(h))
        return (x, y) if self.n_classes else x

    def extra_repr(self) -> str:
        return f"z_dim={self.z_dim}, n_classes={self.n_classes}"


class DCGANDiscriminator(nn.Module):
    """D: images (m, 1, 28, 28) [and labels y (m,)] -> logits (m, 1); D(x) = sigmoid(logit).

    n_classes = 0 for the plain DCGAN; > 0 stacks n_classes one-hot label maps on the image as
    extra input channels (see the module docstring). Accepts D(x, y) or D((x, y)).
    """

    def __init__(self, n_classes=0, width=64, *, dtype=numpy.float32, generator=None):
        super().__init__()
        self.n_classes, self.width = int(n_classes), int(width)
        kw = dict(dtype=dtype, generator=generator)
        self.conv1 = nn.Conv2d(1 + self.n_classes, self.width, 4, 2, 1, **kw)     # 28 -> 14
        self.conv2 = nn.Conv2d(self.width, 2 * self.width, 4, 2, 1, **kw)         # 14 -> 7
        self.bn2 = nn.BatchNorm2d(2 * self.width, dtype=dtype)
        self.fc = nn.Linear(2 * self.width * 7 * 7, 1, **kw)
        dcgan_init_(self, generator)

    def forward(self, x, y=None) -> Tensor:
        if y is None and isinstance(x, (tuple, list)):
            x, y = x
        name = type(self).__name__
        if not isinstance(x, Tensor) or tuple(x.shape[1:]) != IMAGE_SHAPE:
            raise ValueError(f"{name}: expected images of shape (m, 1, 28, 28), got "
                             f"{getattr(x, 'shape', type(x).__name__)}")
        h = x
        if self.n_classes:
            labels = _labels(name, y, self.n_classes, x.shape[0])
            code = encode(labels, self.n_classes, x.dtype, x.backend)
            shape = (x.shape[0], self.n_classes, *IMAGE_SHAPE[1:])  # map y is ones: "this image claims class y"
            maps = backend.array_module(code).broadcast_to(code[:, :, None, None], shape)
            h = F.cat([x, Tensor(maps)], axis=1)
        elif y is not None:
            raise ValueError(f"{name}: this discriminator is unconditional (n_classes=0) but labels y were given")
        h = F.leaky_relu(self.conv1(h), 0.2)
        h = F.leaky_relu(self.bn2(self.conv2(h)), 0.2)
        return self.fc(F.reshape(h, (h.shape[0], -1)))

    def extra_repr(self) -> str:
        return f"n_classes={self.n_classes}"


def build_dcgan(generator=None, n_classes=0, dtype=numpy.float32, width_factor=1) \
        -> tuple[DCGANGenerator, DCGANDiscriminator]:
    """(G, D) for MNIST, initialised as DCGAN from ``generator`` (G's weights drawn first); every channel
    count multiplied by ``width_factor`` (channels_for)."""
    c = channels_for(width_factor)
    G = DCGANGenerator(n_classes=n_classes, width=c, dtype=dtype, generator=generator)
    D = DCGANDiscriminator(n_classes=n_classes, width=c, dtype=dtype, generator=generator)
    return G, D


__all__ = ["DCGANGenerator", "DCGANDiscriminator", "build_dcgan", "channels_for", "dcgan_init_", "one_hot", "Z_DIM",
           "IMAGE_SHAPE", "BASE_CHANNELS"]
