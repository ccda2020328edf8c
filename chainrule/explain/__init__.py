"""The explainer: chain-rule derivations of any small graph, the seeds' worked examples, and
their views as text, Markdown, JSON and HTML.

``chainrule.explain`` is both this package and a function: ``chainrule.explain(loss)`` is
:func:`chainrule.explain.derive.explain`.

Examples
--------
>>> import chainrule as cr
>>> from chainrule.explain import explain
>>> from chainrule.names import name
>>> W = name(cr.tensor(0.5, dtype=cr.float64, requires_grad=True), "W")
>>> L = name((W * 1.0) ** 2, "L")
>>> explain(L)["W"].total
1.0
"""

from __future__ import annotations

import sys
import types
from typing import Any

from chainrule.explain import records
from chainrule.explain.derive import explain
from chainrule.explain.records import *  # noqa: F403 - every record, by records.__all__
from chainrule.explain.records import VIEWS, Explanation
from chainrule.explain.render_html import render_html
from chainrule.explain.render_json import from_json, render_json, to_dict
from chainrule.explain.render_markdown import render_markdown
from chainrule.explain.render_text import render_text
from chainrule.explain.seeds import (
    OneWeightConfig,
    SeedConfig,
    one_weight_tutorial,
    seed_tutorial,
    tutorial,
)

# the records, then what makes and shows them
__all__ = [name for name in records.__all__ if name != "VIEWS"] + [
    "OneWeightConfig",
    "SeedConfig",
    "explain",
    "explore",
    "from_json",
    "one_weight_tutorial",
    "render",
    "render_html",
    "render_json",
    "render_markdown",
    "render_text",
    "seed_tutorial",
    "to_dict",
    "tutorial",
]

FORMATS = ("text", "markdown", "json", "html")

# what print() and Jupyter show of a record (chainrule.explain.records.Views)
VIEWS.update(
    text=lambda record: render_text(record, color=False),
    markdown=render_markdown,
    html=render_html,
    dict=to_dict,
)


def explore(loss: Any, params: Any = None, **options: Any) -> Any:
    """Open the explorer page on ``loss``'s graph (:func:`chainrule.explorer.explore`)."""
    from chainrule.explorer import explore as _explore

    return _explore(loss, params, **options)


def render(
    record: Any,
    format: str = "text",
    color: bool | None = False,  # noqa: A002
    full_page: bool = False,
) -> str:
    """Render a record in one of ``FORMATS`` (``full_page``: a whole HTML document)."""
    if format == "text":
        return render_text(record, color=color)
    if format == "markdown":
        return render_markdown(record)
    if format == "json":
        return render_json(record) + "\n"
    if format == "html":
        return render_html(record, full_page=full_page)
    raise ValueError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")


class _CallableModule(types.ModuleType):
    """Lets ``chainrule.explain(loss)`` call :func:`explain` while ``chainrule.explain.seeds``
    and friends stay importable as the package's modules."""

    def __call__(self, loss: Any, params: Any = None, **options: Any) -> Explanation:
        return explain(loss, params, **options)


sys.modules[__name__].__class__ = _CallableModule
