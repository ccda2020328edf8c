"""Terminal text: the explainer's records as aligned columns, with ANSI colour when asked."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.explain.formatting import (  # format_value, tex_to_text: re-exported, as before
    DIGITS,
    VJP_LEGEND,
    backprop_order,
    format_value,
    loss_first,
    partial,
    path_formulas,
    path_labels,
    settings_line,
    signed_sum,
    significant_digits,
    step_label,
    step_tex,
    tex_to_text,
    unique_steps,
    update_symbol,
    uses_vjp,
)
from chainrule.explain.records import Derivation, Explanation, TensorDerivation

__all__ = ["format_value", "render_text", "tex_to_text"]


# ---- numbers and colour --------------------------------------------------------------------------


class _Style:
    def __init__(self, color: bool) -> None:
        self.color = color

    def _wrap(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def heading(self, text: str) -> str:
        return self._wrap("1", text)

    def name(self, text: str) -> str:
        return self._wrap("36", text)

    def formula(self, text: str) -> str:
        return self._wrap("33", text)

    def good(self, text: str) -> str:
        return self._wrap("32", text)

    def bad(self, text: str) -> str:
        return self._wrap("31", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)


def _visible(text: str) -> int:
    return len(re.sub(r"\x1b\[[0-9;]*m", "", text))


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _visible(text))


def _table(rows: Sequence[Sequence[str]], indent: str = "  ", gap: str = "  ") -> list[str]:
    """Rows of cells as aligned columns (ANSI codes don't count towards a cell's width)."""
    if not rows:
        return []
    widths = [
        max(_visible(row[c]) for row in rows if c < len(row))
        for c in range(max(len(r) for r in rows))
    ]
    lines = []
    for row in rows:
        cells = [_pad(cell, widths[c]) if c < len(row) - 1 else cell for c, cell in enumerate(row)]
        lines.append((indent + gap.join(cells)).rstrip())
    return lines


# ---- records -------------------------------------------------------------------------------------
def render_text(
    record: Any, color: bool | None = None, digits: int = DIGITS, width: int = 100
) -> str:
    """A record (Tutorial, Explanation, Derivation) as terminal text.

    ``color=None`` colours only when stdout is a terminal and ``NO_COLOR`` is unset.
    """
    from chainrule.explain.seeds import Tutorial

    if color is None:
        import os
        import sys

        color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    style = _Style(bool(color))
    digits = significant_digits(record, digits)
    if isinstance(record, Tutorial):
        lines = _tutorial(record, style, digits, width)
    elif isinstance(record, Explanation):
        lines = _explanation(record, style, digits, width, numbered=False)
    elif isinstance(record, Derivation | TensorDerivation):
        lines = _derivation(record, style, digits, width) + _vjp_legend([record], style)
    else:
        raise TypeError(f"render_text: can't render a {type(record).__name__}")
    return "\n".join(lines) + "\n"


def _tutorial(run: Any, style: _Style, digits: int, width: int) -> list[str]:
    from chainrule.explain.seeds import source_words

    config = run.config
    lines = [
        style.heading(f"chainrule tutorial · {run.title}"),
        style.dim(
            f"  from {source_words(run)}: every number below is computed by chainrule's engine,"
        ),
        style.dim("  every formula comes from the derivative table the engine runs"),
        "",
    ]
    settings = settings_line(run, digits)
    lines += _table([[style.name("settings"), settings]], indent="  ")
    lines.append("")
    if run.explanation is not None:
        lines += _explanation(run.explanation, style, digits, width, numbered=True)
    lines += _updates(run, style, digits)
    if len(run.steps) > 1:
        lines += _training(run, style, digits)
    else:
        lines += [
            "",
            style.dim(
                f"  run 'chainrule tutorial --steps 20' to watch {run.loss} fall "
                "step by step; --json for every number"
            ),
        ]
    del config
    return lines


def _explanation(
    explanation: Any, style: _Style, digits: int, width: int, numbered: bool
) -> list[str]:
    number = iter(range(1, 10))

    def title(text: str) -> str:
        return style.heading(f"{next(number)}. {text}" if numbered else text)

    lines = [title("Forward pass")]
    lines += _leaves(explanation.quantities, style, digits)
    rows = []
    for q in explanation.quantities:
        if q.kind in _LEAF_KINDS and q.value is not None:
            continue
        if q.value is None:
            rows.append([style.name(q.name), "", f"tensor of shape {q.shape}"])
            continue
        formula = "" if q.formula is None else tex_to_text(q.formula)
        rows.append(
            [
                style.name(q.name),
                "=",
                style.formula(formula) if formula else "",
                "=" if formula else "",
                format_value(q.value, digits),
            ]
        )
    lines += _table(_squeeze(rows))
    lines += [
        "",
        title("Backward pass: local derivatives (∂ of each quantity by the one below it)"),
    ]
    rows = []
    steps = unique_steps(explanation)
    for step in steps[:MAX_STEPS_SHOWN]:
        rows.append(
            [
                style.name(step_label(step)),
                "=",
                style.formula(tex_to_text(step_tex(step))),
                "=",
                format_value(step.value, digits),
                style.dim("  " + " ∘ ".join(step.ops)),
            ]
        )
    lines += _table(rows) or ["  (none: no element-level derivation)"]
    if len(steps) > MAX_STEPS_SHOWN:
        lines.append(style.dim(f"  … {len(steps) - MAX_STEPS_SHOWN} more local derivatives"))
    gradients = [
        q for q in explanation.quantities if q.grad is not None and q.kind in ("intermediate",)
    ]
    if gradients:
        lines += [
            "",
            title(
                f"Backward pass: ∂{explanation.loss}/∂ each quantity, from the "
                "loss down (the engine's backward)"
            ),
        ]
        lines += _table(
            [
                [style.name(partial(explanation.loss, q.name)), "=", format_value(q.grad, digits)]
                for q in loss_first(gradients)
            ]
        )
    lines += ["", title(f"Chain rule: ∂{explanation.loss}/∂ each parameter, path by path")]
    lines += [style.dim(f"  note: {note}") for note in getattr(explanation, "notes", ())]
    lines += _vjp_legend(explanation.derivations, style)
    for derivation in backprop_order(explanation.derivations):
        lines += _derivation(derivation, style, digits, width)
    lines += _deltas(explanation, style, digits)
    lines += _diagnostics(explanation, style, digits)
    lines += _explained_updates(explanation, style, digits)
    return lines


MAX_STEPS_SHOWN = 48  # local derivatives listed; the rest are counted
MAX_PATHS_SHOWN = 8  # paths of one derivation written out; the rest are counted


def _deltas(explanation: Any, style: _Style, digits: int) -> list[str]:
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
            _array_text(delta.value.numpy(), digits)
            if delta.value is not None
            else f"‖·‖ = {format_value(delta.norm, 6)}"
        )
        shape = f"shape {delta.shape}" if delta.shape else ""
        rows.append(
            [style.name(label), "=", style.formula(tex_to_text(delta.formula)), shape, value]
        )
    lines += _table(rows, indent="    ")
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


def _diagnostics(explanation: Any, style: _Style, digits: int) -> list[str]:
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


def _explained_updates(explanation: Any, style: _Style, digits: int) -> list[str]:
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
                    _array_text(u.updated.numpy(), digits),
                ]
            )
    return lines + _table(rows, indent="    ")


def _vjp_legend(derivations: Any, style: _Style) -> list[str]:
    return [style.dim(f"  {VJP_LEGEND}")] if uses_vjp(derivations) else []


_LEAF_KINDS = {"input": "inputs", "parameter": "parameters"}


def _leaves(quantities: Sequence[Any], style: _Style, digits: int, per_line: int = 4) -> list[str]:
    """The given numbers, a few to a line: ``inputs  i1 = 0.05  i2 = 0.1 …``."""
    rows = []
    for kind, label in _LEAF_KINDS.items():
        cells = [
            f"{style.name(q.name)} = {format_value(q.value, digits)}"
            for q in quantities
            if q.kind == kind and q.value is not None
        ]
        for start in range(0, len(cells), per_line):
            rows.append([label if start == 0 else ""] + cells[start : start + per_line])
    return _table(rows)


def _squeeze(rows: list[list[str]]) -> list[list[str]]:
    """Leaves (no formula) read ``name = value`` with the value in the formula's column."""
    out = []
    for row in rows:
        if len(row) == 5 and not row[2]:
            out.append([row[0], row[1], row[4]])
        else:
            out.append(row)
    return out


def _derivation(derivation: Any, style: _Style, digits: int, width: int) -> list[str]:
    if isinstance(derivation, TensorDerivation):
        return _tensor_derivation(derivation, style, digits)
    head = partial(derivation.loss, derivation.parameter)
    lines = []
    paths = derivation.paths
    if not paths:
        return [f"  {style.name(head)} = 0 (no path from {derivation.loss})"]
    symbolic = " · ".join(step_label(s) for s in paths[0].steps)
    if len(paths) == 1:
        lines.append(f"  {style.name(head)} = {symbolic}")
        indent = " " * (len(head) + 3)
        lines.append(f"{indent}= {style.formula(path_formulas(paths[0]))}")
        lines += _factors(paths[0], indent, digits, width)[:-1]
    else:
        lines.append(f"  {style.name(head)} = sum over {len(paths)} paths")
        shown = paths[:MAX_PATHS_SHOWN]
        for path, via in zip(shown, path_labels(paths)[: len(shown)], strict=True):
            lines.append(f"    {via}:")
            lines.append(f"      {' · '.join(step_label(s) for s in path.steps)}")
            lines.append(f"      = {style.formula(path_formulas(path))}")
            lines += _factors(path, "      ", digits, width)
        indent = " " * (len(head) + 3)
        if len(paths) > len(shown):
            lines.append(
                style.dim(
                    f"    … {len(paths) - len(shown)} more paths, each a product of the same "
                    "kind (all of them are in the sum)"
                )
            )
            lines.append(f"{indent}= sum of the {len(paths)} products")
        else:
            lines.append(f"{indent}= {signed_sum([p.product for p in paths], digits)}")
    lines.append(
        f"{' ' * (len(head) + 3)}= {style.name(format_value(derivation.total, digits))}"
        f"   {_check(derivation, style, digits)}"
    )
    return lines


def _factors(path: Any, indent: str, digits: int, width: int) -> list[str]:
    values = [format_value(s.value, digits) for s in path.steps]
    lines, current = [], indent + "= "
    for number, value in enumerate(values):
        piece = value if number == 0 else f" × {value}"
        if _visible(current) + len(piece) > width and current.strip() != "=":
            lines.append(current)
            current = indent + "  " + piece.lstrip()
        else:
            current += piece
    lines.append(current)
    lines.append(f"{indent}= {format_value(path.product, digits)}")
    return lines


def _check(derivation: Any, style: _Style, digits: int) -> str:
    engine = derivation.engine
    if hasattr(engine, "numpy"):
        engine_text = "engine .grad"
    else:
        engine_text = f"engine .grad = {format_value(engine, digits)}"
    if derivation.difference == 0:
        detail = "identical"
    else:
        detail = f"differs by {derivation.difference:.1e}, {derivation.ulps:.0f} ulp"
    mark = style.good("✓") if derivation.agrees else style.bad("✗ MISMATCH")
    return f"{mark} {engine_text} ({detail})"


def _tensor_derivation(derivation: Any, style: _Style, digits: int) -> list[str]:
    head = partial(derivation.loss, derivation.parameter)
    count = len(derivation.paths)
    lines = [
        f"  {style.name(head)}   shape {derivation.shape}, tensor level, {count} "
        f"path{'s' if count != 1 else ''}   (δ_x = ∂{derivation.loss}/∂x)"
    ]
    for path in derivation.paths:
        lines.append(f"    path {' → '.join(path.nodes)}")
        rows = [
            [
                style.name(f"δ_{s.lower}"),
                "=",
                style.formula(tex_to_text(s.formula)),
                f"shape {s.shape}",
                style.dim(f"‖·‖ = {format_value(s.norm, 6)}"),
            ]
            for s in path.steps
        ]
        lines += _table(rows, indent="      ")
    total = derivation.total.numpy()
    lines.append(f"    = {_array_text(total, digits)}   {_check(derivation, style, digits)}")
    return lines


def _array_text(array: np.ndarray, digits: int) -> str:
    if array.size > 16:
        return (
            f"tensor of shape {array.shape}, ‖·‖ = "
            f"{format_value(float(np.sqrt(np.sum(np.square(array, dtype=np.float64)))), 6)}"
        )
    return np.array2string(
        array, separator=", ", formatter={"float_kind": lambda v: format_value(v, digits)}
    ).replace("\n", "")


def _updates(run: Any, style: _Style, digits: int) -> list[str]:
    loss = run.loss
    number = 5 if run.explanation is not None else 1
    w = update_symbol(run)
    lines = [
        "",
        style.heading(
            f"{number}. Update: {w} ← {w} − η · ∂{loss}/∂{w}, η = {format_value(run.config['lr'])}"
        ),
    ]
    rows = []
    lr = format_value(run.config["lr"])
    for key in run.parameters:
        rows.append(
            [
                style.name(key),
                "=",
                format_value(run.values[key], digits),
                "−",
                lr,
                "×",
                format_value(run.gradients[key], digits),
                "=",
                style.name(format_value(run.updated[key], digits)),
            ]
        )
    return lines + _table(rows)


def _training(run: Any, style: _Style, digits: int) -> list[str]:
    loss = run.loss
    lines = ["", style.heading(f"6. Training: {len(run.steps)} steps of gradient descent")]
    outputs = [k for k in ("a_o1", "a_o2", "z") if k in run.values]
    rows = [["step", loss] + outputs]
    steps = run.steps
    chosen = list(range(len(steps)))
    if len(steps) > 24:
        chosen = list(range(10)) + [-1] + list(range(len(steps) - 10, len(steps)))
    for number in chosen:
        if number == -1:
            rows.append(["…"])
            continue
        step = steps[number]
        rows.append(
            [str(step.step)] + [format_value(step.values[k], digits) for k in [loss] + outputs]
        )
    lines += _table(rows)
    lines += ["", style.heading(f"  parameters after step {len(steps)}")]
    lines += _table(
        [[style.name(k), "=", format_value(run.final[k], digits)] for k in run.parameters]
    )
    return lines
