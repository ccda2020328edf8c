"""Laying text out for a terminal: ANSI styles (only when asked), aligned columns that measure
text without its escape codes, and an array in one line."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from chainrule.explain.formatting import format_value

__all__ = ["Style", "array_text", "table", "visible"]


class Style:
    def __init__(self, color: bool) -> None:
        self.color = color

    def _wrap(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def heading(self, text: str) -> str:
        return self._wrap("1", text)

    def name(self, text: str) -> str:
        return self._wrap("36", text)

    def formula(self, text: str) -> str:
        return self._wrap("33", text)

    def good(self, text: str) -> str:
        return self._wrap("32", text)

    def bad(self, text: str) -> str:
        return self._wrap("31", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)


def visible(text: str) -> int:
    return len(re.sub(r"\x1b\[[0-9;]*m", "", text))


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - visible(text))


def table(rows: Sequence[Sequence[str]], indent: str = "  ", gap: str = "  ") -> list[str]:
    """Rows of cells as aligned columns (ANSI codes don't count towards a cell's width)."""
    if not rows:
        return []
    widths = [
        max(visible(row[c]) for row in rows if c < len(row))
        for c in range(max(len(r) for r in rows))
    ]
    lines = []
    for row in rows:
        cells = [_pad(cell, widths[c]) if c < len(row) - 1 else cell for c, cell in enumerate(row)]
        lines.append((indent + gap.join(cells)).rstrip())
    return lines


def array_text(array: np.ndarray, digits: int) -> str:
    if array.size > 16:
        return (
            f"tensor of shape {array.shape}, ‖·‖ = "
            f"{format_value(float(np.sqrt(np.sum(np.square(array, dtype=np.float64)))), 6)}"
        )
    return np.array2string(
        array, separator=", ", formatter={"float_kind": lambda v: format_value(v, digits)}
    ).replace("\n", "")
