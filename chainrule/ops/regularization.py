"""Dropout, the one op that draws random numbers in its forward pass."""

from __future__ import annotations

import numpy as np

from chainrule.errors import BadInputError
from chainrule.random import draw
from chainrule.tensor import Tensor


# ---- dropout ---------------------------------------------------------------------------------
def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:  # noqa: A002
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (inverted dropout)."""
    if not 0.0 <= p <= 1.0:
        raise BadInputError(f"dropout: probability has to be between 0 and 1, got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    # (through draw: a replayed step draws a fresh mask each call, as eager does)
    scale = draw(_dropout_scale, shape=tuple(input.shape), p=p, dtype=input.dtype)
    return input * Tensor._wrap(scale)


def _dropout_scale(
    generator: np.random.Generator, *, shape: tuple[int, ...], p: float, dtype: np.dtype
) -> np.ndarray:
    """The mask times 1/(1-p): 0 where an element is dropped."""
    keep = generator.random(shape) >= p
    return (keep / (1.0 - p)).astype(dtype)
