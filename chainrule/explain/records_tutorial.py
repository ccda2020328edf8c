"""The records of a worked example: a seed run for some gradient-descent steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chainrule.explain.records_base import VIEWS, Views


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
