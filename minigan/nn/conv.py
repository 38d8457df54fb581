"""Conv2d and ConvTranspose2d: DCGAN's discriminator downsamples with the first, its
generator upsamples with the second. The arithmetic lives in minigan/ops/conv.py and is
reached through minigan.functional (F.conv2d, F.conv_transpose2d), looked up when a layer runs."""
from __future__ import annotations

import numpy

from .. import functional as F
from . import init
from .module import Module, add_weight_and_bias, check_dtype


def _int_pair(name, v):
    """An int n or a pair (h, w) of ints as the pair (n, n) or (h, w)."""
    pair = (v, v) if isinstance(v, int) else tuple(v)
    if len(pair) != 2 or not all(isinstance(n, (int, numpy.integer)) for n in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
    return tuple(int(n) for n in pair)


class _ConvNd(Module):
    def __init__(self, kind, in_channels, out_channels, kernel_size, stride, padding, bias, dtype, generator,
                 weight_shape):
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"{kind}: channels must be positive, got in={in_channels}, out={out_channels}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _int_pair(f"{kind}: kernel_size", kernel_size)
        self.stride = _int_pair(f"{kind}: stride", stride)
        self.padding = _int_pair(f"{kind}: padding", padding)
        if min(self.kernel_size) < 1 or min(self.stride) < 1 or min(self.padding) < 0:
            raise ValueError(
                f"{kind}: need kernel_size >= 1, stride >= 1, padding >= 0; got {self.kernel_size}, "
                f"{self.stride}, {self.padding}"
            )
        add_weight_and_bias(self, weight_shape + self.kernel_size, out_channels if bias else None, dtype)
        self.reset_parameters(generator)

    def reset_parameters(self, generator=None):
        """PyTorch's default: W ~ U(+-1/sqrt(fan_in)), b ~ U(+-1/sqrt(fan_in)), with fan_in as
        init.calculate_fan_in_and_fan_out reads the weight's layout."""
        init.default_weight_and_bias_(self.weight, self.bias, generator)

    def _check(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"{type(self).__name__}({self.in_channels}, {self.out_channels}): expected input "
                f"(N, {self.in_channels}, H, W), got shape {x.shape}"
            )
        check_dtype(self, x)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}, padding={self.padding}")
        if getattr(self, "output_padding", (0, 0)) != (0, 0):
            s += f", output_padding={self.output_padding}"
        return s + ("" if self.bias is not None else ", bias=False")


class Conv2d(_ConvNd):
    """2-D cross-correlation, as torch.nn.Conv2d: x (N, C_in, H, W) -> (N, C_out, H', W'),
    H' = (H + 2 padding - kernel) // stride + 1. Weight (C_out, C_in, kh, kw), bias (C_out,).

    Initialisation: PyTorch's default (init.default_weight_and_bias_), from ``generator``
    (None: OS entropy, not reproducible). DCGAN re-initialises with init.normal_(W, 0, 0.02).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True, *,
                 dtype=numpy.float32, generator=None):
        super().__init__("Conv2d", in_channels, out_channels, kernel_size, stride, padding, bias, dtype,
                         generator, (int(out_channels), int(in_channels)))

    def forward(self, x):
        self._check(x)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)


class ConvTranspose2d(_ConvNd):
    """The adjoint of Conv2d (a "fractionally strided" convolution), as torch.nn.ConvTranspose2d:
    x (N, C_in, H, W) -> (N, C_out, H'', W''),
    H'' = (H - 1) stride - 2 padding + kernel + output_padding.
    Weight (C_in, C_out, kh, kw) -- note the order, PyTorch's -- and bias (C_out,).

    output_padding (< stride) picks among the output sizes that a strided Conv2d would map
    back to the same H. Initialisation as Conv2d (fan_in read from the weight layout as PyTorch).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 bias=True, *, dtype=numpy.float32, generator=None):
        op = _int_pair("ConvTranspose2d: output_padding", output_padding)
        st = _int_pair("ConvTranspose2d: stride", stride)
        if any(o < 0 or o >= s for o, s in zip(op, st)):
            raise ValueError(f"ConvTranspose2d: output_padding {op} must be >= 0 and smaller than stride {st}")
        object.__setattr__(self, "output_padding", op)
        super().__init__("ConvTranspose2d", in_channels, out_channels, kernel_size, stride, padding, bias, dtype,
                         generator, (int(in_channels), int(out_channels)))

    def forward(self, x):
        self._check(x)
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding)
