"""What every record of the explainer shares: :class:`Views` (print() and Jupyter show a record
through ``VIEWS``, which ``chainrule.explain`` fills, so no record imports a renderer) and
:class:`Array`, a tensor's values kept losslessly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

# The views print() and Jupyter use, by format: chainrule.explain registers its renderers here
# when it is imported (always before a record can exist), so the records need not import them.
VIEWS: dict[str, Callable[[Any], str]] = {}


class Views:
    """Text for print(), Markdown and HTML for Jupyter: views of the record."""

    def __str__(self) -> str:
        return VIEWS["text"](self)

    def _repr_markdown_(self) -> str:
        return VIEWS["markdown"](self)

    def _repr_html_(self) -> str:
        return VIEWS["html"](self)


@dataclass(frozen=True)
class Array:
    """A tensor's values, losslessly: its shape, dtype name and flat data."""

    shape: tuple[int, ...]
    dtype: str
    data: tuple[float, ...]

    @classmethod
    def from_numpy(cls, array: np.ndarray) -> Array:
        array = np.asarray(array)
        return cls(tuple(array.shape), str(array.dtype), tuple(float(v) for v in array.reshape(-1)))

    def numpy(self) -> np.ndarray:
        return np.array(self.data, dtype=self.dtype).reshape(self.shape)
