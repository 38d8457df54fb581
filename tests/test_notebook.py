"""docs/notebooks/first_gan.ipynb runs from top to bottom and shows what its text promises."""
import os
import re

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(ROOT, "docs", "notebooks", "first_gan.ipynb")


def _text(cell):
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream" and out.name == "stdout":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(out.data.get("text/plain", ""))
    return "".join(parts)


def test_first_gan_notebook_runs_and_learns(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # small matrices: BLAS threads only spin (the kernel inherits this)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit the notebook without outputs"
    client = nbclient.NotebookClient(nb, timeout=240, kernel_name="python3",
                                     resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}})
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if a cell fails
    code = [c for c in nb.cells if c.cell_type == "code"]
    autograd = _text(code[1])
    numbers = [float(v) for v in re.findall(r"(?:autograd|formula):\s+([-\d.e]+)", autograd)]
    assert len(numbers) == 2 and numbers[0] == pytest.approx(numbers[1], rel=1e-14)  # float64 rounding only
    assert "grad_fn=<Mul>" in autograd
    assert "Exp -> ()" in _text(code[2]) and "Mul -> ()" in _text(code[2])
    stats = {label: (float(m), float(s)) for label, m, s in
             re.findall(r"(before|after): mean of G\(z\) = ([-\d.]+), std = ([-\d.]+)", _text(code[3]))}
    assert abs(stats["before"][0] - 2.0) > 1.0  # G starts far from p_data...
    # ...and 800 iterations bring it near (the seeded run ends at 2.17, 0.53); the bounds are loose
    # because a GAN this short still oscillates around p_data, yet an untrained or broken G fails them
    assert abs(stats["after"][0] - 2.0) < 0.3 and abs(stats["after"][1] - 0.5) < 0.15
    figure = [o for o in code[4].outputs if o.output_type == "execute_result"]
    assert figure and "image/png" in figure[0].data and "Figure" in figure[0].data["text/plain"]
