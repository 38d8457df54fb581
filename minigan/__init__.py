"""minigan: a from-scratch autodiff engine for learning and reproducing GANs.

Re-exports only; each name lives in the module named beside it.
"""
from . import ops  # noqa: F401 - loads the ops before their operators are bound
from . import tensor_methods  # noqa: F401 - binds Tensor's operators (see that module)
from . import functional  # noqa: F401
from .autograd import Function, Tensor, enable_grad, grad, is_grad_enabled, no_grad  # noqa: F401
from .backend import (  # noqa: F401
    BackendError, backend_scope, cupy_available, cupy_unavailable_reason, default_backend, use_backend,
)
from .creation import arange, full, ones, ones_like, tensor, zeros, zeros_like  # noqa: F401
from .gan.divergence import DivergenceError  # noqa: F401
from .gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: F401
from .ops import (  # noqa: F401
    abs, cat, clip, concatenate, exp, log, log1p, matmul, maximum, mean, minimum, pad, sqrt, stack, sum, var,
    where,
)
from .random import Generator, manual_seed  # noqa: F401

__version__ = "0.1.0"
