"""Import a script of the checkout (a demo, a tool) as a fresh module, for tests that call its functions.

Demos and tools are run as files, not installed as packages, so a test imports them by path.
Each call executes the file anew under ``name``: a test that needs its own copy (module-level
state, a monkeypatched global) gives its own name.
"""
from __future__ import annotations

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_script(relative_path, name):
    """The module made by executing ROOT/relative_path, registered as ``name``."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, relative_path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
