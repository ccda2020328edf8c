"""Argument checks shared by the public functions and constructors: an integer where PyTorch
wants one (a size, a stride, a dim), in its range, or one clear error naming the argument and the
value (TypeError for the wrong kind, ValueError for the wrong value; both are RuntimeErrors too,
as PyTorch's are)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from chainrule.errors import BadDataError, BadInputError


def integer(value: Any, what: str, minimum: int | None = None) -> int:
    """``value`` as an int: a Python or NumPy integer, or a one-element integer tensor (not a
    float, however whole: PyTorch refuses ``randn(2.0)`` too, and a bool is not a count)."""
    data = getattr(value, "_data", None)  # a Tensor, without importing it here
    if data is not None and data.size == 1 and data.dtype.kind in "iu":
        value = data.item()
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise BadDataError(f"{what} must be an integer, got {value!r} ({type(value).__name__})")
    number = int(value)
    if minimum is not None and number < minimum:
        bound = "positive" if minimum == 1 else f"at least {minimum}"
        raise BadInputError(f"{what} must be {bound}, got {number}")
    return number


def number(value: Any, what: str) -> float:
    """A real number (a Python, NumPy or one-element tensor value)."""
    data = getattr(value, "_data", None)
    if data is not None and data.size == 1:
        value = data.item()
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.number)):
        raise BadDataError(f"{what} must be a number, got {value!r} ({type(value).__name__})")
    return float(value)
