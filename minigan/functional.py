"""The user's face of minigan's ops, under PyTorch's names: ``import minigan.functional as F``."""
from .ops import (  # noqa: F401 - re-exported
    abs, add, argmax, argmin, broadcast_to, cat, clip, concatenate, div, exp, leaky_relu, linear, log, log1p,
    log_sigmoid, log_softmax, logsumexp, matmul, max, maximum, mean, min, minimum, mul, neg, pad, permute, pow,
    relu, reshape, sigmoid, softmax, softplus, sqrt, stack, std, sub, sum, tanh, transpose, var, where,
)
from .ops.conv import conv2d, conv_transpose2d  # noqa: F401
from .ops.layers import dropout, maxout  # noqa: F401
from .ops.likelihood import binary_cross_entropy, cross_entropy, nll_loss  # noqa: F401
from .ops.losses import binary_cross_entropy_with_logits, mse_loss  # noqa: F401
from .ops.normalization import batch_norm  # noqa: F401
from .ops.views import clone, flatten, squeeze, unsqueeze, view  # noqa: F401
