"""The records of the backward pass in the δ form: each tensor's δ, what computing each δ
once saves, the diagnostics and the gradient-descent updates."""

from __future__ import annotations

from dataclasses import dataclass

from chainrule.explain.records_base import Array


@dataclass(frozen=True)
class Delta:
    """δ of one tensor (∂loss/∂tensor) as backpropagation computes it: once, from the δs of
    the tensors just above it (``formula``: δ_h = (δ_o W) ⊙ a_h(1 − a_h)), then reused by
    every gradient below it. ``value`` lists the elements of a small tensor (else None)."""

    name: str
    tex: str
    shape: tuple[int, ...]
    formula: str
    above: tuple[str, ...]
    norm: float
    value: Array | None = None
    kind: str = "intermediate"  # loss | intermediate | parameter (then δ is ∂loss/∂w)


@dataclass(frozen=True)
class Reuse:
    """What computing each δ once saves, counted for the element-level derivations: path by
    path, every path multiplies its local derivatives afresh and the paths are summed; the δ
    form multiplies each local derivative once (δ_lower += δ_upper × ∂upper/∂lower)."""

    paths: int
    path_multiplications: int
    path_additions: int
    delta_multiplications: int
    delta_additions: int

    @property
    def saved(self) -> int:
        """Multiplications and additions the δ form does not repeat."""
        return (self.path_multiplications + self.path_additions) - (
            self.delta_multiplications + self.delta_additions
        )


@dataclass(frozen=True)
class Diagnostic:
    """One finding: ``kind`` is "norm" (a parameter's gradient norm, for the table), or a
    warning: "saturated" (sigmoid/tanh elements whose local derivative is below 1e-3),
    "vanishing" (a gradient norm below 1e-3 × the largest), "exploding" (above 1e3) or
    "not finite"."""

    kind: str
    subject: str
    message: str
    value: float


@dataclass(frozen=True)
class Update:
    """One gradient-descent step of a parameter: w ← w − η · ∂loss/∂w, in its dtype."""

    parameter: str
    value: float | Array
    gradient: float | Array
    lr: float
    updated: float | Array
