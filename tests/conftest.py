"""Shared fixtures: the backend fixture (numpy always, cupy when usable) and hypothesis profiles."""
import os

import numpy
import pytest
from hypothesis import HealthCheck, settings

from minigan import backend

settings.register_profile(
    "default", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

CUPY_SKIP_REASON = "CuPy is not usable here: " + (backend.cupy_unavailable_reason() or "")


@pytest.fixture(params=["numpy", pytest.param("cupy", marks=pytest.mark.gpu)])
def xp_backend(request):
    """Runs a test once per backend; the cupy run is skipped, with CuPy's own error, without a GPU."""
    if request.param == "cupy" and not backend.cupy_available():
        pytest.skip(CUPY_SKIP_REASON)
    with backend.backend_scope(request.param):
        yield request.param


@pytest.fixture
def rng():
    return numpy.random.default_rng(12345)
