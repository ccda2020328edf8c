"""The live-formula spreadsheet: recomputed by an independent engine (LibreOffice headless),
every cell equals chainrule's own training of the seed network, also after the learning-rate
cell and a starting weight are changed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import chainrule as cr
from chainrule.datasets import TWO_LAYER
from chainrule.explain import spreadsheet
from chainrule.explain.spreadsheet import (
    FIRST_DATA_ROW,
    PARAMETER_ROW,
    PARAMETERS,
    TABLE_HEADER_ROW,
    write_spreadsheet,
)

openpyxl = pytest.importorskip("openpyxl")

STEPS = 30
DEFAULT_WEIGHTS = TWO_LAYER.weights


def engine_rows(lr: float, weights: tuple[float, ...], steps: int,
                output_activation: str = "sigmoid") -> list[dict[str, float]]:
    """The seed network trained by chainrule's engine, one dict per iteration, keyed like the
    sheet's header. Scalar tensors so each named quantity is one engine value."""
    i1, i2, t1, t2 = (cr.tensor(v, dtype=cr.float64) for v in (0.05, 0.10, 0.5, 0.5))
    w = [float(v) for v in weights]
    rows = []
    for k in range(steps + 1):
        ws = [cr.tensor(v, dtype=cr.float64, requires_grad=True) for v in w]
        h1 = ws[0] * i1 + ws[1] * i2
        h2 = ws[2] * i1 + ws[3] * i2
        a_h1, a_h2 = h1.sigmoid(), h2.sigmoid()
        o1 = ws[4] * a_h1 + ws[5] * a_h2
        o2 = ws[6] * a_h1 + ws[7] * a_h2
        act = (lambda x: x.sigmoid()) if output_activation == "sigmoid" else (lambda x: x)
        a_o1, a_o2 = act(o1), act(o2)
        E1 = 0.5 * (t1 - a_o1) ** 2
        E2 = 0.5 * (t2 - a_o2) ** 2
        E_total = E1 + E2
        E_total.backward()
        named = dict(iteration=k, i1=i1, i2=i2, t1=t1, t2=t2, h1=h1, a_h1=a_h1, h2=h2,
                     a_h2=a_h2, o1=o1, a_o1=a_o1, o2=o2, a_o2=a_o2, E1=E1, E2=E2,
                     E_total=E_total)
        row = {name: float(v.item()) if isinstance(v, cr.Tensor) else v
               for name, v in named.items()}
        row.update({f"∂E/∂w{j}": float(wt.grad.item()) for j, wt in enumerate(ws, start=1)})
        row.update({f"w{j}": v for j, v in enumerate(w, start=1)})
        rows.append(row)
        w = [v - lr * float(wt.grad.item()) for v, wt in zip(w, ws, strict=True)]
    return rows


def recalculate(path: Path, workdir: Path) -> Path:
    """LibreOffice headless opens the sheet (computing every formula) and saves it again, with
    the computed values cached in the file. Its own profile directory, so parallel runs and
    other LibreOffice instances don't collide."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed: "
                    "apt-get install -y --no-install-recommends libreoffice-calc")
    outdir = workdir / "recalculated"
    profile = (workdir / "lo-profile").resolve().as_uri()
    subprocess.run([soffice, f"-env:UserInstallation={profile}", "--headless", "--norestore",
                    "--convert-to", "xlsx", "--outdir", str(outdir), str(path)],
                   check=True, capture_output=True, timeout=120)
    out = outdir / path.name
    assert out.exists(), f"LibreOffice wrote nothing for {path}"
    return out


def sheet_rows(path: Path) -> list[dict[str, float]]:
    sheet = openpyxl.load_workbook(path, data_only=True).active
    header = [c.value for c in sheet[TABLE_HEADER_ROW]]
    return [dict(zip(header, row, strict=True))
            for row in sheet.iter_rows(min_row=FIRST_DATA_ROW, values_only=True)]


def assert_same(got: list[dict[str, float]], expected: list[dict[str, float]]) -> None:
    assert len(got) == len(expected)
    assert list(got[0]) == list(expected[0]), "sheet columns differ from the engine's names"
    for row_got, row_expected in zip(got, expected, strict=True):
        for name, value in row_expected.items():
            cell = row_got[name]
            assert isinstance(cell, (int, float)), (
                f"iteration {row_expected['iteration']}, {name}: no number in the sheet ({cell!r})")
            assert cell == pytest.approx(value, rel=1e-12, abs=1e-300), (
                f"iteration {row_expected['iteration']}, {name}: sheet {cell!r}, engine {value!r}")


def test_every_table_cell_is_a_formula(tmp_path: Path) -> None:
    path = write_spreadsheet(tmp_path / "s.xlsx", steps=3)
    sheet = openpyxl.load_workbook(path).active
    params = [c.value for c in sheet[PARAMETER_ROW]][:len(PARAMETERS)]
    assert params == [0.5, 0.05, 0.10, 0.5, 0.5, *DEFAULT_WEIGHTS]
    for row in sheet.iter_rows(min_row=FIRST_DATA_ROW, min_col=2, values_only=True):
        assert all(isinstance(v, str) and v.startswith("=") for v in row), row
    header = [c.value for c in sheet[TABLE_HEADER_ROW]]
    w5 = sheet.cell(FIRST_DATA_ROW + 1, header.index("w5") + 1).value
    grad_w5 = spreadsheet._letter(header.index("∂E/∂w5") + 1)
    assert w5 == f"=AC{FIRST_DATA_ROW}-$A${PARAMETER_ROW}*{grad_w5}{FIRST_DATA_ROW}"
    a_h1 = sheet.cell(FIRST_DATA_ROW, header.index("a_h1") + 1).value
    assert a_h1 == f"=1/(1+EXP(-F{FIRST_DATA_ROW}))"
    assert sheet.max_row == FIRST_DATA_ROW + 3


def test_libreoffice_recomputes_the_engines_numbers(tmp_path: Path) -> None:
    path = write_spreadsheet(tmp_path / "seed.xlsx", steps=STEPS)
    got = sheet_rows(recalculate(path, tmp_path))
    assert_same(got, engine_rows(0.5, DEFAULT_WEIGHTS, STEPS))
    # the seed's numbers, independently of both engines: E_total before any update
    assert got[0]["a_h1"] == pytest.approx(1 / (1 + 2.718281828459045 ** -0.0275), rel=1e-12)


def test_changed_learning_rate_and_weight_cells_recompute(tmp_path: Path) -> None:
    path = write_spreadsheet(tmp_path / "seed.xlsx", steps=STEPS)
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.active
    sheet.cell(PARAMETER_ROW, PARAMETERS.index("lr") + 1).value = 0.1
    sheet.cell(PARAMETER_ROW, PARAMETERS.index("w1") + 1).value = 0.3
    sheet.cell(PARAMETER_ROW, PARAMETERS.index("w8") + 1).value = -0.2
    changed = tmp_path / "changed.xlsx"
    workbook.save(changed)
    weights = (0.3, *DEFAULT_WEIGHTS[1:7], -0.2)
    assert_same(sheet_rows(recalculate(changed, tmp_path)), engine_rows(0.1, weights, STEPS))


def test_identity_output_variant(tmp_path: Path) -> None:
    path = write_spreadsheet(tmp_path / "identity.xlsx", steps=10, lr=0.2,
                             output_activation="identity")
    got = sheet_rows(recalculate(path, tmp_path))
    assert_same(got, engine_rows(0.2, DEFAULT_WEIGHTS, 10, output_activation="identity"))


def test_bad_arguments_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="8 weights"):
        write_spreadsheet(tmp_path / "x.xlsx", weights=(0.1, 0.2))
    with pytest.raises(ValueError, match="sigmoid"):
        write_spreadsheet(tmp_path / "x.xlsx", output_activation="tanh")


def test_missing_openpyxl_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    with pytest.raises(ImportError, match="pip install"):
        write_spreadsheet(tmp_path / "x.xlsx")
