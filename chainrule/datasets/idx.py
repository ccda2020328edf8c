"""The IDX file format of MNIST and Fashion-MNIST: read (raw or gzip), validate, write.

An IDX file is: two zero bytes, a type code, the number of dimensions D, then D big-endian
uint32 sizes, then the values in C order, big-endian.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path
from typing import Any

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


def _read_bytes(path: Path) -> bytes:
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as stream:
            return stream.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise IDXError(path, f"not a readable gzip file ({exc})") from exc


def read_idx(
    path: str | os.PathLike[str], ndim: int | None = None, type_code: int | None = None
) -> np.ndarray:
    """Read an IDX file (``.gz`` is decompressed) into an array in native byte order.

    ``ndim`` and ``type_code`` (0x08 for unsigned bytes) are checked when given. Raises
    IDXError naming the file for a bad magic number, an unexpected dimension count or type,
    or a data size that does not match the header (truncated or trailing bytes).

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
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise IDXError(path, f"truncated: {len(raw)} bytes, shorter than the 4-byte magic number")
    magic = int.from_bytes(raw[:4], "big")
    code, dims = raw[2], raw[3]
    if raw[0] != 0 or raw[1] != 0 or code not in _TYPES:
        raise IDXError(
            path,
            f"bad magic number 0x{magic:08X}: an IDX file starts with two zero "
            "bytes and a type code (0x08 for unsigned bytes); is it an IDX file?",
        )
    if type_code is not None and code != type_code:
        raise IDXError(path, f"values have type code 0x{code:02X}, expected 0x{type_code:02X}")
    if ndim is not None and dims != ndim:
        raise IDXError(path, f"has {dims} dimensions (magic number 0x{magic:08X}), expected {ndim}")
    header = 4 + 4 * dims
    if len(raw) < header:
        raise IDXError(path, f"truncated header: {len(raw)} bytes, the {dims} sizes need {header}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    dtype = _TYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header
    if got < expected:
        raise IDXError(
            path, f"truncated: shape {shape} needs {expected} bytes of data, the file has {got}"
        )
    if got > expected:
        raise IDXError(path, f"{got - expected} unexpected bytes after the data of shape {shape}")
    data = np.frombuffer(raw, dtype=dtype, count=expected // dtype.itemsize, offset=header)
    return data.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


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
