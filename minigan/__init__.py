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
from .creation import arange, full, ones, ones_like, rand, randn, tensor, zeros, zeros_like  # noqa: F401
from .gan.divergence import DivergenceError  # noqa: F401
from .graph import to_dot  # noqa: F401
from .gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: F401
from .ops import (  # noqa: F401
    abs, argmax, argmin, cat, clip, clone, concatenate, exp, flatten, log, log1p, matmul, maximum, mean, minimum,
    pad, sqrt, squeeze, stack, std, sum, unsqueeze, var, where,
)
from .random import Generator, default_generator, manual_seed  # noqa: F401
from .ops import log_softmax, relu, sigmoid, softmax, tanh  # noqa: F401 - torch.sigmoid etc.
from . import nn, optim  # noqa: F401,E402 - after the ops they build on: mg.nn and mg.optim, as torch.nn

# PyTorch names that minigan spells otherwise: an AttributeError that names the minigan way
_TORCH_HINTS = {
    "float32": "numpy.float32 (dtypes are NumPy's)",
    "float64": "numpy.float64 (dtypes are NumPy's)",
    "float16": "numpy.float16 (dtypes are NumPy's)",
    "int64": "numpy.int64 (dtypes are NumPy's)",
    "long": "numpy.int64 (dtypes are NumPy's)",
    "from_numpy": "minigan.tensor(array)",
    "as_tensor": "minigan.tensor(array)",
    "linspace": "minigan.tensor(numpy.linspace(start, stop, n))",
    "eye": "minigan.tensor(numpy.eye(n))",
    "randint": "generator.integers(low, high, shape) on a minigan.Generator",
    "randn_like": "minigan.randn(*x.shape)",
    "rand_like": "minigan.rand(*x.shape)",
    "save": "minigan.checkpoint.save(path, model=model, opt=opt)",
    "load": "minigan.checkpoint.restore(path, model=model, opt=opt)",
    "device": "a backend name, 'numpy' or 'cupy' (minigan.use_backend, x.to('cupy'))",
    "cuda": "minigan.use_backend('cupy') and x.to('cupy')",
}


def __getattr__(name):
    hint = _TORCH_HINTS.get(name)
    if hint is None:
        raise AttributeError(f"module 'minigan' has no attribute {name!r}")
    raise AttributeError(f"minigan has no {name!r} (a PyTorch name); in minigan write {hint}")

__version__ = "0.1.0"
