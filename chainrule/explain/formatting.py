"""What every view of the explainer's records shares: LaTeX to plain text, numbers to the
digits a dtype holds, the labels of partial derivatives and paths, and the orders in which a
derivation is shown (nearest the loss first, as backpropagation meets it). The renderers depend
on this module and on the records, not on each other.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from chainrule.explain.latex import paren
from chainrule.explain.records import Derivation
from chainrule.ops.registry import lookup

__all__ = [
    "DIGITS",
    "MAX_PATHS_SHOWN",
    "MAX_STEPS_SHOWN",
    "VJP_LEGEND",
    "backprop_order",
    "format_value",
    "loss_first",
    "partial",
    "path_formulas",
    "path_labels",
    "settings_line",
    "signed_sum",
    "significant_digits",
    "step_in_path",
    "step_label",
    "step_tex",
    "tex_to_text",
    "unique_steps",
    "update_symbol",
    "uses_vjp",
    "values_text",
]

MAX_STEPS_SHOWN = 48  # local derivatives a view lists; the rest are counted
MAX_PATHS_SHOWN = 8  # paths of one derivation a view writes out; the rest are counted


DIGITS = 12


_SYMBOLS = {
    r"\sigma": "σ",
    r"\delta": "δ",
    r"\alpha": "α",
    r"\beta": "β",
    r"\gamma": "γ",
    r"\epsilon": "ε",
    r"\eta": "η",
    r"\theta": "θ",
    r"\lambda": "λ",
    r"\mu": "μ",
    r"\tau": "τ",
    r"\phi": "φ",
    r"\psi": "ψ",
    r"\omega": "ω",
    r"\pi": "π",
    r"\partial": "∂",
    r"\odot": "⊙",
    r"\times": "×",
    r"\cdot": "·",
    r"\le": "≤",
    r"\ge": "≥",
    r"\ne": "≠",
    r"\infty": "∞",
    r"\lnot": "¬",
    r"\sum": "Σ",
    r"\prod": "Π",
    r"\ln": "ln",
    r"\exp": "exp",
    r"\tanh": "tanh",
    r"\sin": "sin",
    r"\cos": "cos",
    r"\max": "max",
    r"\min": "min",
    r"\dots": "…",
    r"\ldots": "…",
    r"\circ": "∘",
    r"\quad": " ",
    r"\textstyle": "",
    r"\displaystyle": "",
    r"\left": "",
    r"\right": "",
    r"\star": "⋆",
    r"\leftarrow": "←",
    r"\lVert": "‖",
    r"\rVert": "‖",
    r"\arg\max": "argmax",
    r"\#": "#",
}

# accents: x̂ (a normalised x), Ḡ (a gradient's conjugate role); an overline is a mean
_ACCENT = re.compile(r"\\(hat|bar)\s*(?:\{(\w)\}|(\w))")
_OVERLINE = re.compile(r"\\overline\{([^{}]*)\}")


_SUPERSCRIPTS = str.maketrans("0123456789-+T", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺ᵀ")


_FRAC = re.compile(r"\\[td]?frac\{([^{}]*)\}\{([^{}]*)\}")


_WORD = re.compile(r"\\(?:operatorname|mathrm|text)\s*\{([^{}]*)\}")


_SQRT = re.compile(r"\\sqrt\{([^{}]*)\}")


_SUP = re.compile(r"\^\{([^{}]*)\}")


_SUB = re.compile(r"([A-Za-zσδαβγεηθλμτφψω])_\{([^{}]*)\}")


def _group(text: str) -> str:
    return text if re.fullmatch(r"[\w.·]+|\(.*\)", text) else f"({text})"


def _subscript(match: re.Match[str]) -> str:
    base, sub = match.group(1), match.group(2)
    if "," in sub:
        return f"{base}[{sub}]"
    return base + (sub if sub.isdigit() and len(base) == 1 else "_" + sub)


def _superscript(match: re.Match[str]) -> str:
    inner = match.group(1)
    if re.fullmatch(r"[0-9T+-]+", inner):
        return inner.translate(_SUPERSCRIPTS)
    return "^" + _group(inner)


def tex_to_text(tex: str | None) -> str:
    """Plain Unicode for the LaTeX the explainer writes: ``a_{o1}\\,(1 - a_{o1})`` ->
    ``a_o1·(1 − a_o1)``, ``w_{1}`` -> ``w1``, ``\\frac{1}{x}`` -> ``1/x``."""
    if tex is None:
        return "?"
    text = tex
    if text == r"\tfrac{1}{2}":
        return "½"
    text = text.replace(r"\tfrac{1}{2}", "½")
    text = text.replace(r"\,", "·").replace(r"\;", " ").replace(r"\!", "")
    text = text.replace(r"\{", "\x01").replace(r"\}", "\x02")  # literal braces, kept
    text = _ACCENT.sub(
        lambda m: (m.group(2) or m.group(3)) + ("\u0302" if m.group(1) == "hat" else "\u0304"),
        text,
    )
    for command in sorted(_SYMBOLS, key=len, reverse=True):
        text = re.sub(re.escape(command) + r"(?![A-Za-z])", _SYMBOLS[command], text)
    # innermost groups first: subscripts and superscripts, then fractions and roots around them
    while True:
        replaced = _WORD.sub(r"\1", text)
        replaced = _SUB.sub(_subscript, replaced)
        replaced = _SUP.sub(_superscript, replaced)
        replaced = _SQRT.sub(lambda m: f"√{_group(m.group(1))}", replaced)
        replaced = _FRAC.sub(lambda m: f"{_group(m.group(1))}/{_group(m.group(2))}", replaced)
        replaced = _OVERLINE.sub(lambda m: f"mean({m.group(1).strip()})", replaced)
        if replaced == text:
            break
        text = replaced
    text = text.replace("{", "").replace("}", "").replace("\x01", "{").replace("\x02", "}")
    text = re.sub(r"(?<=[\w)⁰¹²³⁴⁵⁶⁷⁸⁹ᵀ])(ln|sin|cos|tanh|exp)(?=[ (])", r" \1", text)
    text = re.sub(r"(?<=[\w)\]]) - ", " − ", text).replace("(-", "(−")
    if text.startswith("-"):
        text = "−" + text[1:]
    return re.sub(r" {2,}", " ", text).strip()


def format_value(value: float | None, digits: int = DIGITS) -> str:
    """A number to ``digits`` significant digits, trailing zeros dropped: 0.0275, 0.506874566765."""
    if value is None:
        return "—"
    return format(float(value), f".{digits}g")


def significant_digits(record: Any, digits: int) -> int:
    """At most the digits the record's dtype holds: float32 values print with 8."""
    dtype = getattr(record, "dtype", "float64")
    return min(digits, {"float32": 8, "float16": 4}.get(dtype, digits))


def partial(upper: str, lower: str) -> str:
    return f"∂{upper}/∂{lower}"


def step_label(step: Any) -> str:
    """``∂u/∂w``, or ``∂u/∂w (via input 1 of mul)`` for one route's share of that partial."""
    label = partial(step.upper, step.lower)
    via = getattr(step, "via", "")
    return f"{label} (via {via})" if via else label


def signed_sum(values: Sequence[float], digits: int) -> str:
    """``a + b − c``: the terms of a sum, a negative one after the first written as ``− |c|``."""
    terms = []
    for number, value in enumerate(values):
        if number == 0:
            terms.append(format_value(value, digits))
        elif value < 0:
            terms.append(f"− {format_value(-value, digits)}")
        else:
            terms.append(f"+ {format_value(value, digits)}")
    return " ".join(terms)


def settings_line(run: Any, digits: int) -> str:
    v = run.values
    if run.example == "seed":
        parts = [
            ", ".join(f"{k} = {format_value(v[k], digits)}" for k in ("i1", "i2")),
            ", ".join(f"{k} = {format_value(v[k], digits)}" for k in ("t1", "t2")),
        ]
        if "b1" in v:
            trained = " (trained)" if run.config.get("train_biases") else " (fixed)"
            parts.append(f"b1 = {format_value(v['b1'])}, b2 = {format_value(v['b2'])}{trained}")
        parts.append(f"output activation {run.config['output_activation']}")
    else:
        parts = [
            f"x = {format_value(v['x'])}",
            f"y = {format_value(v['y'])}",
            f"b = {format_value(v['b'])}" + (" (trained)" if "b" in run.parameters else ""),
        ]
    steps = len(run.steps)
    parts += [f"η = {format_value(run.config['lr'])}", f"{steps} step{'s' if steps > 1 else ''}"]
    return " · ".join(parts)


VJP_LEGEND = (
    "f^(*)(g): the vector-Jacobian product of f applied to g "
    "(f's backward: its output's gradient g → its input's)"
)


def uses_vjp(derivations: Any) -> bool:
    """Whether a tensor-level derivation writes an op's backward as ``f^{*}(…)``."""
    return any(
        "^{*}" in (step.formula or "")
        for d in derivations
        for path in getattr(d, "paths", ())
        for step in path.steps
        if hasattr(step, "shape")
    )


def loss_first(quantities: list[Any]) -> list[Any]:
    """Quantities from the loss down, the elements of one tensor in their own order."""
    groups: list[list[Any]] = []
    for q in quantities:
        if groups and _stem(groups[-1][0].name) == _stem(q.name):
            groups[-1].append(q)
        else:
            groups.append([q])
    return [q for group in reversed(groups) for q in group]


def _stem(name: str) -> str:
    return name.rstrip("0123456789]").split("[")[0]


def unique_steps(explanation: Any) -> list[Any]:
    """Every distinct local derivative, nearest the loss first (the order backprop meets them)."""
    first: dict[tuple[str, str, str], tuple[int, int, Any]] = {}
    counter = 0
    for derivation in explanation.derivations:
        if not isinstance(derivation, Derivation):
            continue
        for path in derivation.paths:
            for depth, step in enumerate(path.steps):
                key = (step.upper, step.lower, getattr(step, "via", ""))
                if key not in first:
                    first[key] = (depth, counter, step)
                    counter += 1
                elif depth < first[key][0]:
                    first[key] = (depth, first[key][1], step)
    return [step for _, _, step in sorted(first.values(), key=lambda t: (t[0], t[1]))]


def backprop_order(derivations: Iterable[Any]) -> list[Any]:
    """Parameters nearest the loss first, as backpropagation reaches them (w5..w8, then w1..w4)."""
    items = list(derivations)

    def depth(d: Any) -> int:
        return min((len(p.steps) for p in d.paths), default=0)

    return sorted(items, key=depth)


def path_labels(paths: Sequence[Any]) -> list[str]:
    """ "via E1, a_o1, o1" for each path; paths through the same quantities (x·x) also say
    which input of which op they take."""
    labels = []
    for path in paths:
        inner = path.nodes[1:-1]
        label = "via " + ", ".join(inner) if inner else "directly"
        twins = [p for p in paths if p.nodes == path.nodes]
        if len(twins) > 1:
            inputs = ", ".join(
                f"input {slot + 1} of {op}"
                for step in path.steps
                for op, slot in zip(step.ops, step.slots, strict=False)
                if _takes_two(op)
            )
            label += f" ({inputs})" if inputs else f" (path {twins.index(path) + 1})"
        labels.append(label)
    return labels


def _takes_two(op: str) -> bool:
    """Whether ``op`` has two or more differentiable inputs (so one tensor can be two of them)."""
    primitive = lookup(op)
    return primitive is not None and sum(rule is not None for rule in primitive.grads) > 1


def step_tex(step: Any) -> str:
    r"""A step's local derivative as LaTeX; where the op's table has no element formula (softmax,
    max, conv), the derivative of the ops it crosses: ``\operatorname{softmax}'``."""
    if step.formula is not None:
        return step.formula
    ops = r" \circ ".join(rf"\operatorname{{{op}}}" for op in step.ops)
    return f"({ops})'" if len(step.ops) > 1 else f"{ops}'"


def step_in_path(step: Any, path: Any) -> str:
    """A step's formula as a factor of its path's product: compound ones in parentheses, unless
    the path is that one step (then the parentheses would only repeat the formula)."""
    return paren(step_tex(step)) if len(path.steps) > 1 else step_tex(step)


def path_formulas(path: Any) -> str:
    """The path's local derivatives as formulas, each compound one in parentheses."""

    return " · ".join(tex_to_text(step_in_path(s, path)) for s in path.steps)


def update_symbol(run: Any) -> str:
    """The parameter in the update rule: its own name when there is one (W), else w."""
    return run.parameters[0] if len(run.parameters) == 1 else "w"


def values_text(value: Any, digits: int) -> str:
    """A float, or a small array's elements, as "0.5, -1, 2"; a big array as its shape."""
    if isinstance(value, float):
        return format_value(value, digits)
    array = value.numpy() if hasattr(value, "numpy") else value
    if array.size > 16:
        return f"shape {array.shape}"
    return ", ".join(format_value(v, digits) for v in array.reshape(-1))
