"""The user's face of minigan's ops, under PyTorch's names: ``import minigan.functional as F``."""
from .ops import (  # noqa: F401 - re-exported
    abs, add, broadcast_to, cat, clip, concatenate, div, exp, leaky_relu, linear, log, log1p, log_sigmoid,
    log_softmax, logsumexp, matmul, max, maximum, mean, min, minimum, mul, neg, pad, permute, pow, relu,
    reshape, sigmoid, softmax, softplus, sqrt, stack, sub, sum, tanh, transpose, var, where,
)
