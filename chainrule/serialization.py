"""Checkpoints: ``save``/``load`` of state dicts in the safetensors format (or ``.npz``), written
with NumPy alone, all-or-nothing on both sides.

A safetensors file is an 8-byte little-endian header length N, N bytes of JSON mapping each
tensor name to ``{"dtype", "shape", "data_offsets"}`` (plus an optional ``"__metadata__"`` of
strings), then the tensors' raw little-endian bytes, back to back. Files written here load with
``safetensors.numpy.load_file`` and ``safetensors.torch.load_file``, and theirs load here.
"""

from __future__ import annotations

import json
import math
import os
import stat
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from chainrule._atomic import write_stream
from chainrule.tensor import Tensor

__all__ = ["CheckpointError", "load", "load_metadata", "save"]

# safetensors dtype name <-> NumPy dtype (little-endian)
_DTYPES = {
    "BOOL": np.dtype("?"),
    "U8": np.dtype("u1"),
    "I8": np.dtype("i1"),
    "I16": np.dtype("<i2"),
    "U16": np.dtype("<u2"),
    "F16": np.dtype("<f2"),
    "I32": np.dtype("<i4"),
    "U32": np.dtype("<u4"),
    "F32": np.dtype("<f4"),
    "I64": np.dtype("<i8"),
    "U64": np.dtype("<u8"),
    "F64": np.dtype("<f8"),
}
_NAMES = {dtype.newbyteorder("="): name for name, dtype in _DTYPES.items()}
_BF16 = "BF16"  # no NumPy dtype: loaded as float32 (its 16 bits are float32's upper half)
_ITEMSIZE = {**{name: dtype.itemsize for name, dtype in _DTYPES.items()}, _BF16: 2}
_MAX_HEADER = 100_000_000  # the safetensors package's own limit
_STRUCTURE_KEY = "chainrule.structure"  # __metadata__ entry holding a nested dict's layout


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded; the message names the file and the problem."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


# ---- nested state (optimizer state dicts) ----------------------------------------------------
def _is_flat(obj: Mapping[Any, Any]) -> bool:
    return all(isinstance(k, str) and isinstance(v, (Tensor, np.ndarray)) for k, v in obj.items())


def _encode(value: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    """JSON for ``value`` with each tensor replaced by a reference to an entry of ``arrays``."""
    if isinstance(value, (Tensor, np.ndarray)):
        name = path or "tensor"
        while name in arrays:
            name += "_"
        arrays[name] = value._data if isinstance(value, Tensor) else value
        return {"tensor" if isinstance(value, Tensor) else "ndarray": name}
    if isinstance(value, Mapping):
        items = []
        for key, item in value.items():
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise TypeError(f"save: dict keys must be str or int, got {key!r} at {path!r}")
            items.append([key, _encode(item, f"{path}.{key}" if path else str(key), arrays)])
        return {"dict": items}
    if isinstance(value, (list, tuple)):
        encoded = [_encode(v, f"{path}.{i}", arrays) for i, v in enumerate(value)]
        return {"tuple": encoded} if isinstance(value, tuple) else {"list": encoded}
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"value": value}
    if isinstance(value, np.generic):
        return {"value": value.item()}
    raise TypeError(
        f"save: can't store a {type(value).__name__} (at {path!r}); state dicts "
        "hold tensors, arrays, numbers, strings, None, lists, tuples and dicts"
    )


_MAX_DEPTH = 64  # far beyond any state dict (an optimizer's is 4 deep); bounds a hostile file


def _decode(node: Any, tensors: Mapping[str, np.ndarray], depth: int = 0) -> Any:
    if depth > _MAX_DEPTH:
        raise ValueError(f"the layout is nested more than {_MAX_DEPTH} deep")
    ((kind, body),) = node.items()
    inner = depth + 1
    if kind == "tensor":
        return Tensor._wrap(tensors[body])
    if kind == "ndarray":
        return tensors[body]
    if kind == "dict":
        return {key: _decode(item, tensors, inner) for key, item in body}
    if kind == "list":
        return [_decode(item, tensors, inner) for item in body]
    if kind == "tuple":
        return tuple(_decode(item, tensors, inner) for item in body)
    if kind == "value":
        return body
    raise ValueError(f"unknown node kind {kind!r}")


def _flatten(obj: Mapping[Any, Any]) -> tuple[dict[str, np.ndarray], str | None]:
    """The arrays to store and, for anything but a flat ``str -> tensor`` dict, its layout."""
    if not isinstance(obj, Mapping):
        raise TypeError(f"save: expected a state dict (a mapping), got {type(obj).__name__}")
    if _is_flat(obj):
        return {k: (v._data if isinstance(v, Tensor) else v) for k, v in obj.items()}, None
    arrays: dict[str, np.ndarray] = {}
    structure = json.dumps(_encode(obj, "", arrays), allow_nan=True)
    return arrays, structure


# ---- atomic write ------------------------------------------------------------------------------
def _atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write through ``write`` to a temp file beside ``path``, fsync, then rename onto it."""
    write_stream(path, write, durable=True)


def _write_array(stream: IO[bytes], array: np.ndarray) -> None:
    stream.write(array.reshape(-1).view(np.uint8).data)  # the bytes in place, no copy


def _write_npz(stream: IO[bytes], arrays: Mapping[str, np.ndarray]) -> None:
    """What ``np.savez`` writes, minus its keyword clash with keys such as ``file``."""
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def _safetensors_header(
    arrays: Mapping[str, np.ndarray], metadata: Mapping[str, str]
) -> tuple[bytes, list[str]]:
    # largest items first, so each tensor starts at a multiple of its item size
    names = sorted(arrays, key=lambda n: (-arrays[n].dtype.itemsize, n))
    header: dict[str, Any] = {"__metadata__": dict(metadata)} if metadata else {}
    header.update({name: None for name in arrays})  # the state dict's own order
    offset = 0
    for name in names:
        array = arrays[name]
        header[name] = {
            "dtype": _NAMES[array.dtype.newbyteorder("=")],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + array.nbytes],
        }
        offset += array.nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # pad with spaces so the data starts 8-byte aligned
    return len(text).to_bytes(8, "little") + text, names


def _prepare(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    prepared = {}
    for name, array in arrays.items():
        array = np.asarray(array)
        native = array.dtype.newbyteorder("=")
        if native not in _NAMES:
            raise TypeError(
                f"save: {name!r} has dtype {array.dtype}, which safetensors can't "
                f"store; supported: {', '.join(sorted(_DTYPES))}"
            )
        # asarray, not ascontiguousarray, which would turn 0-d into 1-d
        prepared[name] = np.asarray(array, dtype=_DTYPES[_NAMES[native]], order="C")
    return prepared


def save(
    obj: Mapping[str, Any], f: str | os.PathLike[str], metadata: Mapping[str, str] | None = None
) -> None:
    """Save a state dict to ``f``: safetensors, or NumPy ``.npz`` when the name ends in ``.npz``.

    As ``torch.save`` for state dicts. A flat ``{name: tensor or array}`` dict is stored as is,
    so PyTorch (``safetensors.torch.load_file``) sees the same keys. Nested dicts, lists and
    numbers (an optimizer's state dict) are stored too: their tensors under dotted names and
    their layout as JSON in the header's ``__metadata__``. ``metadata`` adds string entries to
    ``__metadata__``. The file is written to a temp file in the same folder, fsynced and then
    renamed, so an interrupted save leaves the previous file intact.

    Examples
    --------
    >>> import os, tempfile
    >>> import chainrule as cr
    >>> from chainrule.serialization import load, save
    >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
    >>> save({"weight": cr.tensor([[1.0, 2.0]]), "steps": cr.tensor(3)}, path)
    >>> {k: v.tolist() for k, v in load(path).items()}
    {'weight': [[1.0, 2.0]], 'steps': 3}
    """
    path = Path(f)
    arrays, structure = _flatten(obj)
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    if structure is not None:
        meta[_STRUCTURE_KEY] = structure
    if path.name.endswith(".npz"):
        stored = {name: np.asarray(a) for name, a in arrays.items()}
        if meta:
            stored["__metadata__"] = np.array(json.dumps(meta))
        _atomic_write(path, lambda stream: _write_npz(stream, stored))
        return
    prepared = _prepare(arrays)
    header, names = _safetensors_header(prepared, meta)

    def write(stream: IO[bytes]) -> None:
        stream.write(header)
        for name in names:
            _write_array(stream, prepared[name])

    _atomic_write(path, write)


# ---- load --------------------------------------------------------------------------------------
def _check_entry(
    path: Path, name: str, entry: Any, data_size: int
) -> tuple[str, list[int], int, int]:
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise CheckpointError(
            path, f"corrupt header: entry {name!r} must have exactly dtype, shape and data_offsets"
        )
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in _ITEMSIZE:
        raise CheckpointError(
            path,
            f"tensor {name!r} has unknown dtype {dtype!r}; supported: "
            f"{', '.join(sorted(_ITEMSIZE))}",
        )
    if not (isinstance(shape, list) and all(type(s) is int and s >= 0 for s in shape)):
        raise CheckpointError(path, f"corrupt header: tensor {name!r} has shape {shape!r}")
    if not (
        isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)
    ):
        raise CheckpointError(path, f"corrupt header: tensor {name!r} has data_offsets {offsets!r}")
    begin, end = offsets
    if not 0 <= begin <= end <= data_size:
        raise CheckpointError(
            path,
            f"tensor {name!r}: data_offsets [{begin}, {end}] out of range "
            f"of the {data_size} data bytes (truncated file?)",
        )
    needed = math.prod(shape) * _ITEMSIZE[dtype]
    if end - begin != needed:
        raise CheckpointError(
            path,
            f"tensor {name!r}: shape {shape} of {dtype} needs {needed} "
            f"bytes, data_offsets give {end - begin}",
        )
    return dtype, shape, begin, end


def _read_header(path: Path, raw: bytes) -> tuple[dict[str, Any], int]:
    if len(raw) < 8:
        raise CheckpointError(
            path,
            f"truncated: {len(raw)} bytes, too short for a safetensors file (8-byte header length)",
        )
    size = int.from_bytes(raw[:8], "little")
    if size > _MAX_HEADER or 8 + size > len(raw):
        raise CheckpointError(
            path,
            f"corrupt or truncated: header length {size} does not fit a "
            f"{len(raw)}-byte file; is it a safetensors file?",
        )
    try:
        header = json.loads(raw[8 : 8 + size].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(path, f"corrupt header: not valid JSON ({exc})") from exc
    except RecursionError:
        raise CheckpointError(path, "corrupt header: its JSON is nested too deep") from None
    if not isinstance(header, dict):
        raise CheckpointError(path, "corrupt header: the JSON is not an object")
    return header, 8 + size


def _parse_safetensors(path: Path, raw: bytes) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    header, start = _read_header(path, raw)
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise CheckpointError(path, "corrupt header: __metadata__ must map strings to strings")
    data_size = len(raw) - start
    entries = {name: _check_entry(path, name, entry, data_size) for name, entry in header.items()}
    spans = sorted((begin, end, name) for name, (*_, begin, end) in entries.items())
    position = 0
    for begin, end, name in spans:
        if begin != position:
            problem = "overlaps the tensor before it" if begin < position else "leaves a gap"
            raise CheckpointError(path, f"tensor {name!r} at bytes [{begin}, {end}] {problem}")
        position = end
    if position != data_size:
        raise CheckpointError(path, f"{data_size - position} bytes after the last tensor's data")
    arrays = {}
    for name, (dtype, shape, begin, end) in entries.items():
        if dtype == _BF16:
            bits = np.frombuffer(raw, dtype="<u2", count=(end - begin) // 2, offset=start + begin)
            array = (bits.astype(np.uint32) << 16).view(np.float32)
        else:
            array = np.frombuffer(
                raw,
                dtype=_DTYPES[dtype],
                count=(end - begin) // _ITEMSIZE[dtype],
                offset=start + begin,
            )
        arrays[name] = array.astype(array.dtype.newbyteorder("="), copy=True).reshape(shape)
    return arrays, metadata


def _parse_npz(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except Exception as exc:  # noqa: BLE001 - whatever NumPy's parser trips on (found by fuzzing:
        # a corrupt .npy header raises tokenize.TokenError), the file is not a readable .npz
        raise CheckpointError(
            path, f"not a readable .npz file ({type(exc).__name__}: {exc})"
        ) from None
    metadata = arrays.pop("__metadata__", None)
    try:
        meta = {} if metadata is None else json.loads(str(metadata))
    except json.JSONDecodeError as exc:
        raise CheckpointError(path, f"corrupt __metadata__ entry ({exc})") from exc
    return arrays, meta


def load(
    f: str | os.PathLike[str], map_location: Any = None, weights_only: bool | None = None
) -> dict[str, Any]:
    """Load a state dict saved by :func:`save` (or by safetensors / NumPy's ``savez``).

    As ``torch.load`` for state dicts: tensors come back as chainrule Tensors (arrays saved
    inside nested dicts come back as arrays). ``map_location`` and ``weights_only`` are
    accepted for PyTorch's call sites and ignored (everything lives on the CPU, and nothing is
    unpickled). The whole file is validated before anything is returned; a truncated or corrupt
    file, out-of-range offsets or an unknown dtype raise CheckpointError naming the file.
    BF16 tensors load as float32.
    """
    path = Path(f)
    _check_regular_file(path)
    if path.name.endswith(".npz"):
        arrays, metadata = _parse_npz(path)
    else:
        arrays, metadata = _parse_safetensors(path, path.read_bytes())
    structure = metadata.get(_STRUCTURE_KEY)
    if structure is None:
        return {name: Tensor._wrap(array) for name, array in arrays.items()}
    try:
        state = _decode(json.loads(structure), arrays)
    except (json.JSONDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(path, f"corrupt {_STRUCTURE_KEY} metadata ({exc})") from exc
    except RecursionError:
        raise CheckpointError(path, f"corrupt {_STRUCTURE_KEY} metadata: nested too deep") from None
    if not isinstance(state, dict):
        raise CheckpointError(
            path, f"holds a {type(state).__name__}, not a state dict (a mapping of names)"
        )
    return state


def load_metadata(f: str | os.PathLike[str]) -> dict[str, str]:
    """The string entries a file's ``__metadata__`` holds (what :func:`save` got as
    ``metadata=``, plus the layout entry of a nested state dict); ``{}`` when it has none.
    Raises as :func:`load` for a missing or corrupt file."""
    path = Path(f)
    _check_regular_file(path)
    if path.name.endswith(".npz"):
        return _parse_npz(path)[1]
    return _parse_safetensors(path, path.read_bytes())[1]


def _check_regular_file(path: Path) -> None:
    """Only a regular file is read (a device such as /dev/zero would be read until memory runs
    out; a FIFO would block); a missing file raises FileNotFoundError, as open() does."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such checkpoint file") from None
    if stat.S_ISDIR(info.st_mode):
        raise CheckpointError(path, "is a folder, not a checkpoint file")
    if not stat.S_ISREG(info.st_mode):
        raise CheckpointError(path, "is not a regular file (a device, a pipe or a socket)")
