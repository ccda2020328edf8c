"""Markdown with LaTeX (``$...$``, ``$$...$$``): the explainer's records for notebooks, READMEs
and course notes."""

from __future__ import annotations

from typing import Any

from chainrule.explain.formatting import (
    DIGITS,
    MAX_PATHS_SHOWN,
    MAX_STEPS_SHOWN,
    backprop_order,
    format_value,
    loss_first,
    settings_line,
    significant_digits,
    step_in_path,
    step_tex,
    unique_steps,
    update_symbol,
    values_text,
)
from chainrule.explain.records import Derivation, Explanation, TensorDerivation

__all__ = ["partial_tex", "render_markdown"]


def partial_tex(upper_tex: str, lower_tex: str) -> str:
    r"""``\frac{\partial E_{total}}{\partial w_{5}}``."""
    return rf"\frac{{\partial {upper_tex}}}{{\partial {lower_tex}}}"


def step_partial_tex(step: Any) -> str:
    """∂upper/∂lower, marked with the route for one route's share of that partial."""
    label = partial_tex(step.upper_tex, step.lower_tex)
    via = getattr(step, "via", "")
    return rf"{label}\,\big|_{{\text{{via {via}}}}}" if via else label


def _signed_terms(values: list[str]) -> str:
    """``a + b - c`` from numbers as text: a negative term after the first is subtracted."""
    out = values[:1]
    for value in values[1:]:
        out.append(f"- {value[1:]}" if value.startswith("-") else f"+ {value}")
    return " ".join(out)


def _number(value: float | None, digits: int) -> str:
    text = format_value(value, digits)
    if "e" in text:
        mantissa, _, exponent = text.partition("e")
        return rf"{mantissa} \times 10^{{{int(exponent)}}}"
    return text


def render_markdown(record: Any, digits: int = DIGITS) -> str:
    """A record (Tutorial, Explanation, Derivation) as Markdown with LaTeX formulas."""
    from chainrule.explain.seeds import Tutorial

    digits = significant_digits(record, digits)
    if isinstance(record, Tutorial):
        lines = _tutorial(record, digits)
    elif isinstance(record, Explanation):
        lines = _explanation(record, digits, level=2)
    elif isinstance(record, Derivation | TensorDerivation):
        lines = _derivation(record, digits)
    else:
        raise TypeError(f"render_markdown: can't render a {type(record).__name__}")
    return "\n".join(lines).rstrip() + "\n"


def _tutorial(run: Any, digits: int) -> list[str]:
    from chainrule.explain.seeds import source_words

    lines = [
        f"# {run.title}",
        "",
        f"From {source_words(run)}. Every number is computed by chainrule's engine and every "
        "formula comes from its derivative table.",
        "",
        f"**Settings:** {settings_line(run, digits)}",
        "",
    ]
    if run.explanation is not None:
        lines += _explanation(run.explanation, digits, level=2, numbered=True)
    loss_tex = run.explanation.loss_tex if run.explanation is not None else run.loss
    lr = format_value(run.config["lr"])
    w = _tex(run, update_symbol(run))
    lines += [
        "",
        f"## 5. Update: ${w} \\leftarrow {w} - \\eta \\, "
        f"\\frac{{\\partial {loss_tex}}}{{\\partial {w}}}$, $\\eta = {lr}$",
        "",
        "| parameter | before | gradient | after |",
        "|---|---:|---:|---:|",
    ]
    for key in run.parameters:
        lines.append(
            f"| ${_tex(run, key)}$ | {format_value(run.values[key], digits)} | "
            f"{format_value(run.gradients[key], digits)} | "
            f"{format_value(run.updated[key], digits)} |"
        )
    if len(run.steps) > 1:
        outputs = [k for k in ("a_o1", "a_o2", "z") if k in run.values]
        lines += [
            "",
            f"## 6. Training: {len(run.steps)} steps",
            "",
            "| step | " + " | ".join(f"${_tex(run, k)}$" for k in [run.loss] + outputs) + " |",
            "|---:|" + "---:|" * (1 + len(outputs)),
        ]
        for step in run.steps:
            lines.append(
                f"| {step.step} | "
                + " | ".join(format_value(step.values[k], digits) for k in [run.loss] + outputs)
                + " |"
            )
        lines += [
            "",
            f"Parameters after step {len(run.steps)}: "
            + ", ".join(
                f"${_tex(run, k)} = {format_value(run.final[k], digits)}$" for k in run.parameters
            ),
        ]
    return lines


def _tex(run: Any, name: str) -> str:
    from chainrule.names import tex_name

    return tex_name(name)


def _explanation(explanation: Any, digits: int, level: int, numbered: bool = False) -> list[str]:
    hashes = "#" * level
    number = iter(range(1, 10))

    def title(text: str) -> str:
        return f"{hashes} {next(number)}. {text}" if numbered else f"{hashes} {text}"

    def value(q: Any) -> str:
        return f"shape {q.shape}" if q.value is None else format_value(q.value, digits)

    # inputs and weights have no definition: one line of them, the table for the rest
    given = [q for q in explanation.quantities if q.formula is None]
    defined = [q for q in explanation.quantities if q.formula is not None]
    lines = [title("Forward pass"), ""]
    if given:
        lines += [
            "**Given:** "
            + ", ".join(
                f"${q.tex} = {value(q)}$" if q.value is not None else f"${q.tex}$ ({value(q)})"
                for q in given
            ),
            "",
        ]
    if defined:
        lines += ["| quantity | definition | value |", "|---|---|---:|"]
        lines += [f"| ${q.tex}$ | ${q.tex} = {q.formula}$ | {value(q)} |" for q in defined]
    lines += [
        "",
        title("Backward pass: local derivatives"),
        "",
        "| derivative | formula | value | ops |",
        "|---|---|---:|---|",
    ]
    steps = unique_steps(explanation)
    for step in steps[:MAX_STEPS_SHOWN]:
        formula = f"${step_tex(step)}$"
        lines.append(
            f"| ${step_partial_tex(step)}$ | {formula} | "
            f"{format_value(step.value, digits)} | {', '.join(step.ops)} |"
        )
    if len(steps) > MAX_STEPS_SHOWN:
        lines += ["", f"… {len(steps) - MAX_STEPS_SHOWN} more local derivatives"]
    gradients = [
        q for q in explanation.quantities if q.grad is not None and q.kind == "intermediate"
    ]
    if gradients:
        loss = explanation.loss_tex
        lines += [
            "",
            title(
                f"Backward pass: ${partial_tex(loss, 'x')}$ for each quantity $x$, "
                "from the loss down"
            ),
            "",
            "| quantity | gradient |",
            "|---|---:|",
        ]
        lines += [
            f"| ${partial_tex(loss, q.tex)}$ | {format_value(q.grad, digits)} |"
            for q in loss_first(gradients)
        ]
    lines += ["", title("Chain rule, path by path"), ""]
    lines += [f"> note: {note}\n" for note in explanation.notes]
    for derivation in backprop_order(explanation.derivations):
        lines += _derivation(derivation, digits) + [""]
    return lines + _backprop(explanation, digits, "#" * (level + 1))


def _backprop(explanation: Any, digits: int, hashes: str) -> list[str]:
    """The δ form, what it saves, the diagnostics and the updates."""
    lines: list[str] = []
    loss = explanation.loss_tex
    if len(explanation.deltas) > 1:
        lines += [
            f"{hashes} Backpropagation as computed: each "
            rf"$\delta_x = \partial {loss}/\partial x$ once, from the δs above it",
            "",
            "| δ | formula | shape | value |",
            "|---|---|---|---:|",
        ]
        for delta in explanation.deltas:
            label = (
                partial_tex(loss, delta.tex)
                if delta.kind == "parameter"
                else rf"\delta_{{{delta.tex}}}"
            )
            value = (
                values_text(delta.value, digits)
                if delta.value is not None
                else f"‖·‖ = {format_value(delta.norm, 6)}"
            )
            lines.append(f"| ${label}$ | ${delta.formula}$ | {delta.shape} | {value} |")
        reuse = explanation.reuse
        if reuse is not None:
            lines += [
                "",
                f"Path by path: {reuse.paths} paths, {reuse.path_multiplications} "
                f"multiplications and {reuse.path_additions} additions; each δ once: "
                f"{reuse.delta_multiplications} multiplications and {reuse.delta_additions} "
                f"additions ({reuse.saved} operations fewer).",
            ]
        lines.append("")
    norms = [d for d in explanation.diagnostics if d.kind == "norm"]
    warnings = [d for d in explanation.diagnostics if d.kind != "norm"]
    if norms or warnings:
        lines += [f"{hashes} Diagnostics", ""]
        if norms:
            lines.append(
                "Gradient norms: "
                + ", ".join(f"`{d.subject}` {format_value(d.value, 3)}" for d in norms)
            )
        lines += [f"- ⚠ {d.message}" for d in warnings]
        lines.append("")
    if explanation.updates:
        lr = format_value(explanation.updates[0].lr)
        lines += [
            f"{hashes} Update: $w \\leftarrow w - \\eta\\,\\partial {loss}/\\partial w$, "
            f"$\\eta = {lr}$",
            "",
            "| parameter | before | gradient | after |",
            "|---|---:|---:|---:|",
        ]
        for u in explanation.updates:
            before, gradient, after = (
                values_text(v, digits) for v in (u.value, u.gradient, u.updated)
            )
            lines.append(f"| `{u.parameter}` | {before} | {gradient} | {after} |")
        lines.append("")
    return lines


def _check(derivation: Any) -> str:
    if derivation.difference == 0:
        detail = "identical"
    else:
        detail = f"differs by {derivation.difference:.1e} ({derivation.ulps:.0f} ulp)"
    mark = "✓" if derivation.agrees else "✗ **mismatch**"
    return f"{mark} equals the engine's `.grad` ({detail})"


def _derivation(derivation: Any, digits: int) -> list[str]:
    if isinstance(derivation, TensorDerivation):
        return _tensor_derivation(derivation, digits)
    head = partial_tex(derivation.loss_tex, derivation.parameter_tex)
    if not derivation.paths:
        return [f"$${head} = 0$$ (no path)"]
    rows = []
    for path in derivation.paths[:MAX_PATHS_SHOWN]:
        symbols = r" \cdot ".join(step_partial_tex(s) for s in path.steps)
        formulas = r" \cdot ".join(step_in_path(s, path) for s in path.steps)
        numbers = r" \times ".join(_number(s.value, digits) for s in path.steps)
        rows.append((symbols, formulas, numbers, _number(path.product, digits)))
    lines = ["$$", r"\begin{aligned}"]
    if len(rows) == 1:
        symbols, formulas, numbers, product = rows[0]
        lines += [
            rf"{head} &= {symbols} \\",
            rf"&= {formulas} \\",
            rf"&= {numbers} \\",
            rf"&= {product}",
        ]
    else:
        # one line per path: side by side, two paths make one very wide line
        lines += [
            (rf"{head} &= " if i == 1 else r"&\quad + ")
            + rf"\underbrace{{{r[0]}}}_{{\text{{path {i}}}}} \\"
            for i, r in enumerate(rows, 1)
        ]
        for i, (_, formulas, numbers, product) in enumerate(rows, 1):
            lines += [rf"\text{{path {i}}} &= {formulas} \\", rf"&= {numbers} = {product} \\"]
        hidden = len(derivation.paths) - len(rows)
        terms = _signed_terms([r[3] for r in rows]) + (
            rf" + \ldots\ (\text{{{hidden} more paths}})" if hidden else ""
        )
        lines.append(rf"&= {terms} = {_number(derivation.total, digits)}")
    lines += [r"\end{aligned}", "$$", "", _check(derivation)]
    return lines


def _tensor_derivation(derivation: Any, digits: int) -> list[str]:
    head = partial_tex(derivation.loss_tex, derivation.parameter_tex)
    lines = [
        f"**${head}$**, shape {derivation.shape}, tensor level "
        f"($\\delta_{{x}} = \\partial {derivation.loss_tex} / \\partial x$):",
        "",
    ]
    for number, path in enumerate(derivation.paths, 1):
        lines += [
            f"Path {number}: " + " → ".join(f"${n}$" for n in _path_tex(path)),
            "",
            "| gradient | formula | shape |",
            "|---|---|---|",
        ]
        for s in path.steps:
            lines.append(f"| $\\delta_{{{s.lower_tex}}}$ | ${s.formula}$ | {s.shape} |")
        lines.append("")
    return lines + [_check(derivation)]


def _path_tex(path: Any) -> list[str]:
    first = path.steps[0].upper_tex if path.steps else path.nodes[0]
    return [first] + [s.lower_tex for s in path.steps]
