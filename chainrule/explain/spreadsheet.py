"""The seed network's training as an ``.xlsx`` of live formulas: the classic course exercise,
generated. Change the learning rate or a starting value and every row recomputes.

The sheet is a view of one record, :data:`SEED_COLUMNS`: each quantity of the seeds' 2-2-2
network with its formula written in the seeds' names (``1/(1+EXP(-{h1}))``). Writing the
workbook only turns those names into cell references.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WEIGHTS = tuple(f"w{k}" for k in range(1, 9))
GRADIENTS = tuple(f"∂E/∂w{k}" for k in range(1, 9))
# The parameter block: learning rate, inputs, targets and starting weights, in this order.
PARAMETERS = ("lr", "i1", "i2", "t1", "t2") + WEIGHTS

TITLE_ROW = 1
PARAMETER_HEADER_ROW = 3
PARAMETER_ROW = 4
TABLE_HEADER_ROW = 6
FIRST_DATA_ROW = 7


@dataclass(frozen=True)
class Column:
    """One quantity of the table: its name and its formula in the seeds' names.

    ``{x}`` is quantity x in the same row, ``{prev:x}`` in the row above, ``{start:x}`` the
    parameter cell x. ``first`` is the formula of the first row when it differs.
    """

    name: str
    formula: str
    first: str | None = None


def _output_delta(k: int, output_activation: str) -> str:
    """∂E_total/∂o_k, as ∂E/∂a_ok · ∂a_ok/∂o_k (the second factor is 1 for identity)."""
    error = f"({{a_o{k}}}-{{t{k}}})"
    if output_activation == "identity":
        return error
    return f"{error}*{{a_o{k}}}*(1-{{a_o{k}}})"


def seed_columns(output_activation: str = "sigmoid") -> tuple[Column, ...]:
    """The table's columns for the seeds' 2-2-2 network, in order.

    Parameters
    ----------
    output_activation : {"sigmoid", "identity"}
        The output layer's activation: seed 001's sigmoid or seed 000's identity.

    Examples
    --------
    >>> [c.name for c in seed_columns()][:6]
    ['i1', 'i2', 't1', 't2', 'h1', 'a_h1']
    >>> next(c.formula for c in seed_columns() if c.name == "a_h1")
    '1/(1+EXP(-{h1}))'
    """
    if output_activation not in ("sigmoid", "identity"):
        raise ValueError(f"output_activation must be 'sigmoid' or 'identity', "
                         f"not {output_activation!r}")
    output = "1/(1+EXP(-{o%d}))" if output_activation == "sigmoid" else "{o%d}"
    delta = {k: _output_delta(k, output_activation) for k in (1, 2)}
    # ∂E_total/∂a_h1 sums the two paths through o1 (weight w5) and o2 (weight w7); a_h2 uses
    # w6 and w8 — the hidden-layer gradients seed 001 leaves out "for brevity".
    hidden = {1: f"({delta[1]}*{{w5}}+{delta[2]}*{{w7}})",
              2: f"({delta[1]}*{{w6}}+{delta[2]}*{{w8}})"}
    columns = [Column(name, f"{{start:{name}}}") for name in ("i1", "i2", "t1", "t2")]
    columns += [
        Column("h1", "{w1}*{i1}+{w2}*{i2}"),
        Column("a_h1", "1/(1+EXP(-{h1}))"),
        Column("h2", "{w3}*{i1}+{w4}*{i2}"),
        Column("a_h2", "1/(1+EXP(-{h2}))"),
        Column("o1", "{w5}*{a_h1}+{w6}*{a_h2}"),
        Column("a_o1", output % 1),
        Column("o2", "{w7}*{a_h1}+{w8}*{a_h2}"),
        Column("a_o2", output % 2),
        Column("E1", "0.5*({t1}-{a_o1})^2"),
        Column("E2", "0.5*({t2}-{a_o2})^2"),
        Column("E_total", "{E1}+{E2}"),
    ]
    for k, (hidden_unit, inp) in enumerate([(1, 1), (1, 2), (2, 1), (2, 2)], start=1):
        columns.append(Column(f"∂E/∂w{k}", f"{hidden[hidden_unit]}*{{a_h{hidden_unit}}}"
                                           f"*(1-{{a_h{hidden_unit}}})*{{i{inp}}}"))
    for k, (out_unit, hidden_unit) in enumerate([(1, 1), (1, 2), (2, 1), (2, 2)], start=5):
        columns.append(Column(f"∂E/∂w{k}", f"{delta[out_unit]}*{{a_h{hidden_unit}}}"))
    # gradient descent: each row's weights are the row above's minus lr times its gradient
    columns += [Column(w, f"{{prev:{w}}}-{{start:lr}}*{{prev:∂E/∂{w}}}", first=f"{{start:{w}}}")
                for w in WEIGHTS]
    return tuple(columns)


def _letter(index: int) -> str:
    """Spreadsheet column letters of a 1-based column index (1 → A, 27 → AA)."""
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


_PLACEHOLDER = re.compile(r"\{(?:(prev|start):)?([^{}]+)\}")


def cell_formula(column: Column, row: int, columns: Sequence[Column]) -> str:
    """The Excel formula of ``column`` in sheet row ``row``: names become cell references.

    Examples
    --------
    >>> cols = seed_columns()
    >>> a_h1 = next(c for c in cols if c.name == "a_h1")
    >>> cell_formula(a_h1, 7, cols)
    '=1/(1+EXP(-F7))'
    """
    where = {c.name: _letter(i) for i, c in enumerate(columns, start=2)}
    start = {name: f"${_letter(i)}${PARAMETER_ROW}" for i, name in enumerate(PARAMETERS, start=1)}
    template = column.first if row == FIRST_DATA_ROW and column.first else column.formula

    def reference(match: re.Match[str]) -> str:
        kind, name = match.groups()
        if kind == "start":
            return start[name]
        return f"{where[name]}{row - 1 if kind == 'prev' else row}"

    return "=" + _PLACEHOLDER.sub(reference, template)


def write_spreadsheet(path: str | Path = "chainrule-training.xlsx", *, steps: int = 100,
                      example: Any = None, lr: float | None = None,
                      inputs: Sequence[float] | None = None,
                      targets: Sequence[float] | None = None,
                      weights: Sequence[float] | None = None,
                      output_activation: str | None = None) -> Path:
    """Write the seed network's gradient-descent training as live formulas.

    Row ``k`` of the table (iteration ``k``) holds the forward pass, the error and every
    gradient at the weights after ``k`` updates, so there are ``steps + 1`` rows. Only the
    parameter block (learning rate, inputs, targets, starting weights) holds numbers.

    Parameters
    ----------
    path : str or Path
        Where to write the ``.xlsx``.
    steps : int
        Number of gradient-descent updates.
    example : TwoLayerExample, optional
        The starting values; ``chainrule.datasets.TWO_LAYER`` (the seed's) by default.
    lr, inputs, targets, weights, output_activation : optional
        Override the example's learning rate, inputs, targets, w1..w8 (the seeds' wiring) and
        output activation ("sigmoid" or "identity").

    Returns
    -------
    Path
        The file written.
    """
    try:
        from openpyxl import Workbook
        from openpyxl.styles import Alignment, Font, PatternFill
    except ImportError as error:
        raise ImportError("the spreadsheet export needs openpyxl: "
                          "pip install 'chainrule[spreadsheets]' (or pip install openpyxl)"
                          ) from error
    if example is None:
        from chainrule.datasets.seeds import TWO_LAYER

        example = TWO_LAYER
    lr = example.learning_rate if lr is None else lr
    inputs = example.inputs if inputs is None else inputs
    targets = example.targets if targets is None else targets
    weights = example.weights if weights is None else weights
    output_activation = output_activation or example.output_activation
    if steps < 0:
        raise ValueError(f"steps must be >= 0, not {steps}")
    if len(inputs) != 2 or len(targets) != 2 or len(weights) != 8:
        raise ValueError(f"the seed network takes 2 inputs, 2 targets and 8 weights; got "
                         f"{len(inputs)}, {len(targets)} and {len(weights)}")
    columns = seed_columns(output_activation)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "training"
    bold = Font(bold=True)
    editable = PatternFill("solid", fgColor="FFF2A8")

    sheet.cell(TITLE_ROW, 1, "chainrule: the seed network's training by gradient descent. "
               "Change a yellow cell (learning rate, input, target, starting weight) and every "
               "row recomputes.").font = bold
    values = [lr, *inputs, *targets, *weights]
    for index, (name, value) in enumerate(zip(PARAMETERS, values, strict=True), start=1):
        label = "learning rate" if name == "lr" else name
        sheet.cell(PARAMETER_HEADER_ROW, index, label).font = bold
        cell = sheet.cell(PARAMETER_ROW, index, float(value))
        cell.fill = editable

    sheet.cell(TABLE_HEADER_ROW, 1, "iteration").font = bold
    for index, column in enumerate(columns, start=2):
        header = sheet.cell(TABLE_HEADER_ROW, index, column.name)
        header.font = bold
        header.alignment = Alignment(horizontal="center")
    for k in range(steps + 1):
        row = FIRST_DATA_ROW + k
        sheet.cell(row, 1, k)
        for index, column in enumerate(columns, start=2):
            cell = sheet.cell(row, index, cell_formula(column, row, columns))
            cell.number_format = "0.000000000"

    sheet.column_dimensions["A"].width = 13
    for index in range(2, len(columns) + 2):
        sheet.column_dimensions[_letter(index)].width = 13
    sheet.freeze_panes = sheet.cell(FIRST_DATA_ROW, 2)
    path = Path(path)
    workbook.save(path)
    return path
