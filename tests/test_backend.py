"""minigan/backend.py: choosing a backend, CuPy's absence reported with its reason, and
NumPy and CuPy arrays never meeting silently in one op.

Mixing is tested three times: through the xp_backend fixture (on a real GPU when there is
one, and always on the strict CuPy stand-in of tests/support/fake_cupy, whose own rules are
tested in tests/test_stand_in.py), and here with a minimal fake CuPy whose ndarray is a
numpy.ndarray subclass, so the check that guards every op runs on a CPU-only machine."""
from __future__ import annotations

import os
import subprocess
import sys
import types

import numpy
import pytest

import minigan as mg
from minigan import backend
from minigan.backend import BackendError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(code, **env):
    full_env = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env=full_env, timeout=120)


@pytest.fixture
def no_cupy(monkeypatch):
    """Pretend CuPy failed to import, with a realistic error kept for the message."""
    monkeypatch.setattr(backend, "_cupy", None)
    monkeypatch.setattr(backend, "_cupy_tried", True)
    monkeypatch.setattr(backend, "_cupy_error", ImportError("libcudart.so.12: cannot open shared object file"))


class FakeCupyArray(numpy.ndarray):
    """Stands in for cupy.ndarray: a distinct array type the backend check must tell apart."""


@pytest.fixture
def fake_cupy(monkeypatch):
    module = types.SimpleNamespace(ndarray=FakeCupyArray, __name__="cupy")
    monkeypatch.setattr(backend, "_cupy", module)
    monkeypatch.setattr(backend, "_cupy_tried", True)
    return module


def test_default_is_numpy_and_use_backend_numpy():
    # The default is a property of a fresh import, which --backend does not reach: ask a new process.
    env = {k: v for k, v in os.environ.items() if k != "MINIGAN_BACKEND"}
    code = "import minigan as mg; print(mg.default_backend(), mg.zeros(2).backend)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["numpy", "numpy"]
    mg.use_backend("numpy")
    assert mg.zeros(2).backend == "numpy"


def test_unknown_backend_name():
    with pytest.raises(BackendError, match=r"unknown backend 'tpu'; expected one of \('numpy', 'cupy'\)"):
        mg.use_backend("tpu")
    with pytest.raises(BackendError, match="unknown backend 'jax'"):
        with mg.backend_scope("jax"):
            pass
    with pytest.raises(BackendError, match="unknown backend 'torch'"):
        mg.tensor([1.0]).to("torch")


def test_backend_scope_restores_the_default(monkeypatch):
    monkeypatch.setattr(backend, "_default", "numpy")
    with mg.backend_scope("numpy"):
        assert mg.default_backend() == "numpy"
    with pytest.raises(KeyError):
        with mg.backend_scope("numpy"):
            raise KeyError("inside")
    assert mg.default_backend() == "numpy"


def test_cupy_requested_without_cupy_quotes_the_import_error(no_cupy):
    assert not mg.cupy_available()
    assert mg.cupy_unavailable_reason() == "ImportError: libcudart.so.12: cannot open shared object file"
    with mg.backend_scope("numpy"):  # a machine without CuPy has no other default, whatever --backend says
        for ask in (lambda: mg.use_backend("cupy"), lambda: mg.backend_scope("cupy").__enter__(),
                    lambda: mg.tensor([1.0]).to("cupy")):
            with pytest.raises(BackendError) as info:
                ask()
            msg = str(info.value)
            assert "backend 'cupy' was requested but CuPy is not usable" in msg
            assert "ImportError: libcudart.so.12: cannot open shared object file" in msg
            assert "pip install" in msg
        assert mg.default_backend() == "numpy", "a failed use_backend must leave the default alone"


def test_environment_variable_sets_the_default():
    out = _run("import minigan as mg; print(mg.default_backend(), mg.zeros(2).backend)", MINIGAN_BACKEND="numpy")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["numpy", "numpy"]


def test_environment_variable_with_an_unknown_name():
    out = _run("import minigan", MINIGAN_BACKEND="tensorflow")
    assert out.returncode != 0
    assert "BackendError: unknown backend 'tensorflow'" in out.stderr


def test_environment_variable_cupy_without_a_gpu():
    """MINIGAN_BACKEND=cupy: the default is cupy; without CuPy, the first new array says why."""
    code = ("import minigan as mg\n"
            "print(mg.default_backend())\n"
            "try:\n    print(mg.zeros(2).backend)\n"
            "except mg.BackendError as e:\n    print('error:', e)\n"
            "print(mg.cupy_available())\n")
    out = _run(code, MINIGAN_BACKEND="cupy")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "cupy"
    if lines[2] == "True":  # the child's CuPy, not this process's (which may be the stand-in)
        assert lines[1] == "cupy"
    else:
        assert lines[1].startswith("error: backend 'cupy' was requested but CuPy is not usable")


def test_to_numpy_and_numpy():
    t = mg.Tensor(numpy.array([1.0, 2.0]), requires_grad=True)  # on NumPy, whatever the default
    assert t.to("numpy") is t  # already there: no copy, no op
    a = t.numpy()
    assert isinstance(a, numpy.ndarray) and a.dtype == numpy.float64
    numpy.testing.assert_array_equal(a, [1.0, 2.0])


def test_array_module_follows_the_data(fake_cupy):
    fake = numpy.zeros(2).view(FakeCupyArray)
    assert backend.array_module(numpy.zeros(2)) is numpy
    assert backend.array_module(numpy.zeros(2), fake) is fake_cupy


def test_mixing_backends_names_the_op_and_both_backends_fake_cupy(fake_cupy):
    a = mg.Tensor(numpy.ones((2, 3)))
    b = mg.Tensor(numpy.ones(3).view(FakeCupyArray))
    assert b.backend == "cupy"
    for op, name in ((lambda: a + b, "Add"), (lambda: a * b, "Mul"), (lambda: mg.maximum(b, a), "Maximum"),
                     (lambda: mg.stack([a[0], b]), "Stack")):
        with pytest.raises(BackendError) as info:
            op()
        msg = str(info.value)
        assert msg.startswith(f"{name}: inputs live on different backends")
        assert "numpy(2, 3)" in msg or "numpy(3,)" in msg
        assert "cupy(3,)" in msg
        assert "Tensor.to('numpy')" in msg


@pytest.mark.parametrize("xp_backend", [pytest.param("cupy", marks=pytest.mark.gpu),
                                        pytest.param("stand-in", marks=pytest.mark.stand_in)], indirect=True)
def test_mixing_backends_real_cupy(xp_backend):
    """On a GPU machine: a cupy tensor plus a numpy tensor is an error naming the op.
    (Mixing needs two backends, so there is no numpy-only run; the CuPy stand-in runs it without a GPU.)"""
    a = mg.ones(3)  # on cupy, from the fixture's scope
    b = mg.tensor(numpy.ones(3, dtype=numpy.float32)).to("numpy")
    assert a.backend == "cupy" and b.backend == "numpy"
    with pytest.raises(BackendError, match=r"Add: inputs live on different backends \(cupy\(3,\), numpy\(3,\)\)"):
        a + b
    c = b.to("cupy")
    assert c.backend == "cupy" and (a + c).backend == "cupy"
    numpy.testing.assert_array_equal((a + c).numpy(), 2 * numpy.ones(3))


def test_ops_follow_the_data_on_each_backend(xp_backend):
    """The same code runs on numpy and (with a GPU) on cupy, with gradients on the same backend."""
    x = mg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    assert x.backend == xp_backend
    y = (mg.exp(x) * x).sum()
    y.backward()
    assert x.grad.backend == xp_backend
    x0 = numpy.array([0.5, -1.0, 2.0], dtype=numpy.float32)
    numpy.testing.assert_allclose(x.grad.numpy(), numpy.exp(x0) * (1 + x0), rtol=1e-6)


def test_backend_of_rejects_other_types():
    with pytest.raises(BackendError, match="expected a numpy or cupy array, got list"):
        backend.backend_of([1, 2])
