"""Whole-file-or-nothing writes: every file chainrule writes (checkpoints, reports, sheets,
figures) is made under a temporary name beside its target and renamed into place."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_path(path: str | Path, write: Callable[[Path], Any], durable: bool = False) -> Path:
    """Let ``write(temporary)`` make the file, then rename it onto ``path``.

    On any failure (KeyboardInterrupt included) the temporary file is removed and ``path`` keeps
    what it held. The file gets the permissions a plain ``open()`` would give (mkstemp's are
    0600). With ``durable`` the data and the rename are fsynced.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"can't write {path}: the directory {directory} does not exist")
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=path.suffix or ".tmp", dir=directory
    )
    os.close(handle)
    try:
        write(Path(temporary))
        if durable:
            fd = os.open(temporary, os.O_RDONLY)
            try:
                os.fsync(fd)  # a disk that can't keep the data is an error worth raising
            finally:
                os.close(fd)
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    if durable:
        _fsync_folder(directory)
    return path


def write_stream(path: str | Path, write: Callable[[IO[bytes]], Any], durable: bool = True) -> Path:
    """As :func:`write_path`, for a writer that takes an open binary stream."""

    def to_path(temporary: Path) -> None:
        with open(temporary, "wb") as stream:
            write(stream)

    return write_path(path, to_path, durable=durable)


def write_bytes(path: str | Path, data: str | bytes) -> Path:
    """Write text (UTF-8) or bytes as a whole file or nothing."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    return write_stream(path, lambda stream: stream.write(payload), durable=False)


def _fsync_folder(folder: Path) -> None:
    """Make a rename durable where the OS allows opening a folder (POSIX)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
