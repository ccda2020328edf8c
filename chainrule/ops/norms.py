"""Vector norms (p = 2, 1, inf, -inf, 0, any p; ``"fro"``) and their derivatives."""

from __future__ import annotations

import numpy as np

from chainrule.autograd.node import Primitive
from chainrule.errors import BadInputError
from chainrule.ops.comparison import eq
from chainrule.ops.extremes import amax, amin
from chainrule.ops.reduce import Dims, _axes, _unreduce, sum
from chainrule.ops.selection import where
from chainrule.ops.unary import abs as _abs
from chainrule.ops.unary import sign
from chainrule.tensor import Tensor


def _norm_forward(x: np.ndarray, p: float, axes: tuple[int, ...], keepdim: bool) -> np.ndarray:
    """(Σ|x|^p)^(1/p) scaled by the largest |x|, so that neither |x|^p overflows (1e30 in float32)
    nor underflows to a zero norm (1e-200 in float64)."""
    size = np.abs(x)
    scale = size.max(axis=axes, keepdims=True, initial=0.0)
    usable = (scale > 0) & np.isfinite(scale)
    safe = np.where(usable, scale, 1.0).astype(x.dtype, copy=False)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        ratio = size / safe
        if p == 2:
            scaled = np.sqrt(np.add.reduce(ratio * ratio, axis=axes, keepdims=True))
        else:
            scaled = np.add.reduce(ratio**p, axis=axes, keepdims=True) ** (1.0 / p)
        # an infinite element makes the norm inf, unless a NaN is there too
        out = np.where(np.isinf(scale) & ~np.isnan(scaled), scale, scaled * safe)
    result: np.ndarray = out.astype(x.dtype, copy=False)
    return result if keepdim else np.squeeze(result, axis=axes)


def _norm_grad(
    grad: Tensor, out: Tensor, x: Tensor, p: float, axes: tuple[int, ...], keepdim: bool
) -> Tensor:
    # d‖x‖/dx = sign(x)·(|x|/‖x‖)^(p-1); at the zero vector PyTorch's subgradient 0 (the safe
    # denominator makes x/‖x‖ = 0 there instead of 0/0)

    kept_out = out if keepdim else _unreduce(out, x, axes)
    kept_grad = grad if keepdim else _unreduce(grad, x, axes)
    safe = where(eq(kept_out, 0.0), 1.0, kept_out)
    if p == 2:
        return kept_grad * (x / safe)
    return kept_grad * (sign(x) * (_abs(x) / safe) ** (p - 1.0))


_norm = Primitive(
    "norm",
    _norm_forward,
    grads=[_norm_grad],
    saves_out=True,
    tex=(r"\lVert x \rVert_p", [r"\operatorname{sign}(x)\,(|x| / \lVert x \rVert_p)^{p-1}"]),
    params=("p", "axes", "keepdim"),
    why="stable: the composite (Σ|x|^p)^(1/p) overflows, underflows and has a nan gradient at 0",
)


def _count_nonzero_grad(
    grad: Tensor, out: Tensor, x: Tensor, axes: tuple[int, ...], keepdim: bool
) -> Tensor:
    return where(eq(x, 0.0), 0.0, 0.0)  # zeros of x's shape and dtype, whatever x holds


# ‖x‖₀ counts the non-zeros: its gradient is 0 everywhere (PyTorch's too)
_count_nonzero = Primitive(
    "norm0",
    lambda x, axes, keepdim: np.count_nonzero(x, axis=axes, keepdims=keepdim).astype(x.dtype),
    grads=[_count_nonzero_grad],
    saves=(),
    tex=(r"\#\{x \ne 0\}", ["0"]),
    params=("axes", "keepdim"),
)


def norm(input: Tensor, p: float | str = 2, dim: Dims = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """Vector p-norm over ``dim`` (all elements by default), as ``torch.linalg.vector_norm``:
    'fro' is 2, ``inf`` / ``-inf`` the largest / smallest ``|x|``, 0 the count of non-zeros."""

    axes = _axes(dim, input.ndim, "norm")
    order = 2.0 if p == "fro" else float(p)
    if order == float("inf"):
        return amax(_abs(input), dim=axes, keepdim=keepdim)
    if order == float("-inf"):
        return amin(_abs(input), dim=axes, keepdim=keepdim)
    if order == 0:
        return _count_nonzero(input, axes=axes, keepdim=keepdim)
    if order == 1:
        return sum(_abs(input), dim=axes, keepdim=keepdim)
    if order < 0:
        raise BadInputError(f"norm: p must be 0, positive, inf or -inf, got {p}")
    return _norm(input, p=order, axes=axes, keepdim=keepdim)
