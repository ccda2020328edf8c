"""Sliding windows: the unfold (im2col) and fold (col2im) primitives, each the other's
derivative, and the window geometry that convolution and pooling share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule._checks import integer
from chainrule.autograd.node import Primitive
from chainrule.errors import BadInputError
from chainrule.ops.shape import pad
from chainrule.tensor import Tensor

# ---- unfold / fold: the two primitives under convolution and pooling --------------------------
# the least value each geometry argument may take, as PyTorch checks them
_MINIMUM = {"kernel_size": 1, "stride": 1, "dilation": 1, "padding": 0, "output_size": 0}


def _pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
    minimum = _MINIMUM.get(name)
    if not isinstance(value, (tuple, list)):
        single = integer(value, name, minimum)
        return (single, single)
    if len(value) != 2:
        raise BadInputError(f"{name} must be an int or a pair, got {value!r}")
    first, second = (integer(v, f"{name} {tuple(value)!r}: each", minimum) for v in value)
    return (first, second)


def _out_size(size: int, kernel: int, stride: int, dilation: int) -> int:
    return (size - dilation * (kernel - 1) - 1) // stride + 1


def _window(
    i: int, j: int, out_hw: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]
) -> tuple[slice, slice]:
    """The strided slice of the (padded) input seen by kernel offset (i, j)."""
    top, left = i * dilation[0], j * dilation[1]
    return (
        slice(top, top + stride[0] * (out_hw[0] - 1) + 1, stride[0]),
        slice(left, left + stride[1] * (out_hw[1] - 1) + 1, stride[1]),
    )


def _pool_padded(x: np.ndarray, padding: tuple[int, int], fill: float) -> np.ndarray:
    ph, pw = padding
    if not ph and not pw:
        return x
    B, C, H, W = x.shape
    padded = np.full((B, C, H + 2 * ph, W + 2 * pw), fill, dtype=x.dtype)
    padded[:, :, ph : ph + H, pw : pw + W] = x
    return padded


def _pool_geometry(
    shape: tuple[int, ...],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
) -> tuple[int, int]:
    H, W = shape[2] + 2 * padding[0], shape[3] + 2 * padding[1]
    return (
        _out_size(H, kernel[0], stride[0], dilation[0]),
        _out_size(W, kernel[1], stride[1], dilation[1]),
    )


def _unfold_forward(
    x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]
) -> np.ndarray:
    B, C, H, W = x.shape
    kh, kw = kernel
    oh, ow = _out_size(H, kh, stride[0], dilation[0]), _out_size(W, kw, stride[1], dilation[1])
    cols = np.empty((B, C, kh, kw, oh, ow), dtype=x.dtype)  # (B, C, kh, kw, oh, ow)
    # one strided copy per kernel offset beats sliding_window_view here (see issue 5 notes)
    for i in range(kh):
        for j in range(kw):
            rows, columns = _window(i, j, (oh, ow), stride, dilation)
            cols[:, :, i, j] = x[:, :, rows, columns]
    return cols


def _fold_forward(
    cols: np.ndarray, shape: tuple[int, ...], stride: tuple[int, int], dilation: tuple[int, int]
) -> np.ndarray:
    B, C, kh, kw, oh, ow = cols.shape
    out = np.zeros(shape, dtype=cols.dtype)  # (B, C, H, W)
    for i in range(kh):
        for j in range(kw):
            rows, columns = _window(i, j, (oh, ow), stride, dilation)
            out[:, :, rows, columns] += cols[:, :, i, j]
    return out


_unfold = Primitive(
    "unfold",
    _unfold_forward,
    saves=(),
    grads=[
        lambda grad, out, x, kernel, stride, dilation: _fold(
            grad, shape=x.shape, stride=stride, dilation=dilation
        )
    ],
    tex=(r"\operatorname{im2col}(x)", ["1"]),
    params=("kernel", "stride", "dilation"),
)
_fold: Primitive = Primitive(
    "fold",
    _fold_forward,
    saves=(),
    grads=[
        lambda grad, out, cols, shape, stride, dilation: _unfold(
            grad, kernel=cols.shape[2:4], stride=stride, dilation=dilation
        )
    ],
    tex=(r"\operatorname{col2im}(x)", ["1"]),
    params=("shape", "stride", "dilation"),
)


def unfold_windows(
    input: Tensor,
    kernel_size: Any,
    stride: Any = 1,
    padding: Any = 0,  # noqa: A002
    dilation: Any = 1,
    pad_value: float = 0.0,
) -> Tensor:
    """Sliding windows of a (B, C, H, W) tensor as (B, C, kh, kw, oh, ow)."""
    kernel, stride_, dilation_ = (
        _pair(kernel_size, "kernel_size"),
        _pair(stride, "stride"),
        _pair(dilation, "dilation"),
    )
    ph, pw = _pair(padding, "padding")
    if ph or pw:
        input = pad(input, (pw, pw, ph, ph), value=pad_value)
    H, W = input.shape[2:]
    if (
        _out_size(H, kernel[0], stride_[0], dilation_[0]) <= 0
        or _out_size(W, kernel[1], stride_[1], dilation_[1]) <= 0
    ):
        raise BadInputError(
            f"kernel {kernel} (dilation {dilation_}) is larger than the padded input {H}x{W}"
        )
    return _unfold(input, kernel=kernel, stride=stride_, dilation=dilation_)
