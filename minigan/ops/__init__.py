"""minigan's ops, one file per family. Each op is a Function (forward on arrays,
backward on Tensors) plus a plain function that checks arguments and applies it.

What an op keeps between forward and backward is declared at the top of its class: its
parameters (the keyword arguments of ``apply``) and any array its forward saves, either as
annotated fields (``axis: int  # ...``) or, where some are optional caches, as the arguments
of an explicit ``__init__`` (the convolutions). tests/test_op_fields.py checks the lists."""
from .activations import leaky_relu, log_sigmoid, log_softmax, relu, sigmoid, softmax, softplus, tanh
from .arithmetic import (
    abs, add, as_tensor, astype, clip, div, exp, log, log1p, maximum, minimum, mul, neg, pow, sqrt, sub, to, where,
)
from .linalg import linear, matmul
from .reductions import argmax, argmin, logsumexp, max, mean, min, std, sum, var
from .shape import broadcast_to, cat, concatenate, getitem, pad, permute, reshape, stack, sum_to, transpose
from .views import clone, flatten, squeeze, unsqueeze, view
