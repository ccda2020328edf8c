"""Comparisons and logic: elementwise ops with a bool result, so no gradient."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd.grad_mode import reads_data
from chainrule.autograd.node import Primitive
from chainrule.ops._coerce import promote, to_tensor
from chainrule.tensor import Tensor


# ---- comparisons and logic (no gradient) -----------------------------------------------------
# Comparisons are primitives without rules (a bool result has no gradient): as primitives they
# name themselves in shape errors, and a replayed step recomputes them from the new data.
def _compare(name: str, ufunc: np.ufunc) -> Any:
    op = Primitive(name, ufunc, grads=[None, None], saves=(), kind="elementwise")

    def function(input: Any, other: Any) -> Tensor:  # noqa: A002
        return op(*promote(input, other))

    function.__name__ = name
    function.__doc__ = f"Elementwise ``{name}``: a bool tensor, no gradient."
    function.primitive = op  # type: ignore[attr-defined]
    return function


eq = _compare("eq", np.equal)
ne = _compare("ne", np.not_equal)
lt = _compare("lt", np.less)
le = _compare("le", np.less_equal)
gt = _compare("gt", np.greater)
ge = _compare("ge", np.greater_equal)
logical_and = _compare("logical_and", np.logical_and)
logical_or = _compare("logical_or", np.logical_or)
logical_xor = _compare("logical_xor", np.logical_xor)
greater, less, equal = gt, lt, eq


_logical_not = Primitive("logical_not", np.logical_not, grads=[None], saves=(), kind="elementwise")
_isnan = Primitive("isnan", np.isnan, grads=[None], saves=(), kind="elementwise")
_isfinite = Primitive("isfinite", np.isfinite, grads=[None], saves=(), kind="elementwise")
_isinf = Primitive("isinf", np.isinf, grads=[None], saves=(), kind="elementwise")


def logical_not(input: Tensor) -> Tensor:  # noqa: A002
    return _logical_not(to_tensor(input))


def isnan(input: Tensor) -> Tensor:  # noqa: A002
    return _isnan(input)


def isfinite(input: Tensor) -> Tensor:  # noqa: A002
    return _isfinite(input)


def isinf(input: Tensor) -> Tensor:  # noqa: A002
    return _isinf(input)


def allclose(input: Tensor, other: Any, rtol: float = 1e-5, atol: float = 1e-8) -> bool:  # noqa: A002
    reads_data("allclose()")
    return bool(np.allclose(input._data, to_tensor(other)._data, rtol=rtol, atol=atol))


def equal_all(input: Tensor, other: Tensor) -> bool:  # noqa: A002
    reads_data("equal_all()")
    return input.shape == other.shape and bool(np.array_equal(input._data, other._data))
