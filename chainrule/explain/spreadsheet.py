"""The seed network's training as an ``.xlsx`` of live formulas: the classic course exercise,
generated. Change the learning rate or a starting value and every row recomputes.

The sheet is a view of one record, :class:`SheetLayout`: the parameter cells and each quantity
of the seeds' 2-2-2 network with its formula written in the seeds' names
(``1/(1+EXP(-{h1}))``). Writing the workbook only turns those names into cell references.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

WEIGHTS = tuple(f"w{k}" for k in range(1, 9))
BIASES = ("b1", "b2")

TITLE_ROW = 1
PARAMETER_HEADER_ROW = 3
PARAMETER_ROW = 4
TABLE_HEADER_ROW = 6
FIRST_DATA_ROW = 7
NUMBER_FORMAT = "0.000000000"
COLUMN_WIDTH = 13
TITLE = (
    "chainrule: the seed network's training by gradient descent. "
    "Change a yellow cell (learning rate, input, target, starting weight) and every "
    "row recomputes."
)

OPENPYXL_MISSING = (
    "openpyxl is not installed, so chainrule wrote the workbook with its own writer (the same "
    "formulas and layout); pip install 'chainrule[spreadsheets]' writes it with openpyxl"
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


def write_spreadsheet(
    path: str | Path = "chainrule-training.xlsx", config: Any = None, *, steps: int = 100
) -> Path:
    """Write the seed network's gradient-descent training as live formulas.

    Row ``k`` of the table (iteration ``k``) holds the forward pass, the error and every
    gradient at the weights after ``k`` updates, so there are ``steps + 1`` rows. Only the
    parameter block (learning rate, inputs, targets, starting weights, biases) holds numbers.
    With openpyxl installed it writes the workbook; without it, :func:`write_plain_xlsx` writes
    the same cells, formulas and styles with the standard library.

    Parameters
    ----------
    path : str or Path
        Where to write the ``.xlsx``.
    config : SeedConfig or OneWeightConfig, optional
        The network and its starting values (``chainrule.explain.seeds.SeedConfig``; the
        seed's by default): learning rate, inputs, targets, w1..w8, output activation, biases;
        or the one-weight example's x, y, W, b.
    steps : int
        Number of gradient-descent updates.

    Returns
    -------
    Path
        The file written.
    """
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, not {steps!r}")
    try:
        from openpyxl import Workbook
        from openpyxl.styles import Alignment, Font, PatternFill
    except ImportError:
        return write_plain_xlsx(path, config, steps=steps)
    layout = seed_layout(config)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "training"
    bold = Font(bold=True)
    editable = PatternFill("solid", fgColor="FFF2A8")

    sheet.cell(TITLE_ROW, 1, layout.title).font = bold
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
            cell.number_format = NUMBER_FORMAT

    for index in range(1, len(layout.columns) + 2):
        sheet.column_dimensions[_letter(index)].width = COLUMN_WIDTH
    sheet.freeze_panes = sheet.cell(FIRST_DATA_ROW, 2)
    path = Path(path)
    workbook.save(path)
    return path


# ---- the same workbook with the standard library (no openpyxl) -------------------------------
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE = "http://schemas.openxmlformats.org/package/2006"
_PARTS = {
    "[Content_Types].xml": (
        f'<Types xmlns="{_PACKAGE}/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
        'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.styles+xml"/></Types>'
    ),
    "_rels/.rels": (
        f'<Relationships xmlns="{_PACKAGE}/relationships"><Relationship Id="rId1" '
        f'Type="{_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        f'<workbook xmlns="{_MAIN}" xmlns:r="{_RELS}"><sheets><sheet name="training" '
        'sheetId="1" r:id="rId1"/></sheets><calcPr calcId="0" fullCalcOnLoad="1"/></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        f'<Relationships xmlns="{_PACKAGE}/relationships">'
        f'<Relationship Id="rId1" Type="{_RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_RELS}/styles" Target="styles.xml"/></Relationships>'
    ),
    # cell styles: 0 plain, 1 bold, 2 bold centred, 3 yellow centred, 4 the table's numbers
    "xl/styles.xml": (
        f'<styleSheet xmlns="{_MAIN}"><numFmts count="1"><numFmt numFmtId="164" '
        'formatCode="0.000000000"/></numFmts><fonts count="2"><font><sz val="11"/>'
        '<name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font>'
        '</fonts><fills count="3"><fill><patternFill patternType="none"/></fill><fill>'
        '<patternFill patternType="gray125"/></fill><fill><patternFill patternType="solid">'
        '<fgColor rgb="00FFF2A8"/><bgColor rgb="00FFF2A8"/></patternFill></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border>'
        '</borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" '
        'borderId="0"/></cellStyleXfs><cellXfs count="5">'
        '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
        '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" '
        'applyAlignment="1"><alignment horizontal="center"/></xf>'
        '<xf numFmtId="0" fontId="0" fillId="2" borderId="0" xfId="0" applyFill="1" '
        'applyAlignment="1"><alignment horizontal="center"/></xf>'
        '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" '
        'applyNumberFormat="1"/></cellXfs><cellStyles count="1"><cellStyle name="Normal" '
        'xfId="0" builtinId="0"/></cellStyles></styleSheet>'
    ),
}


def _text_cell(ref: str, text: str, style: int) -> str:
    return f'<c r="{ref}" s="{style}" t="inlineStr"><is><t>{escape(text)}</t></is></c>'


def _sheet_xml(layout: SheetLayout, steps: int) -> str:
    rows = [f'<row r="{TITLE_ROW}">{_text_cell(f"A{TITLE_ROW}", layout.title, 1)}</row>']
    headers, values = [], []
    for index, (name, value) in enumerate(layout.parameters, start=1):
        letter = _letter(index)
        label = "learning rate" if name == "lr" else name
        headers.append(_text_cell(f"{letter}{PARAMETER_HEADER_ROW}", label, 2))
        values.append(f'<c r="{letter}{PARAMETER_ROW}" s="3"><v>{value!r}</v></c>')
    rows.append(f'<row r="{PARAMETER_HEADER_ROW}">{"".join(headers)}</row>')
    rows.append(f'<row r="{PARAMETER_ROW}">{"".join(values)}</row>')
    header = [_text_cell(f"A{TABLE_HEADER_ROW}", "iteration", 1)] + [
        _text_cell(f"{_letter(index)}{TABLE_HEADER_ROW}", column.name, 2)
        for index, column in enumerate(layout.columns, start=2)
    ]
    rows.append(f'<row r="{TABLE_HEADER_ROW}">{"".join(header)}</row>')
    for k in range(steps + 1):
        row = FIRST_DATA_ROW + k
        cells = [f'<c r="A{row}"><v>{k}</v></c>'] + [
            f'<c r="{_letter(index)}{row}" s="4">'
            f"<f>{escape(cell_formula(layout, column, row)[1:])}</f></c>"
            for index, column in enumerate(layout.columns, start=2)
        ]
        rows.append(f'<row r="{row}">{"".join(cells)}</row>')
    last = _letter(len(layout.columns) + 1)
    corner = f"B{FIRST_DATA_ROW}"
    return (
        f'<worksheet xmlns="{_MAIN}"><dimension ref="A1:{last}{FIRST_DATA_ROW + steps}"/>'
        f'<sheetViews><sheetView workbookViewId="0">'
        f'<pane xSplit="1" ySplit="{FIRST_DATA_ROW - 1}" topLeftCell="{corner}" '
        f'activePane="bottomRight" state="frozen"/></sheetView></sheetViews>'
        f'<cols><col min="1" max="{len(layout.columns) + 1}" width="{COLUMN_WIDTH}" '
        f'customWidth="1"/></cols><sheetData>{"".join(rows)}</sheetData></worksheet>'
    )


def write_plain_xlsx(
    path: str | Path = "chainrule-training.xlsx", config: Any = None, *, steps: int = 100
) -> Path:
    """:func:`write_spreadsheet`'s workbook written with ``zipfile`` alone (no openpyxl): the
    same cells, live formulas, yellow parameter cells, number format and frozen panes. No
    value is cached, so a spreadsheet program computes every formula when it opens the file.
    """
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, not {steps!r}")
    path = Path(path)
    parts = {**_PARTS, "xl/worksheets/sheet1.xml": _sheet_xml(seed_layout(config), steps)}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, xml in parts.items():
            archive.writestr(name, _XML + xml)
    return path
