"""Dropout, the one op that draws random numbers in its forward pass."""

from __future__ import annotations

from chainrule.errors import BadInputError
from chainrule.random import generator
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
    keep = generator().random(input.shape) >= p
    return input * Tensor._wrap((keep / (1.0 - p)).astype(input.dtype))
