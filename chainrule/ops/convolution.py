"""conv2d as three primitives (the forward, its input gradient and its weight gradient), and
conv1d through it."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd.node import Primitive, saved_of
from chainrule.errors import BadInputError
from chainrule.ops._coerce import promote, to_tensor
from chainrule.ops.reduce import sum
from chainrule.ops.shape import pad, reshape
from chainrule.ops.unfold import _pair, _pool_geometry, _pool_padded, _window
from chainrule.tensor import Tensor


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
        return _conv2d(x, w, **geometry)
    return _conv2d(x, w, to_tensor(bias, w.dtype), **geometry)


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
    oh, ow = _pool_geometry(x.shape, kernel, stride, padding, dilation)
    cols = np.empty((C, kernel[0], kernel[1], B, oh, ow), dtype=x.dtype)
    _fill_columns(x, cols, stride, padding, dilation)
    return cols.reshape(C * kernel[0] * kernel[1], B * oh * ow)


def _fill_columns(
    x: np.ndarray,
    cols: np.ndarray,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
) -> None:
    """Writes x's im2col into ``cols`` (C, kh, kw, B, oh, ow): one strided copy per offset."""
    kh, kw, _, oh, ow = cols.shape[1:]
    planes = _pool_padded(x, padding, 0.0).transpose(1, 0, 2, 3)  # (C, B, Hp, Wp)
    for i in range(kh):
        for j in range(kw):
            rows, columns = _window(i, j, (oh, ow), stride, dilation)
            cols[:, i, j] = planes[:, :, rows, columns]


# columns are made and used a few images at a time, so that each block of them is still in
# cache when the matrix product reads it (measured: about a quarter off the forward and the
# input gradient of the course CNN's 8→16 layer against one product over the whole batch)
_BLOCK_ELEMENTS = 1 << 19


def _batch_blocks(batch: int, per_image: int) -> list[slice]:
    step = max(1, _BLOCK_ELEMENTS // max(per_image, 1))
    return [slice(start, min(start + step, batch)) for start in range(0, batch, step)]


def _conv2d_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None = None,
    *,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
) -> tuple[np.ndarray, tuple[np.ndarray]]:
    B, C = x.shape[:2]
    O, Cg, kh, kw = w.shape
    oh, ow = _pool_geometry(x.shape, (kh, kw), stride, padding, dilation)
    L = oh * ow
    kernel = w.reshape(groups, O // groups, Cg * kh * kw)
    cols = np.empty((C, kh, kw, B, oh, ow), dtype=x.dtype)  # saved for the weight gradient
    out = np.empty((O, B, L), dtype=np.result_type(x, w))
    out_rows = out.reshape(groups, O // groups, B * L)
    for block in _batch_blocks(B, C * kh * kw * L):
        part = cols[:, :, :, block]
        _fill_columns(x[block], part, stride, padding, dilation)
        products = part.reshape(groups, Cg * kh * kw, -1)
        if groups == 1:  # the product straight into its place (rows of out, one GEMM)
            _grouped_matmul(kernel, products, out=out_rows[:, :, block.start * L : block.stop * L])
        else:
            out[:, block] = _grouped_matmul(kernel, products).reshape(O, -1, L)
    out4 = out.reshape(O, B, oh, ow)
    if b is not None:
        out4 += b.reshape(O, 1, 1, 1)
    # (B, O, oh, ow), a view of the channel-first result; the columns saved for the weight
    # gradient (x is version-checked)
    return out4.transpose(1, 0, 2, 3), (cols.reshape(C * kh * kw, B * L),)


def _grouped_matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """One product per group (into ``out`` if given); a single group goes to BLAS as a plain
    2-D GEMM, transposed operands included (batched np.matmul copies or loops over strided
    operands)."""
    product: np.ndarray
    if a.shape[0] == 1:
        if out is None:
            product = (a[0] @ b[0])[None]
            return product
        np.matmul(a[0], b[0], out=out[0])
        return out
    product = np.matmul(a, b, out=out)
    return product


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
    L = oh * ow
    kernel_t = w.reshape(groups, O // groups, Cg * kh * kw).transpose(0, 2, 1)  # (G, K, Og)
    # (the flat path multiplies the kernel by zeros where no output is: an inf in it would make
    # NaNs that the general path doesn't)
    if stride == (1, 1) and g.size and np.isfinite(w).all():
        return _conv2d_input_flat(g, kernel_t, x_shape, w.shape, padding, dilation)
    g_planes = _grad_planes(g, groups).reshape(groups, O // groups, B, L)
    planes = np.zeros((C, B, H + 2 * padding[0], W + 2 * padding[1]), dtype=g.dtype)
    # col2im a block of images at a time, while the block's columns are still in cache
    for block in _batch_blocks(B, C * kh * kw * L):
        part = g_planes[:, :, block]
        n = part.shape[2]
        dcols = _grouped_matmul(kernel_t, part.reshape(groups, O // groups, n * L))
        dcols = dcols.reshape(C, kh, kw, n, oh, ow)
        target = planes[:, block]
        for i in range(kh):
            for j in range(kw):
                rows, columns = _window(i, j, (oh, ow), stride, dilation)
                target[:, :, rows, columns] += dcols[:, i, j]
    return planes[:, :, padding[0] : padding[0] + H, padding[1] : padding[1] + W].transpose(
        1, 0, 2, 3
    )


def _conv2d_input_flat(
    g: np.ndarray,
    kernel_t: np.ndarray,
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    padding: tuple[int, int],
    dilation: tuple[int, int],
) -> np.ndarray:
    """The input gradient at stride 1, by flat shifts: with the gradient laid on the padded
    input's grid (zero where no output is), flattened to (O, B*Hp*Wp), kernel offset (i, j)
    reaches input element p + i*d*Wp + j*d from output element p. So col2im becomes one
    contiguous shifted add per offset, where the general path adds rows of ``ow`` elements
    (measured on the course CNN's layers: 1.4× to 3× faster, most on small images)."""
    B, C, H, W = x_shape
    O, Cg, kh, kw = w_shape
    groups = kernel_t.shape[0]
    Hp, Wp = H + 2 * padding[0], W + 2 * padding[1]
    oh, ow = g.shape[2:]
    grid = np.zeros((O, B, Hp, Wp), dtype=g.dtype)
    grid[:, :, :oh, :ow] = g.transpose(1, 0, 2, 3)
    offsets = [i * dilation[0] * Wp + j * dilation[1] for i in range(kh) for j in range(kw)]
    # every output element lies before span (the last one plus the largest offset is the grid's
    # last element), so the shifted adds stay inside the grid
    span = B * Hp * Wp - offsets[-1]
    g_flat = grid.reshape(groups, O // groups, B * Hp * Wp)
    planes = np.zeros((C, B * Hp * Wp), dtype=g.dtype)
    # a block of columns at a time, while its part of the products is still in cache, each
    # block's products written into the same buffer (a new one per block costs as much as the
    # products: measured, its pages are fresh each time)
    K = Cg * kh * kw
    step = max(1, _BLOCK_ELEMENTS // (C * kh * kw))
    buffer = np.empty(groups * K * min(step, span), dtype=np.result_type(g, kernel_t))
    for start in range(0, span, step):
        stop = min(start + step, span)
        products = buffer[: groups * K * (stop - start)].reshape(groups, K, stop - start)
        _grouped_matmul(kernel_t, g_flat[:, :, start:stop], out=products)
        dcols = products.reshape(C, kh * kw, -1)
        for k, offset in enumerate(offsets):
            planes[:, start + offset : stop + offset] += dcols[:, k]
    planes4 = planes.reshape(C, B, Hp, Wp)
    return planes4[:, :, padding[0] : padding[0] + H, padding[1] : padding[1] + W].transpose(
        1, 0, 2, 3
    )


def _conv2d_weight_forward(
    g: np.ndarray,
    x: np.ndarray,
    cols: np.ndarray | None = None,
    *,
    w_shape: tuple[int, ...],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
) -> np.ndarray:
    O, Cg, kh, kw = w_shape
    # cols: the forward's im2col columns of x when its node still has them
    if cols is None:
        cols = _columns(x, (kh, kw), stride, padding, dilation)
    cols = cols.reshape(groups, Cg * kh * kw, -1)  # (G, K, B*L)
    # (K, B*L) @ (B*L, Og), transposed after: OpenBLAS takes about two thirds of the time of
    # (Og, B*L) @ (B*L, K) for these shapes (measured on the course CNN's layers, 1 thread)
    product = _grouped_matmul(cols, _grad_planes(g, groups).transpose(0, 2, 1))  # (G, K, Og)
    return product.transpose(0, 2, 1).reshape(w_shape)


def _conv2d_rule_x(
    grad: Tensor, out: Tensor, x: Tensor, w: Tensor, b: Tensor | None = None, **params: Any
) -> Tensor:
    return _conv2d_input(grad, w, x_shape=x.shape, **params)


def _conv2d_rule_w(
    grad: Tensor, out: Tensor, x: Tensor, w: Tensor, b: Tensor | None = None, **params: Any
) -> Tensor:
    saved = saved_of(out, _conv2d)
    if saved is None:
        return _conv2d_weight(grad, x, w_shape=w.shape, **params)
    cols = Tensor._wrap(saved[0])  # (C*K, B*L), made by the forward from x
    return _conv2d_weight(grad, x, cols, w_shape=w.shape, **params)


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
    returns_saved=True,
    kind="layer",
    params=("stride", "padding", "dilation", "groups"),
    why="faster: one im2col and one matrix product per call",
    inputs=("x", "W", "b"),
)
_conv2d_input = Primitive(
    "conv2d_input_grad",
    _conv2d_input_forward,
    grads=[
        lambda grad, out, g, w, x_shape, **p: _conv2d(grad, w, **p),
        lambda grad, out, g, w, x_shape, **p: _conv2d_weight(g, grad, w_shape=w.shape, **p),
    ],
    tex=(r"G \star^{T} W", ["W", "G"]),
    params=("x_shape", "stride", "padding", "dilation", "groups"),
    inputs=("G", "W"),
)
_conv2d_weight: Primitive = Primitive(
    "conv2d_weight_grad",
    _conv2d_weight_forward,
    grads=[
        lambda grad, out, g, x, *cols, w_shape, **p: _conv2d(x, grad, **p),
        lambda grad, out, g, x, *cols, w_shape, **p: _conv2d_input(g, grad, x_shape=x.shape, **p),
        None,  # the saved columns: x's, whose gradient is the rule above
    ],
    tex=(r"G \star x", ["x", "G"]),
    params=("w_shape", "stride", "padding", "dilation", "groups"),
    inputs=("G", "x", "C"),  # C: x's im2col columns, when the forward saved them
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
