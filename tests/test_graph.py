"""minigan.to_dot: the graph behind a Tensor as Graphviz text, and a non-leaf's repr naming its op."""
import re
import shutil

import numpy
import pytest

import minigan as mg
from minigan import graph, nn


def _abc():
    a = mg.Tensor([1.0, 2.0, 3.0], requires_grad=True, name="a")
    b = mg.Tensor([4.0, 5.0, 6.0], requires_grad=True, name="b")
    return a, b, (a * b + a).sum()


def _nodes_and_edges(dot):
    labels = dict(re.findall(r'^\s+(\w+) \[label="([^"]*)"', dot, flags=re.M))
    edges = re.findall(r"^\s+(\w+) -> (\w+);", dot, flags=re.M)
    return labels, edges


def test_to_dot_names_every_op_and_leaf_with_shapes_in_data_flow_order():
    a, b, y = _abc()
    labels, edges = _nodes_and_edges(mg.to_dot(y))
    ops = {k: v for k, v in labels.items() if k.startswith("f")}
    assert sorted(ops.values()) == ["Add -> (3,)", "Mul -> (3,)", "Sum -> ()"]
    by_label = {v.split("\\n")[0].split(" ")[0]: k for k, v in labels.items()}
    assert labels[by_label["a"]] == "a\\n(3,)\\nrequires_grad=True"
    expected = {("a", "Mul"), ("b", "Mul"), ("Mul", "Add"), ("a", "Add"), ("Add", "Sum"), ("Sum", "output")}
    assert {(labels[s].split("\\n")[0].split(" ")[0], labels[d].split("\\n")[0].split(" ")[0])
            for s, d in edges} == expected
    order = [labels[f].split(" ")[0] for f in sorted(ops, key=lambda k: int(k[1:]))]
    assert order == ["Mul", "Add", "Sum"]  # each op after the ops it reads


def test_to_dot_names_parameters_and_marks_constants():
    lin = nn.Linear(3, 2, generator=mg.Generator(0))
    loss = mg.functional.binary_cross_entropy_with_logits(lin(mg.ones(4, 3)), 1.0)
    dot = mg.to_dot(loss, params=dict(lin.named_parameters()))
    assert '"weight\\n(2, 3)\\nrequires_grad=True"' in dot and '"bias\\n(2,)\\nrequires_grad=True"' in dot
    assert '"constant\\n(4, 3)\\nrequires_grad=False"' in dot


def test_backward_graph_of_a_second_order_gradient():
    a, b, y = _abc()
    dot = mg.to_dot(y, backward=True)
    labels, edges = _nodes_and_edges(dot)
    assert "d(output)/d(a)\\n(3,)" in labels.values() and "d(output)/d(b)\\n(3,)" in labels.values()
    # dy/da = b + 1 and dy/db = a: each is built by ops that read the forward leaves
    leaf_of = {v.split("\\n")[0]: k for k, v in labels.items() if k.startswith("t")}
    assert {s for s, _ in edges} >= {leaf_of["a"], leaf_of["b"]}
    assert "Sum" not in dot  # the forward ops are not part of the gradient's graph


def test_to_dot_refuses_a_freed_graph_and_non_tensors():
    a, b, y = _abc()
    y.backward()
    with pytest.raises(RuntimeError, match="to_dot: the graph through .* was freed by a backward pass"):
        mg.to_dot(y)
    with pytest.raises(TypeError, match="to_dot: expected one or more Tensors"):
        mg.to_dot(numpy.ones(2))


def test_repr_of_a_result_names_its_creator():
    with mg.backend_scope("numpy"):  # the exact text is NumPy's: on another backend the repr adds backend=...
        a, b, y = _abc()
    assert repr(y) == "tensor(38., grad_fn=<Sum>)"
    assert repr(a * b).endswith("grad_fn=<Mul>)")
    assert repr(a).endswith("requires_grad=True)")
    with mg.no_grad():
        assert "grad_fn" not in repr(a * b)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not on PATH")
def test_render_svg_and_png(tmp_path):
    a, b, y = _abc()
    mg.to_dot(y, path=tmp_path / "g.svg")
    svg = (tmp_path / "g.svg").read_text()
    assert "<svg" in svg and "Mul" in svg and "Add" in svg and "Sum" in svg
    graph.render(mg.to_dot(y), tmp_path / "sub" / "g.png")
    assert (tmp_path / "sub" / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_render_without_graphviz_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.setattr(graph.shutil, "which", lambda name: None)
    a, b, y = _abc()
    with pytest.raises(RuntimeError, match="install Graphviz"):
        mg.to_dot(y, path=tmp_path / "g.svg")
    with pytest.raises(ValueError, match=r"must end in .svg, .png or .pdf"):
        graph.render("digraph {}", tmp_path / "g.jpg")
