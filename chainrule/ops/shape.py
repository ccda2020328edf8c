"""Shape primitives: reshape, permute, broadcasting, padding and the ops composed
from them. None reads its input's values, so none saves anything for backward."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule._checks import integer
from chainrule.autograd.node import Primitive
from chainrule.errors import BadInputError, IndexOutOfRangeError
from chainrule.tensor import Tensor


def _normalize_dim(dim: int, ndim: int, op: str) -> int:
    """A dim in range(ndim), from a possibly negative one; a clear error when out of range."""
    dim = integer(dim, f"{op}: dim")
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise IndexOutOfRangeError(
            f"{op}: dim {dim} is out of range for a tensor with {ndim} dimension"
            f"{'' if ndim == 1 else 's'} (expected {-size}..{size - 1})"
        )
    return dim % size


def normalize_dims(dim: int | Sequence[int] | None, ndim: int, op: str) -> tuple[int, ...]:
    """``dim`` as a sorted tuple of non-negative axes; None means all of them."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        return (_normalize_dim(int(dim), ndim, op),)
    dims: Sequence[Any] = (dim,) if isinstance(dim, (str, float)) else dim  # refused below
    axes = tuple(sorted(_normalize_dim(d, ndim, op) for d in dims))
    if len(set(axes)) != len(axes):
        raise BadInputError(f"{op}: dim {tuple(dim)} names an axis twice")
    return axes


# ---- sum_to / expand: each other's derivative ------------------------------------------------
def _sum_to_forward(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    lead = x.ndim - len(shape)
    if lead == 1 and x.shape[1:] == shape:  # a bias's gradient: the batch axis only
        return np.add.reduce(x, axis=0)  # type: ignore[no-any-return]
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1
    )
    out = x.sum(axis=axes) if axes else x
    return out.reshape(shape)


_sum_to = Primitive(
    "sum_to",
    _sum_to_forward,
    saves=(),
    grads=[lambda grad, out, x, shape: expand(grad, x.shape)],
    tex=(r"\textstyle\sum_{\text{broadcast}} x", ["1"]),
    kind="sum",
    params=("shape",),
)
_expand = Primitive(
    "expand",
    lambda x, shape: np.broadcast_to(x, shape),
    saves=(),
    view=True,
    grads=[lambda grad, out, x, shape: sum_to(grad, x.shape)],
    tex=("x", ["1"]),
    kind="move",
    params=("shape",),
)


def sum_to(input: Tensor, shape: Sequence[int]) -> Tensor:  # noqa: A002
    """Sum ``input`` down to ``shape`` (the reverse of broadcasting ``shape`` up to input's)."""
    shape = tuple(shape)
    if input.shape == shape:
        return input
    return _sum_to(input, shape=shape)


def broadcast_shapes(*shapes: Sequence[int], op: str = "broadcast") -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError:
        raise BadInputError(
            f"{op}: shapes {' and '.join(str(tuple(s)) for s in shapes)} can't "
            "be broadcast together"
        ) from None


def expand(input: Tensor, *sizes: Any) -> Tensor:  # noqa: A002
    """Broadcast to ``sizes`` without copying; -1 keeps a dimension, as ``torch.Tensor.expand``."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    lead = len(sizes) - input.ndim
    if lead < 0:
        raise BadInputError(f"expand: can't expand shape {input.shape} to fewer dimensions {sizes}")
    shape = tuple(input.shape[i - lead] if s == -1 else int(s) for i, s in enumerate(sizes))
    if shape == input.shape:
        return input
    broadcast_shapes(input.shape, shape, op="expand")
    if broadcast_shapes(input.shape, shape) != shape:
        raise BadInputError(f"expand: shape {input.shape} can't be expanded to {shape}")
    return _expand(input, shape=shape)


def broadcast_to(input: Tensor, shape: Sequence[int]) -> Tensor:  # noqa: A002
    return expand(input, tuple(shape))


def expand_as(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    return expand(input, other.shape)


def broadcast_tensors(*tensors: Tensor) -> list[Tensor]:
    shape = broadcast_shapes(*[t.shape for t in tensors], op="broadcast_tensors")
    return [expand(t, shape) for t in tensors]


# ---- reshape / permute -----------------------------------------------------------------------
_reshape: Primitive  # declared: its own rule refers to it
_reshape = Primitive(
    "reshape",
    lambda x, shape: x.reshape(shape),
    saves=(),
    view=True,
    grads=[lambda grad, out, x, shape: _reshape(grad, shape=x._data.shape)],
    tex=("x", ["1"]),
    kind="move",
    params=("shape",),
)


def _shape_arg(sizes: tuple[Any, ...]) -> tuple[int, ...]:
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    return tuple(integer(s, f"shape {tuple(sizes)!r}: each size") for s in sizes)


def reshape(input: Tensor, *shape: Any) -> Tensor:  # noqa: A002
    """Same elements, new shape (one dimension may be -1)."""
    shape = _shape_arg(shape)
    if shape == input._data.shape:
        return input
    count = shape.count(-1)
    known = math.prod(shape) * (-1 if count % 2 else 1)
    if (
        count > 1
        or (count == 0 and known != input.numel())
        or (count == 1 and (known == 0 or input.numel() % known))
    ):
        raise BadInputError(
            f"reshape: shape {tuple(input.shape)} ({input.numel()} elements) "
            f"can't be viewed as {shape}"
        )
    return _reshape(input, shape=shape)


view = reshape


def view_as(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    return reshape(input, other.shape)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:  # noqa: A002
    if input.ndim == 0:
        return reshape(input, (1,))
    start = _normalize_dim(start_dim, input.ndim, "flatten")
    end = _normalize_dim(end_dim, input.ndim, "flatten")
    if start > end:
        raise BadInputError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = (
        input.shape[:start]
        + (-1 if input.numel() else int(np.prod(input.shape[start : end + 1])),)
        + input.shape[end + 1 :]
    )
    if input.numel() == 0:
        shape = tuple(int(s) for s in shape)
    return reshape(input, shape)


def unflatten(input: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:  # noqa: A002
    dim = _normalize_dim(dim, input.ndim, "unflatten")
    return reshape(input, input.shape[:dim] + tuple(sizes) + input.shape[dim + 1 :])


def squeeze(input: Tensor, dim: int | Sequence[int] | None = None) -> Tensor:  # noqa: A002
    """Drop size-1 dimensions (all, or those in ``dim`` that have size 1, as PyTorch)."""
    axes = normalize_dims(dim, input.ndim, "squeeze")
    shape = tuple(n for i, n in enumerate(input.shape) if not (i in axes and n == 1))
    return reshape(input, shape)


def unsqueeze(input: Tensor, dim: int) -> Tensor:  # noqa: A002
    dim = _normalize_dim(dim, input.ndim + 1, "unsqueeze")
    return reshape(input, input.shape[:dim] + (1,) + input.shape[dim:])


_permute = Primitive(
    "permute",
    lambda x, dims: x.transpose(dims),
    saves=(),
    view=True,
    grads=[lambda grad, out, x, dims: permute(grad, tuple(np.argsort(dims)))],
    tex=("x^{T}", ["1"]),
    kind="move",
    params=("dims",),
)


def permute(input: Tensor, *dims: Any) -> Tensor:  # noqa: A002
    dims = _shape_arg(dims)
    if len(dims) != input.ndim:
        raise BadInputError(
            f"permute: dims {dims} don't match the tensor's {input.ndim} dimensions"
        )
    axes = tuple(_normalize_dim(d, input.ndim, "permute") for d in dims)
    if sorted(axes) != list(range(input.ndim)):
        raise BadInputError(f"permute: dims {dims} are not a permutation of 0..{input.ndim - 1}")
    if axes == tuple(range(input.ndim)):
        return input
    return _permute(input, dims=axes)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:  # noqa: A002
    if input.ndim < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return input
    axes = list(range(input.ndim))
    d0 = _normalize_dim(dim0, input.ndim, "transpose")
    d1 = _normalize_dim(dim1, input.ndim, "transpose")
    axes[d0], axes[d1] = axes[d1], axes[d0]
    return permute(input, tuple(axes))


swapaxes = transpose


def t(input: Tensor) -> Tensor:  # noqa: A002
    if input.ndim > 2:
        raise BadInputError(f"t: expects a tensor with at most 2 dimensions, got {input.ndim}")
    return transpose(input, 0, -1) if input.ndim == 2 else input


# ---- padding ---------------------------------------------------------------------------------
def _pad_widths(ndim: int, pad: Sequence[int]) -> list[tuple[int, int]]:
    # PyTorch lists pads from the last dimension backwards: (left, right, top, bottom, ...)
    widths = [(0, 0)] * ndim
    for i in range(len(pad) // 2):
        widths[ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    return widths


def _pad_grad(grad: Tensor, out: Tensor, x: Tensor, pad: tuple[int, ...], value: float) -> Tensor:
    widths = _pad_widths(x.ndim, pad)
    key = tuple(slice(before, before + n) for (before, _), n in zip(widths, x.shape, strict=False))
    return grad[key]


_pad = Primitive(
    "pad",
    lambda x, pad, value: np.pad(x, _pad_widths(x.ndim, pad), constant_values=value),
    grads=[_pad_grad],
    saves=(),
    tex=(r"\operatorname{pad}(x)", ["1"]),
    params=("pad", "value"),
)


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:  # noqa: A002
    """Constant padding, pads given from the last dimension backwards (as ``F.pad``)."""
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} is not supported; only 'constant'")
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise BadInputError(
            f"pad: {len(pad)} pad values don't fit a {input.ndim}-d tensor "
            "(give an even number, at most two per dimension)"
        )
    if any(p < 0 for p in pad):
        raise BadInputError(f"pad: negative padding {tuple(pad)} is not supported")
    return _pad(input, pad=tuple(int(p) for p in pad), value=value)
