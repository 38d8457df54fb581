"""minigan.nn: layers and containers with PyTorch's names (``from minigan import nn``).

Every layer with weights takes ``generator=`` (a minigan.Generator) for its initial
values and ``dtype=`` (float32 by default; float64 for gradient checks). Parameters are
created on the default backend (minigan.use_backend) and moved with ``module.to()``.
"""
from . import init
from .activation import Identity, LeakyReLU, ReLU, Sigmoid, Tanh
from .conv import Conv2d, ConvTranspose2d
from .dropout import Dropout
from .linear import Linear
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .maxout import Maxout
from .module import Module, ModuleList, Parameter, Sequential
from .norm import BatchNorm1d, BatchNorm2d, recompute_running_stats
from .shape import Flatten, Unflatten
from .virtual_batchnorm import ReferenceBatch, VirtualBatchNorm
