"""Dropout as a layer: active in train(), the identity in eval()."""
from __future__ import annotations

from .. import functional as F
from ..autograd import Tensor
from ..random import resolve
from .module import Module


class Dropout(Module):
    """Inverted dropout with *drop* probability p (PyTorch's meaning). The GAN paper's
    "keep probability 0.8" is Dropout(0.2).

    generator: the minigan.Generator that draws the masks (pass the experiment's one for
    reproducible runs); None draws each mask from the default Generator at call time
    (reseeded by minigan.manual_seed).
    """

    def __init__(self, p=0.5, generator=None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p is a drop probability in [0, 1], got {p}")
        self.p = float(p)
        self.generator = resolve(generator, "Dropout") if generator is not None else None

    def forward(self, x) -> Tensor:
        return F.dropout(x, self.p, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"
