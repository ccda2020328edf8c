"""The sheet as data: :class:`SheetLayout`, the parameter cells and each quantity of the table
with its formula in the seeds' names (``1/(1+EXP(-{h1}))``), where each block sits, and how a
formula's names become cell references (:func:`cell_formula`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

WEIGHTS = tuple(f"w{k}" for k in range(1, 9))
BIASES = ("b1", "b2")

TITLE_ROW = 1
PARAMETER_HEADER_ROW = 3
PARAMETER_ROW = 4
TABLE_HEADER_ROW = 6
FIRST_DATA_ROW = 7
TITLE = (
    "chainrule: the seed network's training by gradient descent. "
    "Change a yellow cell (learning rate, input, target, starting weight) and every "
    "row recomputes."
)


@dataclass(frozen=True)
class Column:
    """One quantity of the table: its name and its formula in the seeds' names.

    ``{x}`` is quantity x in the same row, ``{prev:x}`` in the row above, ``{start:x}`` the
    parameter cell x. ``first`` is the formula of the first row when it differs.
    """

    name: str
    formula: str
    first: str | None = None


@dataclass(frozen=True)
class SheetLayout:
    """What the sheet holds: the parameter cells (name, starting value) and the table's
    columns, left to right."""

    parameters: tuple[tuple[str, float], ...]
    columns: tuple[Column, ...]
    title: str = TITLE


def _output_delta(k: int, output_activation: str) -> str:
    """∂E_total/∂o_k, as ∂E/∂a_ok · ∂a_ok/∂o_k (the second factor is 1 for identity)."""
    error = f"({{a_o{k}}}-{{t{k}}})"
    if output_activation == "identity":
        return error
    return f"{error}*{{a_o{k}}}*(1-{{a_o{k}}})"


def _descent(name: str, loss: str = "E") -> Column:
    # gradient descent: each row's value is the row above's minus lr times its gradient
    return Column(
        name, f"{{prev:{name}}}-{{start:lr}}*{{prev:∂{loss}/∂{name}}}", first=f"{{start:{name}}}"
    )


def seed_columns(
    output_activation: str = "sigmoid", biases: bool = False, train_biases: bool = False
) -> tuple[Column, ...]:
    """The table's columns for the seeds' 2-2-2 network, in order.

    Parameters
    ----------
    output_activation : {"sigmoid", "identity"}
        The output layer's activation: seed 001's sigmoid or seed 000's identity.
    biases : bool
        Add b1 to h1, h2 and b2 to o1, o2 (one bias per layer, as in the classic exercise).
    train_biases : bool
        Give the biases gradient columns and update them like the weights.

    Examples
    --------
    >>> [c.name for c in seed_columns()][:6]
    ['i1', 'i2', 't1', 't2', 'h1', 'a_h1']
    >>> next(c.formula for c in seed_columns() if c.name == "a_h1")
    '1/(1+EXP(-{h1}))'
    >>> next(c.formula for c in seed_columns(biases=True) if c.name == "h1")
    '{w1}*{i1}+{w2}*{i2}+{start:b1}'
    """
    if output_activation not in ("sigmoid", "identity"):
        raise ValueError(
            f"output_activation must be 'sigmoid' or 'identity', not {output_activation!r}"
        )
    output = "1/(1+EXP(-{o%d}))" if output_activation == "sigmoid" else "{o%d}"
    b1, b2 = ("", "")
    if biases:
        b1, b2 = ("+{b1}", "+{b2}") if train_biases else ("+{start:b1}", "+{start:b2}")
    delta = {k: _output_delta(k, output_activation) for k in (1, 2)}
    # ∂E_total/∂a_h1 sums the two paths through o1 (weight w5) and o2 (weight w7); a_h2 uses
    # w6 and w8 — the hidden-layer gradients seed 001 leaves out "for brevity".
    hidden = {
        j: f"({delta[1]}*{{w{4 + j}}}+{delta[2]}*{{w{6 + j}}})*{{a_h{j}}}*(1-{{a_h{j}}})"
        for j in (1, 2)
    }
    columns = [Column(name, f"{{start:{name}}}") for name in ("i1", "i2", "t1", "t2")]
    columns += [
        Column("h1", "{w1}*{i1}+{w2}*{i2}" + b1),
        Column("a_h1", "1/(1+EXP(-{h1}))"),
        Column("h2", "{w3}*{i1}+{w4}*{i2}" + b1),
        Column("a_h2", "1/(1+EXP(-{h2}))"),
        Column("o1", "{w5}*{a_h1}+{w6}*{a_h2}" + b2),
        Column("a_o1", output % 1),
        Column("o2", "{w7}*{a_h1}+{w8}*{a_h2}" + b2),
        Column("a_o2", output % 2),
        Column("E1", "0.5*({t1}-{a_o1})^2"),
        Column("E2", "0.5*({t2}-{a_o2})^2"),
        Column("E_total", "{E1}+{E2}"),
    ]
    wiring = [(1, "i1"), (1, "i2"), (2, "i1"), (2, "i2")]  # w1..w4: (hidden unit, input)
    columns += [
        Column(f"∂E/∂w{k}", f"{hidden[j]}*{{{x}}}") for k, (j, x) in enumerate(wiring, start=1)
    ]
    wiring = [(1, 1), (1, 2), (2, 1), (2, 2)]  # w5..w8: (output unit, hidden unit)
    columns += [
        Column(f"∂E/∂w{k}", f"{delta[j]}*{{a_h{h}}}") for k, (j, h) in enumerate(wiring, start=5)
    ]
    trained = WEIGHTS
    if biases and train_biases:
        # a bias shared by a layer collects the gradient of every neuron it feeds
        columns += [
            Column("∂E/∂b1", f"{hidden[1]}+{hidden[2]}"),
            Column("∂E/∂b2", f"{delta[1]}+{delta[2]}"),
        ]
        trained += BIASES
    columns += [_descent(name) for name in trained]
    return tuple(columns)


def one_weight_columns(train_biases: bool = False) -> tuple[Column, ...]:
    """The table's columns for the one-weight example: z = W·x + b, L = (z − y)².

    Examples
    --------
    >>> [c.name for c in one_weight_columns()]
    ['x', 'y', 'z', 'L', '∂L/∂W', 'W']
    >>> next(c.formula for c in one_weight_columns() if c.name == "∂L/∂W")
    '2*({z}-{y})*{x}'
    """
    bias = "{b}" if train_biases else "{start:b}"
    columns = [Column(name, f"{{start:{name}}}") for name in ("x", "y")]
    columns += [
        Column("z", "{W}*{x}+" + bias),
        Column("L", "({z}-{y})^2"),
        Column("∂L/∂W", "2*({z}-{y})*{x}"),
    ]
    trained = ("W", "b") if train_biases else ("W",)
    if train_biases:
        columns.append(Column("∂L/∂b", "2*({z}-{y})"))
    columns += [_descent(name, "L") for name in trained]
    return tuple(columns)


def seed_layout(config: Any = None) -> SheetLayout:
    """The sheet for a :class:`chainrule.explain.seeds.SeedConfig` (the seed's by default),
    or for a ``OneWeightConfig``: the one-weight example's."""
    from chainrule.explain.seeds import OneWeightConfig, SeedConfig

    if isinstance(config, OneWeightConfig):
        names = ("lr", "x", "y", "W", "b")
        values = (config.lr, config.x, config.y, config.W, config.b)
        return SheetLayout(
            tuple(zip(names, map(float, values), strict=True)),
            one_weight_columns(config.train_biases),
            TITLE.replace("the seed network's", "the one-weight example's").replace(
                "starting weight", "starting weight or bias"
            ),
        )
    config = config or SeedConfig()
    names = ["lr", "i1", "i2", "t1", "t2", *WEIGHTS]
    values = [config.lr, *config.inputs, *config.targets, *config.weights]
    if config.biases is not None:
        names += BIASES
        values += list(config.biases)
    columns = seed_columns(config.output_activation, config.biases is not None, config.train_biases)
    return SheetLayout(tuple(zip(names, map(float, values), strict=True)), columns)


def _letter(index: int) -> str:
    """Spreadsheet column letters of a 1-based column index (1 → A, 27 → AA)."""
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


_PLACEHOLDER = re.compile(r"\{(?:(prev|start):)?([^{}]+)\}")


def cell_formula(layout: SheetLayout, column: Column, row: int) -> str:
    """The Excel formula of ``column`` in sheet row ``row``: names become cell references.

    Examples
    --------
    >>> layout = seed_layout()
    >>> a_h1 = next(c for c in layout.columns if c.name == "a_h1")
    >>> cell_formula(layout, a_h1, 7)
    '=1/(1+EXP(-F7))'
    """
    where = {c.name: _letter(i) for i, c in enumerate(layout.columns, start=2)}
    start = {
        name: f"${_letter(i)}${PARAMETER_ROW}"
        for i, (name, _) in enumerate(layout.parameters, start=1)
    }
    template = column.first if row == FIRST_DATA_ROW and column.first else column.formula

    def reference(match: re.Match[str]) -> str:
        kind, name = match.groups()
        if kind == "start":
            return start[name]
        return f"{where[name]}{row - 1 if kind == 'prev' else row}"

    return "=" + _PLACEHOLDER.sub(reference, template)
