"""Terminal text: the explainer's records as aligned columns, with ANSI colour when asked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainrule.explain.formatting import (  # format_value, tex_to_text: re-exported, as before
    DIGITS,
    MAX_PATHS_SHOWN,
    MAX_STEPS_SHOWN,
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
from chainrule.explain.render_text_backprop import backprop_sections
from chainrule.explain.text_layout import Style, array_text, table, visible

__all__ = ["format_value", "render_text", "tex_to_text"]


# ---- numbers and colour --------------------------------------------------------------------------


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
    style = Style(bool(color))
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


def _tutorial(run: Any, style: Style, digits: int, width: int) -> list[str]:
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
    lines += table([[style.name("settings"), settings]], indent="  ")
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
    explanation: Any, style: Style, digits: int, width: int, numbered: bool
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
    lines += table(_squeeze(rows))
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
    lines += table(rows) or ["  (none: no element-level derivation)"]
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
        lines += table(
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
    lines += backprop_sections(explanation, style, digits)
    return lines


def _vjp_legend(derivations: Any, style: Style) -> list[str]:
    return [style.dim(f"  {VJP_LEGEND}")] if uses_vjp(derivations) else []


_LEAF_KINDS = {"input": "inputs", "parameter": "parameters"}


def _leaves(quantities: Sequence[Any], style: Style, digits: int, per_line: int = 4) -> list[str]:
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
    return table(rows)


def _squeeze(rows: list[list[str]]) -> list[list[str]]:
    """Leaves (no formula) read ``name = value`` with the value in the formula's column."""
    out = []
    for row in rows:
        if len(row) == 5 and not row[2]:
            out.append([row[0], row[1], row[4]])
        else:
            out.append(row)
    return out


def _derivation(derivation: Any, style: Style, digits: int, width: int) -> list[str]:
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
        if visible(current) + len(piece) > width and current.strip() != "=":
            lines.append(current)
            current = indent + "  " + piece.lstrip()
        else:
            current += piece
    lines.append(current)
    lines.append(f"{indent}= {format_value(path.product, digits)}")
    return lines


def _check(derivation: Any, style: Style, digits: int) -> str:
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


def _tensor_derivation(derivation: Any, style: Style, digits: int) -> list[str]:
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
        lines += table(rows, indent="      ")
    total = derivation.total.numpy()
    lines.append(f"    = {array_text(total, digits)}   {_check(derivation, style, digits)}")
    return lines


def _updates(run: Any, style: Style, digits: int) -> list[str]:
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
    return lines + table(rows)


def _training(run: Any, style: Style, digits: int) -> list[str]:
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
    lines += table(rows)
    lines += ["", style.heading(f"  parameters after step {len(steps)}")]
    lines += table(
        [[style.name(k), "=", format_value(run.final[k], digits)] for k in run.parameters]
    )
    return lines
