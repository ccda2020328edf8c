"""The extremes: amax/amin (ties share the gradient evenly, as in PyTorch), max/min with their
indices, argmax/argmin."""

from __future__ import annotations

import builtins
from typing import Any, NamedTuple

import numpy as np

from chainrule.autograd.node import Primitive
from chainrule.errors import BadInputError
from chainrule.ops.comparison import eq
from chainrule.ops.elementwise import cast
from chainrule.ops.reduce import Dims, _axes, _unreduce, sum
from chainrule.ops.shape import normalize_dims, reshape
from chainrule.tensor import Tensor


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
    params=("axes", "keepdim"),
)
_amin = Primitive(
    "amin",
    _amin_forward,
    grads=[_extreme_grad],
    saves_out=True,
    tex=(r"\min_i x_i", [r"[x_i = \min]"]),
    params=("axes", "keepdim"),
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
_arg_extreme = Primitive(
    "arg_extreme", _arg_extreme_forward, grads=[None], saves=(), params=("find", "axis", "keepdim")
)
_squeeze_dim = Primitive(
    "squeeze",
    lambda x, dim: np.squeeze(x, axis=dim),
    grads=[None],
    saves=(),
    view=True,
    params=("dim",),
)


def _extreme(input: Tensor, dim: Any, keepdim: bool, largest: bool) -> Any:  # noqa: A002
    """max or min: of two tensors elementwise, of everything, or along ``dim`` with its index
    (the gradient goes to that index only)."""
    name = "max" if largest else "min"
    if isinstance(dim, Tensor):
        from chainrule.ops.selection import maximum, minimum

        return (maximum if largest else minimum)(input, dim)
    if dim is None:
        return amax(input) if largest else amin(input)
    axis = normalize_dims(dim, input.ndim, name)[0]
    _check_nonempty(input._data, (axis,), name)
    if not input.ndim:
        return MaxMin(input, Tensor._wrap(np.zeros((), np.int64), constant=True))
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
