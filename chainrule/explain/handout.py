"""Every derivative in the op table on one page, like a calculus handout, generated from the
primitives themselves (chainrule/ops/registry.py): for each op its forward, the local
derivative by each input, its static parameters and why it is a primitive. ``chainrule
derivatives`` prints it; the documentation site builds its "Derivatives" page from it."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from chainrule.autograd.node import Primitive
from chainrule.explain.formatting import tex_to_text
from chainrule.ops.registry import declared_in, primitives

__all__ = ["HandoutRow", "handout_rows", "render_handout"]

# The sections in the order ARCHITECTURE.md lists the op table, each with its heading
SECTIONS = {
    "elementwise": "Arithmetic and casts",
    "unary": "Unary functions",
    "activation": "Activations",
    "selection": "Clamps and selections",
    "comparison": "Comparisons and logic (no gradient)",
    "reduce": "Reductions",
    "extremes": "Extremes",
    "norms": "Norms",
    "shape": "Shape",
    "joining": "Joining",
    "indexing": "Indexing",
    "linalg": "Linear algebra",
    "categorical": "Softmax and one-hot",
    "losses": "Losses",
    "unfold": "im2col",
    "convolution": "Convolution",
    "pooling": "Pooling",
    "normalization": "Normalisation",
}


@dataclass(frozen=True)
class HandoutRow:
    """One primitive as the handout shows it (LaTeX read as plain text)."""

    section: str
    name: str
    forward: str  # y = …, or "" where the op has no formula
    derivatives: tuple[tuple[str, str], ...]  # (input letter, ∂y/∂input) for each input
    parameters: tuple[str, ...]
    kind: str
    why: str | None


def _row(name: str, op: Primitive) -> HandoutRow:
    if op.tex is None:
        forward, derivatives = "", ()
    else:
        forward = tex_to_text(op.tex[0])
        letters = op.inputs or ("x",)  # cat: any number of inputs, one rule for each
        derivatives = tuple(
            (letter, "no gradient" if rule is None else tex_to_text(tex))
            for letter, tex, rule in zip(
                letters, op.tex[1], op.grads or (True,) * len(op.tex[1]), strict=False
            )
        )
    return HandoutRow(declared_in(name), name, forward, derivatives, op.params, op.kind, op.why)


def handout_rows() -> list[HandoutRow]:
    """Every primitive, section by section, in the order each module declares them."""
    order = {section: i for i, section in enumerate(SECTIONS)}
    rows = [_row(name, op) for name, op in primitives().items()]
    return sorted(rows, key=lambda row: order.get(row.section, len(order)))


def _call(row: HandoutRow) -> str:
    """``add(x, y)``: the op applied to its inputs' letters."""
    letters = ", ".join(letter for letter, _ in row.derivatives) or "x"
    return f"{row.name}({letters})"


def _derivatives_text(row: HandoutRow) -> str:
    if not row.derivatives:
        return "no gradient"
    return "; ".join(f"∂/∂{letter}: {text}" for letter, text in row.derivatives)


def _why_text(why: str) -> str:
    """ "stable: the composite overflows" -> "stable — the composite overflows"."""
    return why.replace(": ", " — ", 1)


INTRO = (
    "Generated from the primitives themselves (chainrule/ops), so it cannot drift from what "
    "the engine runs. Each op is written f(x, y, …) = its forward, then its local derivative "
    "by each input; G and g stand for the gradient arriving from above. The engine multiplies "
    "each local derivative by that gradient (a vector-Jacobian product) and sums the result "
    "back to the input's shape. Ops composed from these (silu, gelu, var, layer_norm, "
    "dropout …) inherit their derivatives from them."
)


def render_handout(markdown: bool = False, only: Sequence[str] = ()) -> str:
    """The handout as plain text (a block per op) or as Markdown (a table per section);
    ``only`` keeps the primitives it names."""
    title = "Every derivative in chainrule's op table"
    if markdown:
        lines = [f"# {title}", "", INTRO]
    else:
        lines = [title, "=" * len(title), "", *textwrap.wrap(INTRO, 92)]
    current = None
    for row in handout_rows():
        if only and row.name not in only:
            continue
        if row.section != current:
            current = row.section
            heading = SECTIONS.get(current, current)
            if markdown:
                lines += ["", f"## {heading}", ""]
                lines += ["| op | local derivatives | parameters | why a primitive |"]
                lines += ["| --- | --- | --- | --- |"]
            else:
                lines += ["", heading, "-" * len(heading)]
        parameters = ", ".join(row.parameters) or "—"
        head = f"{_call(row)} = {row.forward}" if row.forward else _call(row)
        if markdown:
            cells = [head, _derivatives_text(row), parameters, _why_text(row.why or "") or "—"]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        else:
            lines.append(head)
            lines.append(f"    {_derivatives_text(row)}")
            if row.parameters:
                lines.append(f"    parameters: {parameters}")
            if row.why:
                lines.append(f"    why a primitive: {_why_text(row.why)}")
    return "\n".join(lines).rstrip() + "\n"
