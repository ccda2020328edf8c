"""The losses of ``chainrule.nn.functional`` that compare an input with a target of its shape,
element by element: mse, the seeds' half squared error, l1, huber and smooth l1."""

from __future__ import annotations

import warnings
from typing import Any

from chainrule import composites
from chainrule.errors import BadInputError
from chainrule.nn._reduction import _reduce
from chainrule.ops import clamp, where
from chainrule.ops._coerce import to_tensor
from chainrule.ops.unary import abs
from chainrule.tensor import Tensor


def _pair(input: Any, target: Any, op: str) -> tuple[Tensor, Tensor]:  # noqa: A002
    """Input and target as tensors of the input's float dtype; PyTorch's warning on a target
    that only broadcasts (a classic bug: target (N,) against input (N, 1))."""
    input = to_tensor(input)
    target = to_tensor(target, input.dtype)
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(
            f"{op}: using a target size {tuple(target.shape)} that is different to "
            f"the input size {tuple(input.shape)}; this will likely lead to incorrect "
            "results due to broadcasting",
            UserWarning,
            stacklevel=3,
        )
    return input, target


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:  # noqa: A002
    """(x − y)², reduced.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.mse_loss(cr.tensor([1.0, 2.0]), cr.tensor([0.0, 0.0])).item()
    2.5
    """
    input, target = _pair(input, target, "mse_loss")
    diff = input - target
    loss = _reduce(diff * diff, reduction, "mse_loss")
    # one step to the explainer, ∂L/∂ŷ = 2/N (ŷ − y), not the two halves of diff · diff
    return composites.mark(
        loss, "mse_loss", (input, target), reduction=reduction, count=diff.numel()
    )


def half_squared_error(input: Tensor, target: Tensor, reduction: str = "sum") -> Tensor:  # noqa: A002
    """The seeds' error E = ½ Σ (t − a)²: with the default ``reduction='sum'``,
    E_total = E1 + E2 + …, one ½(t − a)² per output.

    Its gradient is simply a − t, which is why the seeds use it. ``'mean'`` divides by the
    number of elements and ``'none'`` keeps each ½(t − a)².

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> out = cr.tensor([0.75136507, 0.772928465], dtype=cr.float64)
    >>> round(F.half_squared_error(out, cr.tensor([0.01, 0.99], dtype=cr.float64)).item(), 9)
    0.298371109
    """
    input, target = _pair(input, target, "half_squared_error")
    diff = target - input
    return _reduce(0.5 * (diff * diff), reduction, "half_squared_error")


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:  # noqa: A002
    """|x − y|, reduced (gradient sign(x − y), 0 at a tie)."""
    input, target = _pair(input, target, "l1_loss")
    return _reduce(abs(input - target), reduction, "l1_loss")


def huber_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",  # noqa: A002
    delta: float = 1.0,
) -> Tensor:
    """½(x − y)² where |x − y| < delta, else delta (|x − y| − ½ delta)."""
    if delta <= 0:
        raise BadInputError(f"huber_loss: delta must be positive, got {delta}")
    input, target = _pair(input, target, "huber_loss")
    diff = input - target
    size = abs(diff)
    # the quadratic branch on the clamped difference: where(...) sends a zero gradient into the
    # branch it doesn't take, and 0 · inf (a difference of inf) would be NaN
    near = clamp(diff, -delta, delta)
    loss = where(size < delta, 0.5 * (near * near), delta * (size - 0.5 * delta))
    return _reduce(loss, reduction, "huber_loss")


def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",  # noqa: A002
    beta: float = 1.0,
) -> Tensor:
    """½(x − y)²/beta where |x − y| < beta, else |x − y| − ½ beta (Huber divided by beta)."""
    input, target = _pair(input, target, "smooth_l1_loss")
    diff = input - target
    size = abs(diff)
    if beta == 0:
        return _reduce(size, reduction, "smooth_l1_loss")
    near = clamp(diff, -beta, beta)  # as in huber_loss: no 0 · inf in the branch not taken
    loss = where(size < beta, (0.5 / beta) * (near * near), size - 0.5 * beta)
    return _reduce(loss, reduction, "smooth_l1_loss")
