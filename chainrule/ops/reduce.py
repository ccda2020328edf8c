"""Reductions over dimensions (``dim``/``keepdim`` as in PyTorch) and their derivatives."""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from chainrule import _dtype
from chainrule.autograd.grad_mode import thread_state
from chainrule.autograd.node import Primitive
from chainrule.errors import BadInputError
from chainrule.ops._coerce import to_tensor
from chainrule.ops.comparison import eq
from chainrule.ops.elementwise import cast, exp, where
from chainrule.ops.shape import _reshape, normalize_dims, reshape, sum_to
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


# ---- amax / amin: ties share the gradient evenly, as in PyTorch -------------------------------
def _extreme_grad(
    grad: Tensor, out: Tensor, x: Tensor, axes: tuple[int, ...], keepdim: bool
) -> Tensor:
    # the gradient is shared equally among tied extremes, as in PyTorch
    kept = out if keepdim else _unreduce(out, x, axes)
    mask = cast(eq(x, kept), x.dtype)
    count = sum(mask, dim=axes, keepdim=True)
    return _unreduce(grad, x, axes) * mask / count


def _check_nonempty(x: np.ndarray, axes: tuple[int, ...], op: str) -> None:
    if builtins.any(x.shape[a] == 0 for a in axes) or (not axes and x.size == 0):
        raise BadInputError(f"{op}: can't reduce over an empty dimension (shape {x.shape})")


def _amax_forward(x: np.ndarray, axes: tuple[int, ...], keepdim: bool) -> np.ndarray:
    _check_nonempty(x, axes, "amax")
    out: np.ndarray = x.max(axis=axes, keepdims=keepdim)
    return out


def _amin_forward(x: np.ndarray, axes: tuple[int, ...], keepdim: bool) -> np.ndarray:
    _check_nonempty(x, axes, "amin")
    out: np.ndarray = x.min(axis=axes, keepdims=keepdim)
    return out


_amax = Primitive(
    "amax",
    _amax_forward,
    grads=[_extreme_grad],
    saves_out=True,
    tex=(r"\max_i x_i", [r"[x_i = \max]"]),
)
_amin = Primitive(
    "amin",
    _amin_forward,
    grads=[_extreme_grad],
    saves_out=True,
    tex=(r"\min_i x_i", [r"[x_i = \min]"]),
)


def amax(input: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    return _amax(input, axes=_axes(dim, input.ndim, "amax"), keepdim=keepdim)


def amin(input: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    return _amin(input, axes=_axes(dim, input.ndim, "amin"), keepdim=keepdim)


class MaxMin(NamedTuple):
    """``values, indices`` as ``torch.return_types.max``."""

    values: Tensor
    indices: Tensor


def _values_at(input: Tensor, indices: Tensor, dim: int, keepdim: bool) -> Tensor:
    """The elements at ``indices`` along ``dim`` (indices with keepdim's shape)."""
    from chainrule.ops.indexing import gather

    values = gather(input, dim, indices)
    return values if keepdim else reshape(values, values.shape[:dim] + values.shape[dim + 1 :])


def _arg_extreme_forward(x: np.ndarray, find: Any, axis: int | None, keepdim: bool) -> np.ndarray:
    if axis is None:
        return np.asarray(find(x), dtype=np.int64)
    found: np.ndarray = find(x, axis=axis, keepdims=keepdim)
    return found.astype(np.int64, copy=False)


# argmax/argmin (and an index's squeeze) as primitives without rules: integer results, which a
# replayed step recomputes from the new data
_arg_extreme = Primitive("arg_extreme", _arg_extreme_forward, grads=[None], saves=())
_squeeze_dim = Primitive(
    "squeeze", lambda x, dim: np.squeeze(x, axis=dim), grads=[None], saves=(), view=True
)


def _extreme(input: Tensor, dim: Any, keepdim: bool, largest: bool) -> Any:  # noqa: A002
    """max or min: of two tensors elementwise, of everything, or along ``dim`` with its index
    (the gradient goes to that index only)."""
    name = "max" if largest else "min"
    if isinstance(dim, Tensor):
        from chainrule.ops.elementwise import maximum, minimum

        return (maximum if largest else minimum)(input, dim)
    if dim is None:
        return amax(input) if largest else amin(input)
    axis = normalize_dims(dim, input.ndim, name)[0]
    _check_nonempty(input._data, (axis,), name)
    if not input.ndim:
        return MaxMin(input, Tensor._wrap(np.zeros((), np.int64)))
    find = np.argmax if largest else np.argmin
    kept = _arg_extreme(input, find=find, axis=axis, keepdim=True)
    values = _values_at(input, kept, axis, keepdim)
    return MaxMin(values, kept if keepdim else _squeeze_dim(kept, dim=axis))


def max(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001, A002
    """Largest element; with ``dim`` also its index (the gradient goes to that index only)."""
    return _extreme(input, dim, keepdim, largest=True)


def min(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001, A002
    """Smallest element; with ``dim`` also its index (the gradient goes to that index only)."""
    return _extreme(input, dim, keepdim, largest=False)


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """Index of the first largest element (of the flattened tensor when ``dim`` is None)."""
    if dim is None:
        return _arg_extreme(input, find=np.argmax, axis=None, keepdim=False)
    axis = normalize_dims(dim, input.ndim, "argmax")[0]
    return _arg_extreme(input, find=np.argmax, axis=axis, keepdim=keepdim)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    if dim is None:
        return _arg_extreme(input, find=np.argmin, axis=None, keepdim=False)
    axis = normalize_dims(dim, input.ndim, "argmin")[0]
    return _arg_extreme(input, find=np.argmin, axis=axis, keepdim=keepdim)


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
_origin = Primitive("origin", lambda x, first: x[first].copy(), grads=[None], saves=())


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
)
_flip = Primitive(
    "flip",
    # a copy, as torch.flip makes (NumPy's flip is a view: writing to it would change the input)
    lambda x, dim: np.flip(x, axis=dim).copy(),
    saves=(),
    grads=[lambda grad, out, x, dim: flip(grad, dim)],
    tex=("x", ["1"]),
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


# ---- vector norms -------------------------------------------------------------------------------
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
    from chainrule.ops.elementwise import abs as abs_
    from chainrule.ops.elementwise import sign

    kept_out = out if keepdim else _unreduce(out, x, axes)
    kept_grad = grad if keepdim else _unreduce(grad, x, axes)
    safe = where(eq(kept_out, 0.0), 1.0, kept_out)
    if p == 2:
        return kept_grad * (x / safe)
    return kept_grad * (sign(x) * (abs_(x) / safe) ** (p - 1.0))


# a primitive because the composite (Σ|x|^p)^(1/p) overflows, underflows and has a NaN gradient
# at the zero vector
_norm = Primitive(
    "norm",
    _norm_forward,
    grads=[_norm_grad],
    saves_out=True,
    tex=(r"\lVert x \rVert_p", [r"\operatorname{sign}(x)\,(|x| / \lVert x \rVert_p)^{p-1}"]),
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
)


def norm(input: Tensor, p: float | str = 2, dim: Dims = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """Vector p-norm over ``dim`` (all elements by default), as ``torch.linalg.vector_norm``:
    'fro' is 2, ``inf`` / ``-inf`` the largest / smallest ``|x|``, 0 the count of non-zeros."""
    from chainrule.ops.elementwise import abs as abs_

    axes = _axes(dim, input.ndim, "norm")
    order = 2.0 if p == "fro" else float(p)
    if order == float("inf"):
        return amax(abs_(input), dim=axes, keepdim=keepdim)
    if order == float("-inf"):
        return amin(abs_(input), dim=axes, keepdim=keepdim)
    if order == 0:
        return _count_nonzero(input, axes=axes, keepdim=keepdim)
    if order == 1:
        return sum(abs_(input), dim=axes, keepdim=keepdim)
    if order < 0:
        raise BadInputError(f"norm: p must be 0, positive, inf or -inf, got {p}")
    return _norm(input, p=order, axes=axes, keepdim=keepdim)
