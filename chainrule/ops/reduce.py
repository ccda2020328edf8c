"""Reductions over dimensions (``dim``/``keepdim`` as in PyTorch) and their derivatives."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import _dtype
from chainrule.autograd.grad_mode import thread_state
from chainrule.autograd.node import Primitive
from chainrule.ops._coerce import to_tensor
from chainrule.ops.elementwise import cast
from chainrule.ops.selection import where
from chainrule.ops.shape import _reshape, normalize_dims, reshape, sum_to
from chainrule.ops.unary import exp
from chainrule.tensor import Tensor

Dims = int | Sequence[int] | None


_ALL_AXES = [tuple(range(n)) for n in range(64)]
_ONES = [(1,) * n for n in range(64)]  # the keepdim shape of a full reduction


def _keep_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """The shape a reduction over ``axes`` has with keepdim=True."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _axes(dim: Dims, ndim: int, op: str) -> tuple[int, ...]:
    # PyTorch reduces over every dimension when dim is empty (dim=() or dim=[])
    empty = isinstance(dim, (tuple, list)) and len(dim) == 0
    return normalize_dims(None if empty else dim, ndim, op)


def _unreduce(grad: Tensor, x: Tensor, axes: tuple[int, ...]) -> Tensor:
    """Bring a reduced gradient back to keepdim shape so it broadcasts against ``x``."""
    return reshape(grad, _keep_shape(x.shape, axes))


# ---- sum / mean ------------------------------------------------------------------------------
def _spread_forward(g: np.ndarray, keep: tuple[int, ...], shape: tuple[int, ...]) -> np.ndarray:
    # a small filled array costs less than np.broadcast_to's view machinery (and is writable)
    if math.prod(shape) <= 4096:
        out = np.empty(shape, g.dtype)
        if g.ndim == 0:
            out.fill(g)  # a full reduction's gradient (a loss): half the cost of out[...] = g
        else:
            out[...] = g.reshape(keep)
        return out
    return np.broadcast_to(g.reshape(keep), shape)


# sum's derivative: the reduced gradient (reshaped to keepdim form) copied back over the summed
# dimensions; its own derivative sums again
_spread = Primitive(
    "spread",
    _spread_forward,
    saves=(),
    grads=[lambda grad, out, g, keep, shape: _reshape(sum_to(grad, keep), shape=g._data.shape)],
    tex=("g", ["1"]),
    params=("keep", "shape"),
    inputs=("g",),
)


def _sum_grad(grad: Tensor, out: Tensor, x: Tensor, axes: tuple[int, ...], keepdim: bool) -> Tensor:
    shape = x._data.shape
    keep = _ONES[len(shape)] if len(axes) == len(shape) else _keep_shape(shape, axes)
    return _spread(grad, keep=keep, shape=shape)


_sum = Primitive(
    "sum",
    lambda x, axes, keepdim: np.add.reduce(x, axis=axes, keepdims=keepdim),
    saves=(),
    grads=[_sum_grad],
    tex=(r"\sum_i x_i", ["1"]),
    kind="sum",
    params=("axes", "keepdim"),
)


def sum(input: Tensor, dim: Dims = None, keepdim: bool = False, dtype: Any = None) -> Tensor:  # noqa: A001, A002
    """Sum over ``dim`` (all dimensions by default); bools and ints sum as int64."""
    if (
        dim is None
        and dtype is None
        and isinstance(input, Tensor)
        and input._data.dtype.kind == "f"
    ):
        # the loss-reduction case, without argument normalisation
        return _sum(input, axes=_ALL_AXES[input._data.ndim], keepdim=keepdim)
    input = to_tensor(input)
    if dtype is not None:
        input = cast(input, dtype)
    elif input.dtype.kind in "bui":
        input = cast(input, _dtype.int64)
    axes = _axes(dim, input.ndim, "sum")
    return _sum(input, axes=axes, keepdim=keepdim)


def _count(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    return int(np.prod([shape[a] for a in axes])) if axes else 1


def mean(input: Tensor, dim: Dims = None, keepdim: bool = False, dtype: Any = None) -> Tensor:  # noqa: A002
    """Mean over ``dim``; an integer tensor needs a float ``dtype``, as in PyTorch."""
    input = to_tensor(input)
    if dtype is not None:
        input = cast(input, dtype)
    if input.dtype.kind != "f":
        raise TypeError(
            f"mean: needs a floating-point tensor, got {input.dtype}; "
            "pass dtype= or call .float() first"
        )
    axes = _axes(dim, input.ndim, "mean")
    total = _sum(input, axes=axes, keepdim=keepdim)
    count = _count(input.shape, axes)
    # an empty reduction is 0/0 = nan, as in PyTorch
    return total / count if count else total * np.nan


# ---- prod ------------------------------------------------------------------------------------
def _has_no_zero(x: np.ndarray) -> bool:
    return bool(np.all(x != 0))


def _prod_grad(
    grad: Tensor, out: Tensor, x: Tensor, axes: tuple[int, ...], keepdim: bool
) -> Tensor:
    grad = _unreduce(grad, x, axes)
    if thread_state.tracing is not None:  # which formula depends on the data: a replay checks again
        thread_state.tracing.guard(_has_no_zero, x)
    if np.all(x._data != 0):
        # the product of the others is out / x: differentiable, so Hessians stay right
        return grad * (out if keepdim else _unreduce(out, x, axes)) / x
    # with zeros, the product of the others from exclusive cumulative products (first order only)
    moved = np.moveaxis(x._data, axes, tuple(range(-len(axes), 0)))
    flat = moved.reshape(moved.shape[: moved.ndim - len(axes)] + (-1,))
    ones = np.ones(flat.shape[:-1] + (1,), flat.dtype)
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    others = (left * right).reshape(moved.shape)
    others = np.moveaxis(others, tuple(range(-len(axes), 0)), axes)
    return grad * Tensor._wrap(others)


# ignore: mypy picks np.prod's scalar overload for the lambda's untyped x (it is an ndarray)
_prod = Primitive(
    "prod",
    lambda x, axes, keepdim: np.prod(x, axis=axes, keepdims=keepdim),  # type: ignore[arg-type, return-value]
    grads=[_prod_grad],
    saves_out=True,
    tex=(r"\prod_i x_i", [r"\prod_{j \ne i} x_j"]),
    params=("axes", "keepdim"),
)


def prod(input: Tensor, dim: Dims = None, keepdim: bool = False, dtype: Any = None) -> Tensor:  # noqa: A002
    input = to_tensor(input)
    if dtype is not None:
        input = cast(input, dtype)
    return _prod(input, axes=normalize_dims(dim, input.ndim, "prod"), keepdim=keepdim)


# ---- var / std -------------------------------------------------------------------------------
def _centre(input: Tensor, axes: tuple[int, ...]) -> Tensor:  # noqa: A002
    """``x − mean(x)`` over ``axes``, taken from ``x − x₀`` (``x₀`` one element of each slice,
    detached): the same number in exact arithmetic, but a constant slice gives exact zeros however
    large its values (1e30 in float32 would leave a rounding error that overflows when squared)."""
    first = tuple(slice(0, 1) if i in axes else slice(None) for i in range(input.ndim))
    shifted = input - _origin(input, first=first)
    return shifted - mean(shifted, dim=axes, keepdim=True)


# x₀ for centre: an op without a rule (the shift cancels, so no gradient goes through it), and a
# recorded op, so a replayed step takes it from the new data
_origin = Primitive(
    "origin", lambda x, first: x[first].copy(), grads=[None], saves=(), params=("first",)
)


def var(
    input: Tensor,
    dim: Dims = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    correction: float | None = None,
) -> Tensor:  # noqa: A002
    """Variance with Bessel's correction by default (``correction=1``), as in PyTorch."""
    if correction is None:
        correction = 0 if unbiased is False else 1
    axes = _axes(dim, input.ndim, "var")
    centred = _centre(input, axes)
    count = _count(input.shape, axes)
    denominator = count - correction
    total = sum(centred * centred, dim=axes, keepdim=keepdim)
    return total / denominator if denominator > 0 else total * np.inf


def _std_grad(grad: Tensor, out: Tensor, variance: Tensor) -> Tensor:
    # d sqrt(v)/dv = 1 / (2 std); PyTorch gives a zero-variance slice a zero gradient, not inf
    zero = out == 0
    return where(zero, 0.0, grad / (where(zero, 1.0, out) * 2))


_std = Primitive(
    "std",
    np.sqrt,
    grads=[_std_grad],
    saves=(),
    saves_out=True,
    tex=(r"\sqrt{\operatorname{var}(x)}", [r"\frac{1}{2 \operatorname{std}(x)}"]),
)


def std(
    input: Tensor,
    dim: Dims = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    correction: float | None = None,
) -> Tensor:  # noqa: A002
    dim = _axes(dim, input.ndim, "std")  # so a bad dim is reported as std's, not var's
    return _std(var(input, dim, unbiased=unbiased, keepdim=keepdim, correction=correction))


def var_mean(
    input: Tensor,
    dim: Dims = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    correction: float | None = None,
) -> tuple[Tensor, Tensor]:  # noqa: A002
    return (var(input, dim, unbiased, keepdim, correction), mean(input, dim, keepdim))


# ---- logsumexp -------------------------------------------------------------------------------
def _logsumexp_forward(x: np.ndarray, axes: tuple[int, ...], keepdim: bool) -> np.ndarray:
    # subtract the max so exp never overflows; an all -inf slice gives -inf, not nan
    peak = (
        np.amax(x, axis=axes, keepdims=True)
        if x.size
        else np.zeros(tuple(1 if i in axes else n for i, n in enumerate(x.shape)), x.dtype)
    )
    peak = np.where(np.isfinite(peak), peak, 0)
    out: np.ndarray = np.log(np.sum(np.exp(x - peak), axis=axes, keepdims=True)) + peak
    return out if keepdim else out.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axes))


_logsumexp = Primitive(
    "logsumexp",
    _logsumexp_forward,
    saves_out=True,
    grads=[
        lambda grad, out, x, axes, keepdim: (
            _unreduce(grad, x, axes) * exp(x - (out if keepdim else _unreduce(out, x, axes)))
        )
    ],
    tex=(r"\ln \sum_i e^{x_i}", [r"\operatorname{softmax}(x)_i"]),
    params=("axes", "keepdim"),
    why="stable: the composite ln Σ e^x overflows; the max is taken out first",
)


def logsumexp(input: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """log(sum(exp(x))) over ``dim``, computed stably."""
    (input,) = [to_tensor(input)]
    if input.dtype.kind != "f":
        input = cast(input, _dtype.get_default_dtype())
    return _logsumexp(input, axes=_axes(dim, input.ndim, "logsumexp"), keepdim=keepdim)


# ---- cumulative sum --------------------------------------------------------------------------
def _cumsum_grad(grad: Tensor, out: Tensor, x: Tensor, dim: int) -> Tensor:
    return flip(cumsum(flip(grad, dim), dim), dim)


_cumsum = Primitive(
    "cumsum",
    lambda x, dim: np.cumsum(x, axis=dim),
    grads=[_cumsum_grad],
    saves=(),
    tex=(r"\sum_{j \le i} x_j", [r"[j \le i]"]),
    params=("dim",),
)
_flip = Primitive(
    "flip",
    # a copy, as torch.flip makes (NumPy's flip is a view: writing to it would change the input)
    lambda x, dim: np.flip(x, axis=dim).copy(),
    saves=(),
    grads=[lambda grad, out, x, dim: flip(grad, dim)],
    tex=("x", ["1"]),
    kind="move",
    params=("dim",),
)


def cumsum(input: Tensor, dim: int) -> Tensor:  # noqa: A002
    return _cumsum(input, dim=normalize_dims(dim, input.ndim, "cumsum")[0])


def flip(input: Tensor, dims: Dims) -> Tensor:  # noqa: A002
    return _flip(input, dim=normalize_dims(dims, input.ndim, "flip"))


# ---- logic and norms -------------------------------------------------------------------------
def all(input: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:  # noqa: A001, A002
    axes = normalize_dims(dim, input.ndim, "all")
    return Tensor._wrap(np.all(input._data, axis=axes, keepdims=keepdim))


def any(input: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:  # noqa: A001, A002
    axes = normalize_dims(dim, input.ndim, "any")
    return Tensor._wrap(np.any(input._data, axis=axes, keepdims=keepdim))
