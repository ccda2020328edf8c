"""The ``reduction=`` argument of the losses ('none', 'mean' or 'sum'), as PyTorch's
``torch.nn._reduction``."""

from __future__ import annotations

from chainrule.errors import BadInputError
from chainrule.ops import mean, sum
from chainrule.tensor import Tensor


def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return sum(loss)
    if reduction == "none":
        return loss
    raise BadInputError(f"{op}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
