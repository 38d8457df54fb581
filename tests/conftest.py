"""Shared fixtures: the backend fixture and hypothesis profiles.

``xp_backend`` runs a test once per backend: "numpy"; "cupy" on a real GPU (skipped, with
CuPy's own error, where CuPy is not usable); and "stand-in", CuPy's host/device rules
enforced on the host by tests/support/fake_cupy, which always runs. The fixture yields the
backend *name* minigan sees ("numpy" or "cupy": the stand-in is minigan's cupy), with the
default backend set to it for the test's duration.

``--backend {numpy,cupy,stand-in}`` (or the environment variable MINIGAN_TEST_BACKEND) runs
every test, fixture or not, with that backend as the default (module-scoped fixtures
included), and keeps only that parametrisation of xp_backend: ``python3 -m pytest --backend
stand-in`` runs the whole suite under the stand-in, ``--backend cupy`` on the GPU.
"""
import contextlib
import os
import sys

import numpy
import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "support"))
import fake_cupy  # found through the path entry above

from minigan import backend

settings.register_profile(
    "default", max_examples=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
settings.register_profile(
    "thorough", max_examples=300, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
# function_scoped_fixture: xp_backend only sets the default backend, the same for every example.

CHOICES = ("numpy", "cupy", "stand-in")


def pytest_addoption(parser):
    parser.addoption("--backend", choices=CHOICES, default=os.environ.get("MINIGAN_TEST_BACKEND") or None,
                     help="run every test with this default backend (stand-in: tests/support/fake_cupy)")


def pytest_collection_modifyitems(config, items):
    """With --backend, drop the other parametrisations of xp_backend."""
    only = config.getoption("--backend")
    if not only:
        return
    keep, drop = [], []
    for item in items:
        param = getattr(item, "callspec", None) and item.callspec.params.get("xp_backend")
        (drop if param is not None and param != only else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@contextlib.contextmanager
def on_backend(choice):
    """Make ``choice`` the default backend inside the block; yields minigan's name for it."""
    if choice == "stand-in":
        with backend.cupy_stand_in(fake_cupy), backend.backend_scope("cupy"):
            fake_cupy.transfers.reset()
            yield "cupy"
        return
    if choice == "cupy" and not backend.cupy_available():
        pytest.skip("CuPy is not usable here: " + backend.cupy_unavailable_reason())
    with backend.backend_scope(choice):
        yield choice


@pytest.fixture(scope="module", autouse=True)
def _suite_backend_for_module(request):
    """--backend X: module-scoped fixtures (a model trained once for a whole file) are built on X too."""
    choice = request.config.getoption("--backend")
    if not choice:
        yield
        return
    with on_backend(choice):
        yield


@pytest.fixture(autouse=True)
def _suite_backend(request):
    """--backend X: every test runs with X as the default backend (set again per test, so that a test
    calling use_backend cannot change its neighbours' default)."""
    choice = request.config.getoption("--backend")
    if not choice or "xp_backend" in request.fixturenames:
        yield
        return
    with on_backend(choice):
        yield


@pytest.fixture(params=["numpy", pytest.param("cupy", marks=pytest.mark.gpu),
                        pytest.param("stand-in", marks=pytest.mark.stand_in)])
def xp_backend(request):
    """The backend name minigan sees, with the default backend set to it for the test."""
    with on_backend(request.param) as name:
        yield name


@pytest.fixture
def stand_in():
    """The CuPy stand-in as minigan's cupy and the default backend; yields the module (its copy counter: .transfers)."""
    with on_backend("stand-in"):
        yield fake_cupy


@pytest.fixture
def rng():
    return numpy.random.default_rng(12345)
