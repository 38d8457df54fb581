"""The package's metadata: one version, a license file, type information, no exact pins."""
import ast
import os
import re

import pytest

import minigan

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the checks read pyproject.toml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _pyproject():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)


def test_the_version_is_written_once():
    meta = _pyproject()
    assert "version" not in meta["project"] and "version" in meta["project"]["dynamic"]
    assert meta["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "minigan.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", minigan.__version__)


def test_license_and_type_marker_ship():
    meta = _pyproject()
    with open(os.path.join(ROOT, "LICENSE")) as f:
        text = f.read()
    assert meta["project"]["license"] == "MIT" and "LICENSE" in meta["project"]["license-files"]
    assert text.startswith("MIT License") and "minigan contributors" in text
    assert os.path.exists(os.path.join(ROOT, "minigan", "py.typed"))
    assert "py.typed" in meta["tool"]["setuptools"]["package-data"]["minigan"]


def test_dependencies_are_ranges_not_pins():
    meta = _pyproject()
    specs = list(meta["project"]["dependencies"])
    for extra in meta["project"]["optional-dependencies"].values():
        specs += extra
    assert not [s for s in specs if "==" in s], "an exact pin breaks installs beside other packages"
    assert "torch>=2.2" in meta["project"]["optional-dependencies"]["torch"]


def _readme_test_command():
    """The command under README's "Install and run the tests:" (the one line of its bash block)."""
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    block = re.search(r"Install and run the tests:\s*```bash\n(.*?)\n```", readme, re.S)
    assert block, "README.md has no bash block after 'Install and run the tests:'"
    return block.group(1).strip()


def test_ci_runs_the_readme_test_command_then_ruff():
    with open(os.path.join(ROOT, ".ci", "run")) as f:
        commands = [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
    commands = [c for c in commands if not c.startswith(("set ", "cd "))]
    assert commands == [_readme_test_command(), "python3 -m ruff check ."]
    assert any(s.startswith("ruff") for s in _pyproject()["project"]["optional-dependencies"]["dev"])


def _public_functions_without_return_annotation(tree):
    """(line, name) of every public module-level function and public method of a public class
    that has no ``->`` annotation; nested functions and private names are implementation."""
    missing = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            members = [node]
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            members = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        else:
            continue
        for fn in members:
            if not fn.name.startswith("_") and fn.returns is None:
                missing.append((fn.lineno, fn.name))
    return missing


def test_the_checker_sees_a_missing_annotation():
    tree = ast.parse("def f(x):\n    return x\n\ndef g() -> int:\n    return 1\n\n"
                     "class C:\n    def m(self):\n        pass\n\n    def _p(self):\n        pass\n")
    assert _public_functions_without_return_annotation(tree) == [(1, "f"), (8, "m")]


def test_every_public_function_of_the_package_states_its_return_type():
    missing = []
    for folder, _, files in os.walk(os.path.join(ROOT, "minigan")):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as f:
                    tree = ast.parse(f.read(), path)
                rel = os.path.relpath(path, ROOT)
                missing += [f"{rel}:{line} {fn}" for line, fn in _public_functions_without_return_annotation(tree)]
    assert not missing, "public functions without a return annotation:\n" + "\n".join(missing)
