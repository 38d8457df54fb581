"""The CuPy stand-in (tests/support/fake_cupy) enforces CuPy's host/device rules, and minigan
keeps them: the probe before CuPy is trusted, tensor() placement, no mixed-backend op.

If the stand-in were lenient (a host array accepted as an operand, numpy.asarray of a
device array allowed), every test run on it would prove nothing; the first tests here plant
exactly those mistakes and require the stand-in to refuse them."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy
import pytest

import minigan as mg
from minigan import backend
from minigan.backend import BackendError


def test_a_device_array_is_not_a_numpy_array(stand_in):
    d = stand_in.arange(3.0)
    assert not isinstance(d, numpy.ndarray)
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        numpy.asarray(d)
    with pytest.raises(TypeError, match="Implicit conversion"):
        numpy.array(d)


def test_host_operands_are_refused(stand_in):
    d, h = stand_in.ones(3), numpy.ones(3)
    for mix in (lambda: d + h, lambda: h + d, lambda: d * h, lambda: numpy.maximum(d, h),
                lambda: stand_in.where(d > 0, d, h), lambda: numpy.concatenate([d, h])):
        with pytest.raises(TypeError, match="host array"):
            mix()
    with pytest.raises(TypeError, match="cannot assign a host numpy.ndarray"):
        d[...] = h
    d[...] = 2.0  # a Python scalar is a kernel argument, not a copy
    d += numpy.float32(1.0)
    assert d.get().tolist() == [3.0, 3.0, 3.0]


def test_numpy_functions_dispatch_and_stay_on_the_device(stand_in):
    d = stand_in.asarray(numpy.arange(6.0).reshape(2, 3))
    for out in (numpy.sum(d), numpy.exp(d), d.sum(axis=0), numpy.concatenate([d, d]), d[0], d.max(),
                stand_in.linalg.norm(d)):
        assert isinstance(out, stand_in.ndarray), type(out)
    stand_in.add.at(d, (stand_in.asarray(numpy.array([0, 0])), stand_in.asarray(numpy.array([1, 1]))), 1.0)
    assert d.get()[0, 1] == 3.0  # the repeated index added twice (unbuffered)


def test_flags_are_cupys_three_and_follow_the_layout(stand_in):
    d = stand_in.asarray(numpy.arange(6.0).reshape(2, 3))
    assert d.flags.c_contiguous and not d.flags.f_contiguous and d.flags["OWNDATA"]
    t = d.T
    assert not t.flags.c_contiguous and t.flags["F_CONTIGUOUS"] and not t.flags.owndata
    with pytest.raises(KeyError, match="WRITEABLE is not defined for cupy.ndarray.flags"):
        d.flags["WRITEABLE"]  # NumPy has it, CuPy does not
    with pytest.raises(AttributeError):
        d.flags.writeable  # noqa: B018 - absent in CuPy, so absent here
    with pytest.raises(AttributeError):
        d.flags.c_contiguous = False


def test_cupyx_scatter_add_is_not_offered(stand_in):
    assert not hasattr(stand_in, "scatter_add")
    with pytest.raises(AttributeError):
        stand_in.errstate  # noqa: B018 - CuPy has no errstate; the stand-in must not offer it


def test_the_copy_counter_names_call_sites(stand_in):
    stand_in.transfers.reset()
    d = stand_in.asarray(numpy.ones(4))            # host -> device
    s = (d * 2).sum()                               # stays on the device
    value = float(s)                                # device -> host
    assert value == 8.0
    h2d, d2h = stand_in.transfers.totals()
    assert (h2d, d2h) == (1, 1)
    (site,) = stand_in.transfers.h2d
    assert site.endswith("test_stand_in.py:" + str(test_the_copy_counter_names_call_sites.__code__.co_firstlineno + 2))


def test_tensor_places_host_data_on_the_default_backend(stand_in):
    t = mg.tensor(numpy.ones(3, dtype=numpy.float32))
    assert t.backend == "cupy" and isinstance(t.data, stand_in.ndarray)
    assert mg.Tensor(numpy.ones(3)).backend == "numpy", "Tensor(array) wraps the array where it lives"
    assert mg.tensor([1.0, 2.0]).backend == "cupy"
    s = mg.tensor(numpy.float32(numpy.inf))  # a NumPy scalar is host data too: tensor() copies it over
    assert s.backend == "cupy" and s.dtype == numpy.float32 and s.shape == ()


def test_where_and_comparisons_across_backends_raise_backend_errors(stand_in):
    a = mg.ones(3)
    host = numpy.array([True, False, True])
    with pytest.raises(BackendError, match=r"where: inputs live on different backends"):
        mg.where(host, a, a)
    with pytest.raises(BackendError, match=r"comparison <: inputs live on different backends"):
        a < numpy.zeros(3, dtype=numpy.float32)  # noqa: B015 - the comparison itself must raise
    assert (a < mg.zeros(3)).backend == "cupy"
    assert mg.where(a > 0, a, 0.0).backend == "cupy"


def test_getitem_with_a_host_index_gathers_and_scatters_on_the_device(stand_in):
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x[numpy.array([0, 0, 2])].sum()
    y.backward()
    assert x.grad.backend == "cupy"
    numpy.testing.assert_array_equal(x.grad.numpy(), [2.0, 0.0, 1.0])


def test_the_device_generator_draws_on_the_device_and_is_seeded(stand_in):
    stand_in.transfers.reset()
    a, b = mg.Generator(7), mg.Generator(7)
    for draw in (lambda g: g.normal((4,)), lambda g: g.uniform((4,)), lambda g: g.integers(0, 9, (4,)),
                 lambda g: g.bernoulli(0.5, (4,))):
        x, y = draw(a), draw(b)
        assert x.backend == "cupy"
        assert stand_in.transfers.totals() == (0, 0), "a device draw copies nothing from the host"
        numpy.testing.assert_array_equal(x.numpy(), y.numpy())
        stand_in.transfers.reset()
    assert not numpy.array_equal(mg.Generator(8).normal((4,)).numpy(), mg.Generator(7).normal((4,)).numpy())


def test_the_device_stream_resumes_exactly_from_its_state(stand_in):
    g = mg.Generator(3)
    g.normal((2,))
    state = g.state_dict()
    assert state["device"] == {"seed": g.device.seed, "counter": 4}  # Box-Muller: two words per normal
    after = g.normal((5,)).numpy()
    resumed = mg.Generator(99)
    resumed.load_state_dict(state)
    numpy.testing.assert_array_equal(resumed.normal((5,)).numpy(), after)


def test_a_state_moves_the_device_stream_to_a_generator_of_another_seed_even_before_its_first_draw(stand_in):
    """replay.load_state_dict(g.state_dict()) must make replay draw g's next numbers, on the device too,
    when g has drawn only on the host so far (weights are initialised there)."""
    g, replay = mg.Generator(1), mg.Generator(0)
    g.normal((3,), backend_name="numpy")  # a host draw, as weight initialisation makes
    replay.load_state_dict(g.state_dict())
    numpy.testing.assert_array_equal(replay.normal((4,)).numpy(), g.normal((4,)).numpy())
    numpy.testing.assert_array_equal(replay.integers(0, 9, (5,)).numpy(), g.integers(0, 9, (5,)).numpy())


def test_the_counter_stream_has_the_moments_of_its_laws():
    """On NumPy arrays (the same code runs on CuPy's): 200,000 draws, moments within 5 standard errors."""
    from minigan.random import CounterStream

    s, n = CounterStream(12345), 200_000
    u = s.random(numpy, (n,))
    assert 0.0 <= u.min() and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 5 * (1 / 12) ** 0.5 / n**0.5
    z = s.normal(numpy, (n,))
    assert abs(z.mean()) < 5 / n**0.5 and abs(z.var() - 1.0) < 5 * 2**0.5 / n**0.5
    k = s.integers(numpy, 3, 10, (n,))
    assert set(numpy.unique(k).tolist()) == set(range(3, 10))
    counts = numpy.bincount(k - 3) / n
    assert numpy.all(numpy.abs(counts - 1 / 7) < 5 * (1 / 7 * 6 / 7 / n) ** 0.5)
    # neighbouring words are uncorrelated (a plain counter would not be)
    assert abs(numpy.corrcoef(u[:-1], u[1:])[0, 1]) < 5 / n**0.5


class _BrokenCupy:
    """A CuPy whose device answers but whose kernels cannot compile (no NVRTC)."""

    float32 = numpy.float32

    class cuda:  # mirrors cupy.cuda
        class runtime:
            @staticmethod
            def getDeviceCount():  # CuPy's name
                return 1

    @staticmethod
    def arange(*args, **kwargs):
        raise RuntimeError("CompileException: nvrtc: error: failed to open libnvrtc-builtins.so.12")


def test_the_probe_names_the_failing_stage_and_the_fix(monkeypatch):
    monkeypatch.setattr(backend, "_cupy", None)
    monkeypatch.setattr(backend, "_cupy_error", None)
    monkeypatch.setattr(backend, "_cupy_tried", False)
    monkeypatch.setattr("importlib.import_module", lambda name: _BrokenCupy)
    with mg.backend_scope("numpy"):  # where CuPy fails its probe NumPy is the only default, whatever --backend says
        with pytest.raises(BackendError) as info:
            mg.use_backend("cupy")
        assert mg.default_backend() == "numpy", "a failed use_backend must leave the default alone"
    msg = str(info.value)
    assert "while running an elementwise kernel (compiled by NVRTC)" in msg
    assert "libnvrtc-builtins" in msg
    assert "cupy-cuda12x[ctk]" in msg


def test_the_stand_in_passes_the_probe_and_restores_the_backend_afterwards():
    import fake_cupy

    before = (backend._cupy, backend.default_backend())
    with backend.cupy_stand_in(fake_cupy):
        assert backend.get_cupy() is fake_cupy
        mg.use_backend("cupy")
        assert mg.zeros(2).backend == "cupy"
    assert (backend._cupy, backend.default_backend()) == before


def test_a_test_without_the_fixture_runs_on_the_backend_option(request):
    """What ``--backend`` promises a test that does not ask for xp_backend; without the option, the
    default is the environment's. The subprocess of the next test runs this one under the stand-in."""
    import fake_cupy

    choice = request.config.getoption("--backend")
    if choice is None:
        assert mg.default_backend() == (os.environ.get("MINIGAN_BACKEND") or "numpy")
        return
    assert mg.default_backend() == {"numpy": "numpy", "cupy": "cupy", "stand-in": "cupy"}[choice]
    made = mg.zeros(2).data
    if choice == "stand-in":
        assert backend.get_cupy() is fake_cupy and isinstance(made, fake_cupy.ndarray)
    elif choice == "cupy":
        assert backend.get_cupy() is not fake_cupy and backend.is_cupy_array(made)
    else:
        assert isinstance(made, numpy.ndarray)


def test_the_backend_option_keeps_one_case_and_sets_the_default():
    """``pytest --backend stand-in``: xp_backend's other cases are deselected, and a test without the
    fixture runs with the stand-in as its default backend (the test above checks it there)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "--backend", "stand-in",
         os.path.join("tests", "test_backend.py") + "::test_ops_follow_the_data_on_each_backend",
         os.path.join("tests", "test_stand_in.py") + "::test_a_test_without_the_fixture_runs_on_the_backend_option"],
        capture_output=True, text=True, cwd=root, timeout=300)
    assert "2 passed, 2 deselected" in done.stdout, done.stdout + done.stderr
