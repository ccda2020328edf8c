"""Which source files belong to the chainrule package itself, decided by the installed package's
own folder (never by a substring of the path: a user's project or a clone of this repository is
often a folder named ``chainrule`` too)."""

from __future__ import annotations

import functools
import os

# The real path of the folder that holds chainrule/__init__.py, with a separator at the end so
# that a sibling such as ``chainrule_extras/`` does not count as inside it.
PACKAGE_DIR = os.path.join(os.path.dirname(os.path.realpath(__file__)), "")


@functools.lru_cache(maxsize=1024)
def package_relative(filename: str) -> str | None:
    """``filename`` as ``chainrule/<path inside the package>`` if it is one of the package's
    own files (symlinks resolved), else ``None``."""
    if filename.startswith("<"):  # <string>, <stdin>, <frozen ...>: never ours
        return None
    real = os.path.realpath(filename)
    if os.path.normcase(real).startswith(os.path.normcase(PACKAGE_DIR)):
        inside = real[len(PACKAGE_DIR) :].replace(os.sep, "/")
        return f"chainrule/{inside}"
    return None


def in_package(filename: str) -> bool:
    """Whether ``filename`` is one of chainrule's own source files."""
    return package_relative(filename) is not None
