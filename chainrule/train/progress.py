"""The progress bar that ``chainrule train`` draws on a terminal."""

from __future__ import annotations

import math
import sys
import time
from typing import TextIO


class ProgressBar:
    """A one-line text progress bar redrawn in place (``\\r``), at most ten times a second.

    Shown only when ``enabled`` (by default: when ``stream`` is a terminal)."""

    def __init__(
        self,
        epochs: int,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        width: int = 24,
    ) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.enabled = (
            (hasattr(self.stream, "isatty") and self.stream.isatty())
            if enabled is None
            else enabled
        )
        self.epochs = epochs
        self.width = width
        self._last = -math.inf
        self._drawn = False

    def update(self, epoch: int, batch: int, batches: int, loss: float) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and batch < batches):
            return
        self._last = now
        filled = self.width * batch // max(batches, 1)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(
            f"\repoch {epoch}/{self.epochs} [{bar}] {batch}/{batches} loss {loss:.4f}"
        )
        self.stream.flush()
        self._drawn = True

    def clear(self) -> None:
        """Erase the bar (before a line of other output, and at the end)."""
        if self._drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._drawn = False
