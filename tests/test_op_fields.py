"""Every op declares what it keeps between forward and backward.

An op's parameters (apply's keyword arguments) and the arrays its forward saves for backward
are named at the top of its class: as annotated fields (``axis: int  # ...``) or as the
arguments of an explicit ``__init__``. This test runs one graph through every op of
minigan/ops, differentiates it twice (so the ops that backward itself applies run too), and
checks that each recorded Function holds no attribute its class does not declare.
"""
import inspect

import numpy

import minigan as mg
import minigan.functional as F
from minigan import ops
from minigan.autograd import Function

RECORDED = {"inputs", "outputs", "needs_grad"}  # what Function.apply itself stores on a recorded op


def declared(cls):
    """The fields cls declares: annotations of its classes below Function, and its __init__'s arguments."""
    names = set()
    for klass in cls.__mro__:
        if klass is Function or not issubclass(klass, Function):
            continue
        names |= set(inspect.get_annotations(klass))
        init = klass.__dict__.get("__init__")
        if init is not None:
            names |= set(inspect.signature(init).parameters) - {"self"}
    return names


def op_classes():
    """The Function subclasses defined in minigan/ops."""
    found = set()
    for module in (ops.activations, ops.arithmetic, ops.conv, ops.layers, ops.linalg, ops.losses,
                   ops.normalization, ops.reductions, ops.shape):
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, Function) and obj is not Function and obj.__module__ == module.__name__:
                found.add(obj)
    return found


def functions_in_graph(roots):
    """Every Function reachable from the root Tensors."""
    seen, stack = {}, [t.creator for t in roots if t is not None and t.creator is not None]
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen[id(fn)] = fn
        stack.extend(x.creator for x in fn.inputs if x.creator is not None)
    return list(seen.values())


def one_graph_through_every_op():
    rng = numpy.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((2, 3, 5, 5)), requires_grad=True)
    W = mg.tensor(rng.standard_normal((4, 3, 3, 3)) * 0.3, requires_grad=True)
    Wt = mg.tensor(rng.standard_normal((4, 2, 3, 3)) * 0.3, requires_grad=True)
    h = F.conv2d(x, W, stride=2, padding=1)                                   # (2, 4, 3, 3)
    stats = mg.zeros(4, dtype=numpy.float64).data, mg.ones(4, dtype=numpy.float64).data  # on x's backend
    h = F.batch_norm(h, running_mean=stats[0], running_var=stats[1])
    h = F.conv_transpose2d(F.leaky_relu(h, 0.2), Wt, stride=2, padding=1, output_padding=1)  # (2, 2, 6, 6)
    flat = ops.reshape(h, (2, -1))
    flat = ops.transpose(ops.transpose(flat, (1, 0)), (1, 0))
    parts = [F.softmax(flat, axis=1), F.log_softmax(flat, axis=1), ops.clip(flat, -1.0, 1.0),
             ops.where(flat.data > 0, flat, flat * 0.5), flat + 1.0, 2.0 - flat, flat * 3.0, flat / 4.0,
             5.0 / (flat * flat + 1.0), (flat * flat + 1.0) ** 1.5,
             ops.astype(ops.astype(flat, numpy.float32), numpy.float64),
             ops.broadcast_to(ops.sum(flat, axis=1, keepdims=True), flat.shape),
             ops.max(flat, axis=0, keepdims=True) + flat, ops.min(flat, axis=1, keepdims=True) + flat,
             ops.sum_to(ops.broadcast_to(flat[:1], flat.shape), (1, 72)) + flat,
             ops.pad(flat, ((0, 0), (1, 1)), value=0.5)[:, 1:-1], ops.cat([flat[:, :36], flat[:, 36:]], axis=1),
             ops.stack([flat, flat], axis=0)[1], ops.sum(flat[:, numpy.array([0, 0, 1])] ** 2) + flat]
    loss = ops.sum(ops.stack([ops.sum(p) for p in parts], axis=0))
    grads = mg.grad(loss, [x, W, Wt], create_graph=True)
    again = mg.grad(ops.sum(grads[0] * grads[0]) + ops.sum(grads[1] * grads[1]) + ops.sum(grads[2] * grads[2]),
                    [x, W, Wt], allow_unused=True, create_graph=True)
    return functions_in_graph([loss, *grads, *again])


def test_every_recorded_op_holds_only_declared_fields():
    for fn in one_graph_through_every_op():
        undeclared = set(vars(fn)) - RECORDED - declared(type(fn))
        assert not undeclared, f"{type(fn).__name__} keeps {sorted(undeclared)} without declaring them"


def test_the_graph_reaches_every_op_that_keeps_fields():
    """So that the first test cannot pass by missing an op: every op with declared fields ran."""
    ran = {type(fn) for fn in one_graph_through_every_op()}
    keeping = {cls for cls in op_classes() if declared(cls)}
    missing = keeping - ran - {ops.arithmetic.ToBackend}  # ToBackend needs a second backend (cupy)
    assert not missing, f"not reached: {sorted(c.__name__ for c in missing)}"


def test_declared_finds_annotations_and_init_arguments():
    assert declared(ops.shape.Reshape) == {"shape"}
    assert declared(ops.conv.Conv2d) == {"stride", "padding", "x_cols"}
    assert declared(ops.arithmetic.Add) == set()
