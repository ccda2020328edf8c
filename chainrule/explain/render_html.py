"""HTML: the explainer's records as a self-contained fragment (for Jupyter and the HTML report)
or a whole page. Formulas are Unicode with sub/superscripts, so they display offline; each one
keeps its LaTeX in ``data-tex`` for a page that loads a TeX renderer."""

from __future__ import annotations

import html
import re
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
    tex_to_text,
    unique_steps,
    update_symbol,
    values_text,
)
from chainrule.explain.records import Derivation, Explanation, TensorDerivation

__all__ = ["CSS", "render_html", "tex_to_html"]

CSS = """
.chainrule { font-family: system-ui, sans-serif; line-height: 1.45; color: #1d2330; }
.chainrule h2, .chainrule h3 { margin: 1.2em 0 0.4em; }
.chainrule table { border-collapse: collapse; margin: 0.3em 0 0.8em; }
.chainrule td, .chainrule th { padding: 0.15em 0.7em; border-bottom: 1px solid #e3e6ec;
  text-align: left; }
.chainrule td.num { text-align: right; font-family: ui-monospace, monospace; }
.chainrule .f { font-family: "Cambria Math", "STIX Two Math", serif; color: #7a4a00; }
.chainrule .name { font-family: "Cambria Math", "STIX Two Math", serif; font-style: italic; }
.chainrule .ok { color: #127a2e; font-weight: 600; }
.chainrule .bad { color: #b3261e; font-weight: 700; }
.chainrule .path { margin: 0.2em 0 0.2em 1.2em; }
.chainrule .muted { color: #6b7280; }
"""


def tex_to_html(tex: str | None) -> str:
    """LaTeX as escaped HTML: ``a_{o1}`` -> ``a<sub>o1</sub>``, ``x^{2}`` kept as ``x²``."""
    text = html.escape(tex_to_text(tex))
    return re.sub(r"(?<![\w])([A-Za-zσδαβγεηθλμτφψω∂])_(\w+)", r"\1<sub>\2</sub>", text)


def _formula(tex: str | None) -> str:
    data = html.escape(tex or "", quote=True)
    return f'<span class="f" data-tex="{data}">{tex_to_html(tex)}</span>'


def _name(text: str) -> str:
    return f'<span class="name">{tex_to_html(text)}</span>'


def partial(upper: str, lower: str) -> str:
    return f"∂{_name(upper)}/∂{_name(lower)}"


def _step_partial(step: Any) -> str:
    """∂upper/∂lower, with the route for one route's share of that partial."""
    via = getattr(step, "via", "")
    label = partial(step.upper_tex, step.lower_tex)
    return f"{label} (via {html.escape(via)})" if via else label


def _num(value: float | None, digits: int) -> str:
    return f'<td class="num">{html.escape(format_value(value, digits))}</td>'


def render_html(
    record: Any, full_page: bool = False, digits: int = DIGITS, *, training: bool = True
) -> str:
    """A record (Tutorial, Explanation, Derivation) as an HTML fragment, or a whole page.

    ``training=False`` leaves out a tutorial's table of training steps (for a page that shows
    them elsewhere, such as the report).
    """
    from chainrule.explain.seeds import Tutorial

    digits = significant_digits(record, digits)
    if isinstance(record, Tutorial):
        body, title = _tutorial(record, digits, training), record.title
    elif isinstance(record, Explanation):
        body, title = _explanation(record, digits), f"∂{record.loss}: the chain rule"
    elif isinstance(record, Derivation | TensorDerivation):
        body, title = _derivation(record, digits), f"∂{record.loss}/∂{record.parameter}"
    else:
        raise TypeError(f"render_html: can't render a {type(record).__name__}")
    fragment = f'<div class="chainrule">\n<style>{CSS}</style>\n{body}\n</div>'
    if not full_page:
        return fragment
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n<body>\n{fragment}\n</body>\n"
        "</html>\n"
    )


def _tutorial(run: Any, digits: int, training: bool = True) -> str:
    from chainrule.explain.seeds import source_words

    parts = [
        f"<h2>{html.escape(run.title)}</h2>",
        f'<p class="muted">From {html.escape(source_words(run))}. Every number '
        "is computed by chainrule's engine; every formula comes from its derivative "
        "table.</p>",
        f"<p><b>Settings:</b> {html.escape(settings_line(run, digits))}</p>",
    ]
    if run.explanation is not None:
        parts.append(_explanation(run.explanation, digits, numbered=True))
    lr = format_value(run.config["lr"])
    rows = "".join(
        f"<tr><td>{_name(key)}</td>{_num(run.values[key], digits)}"
        f"{_num(run.gradients[key], digits)}{_num(run.updated[key], digits)}</tr>"
        for key in run.parameters
    )
    w = _name(update_symbol(run))
    parts.append(
        f"<h3>5. Update: {w} ← {w} − η·∂{_name(run.loss)}/∂{w}, η = {html.escape(lr)}</h3>"
        "<table><tr><th>parameter</th><th>before</th><th>gradient</th><th>after</th>"
        f"</tr>{rows}</table>"
    )
    if training and len(run.steps) > 1:
        outputs = [k for k in ("a_o1", "a_o2", "z") if k in run.values]
        head = "".join(f"<th>{_name(k)}</th>" for k in [run.loss] + outputs)
        rows = "".join(
            f"<tr><td>{s.step}</td>"
            + "".join(_num(s.values[k], digits) for k in [run.loss] + outputs)
            + "</tr>"
            for s in run.steps
        )
        parts.append(
            f"<h3>6. Training: {len(run.steps)} steps</h3>"
            f"<table><tr><th>step</th>{head}</tr>{rows}</table>"
        )
    return "\n".join(parts)


def _explanation(explanation: Any, digits: int, numbered: bool = False) -> str:
    number = iter(range(1, 10))

    def title(text: str) -> str:
        return f"<h3>{next(number)}. {text}</h3>" if numbered else f"<h3>{text}</h3>"

    def value(q: Any) -> str:
        return f"shape {q.shape}" if q.value is None else format_value(q.value, digits)

    # inputs and weights have no definition: one line of them, the table for the rest
    given = ", ".join(
        f"{_name(q.tex)} = {html.escape(value(q))}"
        for q in explanation.quantities
        if q.formula is None
    )
    rows = [
        f"<tr><td>{_name(q.tex)}</td><td>{_formula(q.formula)}</td>"
        f'<td class="num">{html.escape(value(q))}</td></tr>'
        for q in explanation.quantities
        if q.formula is not None
    ]
    parts = [title("Forward pass")]
    if given:
        parts.append(f"<p><b>Given:</b> {given}</p>")
    if rows:
        parts.append(
            "<table><tr><th>quantity</th><th>definition</th><th>value</th></tr>"
            f"{''.join(rows)}</table>"
        )
    rows = [
        f"<tr><td>{_step_partial(s)}</td><td>{_formula(step_tex(s))}</td>"
        f'{_num(s.value, digits)}<td class="muted">{html.escape(", ".join(s.ops))}</td></tr>'
        for s in unique_steps(explanation)[:MAX_STEPS_SHOWN]
    ]
    parts += [
        title("Backward pass: local derivatives"),
        "<table><tr><th>derivative</th><th>formula</th><th>value</th><th>ops</th></tr>"
        f"{''.join(rows)}</table>",
    ]
    gradients = [
        q for q in explanation.quantities if q.grad is not None and q.kind == "intermediate"
    ]
    if gradients:
        loss = explanation.loss_tex
        rows = [
            f"<tr><td>{partial(loss, q.tex)}</td>{_num(q.grad, digits)}</tr>"
            for q in loss_first(gradients)
        ]
        parts += [
            title(f"Backward pass: ∂{_name(loss)}/∂ each quantity, from the loss down"),
            f"<table>{''.join(rows)}</table>",
        ]
    parts.append(title("Chain rule, path by path"))
    parts += [f'<p class="muted">note: {html.escape(n)}</p>' for n in explanation.notes]
    parts += [_derivation(d, digits) for d in backprop_order(explanation.derivations)]
    parts += _backprop(explanation, digits)
    return "\n".join(parts)


def _backprop(explanation: Any, digits: int) -> list[str]:
    """The δ form, what it saves, the diagnostics and the updates."""
    parts = []
    loss = explanation.loss_tex
    if len(explanation.deltas) > 1:
        rows = []
        for delta in explanation.deltas:
            label = (
                partial(loss, delta.tex)
                if delta.kind == "parameter"
                else f"δ<sub>{tex_to_html(delta.tex)}</sub>"
            )
            value = (
                values_text(delta.value, digits)
                if delta.value is not None
                else f"‖·‖ = {format_value(delta.norm, 6)}"
            )
            rows.append(
                f"<tr><td>{label}</td><td>{_formula(delta.formula)}</td>"
                f'<td>{delta.shape}</td><td class="num">{html.escape(value)}</td></tr>'
            )
        parts += [
            f"<h4>Backpropagation as computed: each δ<sub>x</sub> = ∂{_name(loss)}/∂x once, "
            "from the δs above it</h4>",
            f"<table>{''.join(rows)}</table>",
        ]
        reuse = explanation.reuse
        if reuse is not None:
            parts.append(
                f"<p>Path by path: {reuse.paths} paths, {reuse.path_multiplications} "
                f"multiplications and {reuse.path_additions} additions; each δ once: "
                f"{reuse.delta_multiplications} multiplications and {reuse.delta_additions} "
                f"additions ({reuse.saved} operations fewer).</p>"
            )
    norms = [d for d in explanation.diagnostics if d.kind == "norm"]
    warnings = [d for d in explanation.diagnostics if d.kind != "norm"]
    if norms or warnings:
        parts.append("<h4>Diagnostics</h4>")
        if norms:
            cells = ", ".join(
                f"{html.escape(d.subject)} {html.escape(format_value(d.value, 3))}" for d in norms
            )
            parts.append(f"<p>Gradient norms: {cells}</p>")
        parts += [f'<p class="bad">⚠ {html.escape(d.message)}</p>' for d in warnings]
    if explanation.updates:
        lr = html.escape(format_value(explanation.updates[0].lr))
        rows = []
        for u in explanation.updates:
            cells = "".join(
                f'<td class="num">{html.escape(values_text(v, digits))}</td>'
                for v in (u.value, u.gradient, u.updated)
            )
            rows.append(f"<tr><td>{html.escape(u.parameter)}</td>{cells}</tr>")
        parts += [
            f"<h4>Update: w ← w − η·∂{_name(loss)}/∂w, η = {lr}</h4>",
            "<table><tr><th>parameter</th><th>before</th><th>gradient</th><th>after</th></tr>"
            f"{''.join(rows)}</table>",
        ]
    return parts


def _check(derivation: Any) -> str:
    if derivation.difference == 0:
        detail = "identical"
    else:
        detail = f"differs by {derivation.difference:.1e}, {derivation.ulps:.0f} ulp"
    if derivation.agrees:
        return f'<span class="ok">✓ equals the engine\'s .grad ({detail})</span>'
    return f'<span class="bad">✗ differs from the engine\'s .grad ({detail})</span>'


def _derivation(derivation: Any, digits: int) -> str:
    head = partial(derivation.loss_tex, derivation.parameter_tex)
    if isinstance(derivation, TensorDerivation):
        parts = [
            f"<p><b>{head}</b>, shape {derivation.shape}, tensor level "
            f"(δ<sub>x</sub> = ∂{_name(derivation.loss_tex)}/∂x)</p>"
        ]
        for path in derivation.paths:
            rows = "".join(
                f"<tr><td>δ<sub>{tex_to_html(s.lower_tex)}</sub></td>"
                f"<td>{_formula(s.formula)}</td><td>{s.shape}</td></tr>"
                for s in path.steps
            )
            parts.append(
                f'<div class="path">path {html.escape(" → ".join(path.nodes))}'
                f"<table>{rows}</table></div>"
            )
        parts.append(f"<p>{_check(derivation)}</p>")
        return "\n".join(parts)
    several = len(derivation.paths) > 1
    # one path: its product is the total, printed once; several: each product, then the sum
    parts = [
        f"<p><b>{head}</b> = sum over {len(derivation.paths)} paths</p>"
        if several
        else f"<p><b>{head}</b></p>"
    ]
    for path in derivation.paths[:MAX_PATHS_SHOWN]:
        symbols = " · ".join(_step_partial(s) for s in path.steps)
        formulas = " · ".join(_formula(step_in_path(s, path)) for s in path.steps)
        numbers = " × ".join(html.escape(format_value(s.value, digits)) for s in path.steps)
        parts.append(
            f'<div class="path">{symbols}<br>= {formulas}<br>= {numbers}<br>= '
            f"<b>{html.escape(format_value(path.product, digits))}</b></div>"
        )
    if len(derivation.paths) > MAX_PATHS_SHOWN:
        parts.append(
            f'<p class="muted">… {len(derivation.paths) - MAX_PATHS_SHOWN} more paths '
            "(all of them are in the sum)</p>"
        )
    if several:
        parts.append(
            f"<p>= <b>{html.escape(format_value(derivation.total, digits))}</b> "
            f"{_check(derivation)}</p>"
        )
    else:
        parts.append(f"<p>{_check(derivation)}</p>")
    return "\n".join(parts)
