"""Weight initialisation: fill a Tensor's array in place with numbers drawn from a Generator.

Every function takes ``generator``: the experiment's minigan.Generator, so that a seed
fixes the initial weights. ``generator=None`` draws from the default Generator, which
``minigan.manual_seed(s)`` reseeds (as torch.manual_seed); without that call it starts
from OS entropy and the weights are not reproducible.

The three families, for a weight with fan_in inputs and fan_out outputs per unit:
  uniform_(t, -a, a), normal_(t, 0, s)   fixed scale: the GAN paper's pylearn2 code used
                                          uniform ranges; DCGAN uses normal(0, 0.02).
  xavier_* (Glorot & Bengio 2010)         Var = gain^2 * 2 / (fan_in + fan_out)
  kaiming_* (He et al. 2015)              Var = gain^2 / fan (fan_in by default)
A uniform(-b, b) draw has variance b^2 / 3, so the uniform variants use b = sqrt(3 Var).

Layers default to PyTorch's choice (nn.Linear, nn.Conv2d): kaiming_uniform_(W, a=sqrt(5)),
i.e. uniform(+-1/sqrt(fan_in)), and a bias uniform(+-1/sqrt(fan_in)).
"""
from __future__ import annotations

import math

from .. import backend
from ..autograd import Tensor
from ..random import resolve


def _generator(generator, where):
    return resolve(generator, f"init.{where}")


def _fill(t, host_array, where):
    if not isinstance(t, Tensor):
        raise TypeError(f"init.{where}: expected a Tensor (e.g. a Parameter), got {type(t).__name__}")
    t.data[...] = backend.to_backend(host_array.astype(t.dtype, copy=False), t.backend)
    return t


def calculate_fan_in_and_fan_out(t):
    """fan_in, fan_out as PyTorch computes them: dims 1 and 0 times the receptive field (dims 2+).

    Linear W (out, in): (in, out). Conv2d W (out, in, kh, kw): (in*kh*kw, out*kh*kw).
    ConvTranspose2d W (in, out, kh, kw): (out*kh*kw, in*kh*kw) -- PyTorch reads the
    layout literally, and minigan follows it so that both libraries draw alike.
    """
    shape = tuple(t.shape)
    if len(shape) < 2:
        raise ValueError(f"init: fan in and fan out need a tensor with at least 2 dims, got shape {shape}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity, param=None):
    """The factor that keeps activations' variance stable through the nonlinearity (PyTorch's table)."""
    if nonlinearity in ("linear", "conv2d", "conv_transpose2d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1.0 + slope * slope))
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}")


def uniform_(t, a=0.0, b=1.0, generator=None):
    """t ~ Uniform(a, b) elementwise. The GAN paper's style: uniform_(W, -0.05, 0.05, generator=g)."""
    if a > b:
        raise ValueError(f"init.uniform_: a={a} is greater than b={b}")
    g = _generator(generator, "uniform_")
    return _fill(t, g.np.uniform(a, b, size=t.shape), "uniform_")


def normal_(t, mean=0.0, std=1.0, generator=None):
    """t ~ N(mean, std^2) elementwise. DCGAN: normal_(W, 0.0, 0.02, generator=g)."""
    if std < 0:
        raise ValueError(f"init.normal_: std must be >= 0, got {std}")
    g = _generator(generator, "normal_")
    return _fill(t, g.np.normal(mean, std, size=t.shape), "normal_")


def zeros_(t):
    t.data[...] = 0
    return t


def ones_(t):
    t.data[...] = 1
    return t


def constant_(t, value):
    t.data[...] = value
    return t


def xavier_uniform_(t, gain=1.0, generator=None):
    """Uniform(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out))  (Var = gain^2 2/(fan_in+fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    b = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -b, b, generator)


def xavier_normal_(t, gain=1.0, generator=None):
    """N(0, s^2) with s = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(t, a, mode, nonlinearity, where):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init.{where}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """Uniform(-b, b) with b = sqrt(3) * gain / sqrt(fan); gain for leaky_relu(a) = sqrt(2 / (1 + a^2)).

    With a = sqrt(5) (the layers' default, as PyTorch) b = 1/sqrt(fan_in).
    """
    std = _kaiming_std(t, a, mode, nonlinearity, "kaiming_uniform_")
    b = math.sqrt(3.0) * std
    return uniform_(t, -b, b, generator)


def kaiming_normal_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """N(0, s^2) with s = gain / sqrt(fan)."""
    return normal_(t, 0.0, _kaiming_std(t, a, mode, nonlinearity, "kaiming_normal_"), generator)


def default_weight_and_bias_(weight, bias, generator=None):
    """PyTorch's default for Linear and Conv layers: W ~ kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in)),
    b ~ U(+-1/sqrt(fan_in)). Both draws come from one generator, weight first."""
    g = _generator(generator, "default_weight_and_bias_")
    kaiming_uniform_(weight, a=math.sqrt(5.0), generator=g)
    if bias is not None:
        fan_in, _ = calculate_fan_in_and_fan_out(weight)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        uniform_(bias, -bound, bound, generator=g)


__all__ = [
    "calculate_fan_in_and_fan_out", "calculate_gain", "uniform_", "normal_", "zeros_", "ones_", "constant_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "default_weight_and_bias_",
]
