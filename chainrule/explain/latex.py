"""The LaTeX the explainer writes: numbers in their shortest exact form, parentheses only where
a place needs them, an op's formula instantiated with its operands' names, and products of
local derivatives with their numeric factors folded together."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

__all__ = [
    "format_number",
    "is_atomic",
    "number_tex",
    "paren",
    "product_tex",
    "simplify",
    "split_factors",
    "substitute",
]


_TOKEN = re.compile(r"\\(?:operatorname|text|mathrm)\s*\{[^{}]*\}|\\[A-Za-z]+|[A-Za-z]|\s+|.")


def format_number(value: float, dtype: Any = np.float64) -> str:
    """The shortest text that reads back as ``value`` in its dtype: 0.5, 2, -1, 1e-05."""
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    scalar = np.dtype(dtype).type(value) if np.dtype(dtype).kind == "f" else value
    if 1e-4 <= abs(value) < 1e15:
        return np.format_float_positional(scalar, unique=True, trim="-")
    return np.format_float_scientific(scalar, unique=True, trim="-")


def number_tex(value: float, dtype: Any = np.float64) -> str:
    text = format_number(value, dtype)
    if "e" in text:
        mantissa, _, exponent = text.partition("e")
        return rf"{mantissa} \times 10^{{{int(exponent)}}}"
    return text


def _top_level(text: str) -> list[tuple[int, str]]:
    """(position, char) of the characters outside any {} or () group."""
    depth = 0
    found = []
    for position, char in enumerate(text):
        if char in "{([":
            depth += 1
        elif char in "})]":
            depth -= 1
        elif depth == 0:
            found.append((position, char))
    return found


def is_atomic(tex: str, weak: bool = False) -> bool:
    """Whether ``tex`` can sit next to an operator without parentheses (``weak``: next to a
    product, where only a sum, a difference or a sign needs them)."""
    if tex.startswith("(") and _wrapped(tex):
        return True
    return not any(char in ("+-" if weak else "+-^/ ,") for _, char in _top_level(tex))


def _wrapped(tex: str) -> bool:
    depth = 0
    for position, char in enumerate(tex):
        depth += char == "("
        depth -= char == ")"
        if depth == 0 and position < len(tex) - 1:
            return False
    return tex.endswith(")")


def paren(tex: str) -> str:
    return tex if is_atomic(tex) else f"({tex})"


def substitute(template: str, mapping: Mapping[str, str], bare: Iterable[str] = ()) -> str:
    """Replace the single-letter (or command) tokens of ``template`` found in ``mapping``,
    each in parentheses where its place needs them: none inside ``(x)`` or ``{x}``, for a
    compound base of a power (``x^{2}``), and for a sum or difference next to any operator.
    Letters in ``bare`` are never wrapped (the left operand of x + y)."""
    tokens = _TOKEN.findall(template)
    out = []
    for position, token in enumerate(tokens):
        value = mapping.get(token)
        if value is None:
            out.append(token)
            continue
        before = tokens[position - 1] if position else ""
        after = tokens[position + 1] if position + 1 < len(tokens) else ""
        if (
            token in bare
            or (before in ("(", "{") and after in (")", "}"))
            or (not before.strip() and not after.strip() and len(tokens) == 1)
        ):
            out.append(value)
        elif after == "^":
            out.append(paren(value))
        else:
            out.append(value if is_atomic(value, weak=True) else f"({value})")
    return "".join(out)


_EXPONENT = re.compile(r"\{(-?\d+(?:\.\d+)?)-1\}")


def simplify(tex: str) -> str:
    """Tidy an instantiated formula: ``x^{2-1}`` -> ``x``, ``x^{0.5-1}`` -> ``x^{-0.5}``."""
    tex = _EXPONENT.sub(lambda m: "{" + format_number(float(m.group(1)) - 1) + "}", tex)
    return tex.replace("^{1}", "")


def split_factors(tex: str) -> tuple[float, list[str]]:
    """A product as (numeric coefficient, symbolic factors): ``2\\,(t - a)`` -> (2, ["(t - a)"])."""
    tex = tex.strip()
    coefficient = 1.0
    if tex.startswith("-") and not any(c in "+-" for _, c in _top_level(tex[1:])):
        coefficient, tex = -1.0, tex[1:].strip()
    if any(c in "+-" for _, c in _top_level(tex)):  # a sum is one factor
        return coefficient, [tex]
    parts, start = [], 0
    for position, char in _top_level(tex):
        if char == "\\" and tex.startswith((r"\,", r"\cdot"), position):
            parts.append(tex[start:position])
            start = position + (2 if tex.startswith(r"\,", position) else 5)
    parts.append(tex[start:])
    factors = []
    for part in (p.strip() for p in parts):
        try:
            coefficient *= float(part)
        except ValueError:
            if part:
                factors.append(part)
    return coefficient, factors


def _loose(tex: str) -> bool:
    """Whether ``tex`` has a space outside any group (``x \\cdot y``), so that a factor after
    it would seem to belong to it."""
    return any(char == " " for _, char in _top_level(tex))


def product_tex(formulas: list[str | None]) -> str | None:
    """The product of several local-derivative formulas, numeric factors folded together."""
    coefficient, factors = 1.0, []
    for formula in formulas:
        if formula is None:
            return None
        c, f = split_factors(formula)
        coefficient *= c
        factors.extend(f)
    if not factors:
        return number_tex(coefficient)
    last = len(factors) - 1
    # a factor in parentheses or a function's argument list needs no more: σ(x), (t − a)
    body = (
        factors[0]
        if len(factors) == 1 and coefficient == 1
        else r"\,".join(
            f if is_atomic(f, weak=True) and (k == last or not _loose(f)) else f"({f})"
            for k, f in enumerate(factors)
        )
    )
    if coefficient == 1:
        return body
    if coefficient == -1:
        return "-" + paren(body) if len(factors) == 1 else "-" + body
    return number_tex(coefficient) + r"\," + body
