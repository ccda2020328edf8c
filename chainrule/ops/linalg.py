"""Matrix products: one matmul primitive for every operand rank PyTorch allows, and a fused
linear layer (x Wᵀ + b) whose three products a benchmark showed worth one primitive."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd.node import Primitive
from chainrule.errors import BadInputError
from chainrule.ops._coerce import promote
from chainrule.ops.shape import _permute, _reshape
from chainrule.tensor import Tensor


def _mT(x: Tensor) -> Tensor:  # noqa: N802 - PyTorch's name (Tensor.mT)
    """Swap the last two dimensions (the matrix transpose of a batch)."""
    n = x._data.ndim
    return _permute(x, dims=tuple(range(n - 2)) + (n - 1, n - 2))


def _col(x: Tensor) -> Tensor:
    """A trailing dimension of size 1: a vector (batch) as a column (batch)."""
    return _reshape(x, shape=x._data.shape + (1,))


def _drop_last(x: Tensor) -> Tensor:
    return _reshape(x, shape=x._data.shape[:-1])


# dL/dA = G Bᵀ and dL/dB = Aᵀ G. A 1-D operand is a row (left) or a column (right) that the
# product drops again, so its gradient is the matching outer product or matrix-vector product;
# broadcast batch dimensions are summed back by the engine.
def _matmul_grad_a(grad: Tensor, out: Tensor, a: Tensor, b: Tensor) -> Tensor:
    if b._data.ndim == 1:
        if a._data.ndim == 1:
            return grad * b
        return _outer(grad, b) if grad._data.ndim == 1 else _col(grad) * b  # (..., m, 1) * (k,)
    if a._data.ndim == 1:
        if b._data.ndim == 2:
            return _matmul(b, grad)  # (k, n) @ (n,)
        return _drop_last(_matmul(b, _col(grad)))  # (..., k, n) @ (..., n, 1)
    return _matmul(grad, _mT(b))


def _matmul_grad_b(grad: Tensor, out: Tensor, a: Tensor, b: Tensor) -> Tensor:
    if a._data.ndim == 1:
        if b._data.ndim == 1:
            return grad * a
        if grad._data.ndim == 1:
            return _outer(a, grad)
        return _col(a) * _reshape(grad, shape=grad._data.shape[:-1] + (1,) + grad._data.shape[-1:])
    if b._data.ndim == 1:
        if a._data.ndim == 2:
            return _matmul(grad, a)  # (m,) @ (m, k) = Aᵀ g
        return _drop_last(_matmul(_mT(a), _col(grad)))  # (..., k, m) @ (..., m, 1)
    return _matmul(_mT(a), grad)


# x yᵀ of two vectors, the gradient of a matrix-vector product with respect to the matrix
_outer = Primitive(
    "outer",
    np.multiply.outer,
    grads=[lambda grad, out, x, y: _matmul(grad, y), lambda grad, out, x, y: _matmul(x, grad)],
    tex=(r"x y^{T}", [r"G y", r"G^{T} x"]),
)

_matmul: Primitive  # declared: the rules above refer to it before it exists
_matmul = Primitive(
    "matmul",
    np.matmul,
    grads=[_matmul_grad_a, _matmul_grad_b],
    tex=("A B", [r"G B^{T}", r"A^{T} G"]),
    kind="layer",
    inputs=("A", "B"),
)


def _check(a: Tensor, b: Tensor, op: str) -> None:
    if a.ndim == 0 or b.ndim == 0:
        raise BadInputError(
            f"{op}: both arguments need at least 1 dimension, got shapes "
            f"{tuple(a.shape)} and {tuple(b.shape)}"
        )
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise BadInputError(
            f"{op}: shapes {tuple(a.shape)} and {tuple(b.shape)} don't line up ({k_a} ≠ {k_b})"
        )
    if a.ndim > 2 and b.ndim > 2:
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise BadInputError(
                f"{op}: the batch dimensions of shapes {tuple(a.shape)} and "
                f"{tuple(b.shape)} can't be broadcast together ({tuple(a.shape[:-2])} "
                f"vs {tuple(b.shape[:-2])})"
            ) from None


def matmul(input: Any, other: Any) -> Tensor:  # noqa: A002
    """Matrix product with PyTorch's rules for 1-D, 2-D, batched and broadcast operands."""
    a, b = promote(input, other)
    a_shape, b_shape = a._data.shape, b._data.shape
    if len(a_shape) <= 2 and len(b_shape) == 1 and a_shape and a_shape[-1] == b_shape[0]:
        return _matmul(a, b)  # matrix (or vector) times vector: nothing more to check
    _check(a, b, "matmul")
    return _matmul(a, b)


def mm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002
    if input.ndim != 2 or mat2.ndim != 2:
        raise BadInputError(
            f"mm: expects 2-d tensors, got shapes {tuple(input.shape)} and {tuple(mat2.shape)}"
        )
    return matmul(input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002
    if input.ndim != 3 or mat2.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise BadInputError(
            f"bmm: expects 3-d tensors with the same batch size, got shapes "
            f"{tuple(input.shape)} and {tuple(mat2.shape)}"
        )
    return matmul(input, mat2)


def dot(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    if input.ndim != 1 or other.ndim != 1:
        raise BadInputError(
            f"dot: expects 1-d tensors, got shapes {tuple(input.shape)} and {tuple(other.shape)}"
        )
    return matmul(input, other)


def outer(input: Tensor, vec2: Tensor) -> Tensor:  # noqa: A002
    if input.ndim != 1 or vec2.ndim != 1:
        raise BadInputError(
            f"outer: expects 1-d tensors, got shapes {tuple(input.shape)} and {tuple(vec2.shape)}"
        )
    return _outer(*promote(input, vec2))


def _linear_forward(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None
) -> np.ndarray:
    out: np.ndarray = x @ weight.T
    if bias is not None:
        out += bias  # the product is a fresh array, so the bias is added in place
    return out


def _weight_grad_forward(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    # Gᵀ X with every leading (batch) dimension folded into one: (O, N) @ (N, I)
    out: np.ndarray = g.reshape(-1, g.shape[-1]).T @ x.reshape(-1, x.shape[-1])
    return out


# dL/dW of a linear layer as one node; it is bilinear in (G, X), so its own rules are products
_weight_grad = Primitive(
    "linear_weight_grad",
    _weight_grad_forward,
    grads=[
        lambda grad, out, g, x: _matmul(x, _mT(grad)),  # (..., I) @ (I, O)
        lambda grad, out, g, x: _matmul(g, grad),
    ],  # (..., O) @ (O, I)
    tex=(r"G^{T} X", [r"X \bar{G}^{T}", r"G \bar{G}"]),
    inputs=("G", "X"),
)


def _linear_grad_weight(
    grad: Tensor, out: Tensor, x: Tensor, weight: Tensor, bias: Tensor | None = None
) -> Tensor:
    if x._data.ndim == 1:
        return _outer(grad, x)  # (O,) ⊗ (I,)
    return _weight_grad(grad, x)


# y = x Wᵀ + b as one primitive: fewer nodes than matmul(x, transpose(W)) + b, and the bias
# gradient is the incoming one, summed over the batch by the engine.
_linear = Primitive(
    "linear",
    _linear_forward,
    grads=[
        lambda grad, out, x, weight, bias=None: _matmul(grad, weight),
        _linear_grad_weight,
        lambda grad, out, x, weight, bias=None: grad,
    ],
    saves=(0, 1),
    tex=(r"x W^{T} + b", [r"W", r"G^{T} x", "1"]),
    kind="layer",
    inputs=("x", "W", "b"),
    why="faster: one node instead of matmul, transpose and add",
)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:  # noqa: A002
    """``input @ weight.T + bias``, as ``torch.nn.functional.linear``."""
    if input.shape[-1:] != weight.shape[-1:]:
        raise BadInputError(
            f"linear: input of shape {tuple(input.shape)} doesn't fit weight of "
            f"shape {tuple(weight.shape)} ({input.shape[-1] if input.ndim else 0} "
            f"≠ {weight.shape[-1]} in_features)"
        )
    if weight.ndim != 2:
        out = matmul(input, weight)
        return out if bias is None else out + bias
    if bias is None:
        return _linear(*promote(input, weight))
    if bias.shape != weight.shape[:1]:
        raise BadInputError(
            f"linear: bias of shape {tuple(bias.shape)} doesn't fit weight of "
            f"shape {tuple(weight.shape)} (expected ({weight.shape[0]},))"
        )
    x, w = promote(input, weight)
    if bias.dtype != w.dtype:
        x, w, bias = promote(x, w, bias)
    return _linear(x, w, bias)
