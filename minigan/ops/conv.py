"""2-D convolution and its adjoint, the transposed convolution, by im2col and one GEMM.

DCGAN's discriminator is a stack of strided ``conv2d`` (downsampling), its generator a
stack of strided ``conv_transpose2d`` (upsampling). Both reduce to a matrix product once
the input has been unfolded into a matrix of patches (docs/02-layers.md draws it):

    conv2d:            Y = W_mat @ im2col(x)          (then reshape to NCHW, + b)
    conv_transpose2d:  Y = col2im(W_mat^T @ x_mat)    (then crop the padding, + b)

Notation (PyTorch's layouts). x: (N, C, H, W), weights of conv2d: (O, C, kh, kw),
of conv_transpose2d: (C_in, C_out, kh, kw), stride s, padding p, per axis:

    conv2d output size:            H' = floor((H + 2p - k) / s) + 1
    conv_transpose2d output size:  H'' = (H - 1) s - 2p + k + output_padding

    conv2d(x, W)[n, o, y, x'] = sum_{c, i, j} W[o, c, i, j] x_pad[n, c, s y + i, s x' + j]

**The adjoint pair.** For fixed W, conv2d is a linear map A: x -> y, and
conv_transpose2d(., W) is exactly its transpose A^T: <A x, g> = <x, A^T g>. The input
gradient of a linear map is its transpose applied to the output gradient, so

    dL/dx of conv2d            = conv_transpose2d(dL/dy, W)
    dL/dx of conv_transpose2d  = conv2d(dL/dy, W)

(the same W array serves both: conv2d's (O, C, kh, kw) *is* the (C_in, C_out, kh, kw) of
the transposed map from O channels back to C). Both weight gradients are one bilinear
map, ``conv2d_weight(x, g)[o, c, i, j] = sum_{n, y, x'} g[n, o, y, x'] x_pad[n, c, s y + i, s x' + j]``,
a single GEMM  g_mat @ im2col(x)^T. Because every backward is built from these three
Functions, every gradient is again differentiable (gradgradcheck in tests/test_conv.py).

**Layout.** Inside, arrays are kept "batch last": (C, H, W, N), and the column matrix is
(C*kh*kw, H'*W'*N), so the whole batch is one GEMM on contiguous arrays, and every
KH x KW slice that im2col copies (or col2im adds) has the batch as its long, contiguous
innermost axis -- three times faster in NumPy than slices whose innermost axis is a row of
W' = 7 pixels. The price is one transposing copy on the way in (fused with the padding)
and one on the way out (benchmarks/bench_layers.py --profile breaks the time down).
"""
from __future__ import annotations

import numbers

from .. import backend
from ..autograd import Function
from .arithmetic import as_tensor
from .reductions import sum as reduce_sum

# -- raw-array kernels (no autograd): im2col, col2im and the three GEMM maps --------------------


def _to_cHWn(x, ph=0, pw=0, extra_h=0, extra_w=0):
    """(N, C, H, W) -> (C, H + 2ph (+extra_h), W + 2pw (+extra_w), N), zero border: batch last.

    The transpose rides along with the copy that padding makes anyway.
    """
    xp = backend.array_module(x)
    N, C, H, W = x.shape
    if ph == pw == extra_h == extra_w == 0:
        return xp.ascontiguousarray(x.transpose(1, 2, 3, 0))
    out = xp.zeros((C, H + 2 * ph + extra_h, W + 2 * pw + extra_w, N), dtype=x.dtype)
    out[:, ph:ph + H, pw:pw + W, :] = x.transpose(1, 2, 3, 0)
    return out


def _im2col(xc, kh, kw, sh, sw, Ho, Wo):
    """Patches of a padded batch-last input xc (C, Hp, Wp, N) -> cols (C, kh, kw, Ho, Wo, N).

    cols[c, i, j, y, x, n] = xc[c, sh*y + i, sw*x + j, n]: for each kernel offset (i, j), one
    strided slice of the input copied as one block. Reshaped to (C*kh*kw, Ho*Wo*N), it is
    the matrix whose columns are the flattened receptive fields, one per output pixel.
    """
    xp = backend.array_module(xc)
    C, N = xc.shape[0], xc.shape[3]
    cols = xp.empty((C, kh, kw, Ho, Wo, N), dtype=xc.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = xc[:, i:i + sh * (Ho - 1) + 1:sh, j:j + sw * (Wo - 1) + 1:sw, :]
    return cols


def _col2im(cols, sh, sw, Hb, Wb):
    """The adjoint of _im2col: cols (C, kh, kw, H, W, N) -> (C, Hb, Wb, N), overlaps summed.

    out[c, sh*y + i, sw*x + j, n] += cols[c, i, j, y, x, n]; where receptive fields overlap
    (k > s), several columns add into one pixel.
    """
    xp = backend.array_module(cols)
    C, kh, kw, H, W, N = cols.shape
    out = xp.zeros((C, Hb, Wb, N), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, i:i + sh * (H - 1) + 1:sh, j:j + sw * (W - 1) + 1:sw, :] += cols[:, i, j]
    return out


def _conv2d_out(H, W, kh, kw, stride, padding):
    return ((H + 2 * padding[0] - kh) // stride[0] + 1, (W + 2 * padding[1] - kw) // stride[1] + 1)


def _conv_transpose2d_out(H, W, kh, kw, stride, padding, output_padding):
    return ((H - 1) * stride[0] - 2 * padding[0] + kh + output_padding[0],
            (W - 1) * stride[1] - 2 * padding[1] + kw + output_padding[1])


def _x_cols(x, kh, kw, stride, padding):
    """im2col of an NCHW input as the (C*kh*kw, Ho*Wo*N) matrix."""
    Ho, Wo = _conv2d_out(x.shape[2], x.shape[3], kh, kw, stride, padding)
    xc = _to_cHWn(x, *padding)
    return _im2col(xc, kh, kw, stride[0], stride[1], Ho, Wo).reshape(x.shape[1] * kh * kw, -1)


def _g_mat(g):
    """(N, O, H, W) -> the (O, H*W*N) matrix, batch last (one transposing copy)."""
    return _to_cHWn(g).reshape(g.shape[1], -1)


def _to_nchw(y, b=None):
    """(O, H, W, N) batch-last -> (N, O, H, W), + bias per channel: a transposed view, not a copy.

    Element-wise ops keep their input's memory order, so the activations that follow stay
    batch-last in memory, and the next conv's _to_cHWn (or _g_mat of the gradient) finds them
    already in the order it needs: the transposing copy is made once per layer, not twice.
    """
    y = y.transpose(3, 0, 1, 2)
    if b is not None:
        y += b.reshape(1, -1, 1, 1)  # y views a fresh GEMM result: in place is safe
    return y


# -- the three Functions ---------------------------------------------------------------------


class Conv2d(Function):
    """y = conv2d(x, W) + b: cross-correlation, x (N, C, H, W), W (O, C, kh, kw), b (O,).

        y[n, o, y, x] = b[o] + sum_{c, i, j} W[o, c, i, j] x_pad[n, c, s y + i, s x + j]
        forward:   Y_mat (O, H'*W'*N) = W_mat (O, C*kh*kw) @ im2col(x) (C*kh*kw, H'*W'*N)

    Backward, with g = dL/dy:
        dL/dx = conv_transpose2d(g, W)   (the adjoint: <conv2d(x, W), g> = <x, conv_transpose2d(g, W)>)
        dL/dW = conv2d_weight(x, g) = g_mat @ im2col(x)^T      (one GEMM)
        dL/db = sum of g over n, y, x
    Unfolded arrays are made once and handed on: forward's im2col(x) goes to dL/dW, and the
    batch-last g_mat serves both dL/dx and dL/dW.
    """

    def __init__(self, stride, padding, x_cols=None):
        self.stride = stride    # (sh, sw)
        self.padding = padding  # (ph, pw), zeros on each side
        # im2col(x), (C*kh*kw, H'*W'*N): given by a caller that has it already (ConvTranspose2d's
        # backward), else made by forward; kept for dL/dW
        self.x_cols = x_cols

    def forward(self, x, W, b=None):
        O, C, kh, kw = W.shape
        N = x.shape[0]
        Ho, Wo = _conv2d_out(x.shape[2], x.shape[3], kh, kw, self.stride, self.padding)
        if self.x_cols is None:
            self.x_cols = _x_cols(x, kh, kw, self.stride, self.padding)
        y = W.reshape(O, -1) @ self.x_cols  # (O, Ho*Wo*N): one GEMM for the whole batch
        return _to_nchw(y.reshape(O, Ho, Wo, N), b)

    def backward(self, gy):
        x, W = self.inputs[0], self.inputs[1]
        gx = gW = gb = None
        g_mat = _g_mat(gy.data) if self.needs_grad[0] or self.needs_grad[1] else None
        if self.needs_grad[0]:
            op = _conv2d_output_padding(x.shape, gy.shape, W.shape, self.stride, self.padding)
            gx = ConvTranspose2d.apply(gy, W, stride=self.stride, padding=self.padding, output_padding=op,
                                       x_mat=g_mat)
        if self.needs_grad[1]:
            gW = Conv2dWeight.apply(x, gy, kernel=W.shape[2:], stride=self.stride, padding=self.padding,
                                    x_cols=self.x_cols, g_mat=g_mat)
        if len(self.inputs) == 2:
            return gx, gW
        if self.needs_grad[2]:
            gb = reduce_sum(gy, axis=(0, 2, 3))
        return gx, gW, gb


class ConvTranspose2d(Function):
    """y = conv_transpose2d(x, W) + b, x (N, C_in, H, W), W (C_in, C_out, kh, kw), b (C_out,).

    The transpose of conv2d(., W) as a linear map: every input pixel scatters a copy of
    the kernel, scaled by its value, into the output at stride s, and overlaps add:
        y_pad[n, o, s y + i, s x + j] += sum_c x[n, c, y, x] W[c, o, i, j];  y = crop(y_pad, p) + b
        forward:   cols (C_out*kh*kw, H*W*N) = W_mat^T @ x_mat (C_in, H*W*N);  y = col2im(cols)

    Backward, with g = dL/dy:
        dL/dx = conv2d(g, W)        (the adjoint of the adjoint is the map itself)
        dL/dW = conv2d_weight(g, x): dL/dW[c, o, i, j] = sum_{n, y, x} x[n, c, y, x] g_pad[n, o, s y + i, s x + j]
        dL/db = sum of g over n, y, x
    im2col(g) is made once and serves both dL/dx and dL/dW; x_mat, forward's batch-last x,
    goes to dL/dW.
    """

    def __init__(self, stride, padding, output_padding, x_mat=None):
        self.stride = stride                  # (sh, sw)
        self.padding = padding                # (ph, pw), cropped from each side of the full output
        self.output_padding = output_padding  # (oh, ow), extra rows and columns at the bottom and right
        # x as the batch-last (C_in, H*W*N) matrix: given by a caller that has it already (Conv2d's
        # backward, whose g_mat it is), else made by forward; kept for dL/dW
        self.x_mat = x_mat

    def forward(self, x, W, b=None):
        Ci, Co, kh, kw = W.shape
        N, _, H, Wd = x.shape
        (sh, sw), (ph, pw), (oh, ow) = self.stride, self.padding, self.output_padding
        Ho, Wo = _conv_transpose2d_out(H, Wd, kh, kw, self.stride, self.padding, self.output_padding)
        if self.x_mat is None:
            self.x_mat = _g_mat(x)
        cols = W.reshape(Ci, -1).T @ self.x_mat  # (C_out*kh*kw, H*W*N): one GEMM
        # the full (uncropped) output is (H-1)s + k; output_padding may add rows past it
        full = _col2im(cols.reshape(Co, kh, kw, H, Wd, N), sh, sw, (H - 1) * sh + kh + oh, (Wd - 1) * sw + kw + ow)
        return _to_nchw(full[:, ph:ph + Ho, pw:pw + Wo, :], b)

    def backward(self, gy):
        x, W = self.inputs[0], self.inputs[1]
        gx = gW = gb = None
        g_cols = None
        if self.needs_grad[0] or self.needs_grad[1]:
            g_cols = _x_cols(gy.data, W.shape[2], W.shape[3], self.stride, self.padding)
        if self.needs_grad[0]:
            gx = Conv2d.apply(gy, W, stride=self.stride, padding=self.padding, x_cols=g_cols)
        if self.needs_grad[1]:
            gW = Conv2dWeight.apply(gy, x, kernel=W.shape[2:], stride=self.stride, padding=self.padding,
                                    x_cols=g_cols, g_mat=self.x_mat)
        if len(self.inputs) == 2:
            return gx, gW
        if self.needs_grad[2]:
            gb = reduce_sum(gy, axis=(0, 2, 3))
        return gx, gW, gb


class Conv2dWeight(Function):
    """gW = conv2d_weight(x, g): the gradient of conv2d with respect to its weight.

        gW[o, c, i, j] = sum_{n, y, x} g[n, o, y, x] x_pad[n, c, s y + i, s x + j]
        as one GEMM:  gW_mat (O, C*kh*kw) = g_mat (O, H'*W'*N) @ im2col(x)^T (H'*W'*N, C*kh*kw)

    It is bilinear in (x, g), so with GG = dL/dgW:
        dL/dg = conv2d(x, GG)                (gW pairs with GG exactly as y = conv2d(x, W) pairs with g)
        dL/dx = conv_transpose2d(g, GG)      (the adjoint of x -> conv2d(x, GG))
    """

    def __init__(self, kernel, stride, padding, x_cols=None, g_mat=None):
        self.kernel = kernel    # (kh, kw), the weight's spatial size
        self.stride = stride    # (sh, sw) of the conv2d whose weight gradient this is
        self.padding = padding  # (ph, pw) of that conv2d
        # arrays the caller made already, else made by forward (used once, not kept):
        self.x_cols = x_cols    # im2col(x), (C*kh*kw, H'*W'*N)
        self.g_mat = g_mat      # g as the batch-last (O, H'*W'*N) matrix

    def forward(self, x, g):
        kh, kw = self.kernel
        x_cols = self.x_cols if self.x_cols is not None else _x_cols(x, kh, kw, self.stride, self.padding)
        g_mat = self.g_mat if self.g_mat is not None else _g_mat(g)
        return (g_mat @ x_cols.T).reshape(g.shape[1], x.shape[1], kh, kw)

    def backward(self, gg):
        x, g = self.inputs
        gx = gg_g = None
        if self.needs_grad[0]:
            op = _conv2d_output_padding(x.shape, g.shape, (None, None) + tuple(self.kernel), self.stride,
                                        self.padding)
            gx = ConvTranspose2d.apply(g, gg, stride=self.stride, padding=self.padding, output_padding=op)
        if self.needs_grad[1]:
            gg_g = Conv2d.apply(x, gg, stride=self.stride, padding=self.padding)
        return gx, gg_g


def _conv2d_output_padding(x_shape, y_shape, w_shape, stride, padding):
    """The output_padding that makes conv_transpose2d map conv2d's output size back to x's size.

    H = (H' - 1) s - 2p + k + op gives op = (H + 2p - k) mod s: the input rows that no window
    of a strided conv2d reached (they get zero gradient). Always < s.
    """
    return tuple(x_shape[2 + a] - ((y_shape[2 + a] - 1) * stride[a] - 2 * padding[a] + w_shape[2 + a])
                 for a in (0, 1))


# -- the user's face: argument checks, then apply ---------------------------------------------


def _int_pair(op, name, v, minimum):
    """An int n or a pair (h, w) of ints, each >= minimum, as the pair (n, n) or (h, w)."""
    pair = (v, v) if isinstance(v, numbers.Integral) else tuple(v) if isinstance(v, (tuple, list)) else None
    if pair is None or len(pair) != 2 or not all(isinstance(n, numbers.Integral) for n in pair):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")
    if min(pair) < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {v!r}")
    return (int(pair[0]), int(pair[1]))


def _check(op, x, W, b, in_axis):
    """Tensors of the right ndim whose channel counts agree; returns (x, W, b) as Tensors."""
    x, W = as_tensor(x), as_tensor(W)
    layout = "(O, C, kh, kw)" if in_axis == 1 else "(C_in, C_out, kh, kw)"
    if x.ndim != 4:
        raise ValueError(f"{op}: expected x of shape (N, C, H, W) (4 dims), got shape {x.shape}")
    if W.ndim != 4:
        raise ValueError(f"{op}: expected weight of shape {layout} (4 dims), got shape {W.shape}")
    w_in = W.shape[1] if in_axis == 1 else W.shape[0]
    if x.shape[1] != w_in:
        raise ValueError(
            f"{op}: x has {x.shape[1]} channels (shape {x.shape}) but weight {layout} of shape {W.shape} "
            f"expects {w_in}"
        )
    if b is not None:
        b = as_tensor(b)
        n_out = W.shape[0] if in_axis == 1 else W.shape[1]
        if b.shape != (n_out,):
            raise ValueError(f"{op}: expected bias of shape ({n_out},) for weight {W.shape}, got {b.shape}")
    return x, W, b


def conv2d(x, W, b=None, stride=1, padding=0):
    """2-D convolution (cross-correlation) as torch.nn.functional.conv2d.

    x: (N, C, H, W); W: (O, C, kh, kw); b: (O,) or None; stride, padding: int or (h, w) pair.
    Returns (N, O, H', W') with H' = floor((H + 2 padding - kh) / stride) + 1.
    """
    op = "conv2d"
    stride, padding = _int_pair(op, "stride", stride, 1), _int_pair(op, "padding", padding, 0)
    x, W, b = _check(op, x, W, b, 1)
    Ho, Wo = _conv2d_out(x.shape[2], x.shape[3], W.shape[2], W.shape[3], stride, padding)
    if Ho <= 0 or Wo <= 0:
        raise ValueError(
            f"conv2d: output size ({Ho}, {Wo}) <= 0: input {x.shape[2:]} with padding {padding} is smaller "
            f"than the kernel {W.shape[2:]}"
        )
    args = (x, W) if b is None else (x, W, b)
    return Conv2d.apply(*args, stride=stride, padding=padding)


def conv_transpose2d(x, W, b=None, stride=1, padding=0, output_padding=0):
    """Transposed 2-D convolution as torch.nn.functional.conv_transpose2d (the adjoint of conv2d).

    x: (N, C_in, H, W); W: (C_in, C_out, kh, kw) -- PyTorch's order; b: (C_out,) or None.
    Returns (N, C_out, H'', W'') with H'' = (H - 1) stride - 2 padding + kh + output_padding.
    output_padding (< stride) picks among the sizes a strided conv2d maps back to H.
    """
    op = "conv_transpose2d"
    stride, padding = _int_pair(op, "stride", stride, 1), _int_pair(op, "padding", padding, 0)
    output_padding = _int_pair(op, "output_padding", output_padding, 0)
    if output_padding[0] >= stride[0] or output_padding[1] >= stride[1]:
        raise ValueError(f"conv_transpose2d: output_padding {output_padding} must be smaller than stride {stride}")
    x, W, b = _check(op, x, W, b, 0)
    Ho, Wo = _conv_transpose2d_out(x.shape[2], x.shape[3], W.shape[2], W.shape[3], stride, padding, output_padding)
    if Ho <= 0 or Wo <= 0:
        raise ValueError(
            f"conv_transpose2d: output size ({Ho}, {Wo}) <= 0 for input {x.shape[2:]}, kernel {W.shape[2:]}, "
            f"stride {stride}, padding {padding}, output_padding {output_padding}"
        )
    args = (x, W) if b is None else (x, W, b)
    return ConvTranspose2d.apply(*args, stride=stride, padding=padding, output_padding=output_padding)


__all__ = ["conv2d", "conv_transpose2d"]
