"""The seed network's training as an ``.xlsx`` of live formulas: the classic course exercise,
generated. Change the learning rate or a starting value and every row recomputes.

The sheet is a view of one record, :class:`SheetLayout`: the parameter cells and each quantity
of the seeds' 2-2-2 network with its formula written in the seeds' names
(``1/(1+EXP(-{h1}))``). Writing the workbook only turns those names into cell references.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WEIGHTS = tuple(f"w{k}" for k in range(1, 9))
BIASES = ("b1", "b2")

TITLE_ROW = 1
PARAMETER_HEADER_ROW = 3
PARAMETER_ROW = 4
TABLE_HEADER_ROW = 6
FIRST_DATA_ROW = 7

OPENPYXL_MISSING = (
    "the spreadsheet export needs openpyxl: "
    "pip install 'chainrule[spreadsheets]' (or pip install openpyxl)"
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


def _output_delta(k: int, output_activation: str) -> str:
    """∂E_total/∂o_k, as ∂E/∂a_ok · ∂a_ok/∂o_k (the second factor is 1 for identity)."""
    error = f"({{a_o{k}}}-{{t{k}}})"
    if output_activation == "identity":
        return error
    return f"{error}*{{a_o{k}}}*(1-{{a_o{k}}})"


def _descent(name: str) -> Column:
    # gradient descent: each row's value is the row above's minus lr times its gradient
    return Column(
        name, f"{{prev:{name}}}-{{start:lr}}*{{prev:∂E/∂{name}}}", first=f"{{start:{name}}}"
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


def seed_layout(config: Any = None) -> SheetLayout:
    """The sheet for a :class:`chainrule.explain.seeds.SeedConfig` (the seed's by default)."""
    from chainrule.explain.seeds import SeedConfig

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


def write_spreadsheet(
    path: str | Path = "chainrule-training.xlsx", config: Any = None, *, steps: int = 100
) -> Path:
    """Write the seed network's gradient-descent training as live formulas.

    Row ``k`` of the table (iteration ``k``) holds the forward pass, the error and every
    gradient at the weights after ``k`` updates, so there are ``steps + 1`` rows. Only the
    parameter block (learning rate, inputs, targets, starting weights, biases) holds numbers.

    Parameters
    ----------
    path : str or Path
        Where to write the ``.xlsx``.
    config : SeedConfig, optional
        The network and its starting values (``chainrule.explain.seeds.SeedConfig``; the
        seed's by default): learning rate, inputs, targets, w1..w8, output activation, biases.
    steps : int
        Number of gradient-descent updates.

    Returns
    -------
    Path
        The file written.
    """
    try:
        from openpyxl import Workbook
        from openpyxl.styles import Alignment, Font, PatternFill
    except ImportError as error:
        raise ImportError(OPENPYXL_MISSING) from error
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, not {steps!r}")
    layout = seed_layout(config)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "training"
    bold = Font(bold=True)
    editable = PatternFill("solid", fgColor="FFF2A8")

    sheet.cell(
        TITLE_ROW,
        1,
        "chainrule: the seed network's training by gradient descent. "
        "Change a yellow cell (learning rate, input, target, starting weight) and every "
        "row recomputes.",
    ).font = bold
    for index, (name, value) in enumerate(layout.parameters, start=1):
        label = "learning rate" if name == "lr" else name
        header = sheet.cell(PARAMETER_HEADER_ROW, index, label)
        header.font = bold
        cell = sheet.cell(PARAMETER_ROW, index, value)
        cell.fill = editable
        header.alignment = cell.alignment = Alignment(horizontal="center")

    sheet.cell(TABLE_HEADER_ROW, 1, "iteration").font = bold
    for index, column in enumerate(layout.columns, start=2):
        header = sheet.cell(TABLE_HEADER_ROW, index, column.name)
        header.font = bold
        header.alignment = Alignment(horizontal="center")
    for k in range(steps + 1):
        row = FIRST_DATA_ROW + k
        sheet.cell(row, 1, k)
        for index, column in enumerate(layout.columns, start=2):
            cell = sheet.cell(row, index, cell_formula(layout, column, row))
            cell.number_format = "0.000000000"

    for index in range(1, len(layout.columns) + 2):
        sheet.column_dimensions[_letter(index)].width = 13
    sheet.freeze_panes = sheet.cell(FIRST_DATA_ROW, 2)
    path = Path(path)
    workbook.save(path)
    return path
