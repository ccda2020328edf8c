"""The explainer's records: plain, frozen data that ``explain(loss)`` returns — the forward
quantities, each derivation's paths and steps, the δ form, diagnostics and updates. Every view
(text, Markdown, JSON, HTML, spreadsheet) is made from these and from nothing else; the records
import no renderer.

Here are :class:`Explanation` and :class:`Quantity`; every other record lives in the module of
its concept and is re-exported here: ``records_base`` (Array, and the Views that print() and
Jupyter use), ``records_derivation`` (Step, Path, Derivation, TensorStep, TensorPath,
TensorDerivation), ``records_backprop`` (Delta, Reuse, Diagnostic, Update) and
``records_tutorial`` (TutorialStep, Tutorial).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from chainrule.explain.records_backprop import Delta, Diagnostic, Reuse, Update
from chainrule.explain.records_base import VIEWS, Array, Views
from chainrule.explain.records_derivation import (
    Derivation,
    Path,
    Step,
    TensorDerivation,
    TensorPath,
    TensorStep,
)
from chainrule.explain.records_tutorial import Tutorial, TutorialStep

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
