"""The package's metadata: one version, a license file, type information, no exact pins."""
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
