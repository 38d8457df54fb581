"""Class labels for the conditional models: checked, and one-hot encoded, where they live.

A conditional network (minigan/gan/conditional.py, minigan/models/dcgan.py) is given integer
labels y of shape (m,) with values in [0, K) and feeds their one-hot code to its first layer.
Labels on the host are checked and encoded as NumPy arrays. Labels on the device stay there:
their dtype and shape are array metadata, and the one-hot code is a comparison with an arange,

    code[i, c] = (y_i == c),    c = 0, ..., K - 1,

computed by the labels' own array module, so no label crosses to the host and no code crosses
back. Only the range needs the values: see ``check_labels`` for what that costs and when it is
skipped (``ClassLabels``).
"""
from __future__ import annotations

from typing import Any

import numpy

from .. import backend
from ..autograd import Tensor
from ..backend import Array


class ClassLabels(Tensor):
    """Integer labels whose range [0, n_classes) is known where they were made.

    minigan's label samplers return these, on the device on CuPy (LabelledNoise and
    labelled_mixture draw them with Generator.integers(0, K); demos/mnist_dcgan.py indexes a label
    set it checked once), and a conditional G returns the device labels it has just checked as
    one, so that D, handed G's pair (x, y), does not check them again. ``check_labels`` reads
    nothing for device ClassLabels (host labels are checked anyway: it costs no transfer).

    Make one only for labels whose range is guaranteed by how they were made. Ops on it return
    plain Tensors, which are checked again; writing into its ``data`` in place keeps the promise
    in the caller's hands.
    """

    __slots__ = ("n_classes",)

    def __init__(self, data, n_classes):
        super().__init__(data)
        if self.data.dtype.kind not in "iu":
            raise TypeError(f"ClassLabels: labels must be integers, got dtype {self.data.dtype}")
        if self.data.ndim != 1:
            raise ValueError(f"ClassLabels: labels must have shape (m,), got {self.data.shape}")
        if int(n_classes) != n_classes or n_classes < 1:
            raise ValueError(f"ClassLabels: n_classes must be a positive integer, got {n_classes!r}")
        self.n_classes = int(n_classes)


def _on_device(a) -> bool:
    return backend.is_cupy_array(a) or backend.recognise_cupy_array(a)


def check_labels(where, y, n_classes, m=None) -> Array:
    """y as an integer array of shape (m,) with values in [0, n_classes), on y's own backend; a clear
    error naming ``where`` otherwise.

    Host labels (NumPy arrays, lists, Tensors on NumPy) come back as an int64 NumPy array.
    Device labels (CuPy arrays, Tensors on CuPy) come back as the same device array: dtype and
    shape are checked from its metadata, and the range costs one read of one scalar -- whether
    any label lies outside [0, n_classes) -- unless y is a ClassLabels for at most n_classes
    classes, whose range is known and is not read.

    Why read at all: PyTorch's one_hot on CUDA skips its range check and leaves a bad label to
    a device-side assert in the kernel that writes the ones, reported at the next
    synchronisation. CuPy has no device-side assert, and the comparison with an arange would
    turn a bad label into a row of zeros without complaint. So minigan checks every label it did
    not draw itself, at the price of one read (a wait for the device) per check, and draws its
    own labels as ClassLabels: a conditional training iteration on minigan's samplers reads
    nothing more than Algorithm 1's logged metrics.
    """
    data = y.data if isinstance(y, Tensor) else y
    raw = data if _on_device(data) else numpy.asarray(backend.as_numpy(data))
    if raw.dtype.kind not in "iu":
        raise TypeError(f"{where}: labels y must be integers, got dtype {raw.dtype}")
    if raw.ndim != 1 or (m is not None and raw.shape[0] != m):
        want = f"({m},) to match the batch" if m is not None else "(m,)"
        raise ValueError(f"{where}: labels y must have shape {want}, got {raw.shape}")
    if isinstance(raw, numpy.ndarray):
        if raw.size and (raw.min() < 0 or raw.max() >= n_classes):
            raise ValueError(f"{where}: labels y must lie in [0, {n_classes}), "
                             f"got values from {raw.min()} to {raw.max()}")
        return raw.astype(numpy.int64)
    if isinstance(y, ClassLabels) and y.n_classes <= n_classes:
        return raw
    if raw.size and bool(((raw < 0) | (raw >= n_classes)).any()):  # the one read
        raise ValueError(f"{where}: labels y must lie in [0, {n_classes}), "
                         f"got values from {int(raw.min())} to {int(raw.max())}")
    return raw


def encode(labels, n_classes, dtype, backend_name) -> Array:
    """The (m, n_classes) one-hot code of checked labels, as an array on ``backend_name``.

    Built by that backend's array module: host labels headed for the device are copied there
    first (m integers, not m * n_classes code entries), device labels never leave it.
    """
    labels = backend.to_backend(labels, backend_name)
    xp = backend.array_module(labels)
    return (labels[:, None] == xp.arange(n_classes)).astype(dtype)


def one_hot(y, n_classes, dtype=numpy.float32, backend_name=None) -> Tensor:
    """The (m, n_classes) one-hot code of integer labels y: row i has a 1 in column y_i, 0 elsewhere.

    On ``backend_name`` (default: y's own backend for device labels, else the default backend).
    """
    if int(n_classes) != n_classes or n_classes < 1:
        raise ValueError(f"one_hot: n_classes must be a positive integer, got {n_classes!r}")
    labels = check_labels("one_hot", y, int(n_classes))
    target = backend_name or ("cupy" if _on_device(labels) else backend.default_backend())
    return Tensor(encode(labels, int(n_classes), dtype, target))


def passed_on(y, labels, n_classes) -> Any:
    """The labels a conditional G returns beside its samples: y as given, except that device labels
    it has just checked (``labels``) go on as ClassLabels, so that D does not read them again."""
    if isinstance(y, ClassLabels) or not _on_device(labels):
        return y
    return ClassLabels(labels, n_classes)


__all__ = ["ClassLabels", "check_labels", "encode", "one_hot", "passed_on"]
