"""The IDX file format of MNIST and Fashion-MNIST: read (raw or gzip), validate, write.

An IDX file is: two zero bytes, a type code, the number of dimensions D, then D big-endian
uint32 sizes, then the values in C order, big-endian.
"""

from __future__ import annotations

import gzip
import math
import os
import stat
import typing
import zlib
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["IDXError", "read_idx", "write_idx"]

# type code -> big-endian dtype (the codes of the format's definition)
_TYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dtype.newbyteorder("="): code for code, dtype in _TYPES.items()}


class IDXError(ValueError):
    """An IDX file that is not what it should be; the message names the file and the problem."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


# What a header may claim: beyond this the file is refused before its data is read (the largest
# real IDX file, MNIST's training images, is 47 MB); read_idx(max_bytes=) raises it
MAX_BYTES = 1 << 30  # 1 GiB
_MAX_DIMS = 32  # NumPy's own limit is 64; no IDX file has more than 3


def _open(path: Path) -> IO[bytes]:
    """The file's byte stream, decompressed as it is read for ``.gz`` (never all at once)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such IDX file") from None
    if not stat.S_ISREG(info.st_mode):
        raise IDXError(path, "is not a regular file")
    if path.suffix == ".gz":
        return typing.cast(IO[bytes], gzip.open(path, "rb"))
    return open(path, "rb")


_TRAILING_COUNTED = 1 << 20


def _read_gz(path: Path, stream: IO[bytes], size: int) -> bytes:
    """Up to ``size`` bytes (a gzip stream's errors named as such)."""
    try:
        return stream.read(size)
    except (OSError, EOFError, zlib.error) as exc:
        raise IDXError(path, f"not a readable gzip file ({exc})") from exc


def _read_exactly(path: Path, stream: IO[bytes], size: int, what: str) -> bytes:
    data = _read_gz(path, stream, size)
    if len(data) < size:
        raise IDXError(path, f"truncated {what}: {len(data)} of {size} bytes")
    return data


def read_idx(
    path: str | os.PathLike[str],
    ndim: int | None = None,
    type_code: int | None = None,
    max_bytes: int = MAX_BYTES,
) -> np.ndarray:
    """Read an IDX file (``.gz`` is decompressed as it is read) into an array in native byte order.

    ``ndim`` and ``type_code`` (0x08 for unsigned bytes) are checked when given. The header is
    read and checked first: a shape claiming more than ``max_bytes`` of data (1 GiB), more than
    32 dimensions, or more data than the stream holds is refused before the data is read, and
    at most one byte past the claimed size is ever decompressed (a gzip bomb costs nothing).
    Raises IDXError naming the file for a bad magic number, an unexpected dimension count or
    type, or a data size that does not match the header (truncated or trailing bytes).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from chainrule.datasets.idx import read_idx, write_idx
    >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte")
    >>> write_idx(path, np.array([3, 1, 4], dtype=np.uint8))
    >>> read_idx(path, ndim=1).tolist()
    [3, 1, 4]
    """
    path = Path(path)
    with _open(path) as stream:
        magic_bytes = _read_gz(path, stream, 4)
        if len(magic_bytes) < 4:
            raise IDXError(
                path,
                f"truncated: {len(magic_bytes)} bytes, shorter than the 4-byte magic number",
            )
        magic = int.from_bytes(magic_bytes, "big")
        code, dims = magic_bytes[2], magic_bytes[3]
        if magic_bytes[0] != 0 or magic_bytes[1] != 0 or code not in _TYPES:
            raise IDXError(
                path,
                f"bad magic number 0x{magic:08X}: an IDX file starts with two zero "
                "bytes and a type code (0x08 for unsigned bytes); is it an IDX file?",
            )
        if type_code is not None and code != type_code:
            raise IDXError(path, f"values have type code 0x{code:02X}, expected 0x{type_code:02X}")
        if ndim is not None and dims != ndim:
            raise IDXError(
                path, f"has {dims} dimensions (magic number 0x{magic:08X}), expected {ndim}"
            )
        if dims > _MAX_DIMS:
            raise IDXError(path, f"claims {dims} dimensions; at most {_MAX_DIMS} are read")
        sizes = _read_exactly(path, stream, 4 * dims, f"header (the {dims} sizes)")
        shape = tuple(int.from_bytes(sizes[4 * i : 4 * i + 4], "big") for i in range(dims))
        dtype = _TYPES[code]
        expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
        # a zero among the sizes makes no data, but NumPy still refuses a shape whose other
        # sizes overflow: bound those too
        nominal = math.prod(max(size, 1) for size in shape) * dtype.itemsize
        if nominal > max_bytes:
            raise IDXError(
                path,
                f"shape {shape} claims {nominal} bytes of data, more than the {max_bytes} "
                "a file may claim (max_bytes=)",
            )
        if path.suffix != ".gz":
            size = path.stat().st_size - 4 - 4 * dims
            if size < expected:
                raise IDXError(
                    path,
                    f"truncated: shape {shape} needs {expected} bytes of data, the file has {size}",
                )
        data = _read_gz(path, stream, expected + 1)  # one byte more tells trailing data
        got = len(data)
        if got < expected:
            raise IDXError(
                path,
                f"truncated: shape {shape} needs {expected} bytes of data, the file has {got}",
            )
        if got > expected:
            # count what follows, up to a bound (a gzip bomb's tail is never decompressed)
            extra = 1 + len(_read_gz(path, stream, _TRAILING_COUNTED))
            counted = f"more than {_TRAILING_COUNTED}" if extra > _TRAILING_COUNTED else extra
            raise IDXError(path, f"{counted} unexpected bytes after the data of shape {shape}")
    array = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize)
    return array.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzip-compressed when the name ends in ``.gz``)."""
    array = np.asarray(array)
    code = _CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(
            f"write_idx: IDX has no type for dtype {array.dtype}; use uint8, int8, "
            "int16, int32, float32 or float64"
        )
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(size).to_bytes(4, "big") for size in array.shape
    )
    payload = header + array.astype(_TYPES[code], copy=False).tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)
    path.write_bytes(payload)
