"""Pooling: max (a primitive with its scatter and gather), average (through unfold) and
adaptive average."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from chainrule.autograd.node import Primitive
from chainrule.autograd.versions import overwritten
from chainrule.errors import BadDataError, BadInputError
from chainrule.ops.joining import stack
from chainrule.ops.reduce import mean, sum
from chainrule.ops.shape import reshape
from chainrule.ops.unfold import _pair, _pool_geometry, _pool_padded, _window, unfold_windows
from chainrule.tensor import Tensor


# ---- pooling ---------------------------------------------------------------------------------
def _first_max_masks(
    x: np.ndarray,
    out: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
) -> Iterator[tuple[int, int, slice, slice, np.ndarray]]:
    """For each kernel offset, where it holds its window's first maximum (PyTorch's choice)."""
    # padding is never a window's maximum, even where the window holds only -inf: NaN padding
    # equals nothing (PyTorch skips the padding too)
    floating = x.dtype.kind == "f"
    padded = _pool_padded(x, padding, np.nan if floating else np.iinfo(x.dtype).min)
    taken = np.zeros((), dtype=bool)
    nan_out = np.isnan(out) if out.dtype.kind == "f" else None
    if nan_out is not None and not nan_out.any():
        nan_out = None  # the usual case: no NaN to match, one comparison per offset
    real = None
    if nan_out is not None and any(padding):
        real = _pool_padded(np.ones(x.shape, dtype=bool), padding, False)
    offsets = [(i, j) for i in range(kernel[0]) for j in range(kernel[1])]
    for n, (i, j) in enumerate(offsets):
        rows, columns = _window(i, j, out.shape[2:], stride, dilation)
        if n == len(offsets) - 1 and nan_out is None and n:
            # without NaN some offset holds each maximum: the last holds those not yet taken
            yield i, j, rows, columns, ~taken
            return
        window = padded[:, :, rows, columns]
        hit = window == out
        if nan_out is not None:
            nan_here = nan_out & np.isnan(window)
            hit |= nan_here if real is None else nan_here & real[:, :, rows, columns]
        if n:
            np.greater(hit, taken, out=hit)  # hit and not taken, without a temporary
            taken |= hit
        else:
            taken = hit.copy()  # the first offset takes every maximum it holds
        yield i, j, rows, columns, hit


def _max_pool_forward(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
) -> np.ndarray:
    padded = _pool_padded(x, padding, -np.inf)
    oh, ow = _pool_geometry(x.shape, kernel, stride, padding, dilation)
    windows = [
        padded[(slice(None), slice(None)) + _window(i, j, (oh, ow), stride, dilation)]
        for i in range(kernel[0])
        for j in range(kernel[1])
    ]
    if len(windows) == 1:
        return windows[0].copy()
    # the running maximum of one strided view per kernel offset, in one buffer: no window copies
    out: np.ndarray = np.maximum(windows[0], windows[1])
    for window in windows[2:]:
        np.maximum(out, window, out=out)
    return out


def _max_pool_scatter_forward(
    g: np.ndarray,
    x: np.ndarray,
    out: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
) -> np.ndarray:
    """The gradient of max pooling: each window's gradient to its first maximum."""
    B, C, H, W = x.shape
    result = np.zeros((B, C, H + 2 * padding[0], W + 2 * padding[1]), dtype=g.dtype)
    # windows that don't overlap write each input element once: straight into the result
    disjoint = all(s >= d * (k - 1) + 1 for s, d, k in zip(stride, dilation, kernel, strict=False))
    for _, _, rows, columns, hit in _first_max_masks(x, out, kernel, stride, padding, dilation):
        if disjoint:
            np.multiply(g, hit, out=result[:, :, rows, columns])
        else:
            result[:, :, rows, columns] += np.where(hit, g, 0)
    return result[:, :, padding[0] : padding[0] + H, padding[1] : padding[1] + W]


def _max_pool_gather_forward(
    g: np.ndarray,
    x: np.ndarray,
    out: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
) -> np.ndarray:
    """The adjoint of the scatter: each window picks g at its first maximum."""
    padded = _pool_padded(g, padding, 0.0)
    result = np.zeros(out.shape, dtype=g.dtype)
    for _, _, rows, columns, hit in _first_max_masks(x, out, kernel, stride, padding, dilation):
        result += np.where(hit, padded[:, :, rows, columns], 0)
    return result


# Max pooling and its derivative as primitives (benchmark-driven: the unfold-and-max composite
# copied every window). The derivative scatters to each window's first maximum; the scatter and
# the matching gather are each other's derivative, so second derivatives stay right.
_max_pool_scatter = Primitive(
    "max_pool2d_backward",
    _max_pool_scatter_forward,
    saves=(1, 2),
    grads=[lambda grad, out, g, x, y, **p: _max_pool_gather(grad, x, y, **p), None, None],
    tex=(r"\operatorname{scatter}_{\arg\max}(g)", ["1", "0", "0"]),
    params=("kernel", "stride", "padding", "dilation"),
    inputs=("g", "x", "y"),
)
_max_pool_gather: Primitive = Primitive(
    "max_pool2d_gather",
    _max_pool_gather_forward,
    saves=(1, 2),
    grads=[lambda grad, out, g, x, y, **p: _max_pool_scatter(grad, x, y, **p), None, None],
    tex=(r"g_{\arg\max}", ["1", "0", "0"]),
    params=("kernel", "stride", "padding", "dilation"),
    inputs=("g", "x", "y"),
)


def _max_pool_rule(grad: Tensor, out: Tensor, x: Tensor, **p: Any) -> Tensor:
    # the maxima are found from the input and the output; an output changed in place since is
    # computed again from the input, so only the input need stay as it was (PyTorch keeps the
    # indices, and likewise refuses only a changed input)
    if overwritten(out):
        out = _max_pool(x, **p)
    return _max_pool_scatter(grad, x, out, **p)


_max_pool = Primitive(
    "max_pool2d",
    _max_pool_forward,
    saves=(0,),
    saves_out=True,
    grads=[_max_pool_rule],
    tex=(r"\max_{\text{window}} x", [r"[x = \max]"]),
    params=("kernel", "stride", "padding", "dilation"),
    why="faster: the unfold-and-max composite copied every window",
)


def _flat_indices(
    x: np.ndarray,
    out: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
) -> np.ndarray:
    """PyTorch's return_indices: each maximum's position in its (H*W) input plane."""
    W = x.shape[3]
    oh, ow = out.shape[2:]
    top = (np.arange(oh) * stride[0] - padding[0])[:, None]
    left = (np.arange(ow) * stride[1] - padding[1])[None, :]
    indices = np.zeros(out.shape, dtype=np.int64)
    for i, j, _, _, hit in _first_max_masks(x, out, kernel, stride, padding, dilation):
        position = (top + i * dilation[0]) * W + left + j * dilation[1]  # (oh, ow)
        indices[hit] = np.broadcast_to(position, out.shape)[hit]
    return indices


def max_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,  # noqa: A002
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """Max over each window; the gradient goes to the first maximum, as in PyTorch."""
    if ceil_mode:
        raise NotImplementedError("max_pool2d: ceil_mode=True is not supported")
    squeeze = input.ndim == 3
    if squeeze:
        input = reshape(input, (1,) + input.shape)
    if input.ndim != 4:
        raise BadInputError(
            f"max_pool2d: expects input (B, C, H, W) or (C, H, W), got shape {tuple(input.shape)}"
        )
    kernel = _pair(kernel_size, "kernel_size")
    params = {
        "kernel": kernel,
        "stride": _pair(stride if stride is not None else kernel, "stride"),
        "padding": _pair(padding, "padding"),
        "dilation": _pair(dilation, "dilation"),
    }
    ph, pw = params["padding"]
    if ph > kernel[0] // 2 or pw > kernel[1] // 2:
        raise BadInputError(
            f"max_pool2d: padding {padding} must be at most half the kernel {kernel}"
        )
    oh, ow = _pool_geometry(input.shape, **params)
    if oh <= 0 or ow <= 0:
        padded = (input.shape[2] + 2 * ph, input.shape[3] + 2 * pw)
        raise BadInputError(
            f"max_pool2d: kernel {kernel} (dilation {params['dilation']}) is larger "
            f"than the padded input {padded[0]}x{padded[1]}"
        )
    values = _max_pool(input, **params)
    indices = None
    if return_indices:
        indices = Tensor._wrap(_flat_indices(input._data, values._data, **params))
    if squeeze:
        values = reshape(values, values.shape[1:])
        indices = None if indices is None else Tensor._wrap(indices._data[0])
    return (values, indices) if return_indices else values


def avg_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,  # noqa: A002
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """Mean over each window (padding counted, by default, as PyTorch does)."""
    if ceil_mode:
        raise NotImplementedError("avg_pool2d: ceil_mode=True is not supported")
    squeeze = input.ndim == 3
    if squeeze:
        input = reshape(input, (1,) + input.shape)
    kernel = _pair(kernel_size, "kernel_size")
    stride = stride if stride is not None else kernel
    cols = unfold_windows(input, kernel, stride, padding)  # (B, C, kh, kw, oh, ow)
    total = sum(cols, dim=(2, 3))
    if divisor_override:
        out = total / divisor_override
    elif count_include_pad or _pair(padding, "padding") == (0, 0):
        out = total / (kernel[0] * kernel[1])
    else:
        ones = Tensor._wrap(np.ones((1, 1) + input.shape[2:], input.dtype), constant=True)
        counts = sum(unfold_windows(ones, kernel, stride, padding), dim=(2, 3))
        out = total / counts
    return reshape(out, out.shape[1:]) if squeeze else out


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:  # noqa: A002
    """Average pooling to a fixed output size, with PyTorch's window boundaries."""
    H, W = input.shape[-2:]
    if output_size is None:  # as PyTorch: None only stands for one of the two sizes
        raise BadDataError("adaptive_avg_pool2d: output_size must be an int or a pair, got None")
    if isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        # None in a place keeps that size, as PyTorch
        output_size = tuple(n if s is None else s for s, n in zip(output_size, (H, W), strict=True))
    oh, ow = _pair(output_size, "output_size")
    if oh == 0 or ow == 0:  # an empty output, as PyTorch's
        return input[..., :oh, :ow]
    if H % oh == 0 and W % ow == 0:
        kernel = (H // oh, W // ow)
        if input.ndim == 4 and kernel == (H, W):
            return mean(input, dim=(2, 3), keepdim=True)  # global average pooling
        return avg_pool2d(input, kernel, kernel)
    rows = []
    for i in range(oh):
        top, bottom = (i * H) // oh, -(-((i + 1) * H) // oh)
        cells = []
        for j in range(ow):
            left, right = (j * W) // ow, -(-((j + 1) * W) // ow)
            cells.append(mean(input[..., top:bottom, left:right], dim=(-2, -1)))
        rows.append(stack(cells, dim=-1))
    return stack(rows, dim=-2)
