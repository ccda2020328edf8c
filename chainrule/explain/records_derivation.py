"""The records of a derivation: the chain-rule steps and paths from the loss to one parameter
element (:class:`Derivation`) or to a whole parameter tensor (:class:`TensorDerivation`)."""

from __future__ import annotations

from dataclasses import dataclass

from chainrule.explain.records_base import Array, Views


@dataclass(frozen=True)
class Step:
    """One factor of a chain-rule product: the local derivative ∂upper/∂lower.

    Between two named quantities the engine may run several primitives (``ops``); the formula
    and value are then their product, e.g. ∂E1/∂a_o1 through mul, pow and sub = −(t1 − a_o1).
    ``slots`` is the input of each op the path goes through (0 = first), which tells apart the
    two paths of x·x.

    ``via`` is empty when the step is the whole partial ∂upper/∂lower. When several routes run
    between the same two quantities (h·h: through either factor), each path's step is only its
    route's share, and ``via`` says which: "input 1 of mul"; its formula and value are that
    route's own factors (∂(h·h)/∂h through the first factor = h), not the whole partial.
    """

    upper: str
    lower: str
    upper_tex: str
    lower_tex: str
    formula: str | None
    value: float
    ops: tuple[str, ...]
    slots: tuple[int, ...] = ()
    via: str = ""


@dataclass(frozen=True)
class Path:
    """One path from the loss to a parameter element; ``product`` is the gradient it carries,
    pushed through the ops' rules with the engine's arithmetic."""

    nodes: tuple[str, ...]
    steps: tuple[Step, ...]
    product: float


@dataclass(frozen=True, repr=False)
class Derivation(Views):
    """∂loss/∂parameter for one element: every path, their sum, and the engine's check.

    ``difference`` = total − engine; ``ulps`` is that in units in the last place of the engine's
    value; ``agrees`` says the two match within the rounding that the different order of the
    same multiplications and additions allows (exact for a single path).
    """

    parameter: str
    parameter_tex: str
    tensor: str
    index: tuple[int, ...]
    loss: str
    loss_tex: str
    paths: tuple[Path, ...]
    total: float
    engine: float
    difference: float
    ulps: float
    agrees: bool
    level: str = "element"

    def __repr__(self) -> str:
        count = len(self.paths)
        return (
            f"Derivation(∂{self.loss}/∂{self.parameter} = {self.total!r}, {count} "
            f"path{'s' if count != 1 else ''}, {'agrees' if self.agrees else 'MISMATCH'})"
        )


@dataclass(frozen=True)
class TensorStep:
    """One step of a tensor-level path: δ_lower (= ∂loss/∂lower) from δ_upper, with shapes."""

    upper: str
    lower: str
    upper_tex: str
    lower_tex: str
    formula: str
    ops: tuple[str, ...]
    shape: tuple[int, ...]
    norm: float


@dataclass(frozen=True)
class TensorPath:
    nodes: tuple[str, ...]
    steps: tuple[TensorStep, ...]
    formula: str
    product: Array


@dataclass(frozen=True, repr=False)
class TensorDerivation(Views):
    """∂loss/∂W for a whole tensor (big parameters): each tensor path, e.g. δ_o^T a_h, with
    shapes, the sum over paths and the element-wise check against the engine."""

    parameter: str
    parameter_tex: str
    shape: tuple[int, ...]
    loss: str
    loss_tex: str
    paths: tuple[TensorPath, ...]
    total: Array
    engine: Array
    difference: float
    ulps: float
    agrees: bool
    level: str = "tensor"

    def __repr__(self) -> str:
        count = len(self.paths)
        return (
            f"TensorDerivation(∂{self.loss}/∂{self.parameter}, shape {self.shape}, {count} "
            f"path{'s' if count != 1 else ''}, {'agrees' if self.agrees else 'MISMATCH'})"
        )
