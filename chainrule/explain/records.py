"""The explainer's records: plain, frozen data that ``explain(loss)`` returns — the forward
quantities, each derivation's paths and steps, the δ form, diagnostics and updates. Every view
(text, Markdown, JSON, HTML, spreadsheet) is made from these and from nothing else; the records
import no renderer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Array",
    "Delta",
    "Derivation",
    "Diagnostic",
    "Explanation",
    "Path",
    "Quantity",
    "Reuse",
    "Step",
    "TensorDerivation",
    "TensorPath",
    "TensorStep",
    "Tutorial",
    "TutorialStep",
    "Update",
    "VIEWS",
]

# The views print() and Jupyter use, by format: chainrule.explain registers its renderers here
# when it is imported (always before a record can exist), so the records need not import them.
VIEWS: dict[str, Callable[[Any], str]] = {}


class Views:
    """Text for print(), Markdown and HTML for Jupyter: views of the record."""

    def __str__(self) -> str:
        return VIEWS["text"](self)

    def _repr_markdown_(self) -> str:
        return VIEWS["markdown"](self)

    def _repr_html_(self) -> str:
        return VIEWS["html"](self)


@dataclass(frozen=True)
class Array:
    """A tensor's values, losslessly: its shape, dtype name and flat data."""

    shape: tuple[int, ...]
    dtype: str
    data: tuple[float, ...]

    @classmethod
    def from_numpy(cls, array: np.ndarray) -> Array:
        array = np.asarray(array)
        return cls(tuple(array.shape), str(array.dtype), tuple(float(v) for v in array.reshape(-1)))

    def numpy(self) -> np.ndarray:
        return np.array(self.data, dtype=self.dtype).reshape(self.shape)


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


@dataclass(frozen=True)
class Quantity:
    """A named value of the forward pass (an element, or a whole tensor when it is big).

    ``formula`` is its definition in LaTeX (None for leaves); ``grad`` the engine's
    ∂loss/∂quantity (None where no gradient flows); ``value``/``grad`` are None for a tensor too
    big to list (see ``shape``).
    """

    name: str
    tex: str
    kind: str
    value: float | None
    formula: str | None = None
    grad: float | None = None
    shape: tuple[int, ...] = ()


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


@dataclass(frozen=True, repr=False)
class Explanation(Views):
    """What ``explain(loss)`` returns: the forward quantities and one derivation per parameter
    element (small tensors) or per parameter tensor (big ones), the δ form of the same
    backward pass, diagnostics, and (with ``lr``) the update each parameter gets.

    Index it by a derivation's name (``e["w5"]``, ``e["0.weight"]``) or by any name
    ``named_parameters()`` yields (``e["4.bias"]``: its one derivation, or a tuple of its
    elements' derivations); iterate it for the derivations.
    """

    loss: str
    loss_tex: str
    loss_value: float
    quantities: tuple[Quantity, ...]
    derivations: tuple[Derivation | TensorDerivation, ...]
    dtype: str = "float64"
    notes: tuple[str, ...] = ()
    deltas: tuple[Delta, ...] = ()
    reuse: Reuse | None = None
    diagnostics: tuple[Diagnostic, ...] = ()
    updates: tuple[Update, ...] = ()

    @property
    def agrees(self) -> bool:
        """Whether every derivation matches the engine's gradient."""
        return all(d.agrees for d in self.derivations)

    def __iter__(self) -> Iterator[Derivation | TensorDerivation]:
        return iter(self.derivations)

    def __len__(self) -> int:
        return len(self.derivations)

    def __repr__(self) -> str:
        names = _abbreviated([d.parameter for d in self.derivations])
        return (
            f"Explanation({self.loss} = {self.loss_value!r}, {len(self.derivations)} "
            f"derivation{'s' if len(self.derivations) != 1 else ''} ({names}), "
            f"{'agrees' if self.agrees else 'MISMATCH'})"
        )

    def __getitem__(
        self, parameter: str
    ) -> Derivation | TensorDerivation | tuple[Derivation | TensorDerivation, ...]:
        for derivation in self.derivations:
            if derivation.parameter == parameter:
                return derivation
        elements = tuple(
            d
            for d in self.derivations
            if isinstance(d, Derivation) and d.tensor == parameter and d.parameter != d.tensor
        )
        if len(elements) == 1:
            return elements[0]
        if elements:
            return elements
        tensor, _ = _split_element(parameter)
        if any(d.parameter == tensor for d in self.derivations):
            raise KeyError(
                f"{tensor} is derived as a whole tensor, not element by element; for "
                f"{parameter} alone pass only=[{parameter!r}] to explain()"
            )
        raise KeyError(
            f"no derivation for {parameter!r}; there are "
            f"{_abbreviated([d.parameter for d in self.derivations])}"
        )

    def quantity(self, name: str) -> Quantity:
        for quantity in self.quantities:
            if quantity.name == name:
                return quantity
        raise KeyError(f"no quantity named {name!r}")

    def delta(self, name: str) -> Delta:
        """The δ record of the named tensor ``name`` (``"h"``, ``"a_o"``)."""
        for delta in self.deltas:
            if delta.name == name:
                return delta
        raise KeyError(f"no δ for {name!r}; there are {[d.name for d in self.deltas]}")


def _abbreviated(names: list[str], shown: int = 6) -> str:
    """``w1, w2, …, w8`` for a long list: element names of one tensor as ``b[0..15]``."""
    groups: list[list[str]] = []
    for label in names:
        stem = _split_element(label)[0]
        if groups and _split_element(groups[-1][0])[0] == stem and "[" in label:
            groups[-1].append(label)
        else:
            groups.append([label])
    parts = [
        g[0] if len(g) == 1 else f"{_split_element(g[0])[0]}[{len(g)} elements]" for g in groups
    ]
    if len(parts) > shown:
        parts = parts[: shown - 1] + [f"… {len(parts) - shown + 1} more"]
    return ", ".join(parts)


def _split_element(label: str) -> tuple[str, tuple[int, ...] | None]:
    """``"0.weight[1,2]"`` -> ("0.weight", (1, 2)); a plain name -> (name, None)."""
    if label.endswith("]") and "[" in label:
        stem, _, inside = label[:-1].rpartition("[")
        try:
            return stem, tuple(int(part) for part in inside.split(",")) if inside else ()
        except ValueError:
            return label, None
    return label, None


@dataclass(frozen=True)
class TutorialStep:
    """One gradient-descent step: the forward values, ∂loss/∂(every named quantity) and the
    parameters after the update, all keyed by the seeds' names."""

    step: int
    values: dict[str, float]
    gradients: dict[str, float]
    updated: dict[str, float]


@dataclass(frozen=True)
class Tutorial(Views):
    """A seed example run for ``len(steps)`` steps; ``explanation`` derives step 1's gradients.

    ``values``, ``gradients`` and ``updated`` are step 1's (the worked example); ``final`` holds
    the parameters after the last step.
    """

    example: str
    title: str
    source: str
    config: dict[str, Any]
    loss: str
    parameters: tuple[str, ...]
    steps: tuple[TutorialStep, ...]
    explanation: Any = field(default=None, compare=False)

    @property
    def values(self) -> dict[str, float]:
        return self.steps[0].values

    @property
    def gradients(self) -> dict[str, float]:
        return self.steps[0].gradients

    @property
    def updated(self) -> dict[str, float]:
        return self.steps[0].updated

    @property
    def final(self) -> dict[str, float]:
        return self.steps[-1].updated

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` form: ``{"values", "gradients", "updated", "steps", ...}``."""
        return VIEWS["dict"](self)  # type: ignore[return-value]
