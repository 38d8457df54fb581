"""minigan.nn: layers and containers with PyTorch's names (``from minigan import nn``).

Every layer with weights takes ``generator=`` (a minigan.Generator) for its initial
values and ``dtype=`` (float32 by default; float64 for gradient checks). Parameters are
created on the default backend (minigan.use_backend) and moved with ``module.to()``.
"""
from . import init  # noqa: F401
from .activation import Identity, LeakyReLU, ReLU, Sigmoid, Tanh  # noqa: F401
from .conv import Conv2d, ConvTranspose2d  # noqa: F401
from .dropout import Dropout  # noqa: F401
from .linear import Linear  # noqa: F401
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss  # noqa: F401
from .maxout import Maxout  # noqa: F401
from .module import Module, ModuleList, Parameter, Sequential  # noqa: F401
from .norm import BatchNorm1d, BatchNorm2d  # noqa: F401
from .shape import Flatten, Unflatten  # noqa: F401
from .virtual_batchnorm import ReferenceBatch, VirtualBatchNorm  # noqa: F401
