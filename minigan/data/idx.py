"""The IDX file format of MNIST and Fashion-MNIST: read it, and write small files for tests.

An IDX file is a header followed by the raw array, every number big-endian:

    bytes 0-1   0x00 0x00                       (always zero)
    byte  2     type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     number of dimensions n
    then        n sizes, each a big-endian uint32
    then        prod(sizes) items of the type, C order (last index fastest)

So MNIST's ``train-images-idx3-ubyte`` starts ``00 00 08 03 | 60000 | 28 | 28`` and
``train-labels-idx1-ubyte`` starts ``00 00 08 01 | 60000``. Files may be gzipped (``.gz``);
the reader looks at the first two bytes (gzip's magic 1f 8b), not at the name.

Reading is plain ``numpy.frombuffer`` on the bytes after the header: no code in a data file
is ever executed. Every way a file can be wrong (bad magic, unknown type, sizes that do not
match the bytes, a truncated or corrupt gzip stream) raises ``IdxError`` naming the file.

Sizes are checked before the data is read: the header's sizes are multiplied in Python
integers (no int64 overflow), a payload above ``MAX_IDX_BYTES`` is refused, and a gzipped
file is decompressed only as far as the header says it should go (plus one byte, to notice
trailing data), so a small file that would inflate to gigabytes is never inflated.
"""
from __future__ import annotations

import gzip
import math
import os
import struct
import zlib

import numpy

# type code -> big-endian dtype of the items
IDX_DTYPES = {
    0x08: numpy.dtype(">u1"),
    0x09: numpy.dtype(">i1"),
    0x0B: numpy.dtype(">i2"),
    0x0C: numpy.dtype(">i4"),
    0x0D: numpy.dtype(">f4"),
    0x0E: numpy.dtype(">f8"),
}
_CODE_OF = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
GZIP_MAGIC = b"\x1f\x8b"


class IdxError(ValueError):
    """An IDX file is malformed; the message names the file and what is wrong."""


MAX_IDX_BYTES = 2**30  # 1 GiB of items: twenty times MNIST's largest file, far below a typical memory


def _read_exactly(f, n, name):
    """Up to n bytes from f (fewer only at the end of the data)."""
    chunks, left = [], n
    try:
        while left > 0:
            chunk = f.read(min(left, 1 << 24))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except (EOFError, OSError, zlib.error) as e:  # truncated stream, bad CRC, corrupt block
        raise IdxError(f"{name}: gzip stream is corrupt or truncated ({e})") from None
    return b"".join(chunks)


def _header(f, name, max_bytes):
    """(shape, dtype, payload size in bytes) from the start of an IDX stream, refusing a size above max_bytes."""
    magic = _read_exactly(f, 4, name)
    if len(magic) < 4:
        raise IdxError(f"{name}: {len(magic)} bytes is too short for an IDX header (4 bytes of magic number)")
    zero, code, ndim = magic[:2], magic[2], magic[3]
    if zero != b"\x00\x00":
        raise IdxError(
            f"{name}: bad magic number {magic.hex()}: an IDX file starts with two zero bytes, "
            "a type code and the number of dimensions (MNIST images: 00000803)"
        )
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X} {d.name}" for c, d in IDX_DTYPES.items())
        raise IdxError(f"{name}: unknown IDX type code 0x{code:02X} (known: {known})")
    sizes = _read_exactly(f, 4 * ndim, name)
    if len(sizes) < 4 * ndim:
        raise IdxError(f"{name}: truncated header: {ndim} dimensions need {4 + 4 * ndim} bytes, file has "
                       f"{4 + len(sizes)}")
    shape = struct.unpack(f">{ndim}I", sizes)
    dtype = IDX_DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize  # Python integers: no overflow
    if expected > max_bytes:
        raise IdxError(
            f"{name}: header says shape {shape} of {dtype.newbyteorder('=').name}, {expected} bytes of data, "
            f"more than the {max_bytes} this reader accepts (max_bytes=); a damaged header?"
        )
    return shape, dtype, expected


def read_idx(path, max_bytes=MAX_IDX_BYTES) -> numpy.ndarray:
    """The array stored in the IDX file ``path`` (gzipped or not), in native byte order.

    Raises IdxError for a bad magic number, an unknown type code, a header asking for more
    than ``max_bytes`` of data, or a payload whose length differs from the product of the
    header's sizes (truncated or padded files). Nothing past that length is decompressed.
    """
    name = os.fspath(path)
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        f = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
        shape, dtype, expected = _header(f, name, max_bytes)
        payload = _read_exactly(f, expected + 1, name)  # one more byte reveals trailing data
    header = 4 + 4 * len(shape)
    if len(payload) != expected:
        got = f"{len(payload)} bytes" if len(payload) < expected else "more bytes"
        what = "truncated" if len(payload) < expected else "has trailing bytes"
        raise IdxError(
            f"{name}: {what}: header says shape {shape} of {dtype.newbyteorder('=').name} "
            f"({expected} bytes of data), file has {got} after the {header}-byte header"
        )
    data = numpy.frombuffer(payload, dtype=dtype).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # a native-order, writable copy


def write_idx(path, array, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file; gzipped when ``compress`` is True or, if None, when ``path`` ends in .gz.

    For tests and for small synthetic data sets; the dtype must be one IDX knows
    (uint8, int8, int16, int32, float32, float64).
    """
    array = numpy.ascontiguousarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _CODE_OF:
        raise IdxError(
            f"write_idx: dtype {array.dtype} has no IDX type code; use one of "
            + ", ".join(d.newbyteorder("=").name for d in IDX_DTYPES.values())
        )
    if array.ndim > 255 or any(s >= 2**32 for s in array.shape):
        raise IdxError(f"write_idx: shape {array.shape} does not fit an IDX header (<= 255 dims, sizes < 2**32)")
    code = _CODE_OF[native]
    payload = (
        bytes([0, 0, code, array.ndim])
        + struct.pack(f">{array.ndim}I", *array.shape)
        + array.astype(IDX_DTYPES[code]).tobytes()
    )
    if compress is None:
        compress = os.fspath(path).endswith(".gz")
    if compress:
        payload = gzip.compress(payload, mtime=0)  # mtime=0: the same array gives the same bytes
    with open(path, "wb") as f:
        f.write(payload)
