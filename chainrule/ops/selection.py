"""Clamps and selections (clamp, maximum/minimum, where): the gradient goes to the input that was
chosen, with PyTorch's conventions at the bounds and at ties."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import _dtype
from chainrule.autograd.node import Primitive
from chainrule.errors import BadInputError
from chainrule.ops._coerce import promote, to_tensor
from chainrule.tensor import Tensor


def _zero(grad: Tensor) -> Tensor:
    return Tensor._wrap(np.zeros((), grad.dtype), constant=True)


# ---- clamps ----------------------------------------------------------------------------------
def _clamp_forward(x: np.ndarray, min: Any, max: Any) -> np.ndarray:  # noqa: A002
    out = x
    if min is not None:
        out = np.maximum(out, min)
    if max is not None:
        out = np.minimum(out, max)
    return out.astype(x.dtype, copy=False)


def _clamp_mask_forward(x: np.ndarray, min: Any, max: Any) -> np.ndarray:  # noqa: A002
    # the gradient passes at the bounds themselves (min <= x <= max), as in PyTorch
    mask = np.ones(x.shape, dtype=bool)
    if min is not None:
        mask &= x >= min
    if max is not None:
        mask &= x <= max
    return mask


_clamp_mask = Primitive(
    "clamp_mask", _clamp_mask_forward, grads=[None], saves=(), params=("min", "max")
)


def _clamp_grad(grad: Tensor, out: Tensor, x: Tensor, min: Any, max: Any) -> Tensor:  # noqa: A002
    return grad * _clamp_mask(x, min=min, max=max)


_clamp = Primitive(
    "clamp",
    _clamp_forward,
    grads=[_clamp_grad],
    tex=(r"\min(\max(x, a), b)", [r"[a \le x \le b]"]),
    kind="elementwise",
    params=("min", "max"),
    symbols={"min": "a", "max": "b"},
)


def clamp(input: Tensor, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
    if min is None and max is None:
        raise BadInputError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        result = input
        if min is not None:
            result = maximum(result, min)
        if max is not None:
            result = minimum(result, max)
        return result
    return _clamp(input, min=min, max=max)


clip = clamp


def clamp_min(input: Tensor, min: float) -> Tensor:  # noqa: A002
    return clamp(input, min=min)


def clamp_max(input: Tensor, max: float) -> Tensor:  # noqa: A002
    return clamp(input, max=max)


# ---- binary selections ------------------------------------------------------------------------
def _pick_grad(grad: Tensor, mine_wins: Tensor, tie: Tensor) -> Tensor:
    # ties share the gradient equally between both inputs, as in PyTorch
    return where(mine_wins, grad, where(tie, grad * 0.5, _zero(grad)))


_maximum = Primitive(
    "maximum",
    np.maximum,
    grads=[
        lambda grad, out, x, y: _pick_grad(grad, x > y, x == y),
        lambda grad, out, x, y: _pick_grad(grad, y > x, x == y),
    ],
    tex=(r"\max(x, y)", [r"[x > y]", r"[y > x]"]),
    kind="elementwise",
)
_minimum = Primitive(
    "minimum",
    np.minimum,
    grads=[
        lambda grad, out, x, y: _pick_grad(grad, x < y, x == y),
        lambda grad, out, x, y: _pick_grad(grad, y < x, x == y),
    ],
    tex=(r"\min(x, y)", [r"[x < y]", r"[y < x]"]),
    kind="elementwise",
)


def maximum(input: Any, other: Any) -> Tensor:  # noqa: A002
    return _maximum(*promote(input, other))


def minimum(input: Any, other: Any) -> Tensor:  # noqa: A002
    return _minimum(*promote(input, other))


_where = Primitive(
    "where",
    np.where,
    saves=(0,),
    grads=[
        None,
        lambda grad, out, cond, x, y: where(cond, grad, _zero(grad)),
        lambda grad, out, cond, x, y: where(cond, _zero(grad), grad),
    ],
    tex=(r"c\,?\,x : y", ["0", "[c]", "[\\lnot c]"]),
    kind="elementwise",
    inputs=("c", "x", "y"),
)


def where(condition: Any, input: Any, other: Any) -> Tensor:  # noqa: A002
    """``input`` where ``condition`` holds, else ``other`` (broadcast together)."""
    condition = to_tensor(condition)
    if condition.dtype != _dtype.bool_:
        condition = Tensor._wrap(condition._data.astype(bool))
    x, y = promote(input, other)
    return _where(condition, x, y)
