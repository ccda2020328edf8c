"""Functions the explainer shows as one step although the engine records several primitives:
``mse_loss`` is sub, mul and mean to the engine, but ∂L/∂ŷ_i = 2/N·(ŷ_i − y_i) to a learner.

A function marks its output with :func:`mark`; the explainer then treats the output as one op
of the marked inputs, whose local derivatives it still computes with the engine's own rules
(a backward pass through the primitives it hides), so the numbers cannot drift from
``backward()``. Nothing else reads the marks: training is unaffected.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

from chainrule.tensor import Tensor

__all__ = ["Composite", "composite_of", "mark"]


@dataclass(frozen=True)
class Composite:
    """``op`` applied to ``inputs`` (in the function's argument order) with ``params``."""

    op: str
    inputs: tuple[Tensor, ...]
    params: dict[str, Any] = field(default_factory=dict)


# id(output) -> (weak reference to the output, its composite); ids are checked against the
# reference, so a recycled id never finds another tensor's mark
_marked: dict[int, tuple[weakref.ref[Tensor], Composite]] = {}


def mark(out: Tensor, op: str, inputs: tuple[Tensor, ...], **params: Any) -> Tensor:
    """Record that ``out`` is ``op(*inputs, **params)``; returns ``out``. Only recorded
    outputs (those with a ``grad_fn``) are marked."""
    if out.grad_fn is None:
        return out
    key = id(out)

    def forget(reference: weakref.ref[Tensor], key: int = key) -> None:
        entry = _marked.get(key)
        if entry is not None and entry[0] is reference:
            del _marked[key]

    _marked[key] = (weakref.ref(out, forget), Composite(op, tuple(inputs), dict(params)))
    return out


def composite_of(tensor: Tensor) -> Composite | None:
    """The composite that made ``tensor``, or None."""
    entry = _marked.get(id(tensor))
    if entry is None or entry[0]() is not tensor:
        return None
    return entry[1]
