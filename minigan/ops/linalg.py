"""Matrix products: matmul (batched, broadcasting over leading axes) and linear.

For Y = A B the gradients are the two products that give back A's and B's shapes:
dL/dA = G B^T and dL/dB = A^T G (transposes over the last two axes).
"""
from __future__ import annotations

from ..autograd import Function, Tensor
from ..backend import Array
from .reductions import sum as reduce_sum
from .shape import reshape, sum_to, transpose


def _mT(x):
    """Swap the last two axes."""
    axes = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
    return transpose(x, axes)


class MatMul(Function):
    """Y = A @ B (ndim >= 2, leading axes broadcast).
    dL/dA = sum_to(G @ B^T, A.shape),  dL/dB = sum_to(A^T @ G, B.shape)."""

    def forward(self, a, b) -> Array:
        return a @ b

    def backward(self, gy) -> tuple[Tensor | None, Tensor | None]:
        a, b = self.inputs
        ga = sum_to(matmul(gy, _mT(b)), a.shape) if self.needs_grad[0] else None
        gb = sum_to(matmul(_mT(a), gy), b.shape) if self.needs_grad[1] else None
        return ga, gb


class Linear(Function):
    """y = x W^T + b with W of shape (out, in), PyTorch's layout.
    dL/dx = G W,  dL/dW = G^T x,  dL/db = sum of G over the batch."""

    def forward(self, x, W, b=None) -> Array:
        y = x @ W.T
        if b is not None:
            y += b  # y is a fresh array here, so adding in place is safe
        return y

    def backward(self, gy) -> tuple[Tensor | None, ...]:
        x, W = self.inputs[0], self.inputs[1]
        gx = matmul(gy, W) if self.needs_grad[0] else None
        gW = gb = None
        if self.needs_grad[1] or (len(self.inputs) > 2 and self.needs_grad[2]):
            # fold any leading batch axes into one (nothing to fold for the usual 2-D batch)
            g2 = gy if gy.ndim == 2 else reshape(gy, (-1, gy.shape[-1]))
            if self.needs_grad[1]:
                gW = matmul(_mT(g2), x if x.ndim == 2 else reshape(x, (-1, x.shape[-1])))
            if len(self.inputs) > 2 and self.needs_grad[2]:
                gb = reduce_sum(g2, axis=0)
        return (gx, gW) if len(self.inputs) == 2 else (gx, gW, gb)


def matmul(a, b) -> Tensor:
    """Matrix product with NumPy's rules: 1-D operands are promoted to a row/column and squeezed."""
    a = a if isinstance(a, Tensor) else Tensor(a)
    b = b if isinstance(b, Tensor) else Tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least 1 dim, got shapes {a.shape} and {b.shape}")
    ka = a.shape[-1]
    kb = b.shape[-2] if b.ndim >= 2 else b.shape[0]
    if ka != kb:
        raise ValueError(f"matmul: inner dimensions differ: {a.shape} @ {b.shape} ({ka} != {kb})")
    if a.ndim == 1 or b.ndim == 1:
        a2 = reshape(a, (1, a.shape[0])) if a.ndim == 1 else a
        b2 = reshape(b, (b.shape[0], 1)) if b.ndim == 1 else b
        y = MatMul.apply(a2, b2)
        shape = y.shape[:-2] + (() if a.ndim == 1 else (y.shape[-2],)) + (() if b.ndim == 1 else (y.shape[-1],))
        return reshape(y, shape)
    return MatMul.apply(a, b)


def linear(x, W, b=None) -> Tensor:
    """y = x W^T + b (W: out x in, b: out), as torch.nn.functional.linear."""
    if W.ndim != 2 or x.shape[-1] != W.shape[1] or (b is not None and b.shape != (W.shape[0],)):
        raise ValueError(
            f"linear: expected x (..., in), W (out, in), b (out,); got x {x.shape}, W {W.shape}, "
            f"b {None if b is None else b.shape}"
        )
    if b is None:
        return Linear.apply(x, W)
    return Linear.apply(x, W, b)
