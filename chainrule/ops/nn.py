"""Neural-network ops: softmax family, convolution and pooling (via unfold), dropout, embedding
and normalisation. Primitives only where composing would be unstable (log_softmax) or where no
composition exists (unfold/fold); everything else is composed and inherits its derivatives."""

from __future__ import annotations

import typing
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from chainrule import _dtype
from chainrule._checks import integer, number
from chainrule.autograd.grad_mode import no_grad, state, thread_state
from chainrule.autograd.node import Primitive
from chainrule.autograd.versions import overwritten
from chainrule.errors import BadDataError, BadInputError, IndexOutOfRangeError
from chainrule.ops._coerce import promote, to_tensor
from chainrule.ops.elementwise import cast, exp, where
from chainrule.ops.indexing import index
from chainrule.ops.reduce import _centre, mean, sum
from chainrule.ops.shape import _normalize_dim, _reshape, pad, reshape, stack
from chainrule.random import generator
from chainrule.tensor import Tensor


# ---- softmax family: primitives for stability ------------------------------------------------
def _softmax_forward(x: np.ndarray, dim: int) -> np.ndarray:
    shifted = np.exp(x - x.max(axis=dim, keepdims=True))
    out: np.ndarray = shifted / shifted.sum(axis=dim, keepdims=True)
    return out


def _log_softmax_forward(x: np.ndarray, dim: int) -> np.ndarray:
    shifted = x - x.max(axis=dim, keepdims=True)
    out: np.ndarray = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
    return out


_softmax = Primitive(
    "softmax",
    _softmax_forward,
    saves=(),
    saves_out=True,
    grads=[lambda grad, out, x, dim: out * (grad - sum(grad * out, dim=dim, keepdim=True))],
    tex=(r"\frac{e^{x_i}}{\sum_j e^{x_j}}", [r"s_i(\delta_{ij} - s_j)"]),
)
_log_softmax = Primitive(
    "log_softmax",
    _log_softmax_forward,
    saves=(),
    saves_out=True,
    grads=[lambda grad, out, x, dim: grad - exp(out) * sum(grad, dim=dim, keepdim=True)],
    tex=(r"x_i - \ln\sum_j e^{x_j}", [r"\delta_{ij} - s_j"]),
)


def _float_input(input: Any, dtype: Any) -> Tensor:  # noqa: A002
    input = to_tensor(input)
    if dtype is not None:
        return cast(input, dtype)
    if input.dtype.kind != "f":
        return cast(input, _dtype.get_default_dtype())
    return typing.cast(Tensor, input)


def softmax(input: Tensor, dim: int = -1, dtype: Any = None) -> Tensor:  # noqa: A002
    """exp(x) / sum(exp(x)) along ``dim``, computed with the max subtracted."""
    input = _float_input(input, dtype)
    return _softmax(input, dim=_normalize_dim(dim, input.ndim, "softmax"))


def log_softmax(input: Tensor, dim: int = -1, dtype: Any = None) -> Tensor:  # noqa: A002
    """x - logsumexp(x) along ``dim``: finite for inputs of ±1000."""
    input = _float_input(input, dtype)
    return _log_softmax(input, dim=_normalize_dim(dim, input.ndim, "log_softmax"))


def one_hot(input: Tensor, num_classes: int = -1) -> Tensor:  # noqa: A002
    """int64 one-hot encoding, a new last dimension of size ``num_classes``."""
    labels = to_tensor(input)._data
    if labels.dtype.kind not in "iu":
        raise TypeError(f"one_hot: needs an integer tensor of class indices, got {labels.dtype}")
    num_classes = integer(num_classes, "one_hot: num_classes", minimum=-1)  # -1: inferred
    inferred = num_classes < 0
    if inferred:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise BadInputError(
            f"one_hot: class values must be in 0..{num_classes - 1}, got "
            f"{labels.min()}..{labels.max()}"
        )
    tensor = to_tensor(input)
    if state.tracing is not None:  # a replayed step checks the range (and inferred C) again
        state.tracing.guard(_ClassRange(num_classes, inferred), tensor)
    return _one_hot(tensor, num_classes=num_classes)


class _ClassRange:
    """What one_hot decided from the labels: they are in range, and (when C was inferred) the
    largest is C - 1; a replayed step checks both again."""

    def __init__(self, num_classes: int, inferred: bool) -> None:
        self.num_classes = num_classes
        self.inferred = inferred

    def __call__(self, labels: np.ndarray) -> tuple[bool, bool]:
        if not labels.size:
            return True, self.num_classes == 0 or not self.inferred
        low, high = labels.min(), labels.max()
        in_range = bool(low >= 0 and high < self.num_classes)
        return in_range, not self.inferred or bool(high == self.num_classes - 1)


_one_hot = Primitive(
    "one_hot",
    lambda labels, num_classes: (labels[..., None] == np.arange(num_classes)).astype(np.int64),
    grads=[None],
    saves=(),
)


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


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,  # noqa: A002
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """2-D cross-correlation as PyTorch computes it (stride, padding, dilation, groups): one
    primitive whose derivatives are the input- and weight-gradient primitives below."""
    if input.ndim != 4 or weight.ndim != 4:
        raise BadInputError(
            f"conv2d: expects input (B, C, H, W) and weight (O, C/groups, kh, kw), "
            f"got shapes {tuple(input.shape)} and {tuple(weight.shape)}"
        )
    B, C, H, W = input.shape
    O, Cg, kh, kw = weight.shape
    if O == 0 or kh == 0 or kw == 0:  # PyTorch refuses an empty kernel too
        raise BadInputError(
            f"conv2d: weight {tuple(weight.shape)} has no output channels or an empty kernel; "
            "out_channels and kernel_size must be positive"
        )
    if C % groups or O % groups or C // groups != Cg:
        raise BadInputError(
            f"conv2d: input has {C} channels but weight {tuple(weight.shape)} with "
            f"groups={groups} expects {Cg * groups}"
        )
    if bias is not None and tuple(bias.shape) != (O,):
        raise BadInputError(
            f"conv2d: bias of shape {tuple(bias.shape)} doesn't match the weight's "
            f"{O} output channels (expected ({O},))"
        )
    if padding == "same":
        d = _pair(dilation, "dilation")
        total = (d[0] * (kh - 1), d[1] * (kw - 1))
        input = pad(
            input,
            (total[1] // 2, total[1] - total[1] // 2, total[0] // 2, total[0] - total[0] // 2),
        )
        padding = 0
    elif padding == "valid":
        padding = 0
    geometry: dict[str, Any] = {
        "stride": _pair(stride, "stride"),
        "padding": _pair(padding, "padding"),
        "dilation": _pair(dilation, "dilation"),
        "groups": groups,
    }
    oh, ow = _pool_geometry(
        input.shape, (kh, kw), geometry["stride"], geometry["padding"], geometry["dilation"]
    )
    if oh <= 0 or ow <= 0:
        padded = (H + 2 * geometry["padding"][0], W + 2 * geometry["padding"][1])
        raise BadInputError(
            f"conv2d: kernel {(kh, kw)} (dilation {geometry['dilation']}) is larger "
            f"than the padded input {padded[0]}x{padded[1]}"
        )
    x, w = promote(input, weight)
    if bias is None:
        return _conv2d(x, w, cache={}, **geometry)
    return _conv2d(x, w, to_tensor(bias, w.dtype), cache={}, **geometry)


# ---- convolution as three primitives ---------------------------------------------------------
# conv2d, its input gradient (a transposed convolution) and its weight gradient are each
# bilinear, and each one's derivatives are the other two: a closed set, so gradients of any
# order work. All three lay the batch out channel-first, (C, B, H, W), so that every group is
# one matrix product over the whole batch (issue 5: im2col by shifted slices, single GEMM).
def _columns(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
) -> np.ndarray:
    """im2col: (C*kh*kw, B*oh*ow) with row (c, i, j) the input seen by kernel offset (i, j)."""
    B, C, H, W = x.shape
    kh, kw = kernel
    oh, ow = _pool_geometry(x.shape, kernel, stride, padding, dilation)
    planes = _pool_padded(x, padding, 0.0).transpose(1, 0, 2, 3)  # (C, B, Hp, Wp)
    cols = np.empty((C, kh, kw, B, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            rows, columns = _window(i, j, (oh, ow), stride, dilation)
            cols[:, i, j] = planes[:, :, rows, columns]
    return cols.reshape(C * kh * kw, B * oh * ow)


def _conv2d_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None = None,
    *,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
    cache: dict[str, Any] | None,
) -> np.ndarray:
    B = x.shape[0]
    O, Cg, kh, kw = w.shape
    oh, ow = _pool_geometry(x.shape, (kh, kw), stride, padding, dilation)
    cols = _columns(x, (kh, kw), stride, padding, dilation)  # (C*K, B*L)
    if cache is not None:
        cache["cols"] = cols  # saved for the weight gradient (x is version-checked)
    out = _grouped_matmul(
        w.reshape(groups, O // groups, Cg * kh * kw),
        cols.reshape(groups, Cg * kh * kw, B * oh * ow),
    )  # (G, Og, B*L)
    out = out.reshape(O, B, oh, ow)
    if b is not None:
        out += b.reshape(O, 1, 1, 1)
    return out.transpose(1, 0, 2, 3)  # (B, O, oh, ow), a view of the channel-first result


def _grouped_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One product per group; a single group goes to BLAS as a plain 2-D GEMM, transposed
    operands included (batched np.matmul copies or loops over strided operands)."""
    out: np.ndarray
    if a.shape[0] == 1:
        out = (a[0] @ b[0])[None]
        return out
    out = np.matmul(a, b)
    return out


def _grad_planes(g: np.ndarray, groups: int) -> np.ndarray:
    """A (B, O, oh, ow) gradient as (G, Og, B*oh*ow), channel-first."""
    B, O, oh, ow = g.shape
    return g.transpose(1, 0, 2, 3).reshape(groups, O // groups, B * oh * ow)


def _conv2d_input_forward(
    g: np.ndarray,
    w: np.ndarray,
    *,
    x_shape: tuple[int, ...],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
) -> np.ndarray:
    B, C, H, W = x_shape
    O, Cg, kh, kw = w.shape
    oh, ow = g.shape[2:]
    kernel_t = w.reshape(groups, O // groups, Cg * kh * kw).transpose(0, 2, 1)  # (G, K, Og)
    dcols = _grouped_matmul(kernel_t, _grad_planes(g, groups)).reshape(C, kh, kw, B, oh, ow)
    planes = np.zeros((C, B, H + 2 * padding[0], W + 2 * padding[1]), dtype=g.dtype)
    for i in range(kh):
        for j in range(kw):
            rows, columns = _window(i, j, (oh, ow), stride, dilation)
            planes[:, :, rows, columns] += dcols[:, i, j]
    return planes[:, :, padding[0] : padding[0] + H, padding[1] : padding[1] + W].transpose(
        1, 0, 2, 3
    )


def _conv2d_weight_forward(
    g: np.ndarray,
    x: np.ndarray,
    *,
    w_shape: tuple[int, ...],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
    cache: dict[str, Any] | None = None,
) -> np.ndarray:
    O, Cg, kh, kw = w_shape
    cols = cache.get("cols") if cache else None
    if cols is None:
        cols = _columns(x, (kh, kw), stride, padding, dilation)
    cols = cols.reshape(groups, Cg * kh * kw, -1)  # (G, K, B*L)
    return _grouped_matmul(_grad_planes(g, groups), cols.transpose(0, 2, 1)).reshape(w_shape)


def _geometry(params: dict[str, Any]) -> dict[str, Any]:
    return {k: params[k] for k in ("stride", "padding", "dilation", "groups")}


def _conv2d_rule_x(
    grad: Tensor, out: Tensor, x: Tensor, w: Tensor, b: Tensor | None = None, **params: Any
) -> Tensor:
    return _conv2d_input(grad, w, x_shape=x.shape, **_geometry(params))


def _conv2d_rule_w(
    grad: Tensor, out: Tensor, x: Tensor, w: Tensor, b: Tensor | None = None, **params: Any
) -> Tensor:
    return _conv2d_weight(grad, x, w_shape=w.shape, cache=params["cache"], **_geometry(params))


def _conv2d_rule_b(
    grad: Tensor, out: Tensor, x: Tensor, w: Tensor, b: Tensor | None = None, **params: Any
) -> Tensor:
    return sum(grad, dim=(0, 2, 3))


_conv2d = Primitive(
    "conv2d",
    _conv2d_forward,
    saves=(0, 1),
    grads=[_conv2d_rule_x, _conv2d_rule_w, _conv2d_rule_b],
    tex=(r"x \star W + b", [r"G \star^{T} W", r"G \star x", "1"]),
)
_conv2d_input = Primitive(
    "conv2d_input_grad",
    _conv2d_input_forward,
    grads=[
        lambda grad, out, g, w, x_shape, **p: _conv2d(grad, w, cache=None, **p),
        lambda grad, out, g, w, x_shape, **p: _conv2d_weight(g, grad, w_shape=w.shape, **p),
    ],
    tex=(r"G \star^{T} W", ["W", "G"]),
)
_conv2d_weight: Primitive = Primitive(
    "conv2d_weight_grad",
    _conv2d_weight_forward,
    grads=[
        lambda grad, out, g, x, w_shape, cache=None, **p: _conv2d(x, grad, cache=None, **p),
        lambda grad, out, g, x, w_shape, cache=None, **p: _conv2d_input(
            g, grad, x_shape=x.shape, **p
        ),
    ],
    tex=(r"G \star x", ["x", "G"]),
)


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int = 1,  # noqa: A002
    padding: Any = 0,
    dilation: int = 1,
    groups: int = 1,
) -> Tensor:
    """1-D cross-correlation, run as conv2d on a height-1 image."""
    if input.ndim != 3 or weight.ndim != 3:
        raise BadInputError(
            f"conv1d: expects input (B, C, L) and weight (O, C/groups, k), got "
            f"shapes {tuple(input.shape)} and {tuple(weight.shape)}"
        )
    if input.shape[1] != weight.shape[1] * groups:
        raise BadInputError(
            f"conv1d: input has {input.shape[1]} channels but weight "
            f"{tuple(weight.shape)} with groups={groups} expects "
            f"{weight.shape[1] * groups}"
        )
    pad_arg: str | int | tuple[int, int] = (
        padding if isinstance(padding, str) else (0, int(_pair(padding, "padding")[0]))
    )
    if padding == "same":
        k = weight.shape[-1]
        total = int(dilation) * (k - 1)
        input = pad(input, (total // 2, total - total // 2))
        pad_arg = 0
    out = conv2d(
        reshape(input, input.shape[:2] + (1, input.shape[2])),
        reshape(weight, weight.shape[:2] + (1, weight.shape[2])),
        bias,
        stride=(1, int(_pair(stride, "stride")[0])),
        padding=pad_arg,
        dilation=(1, int(_pair(dilation, "dilation")[0])),
        groups=groups,
    )
    return reshape(out, out.shape[:2] + (out.shape[3],))


# ---- pooling ---------------------------------------------------------------------------------
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
    taken = np.zeros(out.shape, dtype=bool)
    nan_out = np.isnan(out) if out.dtype.kind == "f" else None
    if nan_out is not None and not nan_out.any():
        nan_out = None  # the usual case: no NaN to match, one comparison per offset
    real = None
    if nan_out is not None and any(padding):
        real = _pool_padded(np.ones(x.shape, dtype=bool), padding, False)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            rows, columns = _window(i, j, out.shape[2:], stride, dilation)
            window = padded[:, :, rows, columns]
            hit = window == out
            if nan_out is not None:
                nan_here = nan_out & np.isnan(window)
                hit |= nan_here if real is None else nan_here & real[:, :, rows, columns]
            hit &= ~taken
            taken |= hit
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
    out = None
    # the running maximum of one strided view per kernel offset: no window copies at all
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            rows, columns = _window(i, j, (oh, ow), stride, dilation)
            window = padded[:, :, rows, columns]
            out = window.copy() if out is None else np.maximum(out, window)
    assert out is not None
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
)
_max_pool_gather: Primitive = Primitive(
    "max_pool2d_gather",
    _max_pool_gather_forward,
    saves=(1, 2),
    grads=[lambda grad, out, g, x, y, **p: _max_pool_scatter(grad, x, y, **p), None, None],
    tex=(r"g_{\arg\max}", ["1", "0", "0"]),
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
        ones = Tensor._wrap(np.ones((1, 1) + input.shape[2:], input.dtype))  # a constant
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


# ---- dropout, embedding ----------------------------------------------------------------------
def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:  # noqa: A002
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (inverted dropout)."""
    if not 0.0 <= p <= 1.0:
        raise BadInputError(f"dropout: probability has to be between 0 and 1, got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    keep = generator().random(input.shape) >= p
    return input * Tensor._wrap((keep / (1.0 - p)).astype(input.dtype))


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:  # noqa: A002
    """Rows of ``weight`` picked by integer ``input``; the padding row gets no gradient."""
    indices = to_tensor(input)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {indices.dtype}")
    if indices.numel() and (indices._data.min() < 0 or indices._data.max() >= weight.shape[0]):
        raise IndexOutOfRangeError(
            f"embedding: index out of range for {weight.shape[0]} embeddings"
        )
    out = index(weight, indices._data)
    if padding_idx is not None:
        if padding_idx < 0:
            padding_idx += weight.shape[0]
        is_pad = Tensor._wrap((indices._data == padding_idx)[..., None])
        out = where(is_pad, out.detach(), out)
    return out


# ---- normalisation ---------------------------------------------------------------------------
def layer_norm(
    input: Tensor,
    normalized_shape: Any,
    weight: Tensor | None = None,  # noqa: A002
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over the last ``len(normalized_shape)`` dims with the biased variance."""
    eps = number(eps, "layer_norm: eps")
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[-len(shape) :]) != shape:
        raise BadInputError(
            f"layer_norm: input shape {tuple(input.shape)} doesn't end with "
            f"normalized_shape {shape}"
        )
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    centred = _centre(input, dims)
    variance = mean(centred * centred, dim=dims, keepdim=True)
    out = centred * (variance + eps) ** -0.5
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


# ---- batch normalisation in training mode, fused ---------------------------------------------
def _channel(t: Tensor, ndim: int) -> Tensor:
    """A (C,) parameter shaped (1, C, 1, ...) to broadcast against (B, C, ...)."""
    return _reshape(t, shape=(1, t._data.shape[0]) + (1,) * (ndim - 2))


def _batch_norm_train_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    *,
    dims: tuple[int, ...],
    eps: float,
    cache: dict[str, Any] | None,
) -> np.ndarray:
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    # centred from x − x₀ (one element per channel): a constant channel gives exact zeros, as
    # reduce._centre explains
    origin = x[tuple(slice(0, 1) if i in dims else slice(None) for i in range(x.ndim))]
    shifted = x - origin
    shifted_mean = shifted.mean(axis=dims, keepdims=True)
    centred = shifted - shifted_mean
    batch_mean = shifted_mean + origin
    batch_var = (centred * centred).mean(axis=dims, keepdims=True)
    inv_std = 1.0 / np.sqrt(batch_var + eps)
    x_hat = centred * inv_std
    if cache is not None:  # saved for the rules and the running statistics (x is version-checked)
        cache.update(mean=batch_mean, var=batch_var, inv_std=inv_std, x_hat=x_hat)
    out: np.ndarray = x_hat * w.reshape(shape) + b.reshape(shape)
    return out


def _normalised(
    x: Tensor, dims: tuple[int, ...], eps: float, cache: dict[str, Any] | None
) -> tuple[Tensor, Tensor]:
    """x̂ and 1/σ: the saved arrays as constants for a first derivative, recomputed from x as
    Tensors when a graph of the derivative is being built (create_graph)."""
    if cache and not thread_state.grad_enabled:
        return Tensor._wrap(cache["x_hat"]), Tensor._wrap(cache["inv_std"])
    centred = _centre(x, dims)
    inv_std = (mean(centred * centred, dim=dims, keepdim=True) + eps) ** -0.5
    return centred * inv_std, inv_std


def _batch_norm_rule_x(
    grad: Tensor, out: Tensor, x: Tensor, w: Tensor, b: Tensor, **p: Any
) -> Tensor:
    # dL/dx = (1/σ) (ĝ − mean(ĝ) − x̂ mean(ĝ x̂)) with ĝ = g w, means over the batch dims
    x_hat, inv_std = _normalised(x, p["dims"], p["eps"], p["cache"])
    g_hat = grad * _channel(w, x._data.ndim)
    dims = p["dims"]
    return inv_std * (
        g_hat
        - mean(g_hat, dim=dims, keepdim=True)
        - x_hat * mean(g_hat * x_hat, dim=dims, keepdim=True)
    )


def _batch_norm_rule_w(
    grad: Tensor, out: Tensor, x: Tensor, w: Tensor, b: Tensor, **p: Any
) -> Tensor:
    x_hat, _ = _normalised(x, p["dims"], p["eps"], p["cache"])
    return sum(grad * x_hat, dim=p["dims"])


_batch_norm_train = Primitive(
    "batch_norm",
    _batch_norm_train_forward,
    saves=(0, 1),
    grads=[
        _batch_norm_rule_x,
        _batch_norm_rule_w,
        lambda grad, out, x, w, b, **p: sum(grad, dim=p["dims"]),
    ],
    tex=(
        r"\hat{x}\,w + b",
        [
            r"\tfrac{1}{\sigma}(\hat g - \overline{\hat g} - \hat x\,\overline{\hat g \hat x})",
            r"\sum \hat x\,g",
            r"\sum g",
        ],
    ),
)


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,  # noqa: A002
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over every dim but the channel dim (1); in training, batch statistics are used
    and the running ones updated with the unbiased variance, as in PyTorch."""
    if input.ndim < 2:
        raise BadInputError(
            f"batch_norm: expects (B, C, ...) input, got shape {tuple(input.shape)}"
        )
    C = input.shape[1]
    dims = (0,) + tuple(range(2, input.ndim))
    stat_shape = (1, C) + (1,) * (input.ndim - 2)
    if C == 0:
        raise BadInputError(f"batch_norm: input of shape {tuple(input.shape)} has no channels")
    eps = number(eps, "batch_norm: eps")
    if eps < 0 or (training and eps == 0):  # PyTorch's rule: positive to train, never negative
        need = "positive during training" if training else "non-negative"
        raise BadInputError(f"batch_norm: eps must be {need}, got {eps}")
    momentum = number(momentum, "batch_norm: momentum")
    if training:
        count = input.numel() // C
        if count <= 1:
            raise BadInputError(
                f"batch_norm: expected more than 1 value per channel when training, "
                f"got input shape {tuple(input.shape)}"
            )
        if weight is not None and bias is not None and input.dtype.kind == "f":
            # the affine training case as one node (benchmark-driven: ~12 composite ops)
            cache: dict[str, Any] = {}
            x, w, b = promote(input, weight, bias)
            out = _batch_norm_train(x, w, b, dims=dims, eps=eps, cache=cache)
            batch_mean_data, batch_var_data = cache["mean"], cache["var"]
        else:
            batch_mean = mean(input, dim=dims, keepdim=True)
            centred = input - batch_mean
            batch_var = mean(centred * centred, dim=dims, keepdim=True)
            out = centred * (batch_var + eps) ** -0.5
            batch_mean_data, batch_var_data = batch_mean._data, batch_var._data
        if running_mean is not None and running_var is not None:
            with no_grad():
                m = momentum
                running_mean.mul_(1 - m).add_(batch_mean_data.reshape(C), alpha=m)
                unbiased = batch_var_data.reshape(C) * (count / (count - 1))
                running_var.mul_(1 - m).add_(unbiased, alpha=m)
        if weight is not None and bias is not None and input.dtype.kind == "f":
            return out
    else:
        if running_mean is None or running_var is None:
            raise BadInputError("batch_norm: running_mean and running_var are needed in eval mode")
        scale = (reshape(running_var, stat_shape) + eps) ** -0.5
        out = (input - reshape(running_mean, stat_shape)) * scale
    if weight is not None:
        out = out * reshape(weight, stat_shape)
    if bias is not None:
        out = out + reshape(bias, stat_shape)
    return out
