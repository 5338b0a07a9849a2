"""The idx file format of MNIST and Fashion-MNIST, read with every header field checked.

An idx file is two zero bytes, a type code, the number of dimensions, each size as a big-endian
uint32, then the values in row-major order. The file may be gzip-compressed (as distributed).
A file that is damaged, truncated or of another shape gives one DataError line.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
# Type codes of the idx format and the big-endian numpy types they stand for.
TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _raw_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
        return gzip.decompress(data) if data[:2] == GZIP_MAGIC else data
    except FileNotFoundError:
        raise DataError(f"idx file not found: {path}") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path} is not a readable idx file ({exc})") from None


def parse_idx(data: bytes, name: str = "idx data", ndim: int | None = None) -> np.ndarray:
    """The array held by the bytes of an idx file; `ndim` is the number of dimensions expected."""
    if len(data) < 4 or data[:2] != b"\x00\x00":
        start = data[:4].hex() or "nothing"
        raise DataError(f"{name} is not an idx file (it starts with {start})")
    code, dims = data[2], data[3]
    if code not in TYPES:
        raise DataError(f"{name} is not an idx file (unknown type code 0x{code:02x})")
    if ndim is not None and dims != ndim:
        raise DataError(f"{name} holds {dims}-dimensional data, expected {ndim} dimensions")
    header = 4 + 4 * dims
    if len(data) < header:
        raise DataError(f"{name} is truncated inside its header")
    shape = struct.unpack(f">{dims}I", data[4:header])
    dtype = TYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header
    if found != expected:
        what = "truncated" if found < expected else "longer than its header says"
        raise DataError(
            f"{name} is {what}: {found} bytes of values for shape {shape}, expected {expected}"
        )
    values = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


def read_idx(path: str | Path, ndim: int | None = None) -> np.ndarray:
    """Read an idx file (gzip-compressed or not) into a native-endian numpy array."""
    path = Path(path)
    return parse_idx(_raw_bytes(path), str(path), ndim)
