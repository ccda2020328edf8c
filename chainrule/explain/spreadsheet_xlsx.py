"""Writing a :class:`SheetLayout` as an ``.xlsx``: with openpyxl when it is installed, else
with the standard library's ``zipfile`` (the same cells, formulas and styles)."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from chainrule.explain.spreadsheet_layout import (
    FIRST_DATA_ROW,
    PARAMETER_HEADER_ROW,
    PARAMETER_ROW,
    TABLE_HEADER_ROW,
    TITLE_ROW,
    SheetLayout,
    _letter,
    cell_formula,
    seed_layout,
)

NUMBER_FORMAT = "0.000000000"
COLUMN_WIDTH = 13
OPENPYXL_MISSING = (
    "openpyxl is not installed, so chainrule wrote the workbook with its own writer (the same "
    "formulas and layout); pip install 'chainrule[spreadsheets]' writes it with openpyxl"
)


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
