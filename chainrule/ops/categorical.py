"""Ops over categories along a dim: softmax and log_softmax (primitives, for stability), and
one_hot class encoding."""

from __future__ import annotations

import typing
from typing import Any

import numpy as np

from chainrule import _dtype
from chainrule._checks import integer
from chainrule.autograd.grad_mode import thread_state
from chainrule.autograd.node import Primitive
from chainrule.errors import BadInputError
from chainrule.ops._coerce import to_tensor
from chainrule.ops.elementwise import cast
from chainrule.ops.reduce import sum
from chainrule.ops.shape import _normalize_dim
from chainrule.ops.unary import exp
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
    params=("dim",),
    why="stable: e^x of the composite overflows; the max is subtracted first",
)
_log_softmax = Primitive(
    "log_softmax",
    _log_softmax_forward,
    saves=(),
    saves_out=True,
    grads=[lambda grad, out, x, dim: grad - exp(out) * sum(grad, dim=dim, keepdim=True)],
    tex=(r"x_i - \ln\sum_j e^{x_j}", [r"\delta_{ij} - s_j"]),
    params=("dim",),
    why="stable: the composite ln(softmax) gives -inf where softmax underflows",
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
    if thread_state.tracing is not None:  # a replayed step checks the range (and inferred C) again
        thread_state.tracing.guard(_ClassRange(num_classes, inferred), tensor)
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
    params=("num_classes",),
)
