"""The computation graph, drawn: Graphviz DOT text for the graph behind a Tensor.

    x = mg.tensor([1.0, 2.0], requires_grad=True, name="x")
    y = (x * x + x).sum()
    print(mg.to_dot(y))                      # DOT text, always available
    mg.to_dot(y, path="graph.svg")           # also rendered, when Graphviz's `dot` is installed

Nodes, in data-flow order (inputs before the ops that use them):
  a leaf      a box: its name, shape and requires_grad (blue when it requires grad: a
              parameter or an input we differentiate with respect to; grey when constant);
  a Function  an ellipse: the op's name and its output shape(s), as ``Mul -> (2,)``;
  an output   a double box for each Tensor passed in, after the Function that made it.
An edge x -> f says that f read x: the forward pass flows along the edges, the backward
pass against them.

``backward=True`` draws the *backward* graph instead: the graph that
``grad(y, leaves, create_graph=True)`` records while it computes dy/dleaf. It is made of
the same kind of ops (a gradient is computed with minigan ops), and reuses forward
tensors, which is why second derivatives cost nothing more (docs/01-autograd.md).
"""
from __future__ import annotations

import os
import shutil
import subprocess

from .autograd import Tensor, grad

_LEAF_STYLE = 'shape=box, style=filled, fillcolor="{fill}"'
_REQUIRES_GRAD, _CONSTANT, _OUTPUT, _FUNCTION = "lightblue", "grey92", "darkolivegreen1", "white"


def _shape(t) -> str:
    return str(tuple(t.shape)) if t is not None else "(freed)"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _collect(roots):
    """Every Function and leaf reachable from the roots, in data-flow order (an iterative DFS)."""
    functions, leaves, seen = [], [], set()
    stack = [(r, False) for r in reversed(roots)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            functions.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, Tensor):
            if node.creator is None:
                leaves.append(node)
            else:
                stack.append((node.creator, False))
            continue
        if node.inputs is None:
            raise RuntimeError(
                f"to_dot: the graph through {node.name} was freed by a backward pass; draw it before "
                "backward, or call backward(retain_graph=True)"
            )
        stack.append((node, True))
        for x in reversed(node.inputs):
            stack.append((x, False))
    return functions, leaves


def _backward_roots(roots):
    """The gradients of the (one-element) roots with respect to their leaves that require grad, recorded."""
    _, leaves = _collect(roots)
    wrt = [t for t in leaves if t.requires_grad]
    if not wrt:
        raise ValueError("to_dot(backward=True): no leaf of this graph requires grad")
    grads = grad(roots, wrt, create_graph=True, allow_unused=True)
    return [g for g in grads if g is not None and g.creator is not None], wrt, grads


def to_dot(*tensors: Tensor, params: dict | None = None, backward: bool = False, path=None) -> str:
    """Graphviz DOT text of the graph behind ``tensors`` (one or more outputs).

    params: optional {name: Tensor} naming leaves (e.g. ``dict(model.named_parameters())``);
      a leaf's own ``name`` is used otherwise, then "leaf" or "constant".
    backward: draw the graph of the gradient instead (see the module docstring); the
      outputs then must be one-element tensors, and are labelled "d<out>/d<leaf>".
    path: also render the text to this .svg/.png/.pdf file with Graphviz (see ``render``).
    """
    roots = list(tensors)
    if not roots or not all(isinstance(t, Tensor) for t in roots):
        raise TypeError(f"to_dot: expected one or more Tensors, got {[type(t).__name__ for t in roots]}")
    names = {id(t): name for name, t in (params or {}).items()}
    out_labels = {id(t): t.name or ("output" if len(roots) == 1 else f"output {k}") for k, t in enumerate(roots)}
    if backward:
        for t in roots:
            if t.size != 1:
                raise ValueError(f"to_dot(backward=True): outputs must have one element, got shape {t.shape}")
        roots, wrt, grads = _backward_roots(roots)
        if not roots:
            raise ValueError("to_dot(backward=True): the gradient is a constant (no op recorded for it)")
        for k, leaf in enumerate(wrt):
            leaf_name = names.get(id(leaf)) or leaf.name or f"leaf {k}"
            if grads[k] is not None:
                out_labels[id(grads[k])] = f"d(output)/d({leaf_name})"
    functions, leaves = _collect(roots)

    ids = {}
    lines = ["digraph minigan {", '  rankdir=LR;', '  node [fontname="Helvetica", fontsize=10];']
    for k, leaf in enumerate(leaves):
        ids[id(leaf)] = f"t{k}"
        label = names.get(id(leaf)) or leaf.name or ("leaf" if leaf.requires_grad else "constant")
        fill = _REQUIRES_GRAD if leaf.requires_grad else _CONSTANT
        text = f"{label}\n{_shape(leaf)}\nrequires_grad={leaf.requires_grad}"
        lines.append(f"  t{k} [label={_quote(text)}, {_LEAF_STYLE.format(fill=fill)}];")
    for k, fn in enumerate(functions):
        ids[id(fn)] = f"f{k}"
        shapes = ", ".join(_shape(ref()) for ref in fn.outputs)
        lines.append(f'  f{k} [label={_quote(f"{fn.name} -> {shapes}")}, shape=ellipse, fillcolor="{_FUNCTION}"];')
    for fn in functions:
        for x in fn.inputs:
            source = ids[id(x)] if x.creator is None else ids[id(x.creator)]
            lines.append(f"  {source} -> {ids[id(fn)]};")
    for k, t in enumerate(roots):
        label = f"{out_labels.get(id(t), 'output')}\n{_shape(t)}"
        style = f'shape=box, peripheries=2, style=filled, fillcolor="{_OUTPUT}"'
        lines.append(f"  o{k} [label={_quote(label)}, {style}];")
        source = ids[id(t.creator)] if t.creator is not None else ids[id(t)]
        lines.append(f"  {source} -> o{k};")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    if path is not None:
        render(text, path)
    return text


def render(dot_text: str, path) -> str:
    """Render DOT text to ``path`` with Graphviz's ``dot`` program; the format is the file's extension."""
    path = os.fspath(path)
    fmt = os.path.splitext(path)[1].lstrip(".").lower()
    if fmt not in ("svg", "png", "pdf"):
        raise ValueError(f"render: the path must end in .svg, .png or .pdf, got {path!r}")
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(
            "render: Graphviz's `dot` program is not on PATH; install Graphviz (e.g. `apt-get install "
            "graphviz`, `brew install graphviz` or `conda install graphviz`), or paste the text that "
            "to_dot returned into any Graphviz viewer"
        )
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    subprocess.run([dot, f"-T{fmt}", "-o", path], input=dot_text.encode(), check=True, capture_output=True)
    return path


__all__ = ["to_dot", "render"]
