"""Indexing (basic, advanced, boolean), gather/scatter_add and the ops composed from them.

Backward of an index scatter-adds into zeros, so repeated indices accumulate, as in PyTorch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd.node import Primitive
from chainrule.errors import BadInputError, IndexOutOfRangeError
from chainrule.ops._coerce import to_tensor
from chainrule.ops.selection import where
from chainrule.ops.shape import _normalize_dim, _reshape, pad
from chainrule.tensor import Tensor


def normalize_key(key: Any) -> Any:
    """An index as NumPy understands it: Tensors become arrays, lists of ints become arrays."""
    if isinstance(key, tuple):
        return tuple(_normalize_part(part) for part in key)
    return _normalize_part(key)


def _normalize_part(part: Any) -> Any:
    if isinstance(part, Tensor):
        data = part._data
        if data.dtype.kind == "f":
            raise IndexOutOfRangeError(
                f"tensors used as indices must be integer or bool, got {data.dtype}"
            )
        return data
    if isinstance(part, list):
        array = np.asarray(part)
        if array.dtype.kind == "f":
            raise IndexOutOfRangeError("lists used as indices must hold integers or bools")
        return array
    return part


def _is_basic(key: Any) -> bool:
    parts = key if isinstance(key, tuple) else (key,)
    return all(isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis for p in parts)


def _index_forward(x: np.ndarray, key: Any) -> np.ndarray:
    try:
        out: np.ndarray = x[key]
        if not isinstance(out, np.ndarray):
            # every index an integer: NumPy gives a scalar (a copy); a 0-d view, as PyTorch's
            # y[1, 2], shares the storage (a write to y shows in it, and through it)
            out = x[(*key, Ellipsis) if isinstance(key, tuple) else (key, Ellipsis)]
        return out
    except IndexError as exc:
        raise IndexOutOfRangeError(f"index: {exc} (tensor shape {x.shape})") from None


def _scatter_back(grad: np.ndarray, shape: tuple[int, ...], key: Any) -> np.ndarray:
    out = np.zeros(shape, dtype=grad.dtype)
    if _is_basic(key):
        out[key] = grad  # basic indexing never repeats an element
    else:
        np.add.at(out, key, grad)
    return out


_index_put_add = Primitive(
    "index_backward",
    _scatter_back,
    saves=(),
    grads=[lambda grad, out, g, shape, key: index(grad, key)],
    tex=(r"\operatorname{scatter}(g)", ["1"]),
    params=("shape", "key"),
    inputs=("g",),
)
_index = Primitive(
    "index",
    _index_forward,
    saves=(),
    view=True,
    grads=[lambda grad, out, x, key: _index_put_add(grad, shape=x.shape, key=key)],
    tex=("x[k]", ["1"]),
    kind="move",
    params=("key",),
)


def index(input: Tensor, key: Any) -> Tensor:  # noqa: A002
    """``input[key]`` with NumPy/PyTorch semantics; the gradient scatter-adds back."""
    return _index(input, key=normalize_key(key))


# ---- gather / scatter_add --------------------------------------------------------------------
def _full_index(index: np.ndarray, dim: int) -> tuple[np.ndarray, ...]:
    """Index arrays addressing element (i, j, index[i, j, k], ...) for each position of index."""
    grids = np.indices(index.shape, sparse=True)
    return tuple(index if d == dim else grids[d] for d in range(index.ndim))


def _check_index(op: str, x_shape: tuple[int, ...], index: np.ndarray, dim: int) -> None:
    if index.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must be an integer tensor, got {index.dtype}")
    if index.ndim != len(x_shape):
        raise BadInputError(
            f"{op}: index has {index.ndim} dimensions but the tensor has "
            f"{len(x_shape)} (shapes {index.shape} and {x_shape})"
        )
    for d, (n, m) in enumerate(zip(index.shape, x_shape, strict=False)):
        if d != dim and n > m:
            raise BadInputError(
                f"{op}: index shape {index.shape} is larger than tensor shape {x_shape} in dim {d}"
            )
    if index.size and (index.min() < -x_shape[dim] or index.max() >= x_shape[dim]):
        raise IndexOutOfRangeError(f"{op}: index out of range for dim {dim} of size {x_shape[dim]}")


def _gather_forward(x: np.ndarray, index: np.ndarray, dim: int) -> np.ndarray:
    out: np.ndarray = x[_full_index(index, dim)]
    return out


def _scatter_add_forward(x: np.ndarray, index: np.ndarray, src: np.ndarray, dim: int) -> np.ndarray:
    out = x.copy()
    np.add.at(out, _full_index(index, dim), src[tuple(slice(0, n) for n in index.shape)])
    return out


def _scatter_src_grad(
    grad: Tensor, out: Tensor, x: Tensor, index: Tensor, src: Tensor, dim: int
) -> Tensor:
    picked = gather(grad, dim, index)
    if picked.shape == src.shape:
        return picked
    widths = []
    for n, m in reversed(list(zip(picked.shape, src.shape, strict=False))):
        widths += [0, m - n]
    return pad(picked, widths)


def _gather_grad(grad: Tensor, out: Tensor, x: Tensor, index: Tensor, dim: int) -> Tensor:
    zeros = Tensor._wrap(np.zeros(x.shape, grad.dtype), constant=True)
    return scatter_add(zeros, dim, index, grad)


_gather = Primitive(
    "gather",
    _gather_forward,
    saves=(1,),
    grads=[_gather_grad, None],
    tex=(r"x_{\operatorname{index}}", ["1"]),
    params=("dim",),
    inputs=("x", "index"),
)
_scatter_add = Primitive(
    "scatter_add",
    _scatter_add_forward,
    saves=(1,),
    grads=[lambda grad, out, x, index, src, dim: grad, None, _scatter_src_grad],
    tex=(r"x + \operatorname{scatter}(src)", ["1", "0", "1"]),
    params=("dim",),
    inputs=("x", "index", "src"),
)


def gather(input: Tensor, dim: int, index: Tensor) -> Tensor:  # noqa: A002
    """``out[i][j] = input[i][index[i][j]]`` for dim=1 (as ``torch.gather``)."""
    index = to_tensor(index)
    dim = _normalize_dim(dim, input.ndim, "gather")
    _check_index("gather", input.shape, index._data, dim)
    return _gather(input, index, dim=dim)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:  # noqa: A002
    """A copy of ``input`` with ``src`` added at ``index`` along ``dim``; repeats accumulate."""
    index = to_tensor(index)
    src = to_tensor(src, input.dtype)
    dim = _normalize_dim(dim, input.ndim, "scatter_add")
    _check_index("scatter_add", input.shape, index._data, dim)
    if any(n > m for n, m in zip(index.shape, src.shape, strict=False)):
        raise BadInputError(
            f"scatter_add: index shape {index.shape} is larger than src shape {src.shape}"
        )
    return _scatter_add(input, index, src, dim=dim)


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:  # noqa: A002
    index = to_tensor(index)
    if index.ndim > 1:
        raise BadInputError(f"index_select: index must be 1-d, got shape {index.shape}")
    dim = _normalize_dim(dim, input.ndim, "index_select")
    return _index(input, key=(slice(None),) * dim + (index._data.reshape(-1),))


def masked_fill(input: Tensor, mask: Tensor, value: Any) -> Tensor:  # noqa: A002
    return where(mask, value, input)


def take_along_dim(input: Tensor, indices: Tensor, dim: int) -> Tensor:  # noqa: A002
    return gather(input, dim, indices)


# ---- out-of-place index assignment (what x[key] = v records in grad mode) ------------------------
def _index_put_forward(x: np.ndarray, v: np.ndarray, key: Any) -> np.ndarray:
    out = x.copy()
    target = out[key]
    if v.shape != target.shape and v.size == target.size and v.size == 1:
        v = v.reshape(target.shape)  # a one-element value fits a single element, as in PyTorch
    out[key] = v
    return out


def _index_put_value_grad(grad: Tensor, out: Tensor, x: Tensor, v: Tensor, key: Any) -> Tensor:
    picked = index(grad, key)
    if picked.shape != v.shape and picked.numel() == v.numel() == 1:
        return _reshape(picked, shape=v._data.shape)
    return picked


def _zero_at_forward(g: np.ndarray, key: Any) -> np.ndarray:
    out = g.copy()
    out[key] = 0
    return out


# the overwritten elements pass no gradient back to x; the rest pass it unchanged (self-adjoint)
_zero_at: Primitive = Primitive(
    "zero_at",
    _zero_at_forward,
    saves=(),
    grads=[lambda grad, out, g, key: _zero_at(grad, key=key)],
    tex=(r"g\,[\lnot k]", [r"[\lnot k]"]),
    params=("key",),
    inputs=("g",),
)
_index_put = Primitive(
    "index_put",
    _index_put_forward,
    saves=(),
    grads=[
        lambda grad, out, x, v, key: _zero_at(grad, key=key),
        _index_put_value_grad,
    ],
    tex=(r"x[k] \leftarrow v", [r"[\lnot k]", "1"]),
    params=("key",),
    inputs=("x", "v"),
)


# ---- out-of-place write through a view (what an in-place op on a view records in grad mode) ----
# ``chain`` is the view ops from the base to the view, as ((primitive, params), ...).
def _view_of(array: np.ndarray, chain: Any) -> np.ndarray:
    for op, params in chain:
        array = op.forward(array, **params)
    return array


def _view_put_forward(x: np.ndarray, v: np.ndarray, chain: Any) -> np.ndarray:
    out = x.copy(order="K")  # the same layout, so the chain gives a view of it as it did of x
    region = _view_of(out, chain)
    if not np.shares_memory(region, out):  # pragma: no cover - chains come from real views
        raise RuntimeError("view_put: the view ops give a copy of this tensor, not a view")
    if not region.flags.writeable:
        raise RuntimeError(
            "in-place op on a broadcast view (from expand): its elements share memory, so it "
            "can't be written; .clone() it first"
        )
    region[...] = v
    return out


def _view_zero_forward(g: np.ndarray, chain: Any) -> np.ndarray:
    return _view_put_forward(g, np.zeros((), g.dtype), chain)


def _through_view(grad: Tensor, chain: Any) -> Tensor:
    for op, params in chain:
        grad = op(grad, **params)
    return grad


# the written elements pass no gradient back to the old base; the rest pass it unchanged
_view_zero: Primitive = Primitive(
    "view_zero",
    _view_zero_forward,
    saves=(),
    grads=[lambda grad, out, g, chain: _view_zero(grad, chain=chain)],
    tex=(r"g\,[\lnot \text{view}]", [r"[\lnot \text{view}]"]),
    params=("chain",),
    inputs=("g",),
)
_view_put = Primitive(
    "view_put",
    _view_put_forward,
    saves=(),
    grads=[
        lambda grad, out, x, v, chain: _view_zero(grad, chain=chain),
        lambda grad, out, x, v, chain: _through_view(grad, chain),
    ],
    tex=(r"x[\text{view}] \leftarrow v", [r"[\lnot \text{view}]", "1"]),
    params=("chain",),
    inputs=("x", "v"),
)


def view_put(input: Tensor, value: Tensor, chain: tuple[Any, ...]) -> Tensor:  # noqa: A002
    """A copy of ``input`` whose view ``chain`` (view ops from it, in order) holds ``value``:
    what an in-place op on a view records, as PyTorch's CopySlices."""
    return _view_put(input, value, chain=chain)


def index_put(input: Tensor, key: Any, value: Any) -> Tensor:  # noqa: A002
    """A copy of ``input`` with ``input[key] = value`` (what ``x[key] = v`` records in grad mode);
    the gradient reaches ``value`` through the assigned elements and ``input`` elsewhere."""
    value = to_tensor(value, input.dtype)
    return _index_put(input, value, key=normalize_key(key))


# ---- embedding: rows picked by index --------------------------------------------------------
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
