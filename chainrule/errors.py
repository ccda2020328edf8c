"""The errors chainrule raises for bad input, typed for code written for either library: each is
the Python type that describes it (ValueError, IndexError, TypeError) and also a RuntimeError,
the type PyTorch raises for the same mistake (a shape mismatch, an index out of range in gather,
a non-number in tensor data), so ``except RuntimeError`` written for PyTorch still catches it."""

from __future__ import annotations


class BadInputError(ValueError, RuntimeError):
    """Shapes that don't fit, an argument out of its range: PyTorch's RuntimeError."""


class IndexOutOfRangeError(IndexError, RuntimeError):
    """An index or a dim out of range (PyTorch: IndexError or, for gather and friends,
    RuntimeError)."""


class BadDataError(TypeError, RuntimeError):
    """Data that is not numbers (PyTorch: TypeError or RuntimeError, depending on the value)."""
