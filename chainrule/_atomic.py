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


_TEMPORARY_MARK = ".chainrule-partial"


def _temporary_prefix(path: Path) -> str:
    """Temp files of saves to ``path`` are ``.<name>.<pid>.<random>.chainrule-partial<suffix>``
    (the suffix last: writers such as matplotlib pick the format from it)."""
    return f".{path.name}."


def _remove_stale_temporaries(path: Path) -> None:
    """Remove what a save to ``path`` that was killed (kill -9, power loss) left behind: temp
    files whose writing process is gone. Another live process's save is left alone."""
    prefix = _temporary_prefix(path)
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(_TEMPORARY_MARK + path.suffix)):
            continue
        pid_text = name[len(prefix) :].split(".", 1)[0]
        if not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        try:
            (path.parent / name).unlink()
        except OSError:
            pass


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def write_path(path: str | Path, write: Callable[[Path], Any], durable: bool = False) -> Path:
    """Let ``write(temporary)`` make the file, then rename it onto ``path``.

    On any failure (KeyboardInterrupt included) the temporary file is removed and ``path`` keeps
    what it held. A new file gets the permissions a plain ``open()`` would give (mkstemp's are
    0600); an existing file keeps its own. A symlink is written through (its target is
    replaced, the link stays). Temp files are named
    ``.<name>.<pid>.<random>.chainrule-partial<suffix>`` beside the target, so one left by a
    save that was killed is removed by the next save to the same path. With ``durable`` the data
    and the rename are fsynced.
    """
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))  # write the link's target, keep the link
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"can't write {path}: the directory {directory} does not exist")
    try:
        mode = os.stat(path).st_mode & 0o7777  # an existing file keeps its mode (a 0600 secret)
    except OSError:
        mode = 0o666 & ~_umask()
    _remove_stale_temporaries(directory / path.name)
    handle, temporary = tempfile.mkstemp(
        prefix=f"{_temporary_prefix(path)}{os.getpid()}.",
        suffix=_TEMPORARY_MARK + path.suffix,
        dir=directory,
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
        os.chmod(temporary, mode)
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
