"""The text view of backpropagation as it is computed: each δ once with what that saves, the
diagnostics, and the update step of ``explain(loss, lr=…)``."""

from __future__ import annotations

from typing import Any

from chainrule.explain.formatting import format_value, partial, tex_to_text
from chainrule.explain.text_layout import Style, array_text, table

__all__ = ["backprop_sections"]


def _deltas(explanation: Any, style: Style, digits: int) -> list[str]:
    """Backpropagation as it runs: each δ once, from the δs above it, and what that saves."""
    deltas = getattr(explanation, "deltas", ())
    if len(deltas) < 2:
        return []
    loss = explanation.loss
    lines = [
        "",
        style.heading(
            f"  Backpropagation as computed: each δ_x = ∂{loss}/∂x once, from the δs above it"
        ),
    ]
    rows = []
    for delta in deltas:
        label = partial(loss, delta.name) if delta.kind == "parameter" else f"δ_{delta.name}"
        value = (
            array_text(delta.value.numpy(), digits)
            if delta.value is not None
            else f"‖·‖ = {format_value(delta.norm, 6)}"
        )
        shape = f"shape {delta.shape}" if delta.shape else ""
        rows.append(
            [style.name(label), "=", style.formula(tex_to_text(delta.formula)), shape, value]
        )
    lines += table(rows, indent="    ")
    reuse = getattr(explanation, "reuse", None)
    if reuse is not None:
        lines.append(
            style.dim(
                f"  path by path: {reuse.paths} paths, {reuse.path_multiplications} "
                f"multiplications and {reuse.path_additions} additions; each δ once: "
                f"{reuse.delta_multiplications} multiplications and {reuse.delta_additions} "
                f"additions ({reuse.saved} operations fewer)"
            )
        )
    return lines


def _diagnostics(explanation: Any, style: Style, digits: int) -> list[str]:
    found = getattr(explanation, "diagnostics", ())
    norms = [d for d in found if d.kind == "norm"]
    warnings = [d for d in found if d.kind != "norm"]
    if not norms and not warnings:
        return []
    lines = ["", style.heading("  Diagnostics")]
    if norms:
        cells = [f"{d.subject} {format_value(d.value, digits)}" for d in norms]
        lines.append(f"    gradient norms ‖∂{explanation.loss}/∂w‖: " + " · ".join(cells))
    lines += [f"    {style.bad('⚠')} {d.message}" for d in warnings]
    if not warnings:
        lines.append(style.dim("    no saturated units, no vanishing or exploding gradient"))
    return lines


def _explained_updates(explanation: Any, style: Style, digits: int) -> list[str]:
    updates = getattr(explanation, "updates", ())
    if not updates:
        return []
    lr = format_value(updates[0].lr)
    lines = ["", style.heading(f"  Update: w ← w − η · ∂{explanation.loss}/∂w, η = {lr}")]
    rows = []
    for u in updates:
        if isinstance(u.value, float):
            rows.append(
                [
                    style.name(u.parameter),
                    "=",
                    format_value(u.value, digits),
                    "−",
                    lr,
                    "×",
                    format_value(u.gradient, digits),
                    "=",
                    style.name(format_value(u.updated, digits)),
                ]
            )
        else:
            rows.append(
                [
                    style.name(u.parameter),
                    "←",
                    f"{u.parameter} − {lr} × ∂{explanation.loss}/∂{u.parameter}",
                    "=",
                    array_text(u.updated.numpy(), digits),
                ]
            )
    return lines + table(rows, indent="    ")


def backprop_sections(explanation: Any, style: Style, digits: int) -> list[str]:
    """The δ form, the diagnostics and the updates, each only where the record has them."""
    return (
        _deltas(explanation, style, digits)
        + _diagnostics(explanation, style, digits)
        + _explained_updates(explanation, style, digits)
    )
