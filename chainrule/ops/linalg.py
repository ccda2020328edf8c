"""Matrix products: one matmul primitive (2-D and batched); 1-D cases are composed around it."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd.node import Primitive
from chainrule.ops._coerce import promote
from chainrule.ops.shape import reshape, transpose
from chainrule.tensor import Tensor


def _matmul_forward(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.matmul(a, b)


# dL/dA = G Bᵀ and dL/dB = Aᵀ G; broadcast batch dimensions are summed by the engine
_matmul = Primitive(
    "matmul", _matmul_forward,
    grads=[lambda grad, out, a, b: _matmul(grad, transpose(b, -1, -2)),
           lambda grad, out, a, b: _matmul(transpose(a, -1, -2), grad)],
    tex=("A B", [r"G B^{T}", r"A^{T} G"]))


def _check(a: Tensor, b: Tensor, op: str) -> None:
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"{op}: both arguments need at least 1 dimension, got shapes "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(f"{op}: shapes {tuple(a.shape)} and {tuple(b.shape)} don't line up "
                         f"({k_a} ≠ {k_b})")
    if a.ndim > 2 and b.ndim > 2:
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(f"{op}: the batch dimensions of shapes {tuple(a.shape)} and "
                             f"{tuple(b.shape)} can't be broadcast together ({tuple(a.shape[:-2])} "
                             f"vs {tuple(b.shape[:-2])})") from None


def matmul(input: Any, other: Any) -> Tensor:  # noqa: A002
    """Matrix product with PyTorch's rules for 1-D, 2-D, batched and broadcast operands."""
    a, b = promote(input, other)
    _check(a, b, "matmul")
    if a.ndim >= 2 and b.ndim >= 2:
        return _matmul(a, b)
    # a 1-D operand becomes a row (left) or a column (right), removed again afterwards
    a2 = reshape(a, (1, a.shape[0])) if a.ndim == 1 else a
    b2 = reshape(b, (b.shape[0], 1)) if b.ndim == 1 else b
    out = _matmul(a2, b2)
    shape = out.shape
    if b.ndim == 1:
        shape = shape[:-1]
    if a.ndim == 1:
        shape = shape[:-2] + shape[-1:] if b.ndim > 1 else shape[:-1]
    return reshape(out, shape)


def mm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002
    if input.ndim != 2 or mat2.ndim != 2:
        raise ValueError(f"mm: expects 2-d tensors, got shapes {tuple(input.shape)} and "
                         f"{tuple(mat2.shape)}")
    return matmul(input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002
    if input.ndim != 3 or mat2.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise ValueError(f"bmm: expects 3-d tensors with the same batch size, got shapes "
                         f"{tuple(input.shape)} and {tuple(mat2.shape)}")
    return matmul(input, mat2)


def dot(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    if input.ndim != 1 or other.ndim != 1:
        raise ValueError(f"dot: expects 1-d tensors, got shapes {tuple(input.shape)} and "
                         f"{tuple(other.shape)}")
    return matmul(input, other)


def outer(input: Tensor, vec2: Tensor) -> Tensor:  # noqa: A002
    return reshape(input, (-1, 1)) * reshape(vec2, (1, -1))


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:  # noqa: A002
    """``input @ weight.T + bias``, as ``torch.nn.functional.linear``."""
    if input.shape[-1:] != weight.shape[-1:]:
        raise ValueError(f"linear: input of shape {tuple(input.shape)} doesn't fit weight of "
                         f"shape {tuple(weight.shape)} ({input.shape[-1] if input.ndim else 0} "
                         f"≠ {weight.shape[-1]} in_features)")
    out = matmul(input, transpose(weight, 0, 1) if weight.ndim == 2 else weight)
    return out if bias is None else out + bias
