"""Reverse-mode automatic differentiation: Tensor, Function and the backward pass.

This module knows only the graph. A ``Tensor`` holds an array (NumPy or CuPy) and,
when it was produced by an op while gradients were recorded, a reference to the
``Function`` that made it (its *creator*). A ``Function`` keeps its input Tensors,
computes ``forward`` on raw arrays, and states its derivative in ``backward`` using
minigan ops on Tensors. Because backward is itself made of ops, running it while
gradients are recorded (``create_graph=True``) builds a graph of the gradient, and
second derivatives come for free (WGAN-GP, consensus optimisation, unrolled GANs).

The backward pass (``backward``/``grad`` below):

1. walk the graph from the output and list its Functions in topological order,
   iteratively (an explicit stack, so a chain of 100,000 ops is fine);
2. visit them outputs-first, handing each the gradients of its outputs and
   collecting the gradients of its inputs in a dictionary, *out of place*
   (``g = g + new``), so no array that is still referenced elsewhere is mutated;
3. at the leaves, add the result to ``.grad`` (also out of place).

What it refuses rather than differentiate wrongly: a Function keeps its inputs by
reference, so a backward pass after an input changed would use the new values. Each
Function therefore remembers the arrays it computed with and the time of its forward pass
on a clock of in-place changes (``_version_clock``); an in-place Tensor method calls
``_bump_version``, which advances the clock and stamps the tensor with it. Backward raises,
naming the op, if an input now holds another array (``x.data = ...``) or carries a stamp
later than the op's forward pass. (One clock for all tensors costs the forward pass a
single number per op rather than one per input.) Writing into the array itself
(``x.data[...] = v``, an optimizer's update) is outside autograd, as ``.data`` is in
PyTorch: the graph cannot see it. Complex values are refused (their derivative is not the
real one this engine computes).

Tensor's arithmetic operators (``a + b``, ``a @ b``) are ops, and ops need Tensor:
the knot is untied in ``minigan/tensor_methods.py``, which binds every operator
and method onto Tensor in one visible place after ``minigan.ops`` is loaded.
"""
from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator

import numpy

from . import backend


class Config:
    """Global switch: are ops being recorded for differentiation?"""

    grad_enabled = True


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Run a block without recording the graph (evaluation, parameter updates)."""
    previous = Config.grad_enabled
    Config.grad_enabled = False
    try:
        yield
    finally:
        Config.grad_enabled = previous


@contextlib.contextmanager
def enable_grad() -> Iterator[None]:
    """Record the graph inside the block, even within ``no_grad``."""
    previous = Config.grad_enabled
    Config.grad_enabled = True
    try:
        yield
    finally:
        Config.grad_enabled = previous


def is_grad_enabled() -> bool:
    return Config.grad_enabled


_FLOAT_DEFAULT = numpy.float32


def _to_array(data, dtype=None):
    """An xp array from any array-like. Python floats (and lists of them) become float32,
    PyTorch's default; NumPy arrays and NumPy scalars keep their dtype."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, numpy.ndarray) or backend.is_cupy_array(data):
        return data if dtype is None or data.dtype == dtype else data.astype(dtype)
    if isinstance(data, numpy.generic):  # a NumPy scalar (x > 0 on a 0-d array gives one) is host data too
        return numpy.asarray(data, dtype=dtype)
    if backend.recognise_cupy_array(data):
        return data if dtype is None or data.dtype == dtype else data.astype(dtype)
    xp = backend.default_module()
    if dtype is None:
        arr = numpy.asarray(data)
        if arr.dtype == numpy.float64:
            arr = arr.astype(_FLOAT_DEFAULT)
        return xp.asarray(arr)
    return xp.asarray(data, dtype=dtype)


class Tensor:
    """An array with a place in the autograd graph.

    Attributes: ``data`` (the raw numpy/cupy array), ``grad`` (a Tensor, or None),
    ``requires_grad``, ``creator`` (the Function that produced it, None for leaves).
    """

    __slots__ = ("data", "grad", "requires_grad", "creator", "_index", "_version", "name", "__weakref__")
    # Make numpy hand binary operators with an ndarray on the left to Tensor's reflected methods.
    __array_ufunc__ = None
    __array_priority__ = 1000

    def __init__(self, data, requires_grad=False, dtype=None, name=None):
        self.data = _to_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"Tensor: only floating-point tensors can require gradients, got dtype {self.data.dtype}"
                " (complex is refused too: minigan computes real derivatives only)"
            )
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.creator = None
        self._index = 0
        self._version = 0
        self.name = name

    # -- array facts -------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> numpy.dtype:
        return self.data.dtype

    @property
    def backend(self) -> str:
        return "cupy" if backend.is_cupy_array(self.data) else "numpy"

    @property
    def is_leaf(self) -> bool:
        return self.creator is None

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        body = numpy.array2string(backend.as_numpy(self.data), separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype != _FLOAT_DEFAULT:
            extra += f", dtype={self.data.dtype}"
        if self.backend != "numpy":
            extra += f", backend={self.backend}"
        if self.creator is not None:  # as PyTorch: a result names the op that made it
            extra += f", grad_fn=<{self.creator.name}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __str__(self):
        return str(self.data)

    __hash__ = object.__hash__  # == is elementwise (like NumPy), so hash by identity

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(
                f"Tensor.__bool__: truth value of a tensor of shape {self.shape} is ambiguous; "
                "use .any() or .all() on .data"
            )
        return bool(self.data)

    def item(self) -> int | float | bool:
        return self.data.item()

    def tolist(self) -> list | int | float | bool:
        return self.data.tolist()

    def numpy(self) -> numpy.ndarray:
        """The data as a host NumPy array (copied from the GPU if needed)."""
        return backend.as_numpy(self.data)

    def detach(self) -> "Tensor":
        """A new leaf sharing this tensor's data, cut off from the graph."""
        return Tensor(self.data)

    def requires_grad_(self, flag: bool = True) -> "Tensor":
        if flag and self.data.dtype.kind != "f":
            raise TypeError(f"requires_grad_: dtype {self.data.dtype} is not floating point (real floats only)")
        self.requires_grad = flag
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def _bump_version(self):
        """Record an in-place change of this tensor's values: a graph that saved it refuses backward."""
        global _version_clock
        _version_clock += 1
        self._version = _version_clock

    # -- differentiation ---------------------------------------------------------------
    def backward(self, grad=None, retain_graph=False, create_graph=False) -> None:
        """Accumulate d(self)/d(leaf) * grad into every leaf's ``.grad``.

        ``grad`` defaults to 1 for a one-element tensor. With ``create_graph=True``
        the backward pass itself is recorded, so ``.grad`` can be differentiated again.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad and has no creator; "
                "did you forget requires_grad=True on an input, or run under no_grad()?"
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward: grad can be implicit only for a one-element output, got shape "
                    f"{self.shape}; pass grad= with that shape"
                )
            grad = Tensor(backend.array_module(self.data).ones(self.shape, self.dtype))
        elif not isinstance(grad, Tensor):  # a raw array or list: placed where the output lives
            grad = Tensor(backend.to_backend(_to_array(grad), backend.backend_of(self.data)), dtype=self.data.dtype)
        _run_backward([self], [grad], retain_graph or create_graph, create_graph, inputs=None)


class Function:
    """One differentiable op.

    Subclasses implement ``forward(*arrays) -> array or tuple of arrays`` on raw xp
    arrays and ``backward(*grad_outputs) -> Tensor or tuple`` on Tensors, one
    gradient per input (None for inputs that take none). Call them through
    ``SubClass.apply(*tensors, **params)``; params are stored on the instance.
    """

    __slots__ = ("inputs", "outputs", "needs_grad", "saved_arrays", "saved_at", "__dict__")

    def __init__(self, **params):
        self.__dict__.update(params)

    @property
    def name(self) -> str:
        return type(self).__name__

    @classmethod
    def apply(cls, *inputs, **params) -> Tensor | tuple[Tensor, ...]:
        """Run the op on the inputs' arrays; record it in the graph if an input requires grad.

        1. wrap any non-Tensor input (a constant array) as a Tensor;
        2. check that the arrays share one backend, and run ``forward`` on them;
        3. when recording, keep on the Function what backward needs: the input Tensors,
           which of them need a gradient, and the arrays and clock time of this forward
           pass (so backward can refuse inputs changed since; see the module docstring);
        4. wrap each output array in a Tensor whose creator is this Function
           (``_wrap_outputs``).
        """
        tensors, arrays, needs_grad = [], [], []
        for x in inputs:  # one pass: wrap, take the array, note whether it wants a gradient
            if not isinstance(x, Tensor):
                x = Tensor(x)
            tensors.append(x)
            arrays.append(x.data)
            needs_grad.append(x.requires_grad)
        fn = cls(**params)
        backend.check_same_backend(fn.name, arrays)
        ys = fn.forward(*arrays)
        record = Config.grad_enabled and any(needs_grad)
        if record:
            fn.inputs = tuple(tensors)
            fn.needs_grad = tuple(needs_grad)
            fn.saved_arrays = arrays
            fn.saved_at = _version_clock
        return _wrap_outputs(fn, ys, record)

    def output(self, i=0) -> Tensor:
        """The i-th output Tensor (kept alive by whoever passed a gradient into it)."""
        t = self.outputs[i]()
        if t is None:
            raise RuntimeError(f"{self.name}.backward: output {i} is no longer alive")
        return t

    def forward(self, *arrays) -> backend.Array | tuple[backend.Array, ...]:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, *grad_outputs) -> Tensor | None | tuple[Tensor | None, ...]:  # pragma: no cover - abstract
        raise NotImplementedError(f"{self.name} is not differentiable")


_version_clock = 0  # counts in-place changes to any tensor; see the module docstring


def _refuse_complex(fn):
    raise TypeError(
        f"{fn.name}: a complex result cannot be differentiated here (minigan computes real derivatives "
        "only); take .detach() of the inputs or keep the computation real"
    )


def _refuse_changed(fn):
    """Raise, naming the op and the input that changed since the forward pass saved it."""
    for i, (x, array) in enumerate(zip(fn.inputs, fn.saved_arrays)):
        if x.data is not array or x._version > fn.saved_at:
            how = "its .data was replaced" if x.data is not array else "it was modified by an in-place op"
            raise RuntimeError(
                f"{fn.name}.backward: input {i} (shape {x.shape}) changed after the forward pass saved it "
                f"({how}); its gradient would be computed from the new values. Recompute the forward pass "
                "after changing it, or change a copy (x.detach() or a new tensor) instead"
            )


def _wrap_outputs(fn, ys, record):
    """The output Tensor(s) of ``fn`` around the array(s) ``ys`` its forward returned.

    When recording, each output's creator is ``fn``, and ``fn`` keeps *weak* references
    to its outputs: an output points to its creator, so a strong reference back would
    make a cycle that only the garbage collector frees.

    This is the one place where the engine trades plainness for speed, because it runs
    for every op. Two shortcuts: the Tensors are built by ``_new_tensor``, which sets
    the fields directly instead of calling ``Tensor.__init__`` (whose conversions and
    dtype checks an array fresh from ``forward`` does not need), and the common case of
    one output builds no tuples. ``python3 benchmarks/bench_autograd.py --shortcuts``
    times two tiny graphs with this helper and with its plain form (``Tensor.__init__``,
    always a tuple), paired: the plain form made ``y = a * b + a; y.backward(ones)``
    1.30-1.36x slower and ``(a * b + a).sum().backward()`` 1.05-1.22x slower (two runs
    on a loaded machine; docs/figures/bench_autograd_tiny.txt).
    """
    if type(ys) is not tuple:  # one output
        if record and ys.dtype.kind == "c":
            _refuse_complex(fn)
        y = _new_tensor(ys, fn if record else None, 0, record)
        if record:
            fn.outputs = (weakref.ref(y),)
        return y
    if record and any(a.dtype.kind == "c" for a in ys):
        _refuse_complex(fn)
    outputs = tuple(_new_tensor(a, fn if record else None, i, record) for i, a in enumerate(ys))
    if record:
        fn.outputs = tuple(weakref.ref(t) for t in outputs)
    return outputs


def _new_tensor(array, creator=None, index=0, requires_grad=False):
    """A Tensor around an array an op just made (see ``_wrap_outputs`` for why not __init__)."""
    t = object.__new__(Tensor)
    t.data = array
    t.grad = None
    t.requires_grad = requires_grad
    t.creator = creator
    t._index = index
    t._version = 0
    t.name = None
    return t


def _topological_order(roots):
    """Functions reachable from the roots, each after every Function that consumes its outputs.

    Iterative depth-first search with an explicit stack (a post-order), reversed.
    """
    order, visited, stack = [], set(), []
    for t in roots:
        if t.creator is not None:
            stack.append((t.creator, False))
    while stack:
        fn, expanded = stack.pop()
        if expanded:
            order.append(fn)
            continue
        if fn in visited:
            continue
        visited.add(fn)
        stack.append((fn, True))
        if fn.inputs is None:
            raise RuntimeError(
                f"backward through {fn.name} a second time: its graph was freed after the first "
                "backward. Pass retain_graph=True to the first backward if you need a second."
            )
        saved_at = fn.saved_at
        for x, array in zip(fn.inputs, fn.saved_arrays):
            if x.data is not array or x._version > saved_at:  # changed since the forward pass read it
                _refuse_changed(fn)
            creator = x.creator
            if creator is not None and creator not in visited:
                stack.append((creator, False))
    order.reverse()
    return order


def _add_grads(old, new):
    """old + new, out of place: a new Tensor, so a gradient held elsewhere is never changed.

    An op like any other: recorded only while the backward pass itself is (create_graph).
    """
    return old + new


def _deliver(t, g, pending, leaves, captured):
    """Hand the gradient g of tensor t to where it is collected.

    pending: Function -> list of its outputs' gradients (t was made by an op);
    leaves: id(leaf) -> [leaf, gradient] (t is a leaf, for ``Tensor.backward``);
    captured: id(t) -> gradient for the tensors ``grad()`` was asked about (else None).
    """
    if captured is not None and id(t) in captured:
        old = captured[id(t)]
        captured[id(t)] = g if old is None else _add_grads(old, g)
    fn = t.creator
    if fn is not None:
        slots = pending.get(fn)
        if slots is None:
            slots = pending[fn] = [None] * len(fn.outputs)
        old = slots[t._index]
        slots[t._index] = g if old is None else _add_grads(old, g)
    elif captured is None:
        entry = leaves.get(id(t))
        if entry is None:
            leaves[id(t)] = [t, g]
        else:
            entry[1] = _add_grads(entry[1], g)


def _run_backward(roots, grads, retain_graph, create_graph, inputs):
    """The engine shared by ``Tensor.backward`` and ``grad``.

    With ``inputs=None`` gradients are added to every leaf's ``.grad``; otherwise the
    gradients of the listed tensors are returned and no ``.grad`` is touched.
    """
    for r, g in zip(roots, grads):
        if g.data.shape != r.data.shape:
            raise RuntimeError(f"backward: grad of shape {g.shape} given for an output of shape {r.shape}")
    order = _topological_order(roots)
    pending = {}  # Function -> [gradient of output 0, gradient of output 1, ...]
    leaves = {}  # id(leaf) -> [leaf, gradient]
    captured = None if inputs is None else {id(t): None for t in inputs}

    previous = Config.grad_enabled
    Config.grad_enabled = create_graph  # the backward pass is recorded only for create_graph
    try:
        for r, g in zip(roots, grads):
            _deliver(r, g, pending, leaves, captured)
        for fn in order:
            gys = pending.pop(fn, None)
            if gys is None:  # no gradient reached this Function (it feeds only unused outputs)
                continue
            if len(gys) > 1 and any(g is None for g in gys):  # an output nobody used: zero gradient
                gys = _fill_zero_grads(fn, gys)
            gxs = fn.backward(*gys)
            if type(gxs) is not tuple:
                gxs = (gxs,)
            if len(gxs) != len(fn.inputs):
                raise RuntimeError(f"{fn.name}.backward returned {len(gxs)} gradients for {len(fn.inputs)} inputs")
            for x, gx, needed in zip(fn.inputs, gxs, fn.needs_grad):
                if not needed or gx is None:
                    continue
                if not isinstance(gx, Tensor):
                    raise TypeError(
                        f"{fn.name}.backward returned a {type(gx).__name__} as a gradient; "
                        "backward must return Tensors built with minigan ops (or None)"
                    )
                if gx.data.shape != x.data.shape:
                    raise RuntimeError(
                        f"{fn.name}.backward: gradient of shape {gx.shape} for an input of shape "
                        f"{x.shape}; a broadcast was not reduced back (sum_to)"
                    )
                if gx.data.dtype != x.data.dtype:  # mixed dtypes were promoted in forward
                    gx = gx.astype(x.data.dtype)  # a gradient has its input's dtype
                _deliver(x, gx, pending, leaves, captured)
        if inputs is None:  # 3. add to each leaf's .grad, out of place
            for leaf, g in leaves.values():
                if leaf.requires_grad:
                    leaf.grad = g if leaf.grad is None else _add_grads(leaf.grad, g)
    finally:
        Config.grad_enabled = previous
    if not retain_graph:
        for fn in order:  # free saved inputs only after the whole pass has used them
            fn.inputs = None
            fn.saved_arrays = None
    if inputs is None:
        return None
    return [captured[id(t)] for t in inputs]


def _fill_zero_grads(fn, gys):
    """Zero gradients for the outputs of ``fn`` that received none."""
    xp = backend.array_module(fn.inputs[0].data)
    gys = list(gys)
    for i, g in enumerate(gys):
        if g is None:
            out = fn.outputs[i]()
            if out is None:
                raise RuntimeError(f"{fn.name}: unused output {i} is gone; cannot build its zero gradient")
            gys[i] = _new_tensor(xp.zeros(out.shape, out.dtype))
    return gys


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False) -> Tensor | None | list[Tensor | None]:
    """Gradients of ``outputs`` with respect to ``inputs``, returned (``.grad`` untouched).

    The functional form of ``Tensor.backward`` (as ``torch.autograd.grad``): it returns
    sum_k d outputs[k] / d inputs * grad_outputs[k]. With ``create_graph=True`` the
    result is itself differentiable, e.g. for a gradient penalty ||grad_x D(x)||.
    """
    single_out = isinstance(outputs, Tensor)
    outputs = [outputs] if single_out else list(outputs)
    single_in = isinstance(inputs, Tensor)
    inputs = [inputs] if single_in else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    gos = []
    for o, g in zip(outputs, grad_outputs):
        if not o.requires_grad:
            raise RuntimeError("grad: an output does not require grad (no input of it requires grad)")
        if g is None:
            if o.size != 1:
                raise RuntimeError(f"grad: grad_outputs is required for an output of shape {o.shape}")
            g = Tensor(backend.array_module(o.data).ones_like(o.data))
        elif not isinstance(g, Tensor):
            g = Tensor(backend.to_backend(_to_array(g), backend.backend_of(o.data)), dtype=o.dtype)
        gos.append(g)
    if retain_graph is None:
        retain_graph = create_graph
    result = _run_backward(outputs, gos, retain_graph, create_graph, inputs)
    for t, g in zip(inputs, result):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: an input of shape {t.shape} was not used to compute the outputs; "
                "pass allow_unused=True to get None for it"
            )
    return result[0] if single_in else result
