"""The seed network's training as an ``.xlsx`` of live formulas: the classic course exercise,
generated. Change the learning rate or a starting value and every row recomputes.

The sheet is a view of one record, :class:`SheetLayout`: the parameter cells and each quantity
of the seeds' 2-2-2 network with its formula written in the seeds' names
(``1/(1+EXP(-{h1}))``). Writing the workbook only turns those names into cell references.

``from chainrule.explain.spreadsheet import ...`` keeps working for all of it; each part lives
in the module of its concept:

- ``chainrule.explain.spreadsheet_layout``: SheetLayout, Column, seed_columns,
  one_weight_columns, seed_layout, cell_formula and where each block of the sheet sits
- ``chainrule.explain.spreadsheet_xlsx``: write_spreadsheet (openpyxl) and write_plain_xlsx
  (the standard library), the number format and column width
"""

from __future__ import annotations

from chainrule.explain.spreadsheet_layout import (
    BIASES,
    FIRST_DATA_ROW,
    PARAMETER_HEADER_ROW,
    PARAMETER_ROW,
    TABLE_HEADER_ROW,
    TITLE,
    TITLE_ROW,
    WEIGHTS,
    Column,
    SheetLayout,
    cell_formula,
    one_weight_columns,
    seed_columns,
    seed_layout,
)
from chainrule.explain.spreadsheet_layout import _letter as _letter  # tests use it
from chainrule.explain.spreadsheet_xlsx import (
    COLUMN_WIDTH,
    NUMBER_FORMAT,
    OPENPYXL_MISSING,
    write_plain_xlsx,
    write_spreadsheet,
)

__all__ = [
    "BIASES",
    "COLUMN_WIDTH",
    "FIRST_DATA_ROW",
    "NUMBER_FORMAT",
    "OPENPYXL_MISSING",
    "PARAMETER_HEADER_ROW",
    "PARAMETER_ROW",
    "TABLE_HEADER_ROW",
    "TITLE",
    "TITLE_ROW",
    "WEIGHTS",
    "Column",
    "SheetLayout",
    "cell_formula",
    "one_weight_columns",
    "seed_columns",
    "seed_layout",
    "write_plain_xlsx",
    "write_spreadsheet",
]
