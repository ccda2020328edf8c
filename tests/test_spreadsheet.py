"""The live-formula spreadsheet: recomputed by an independent engine (LibreOffice headless),
every cell equals chainrule's own training of the seed network, also after the learning-rate
cell and a starting weight are changed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CLI, cli_json

from chainrule.explain import spreadsheet
from chainrule.explain.seeds import SeedConfig, seed_tutorial
from chainrule.explain.spreadsheet import (
    FIRST_DATA_ROW,
    PARAMETER_ROW,
    TABLE_HEADER_ROW,
    seed_layout,
    write_spreadsheet,
)

openpyxl = pytest.importorskip("openpyxl")

STEPS = 30
SEED_WEIGHTS = SeedConfig().weights


def engine_rows(config: SeedConfig, steps: int) -> list[dict[str, float]]:
    """The explainer's recorded training (the real engine), one dict per sheet row, keyed like
    the sheet's header: row k is step k + 1's forward pass and gradients."""
    run = seed_tutorial(config, explain=False, steps=steps + 1)
    header = [c.name for c in seed_layout(config).columns]
    rows = []
    for k, step in enumerate(run.steps):
        row: dict[str, float] = {"iteration": k}
        for name in header:
            if name.startswith("∂E/∂"):
                row[name] = step.gradients[name.removeprefix("∂E/∂")]
            else:
                row[name] = step.values[name]
        rows.append(row)
    return rows


def recalculate(paths: list[Path], workdir: Path) -> dict[str, Path]:
    """LibreOffice headless opens each sheet (computing every formula) and saves it again, with
    the computed values cached in the file: one soffice run for all, in its own profile
    directory so that other LibreOffice instances don't collide with it."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip(
            "LibreOffice (soffice) is not installed: "
            "apt-get install -y --no-install-recommends libreoffice-calc"
        )
    outdir = workdir / "recalculated"
    profile = (workdir / "lo-profile").resolve().as_uri()
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={profile}",
            "--headless",
            "--norestore",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(outdir),
            *map(str, paths),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    done = {path.stem: outdir / path.name for path in paths}
    missing = [name for name, out in done.items() if not out.exists()]
    assert not missing, f"LibreOffice wrote nothing for {missing}"
    return done


def with_changed_cells(path: Path, changes: dict[str, float], out: Path) -> Path:
    """The sheet with some parameter cells changed by hand, as a user would (openpyxl keeps
    the formulas; LibreOffice recomputes them on load)."""
    workbook = openpyxl.load_workbook(path)
    for name, value in changes.items():
        workbook.active.cell(PARAMETER_ROW, parameter_column(name)).value = value
    workbook.save(out)
    return out


# name -> (the config the sheet is written from, the config the engine trains, steps)
CHANGED_WEIGHTS = (0.3, *SeedConfig().weights[1:7], -0.2)
CASES = {
    "seed": (SeedConfig(), SeedConfig(), STEPS),
    "changed": (SeedConfig(), SeedConfig(lr=0.1, weights=CHANGED_WEIGHTS), STEPS),
    "identity": (SeedConfig(lr=0.2, output_activation="identity"),) * 2 + (10,),
    "fixed_biases": (SeedConfig(biases=(0.35, 0.60), targets=(0.01, 0.99)),) * 2 + (10,),
    "trained_biases": (SeedConfig(biases=(0.35, 0.60), train_biases=True, targets=(0.01, 0.99)),)
    * 2
    + (10,),
}


@pytest.fixture(scope="module")
def recalculated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    workdir = tmp_path_factory.mktemp("sheets")
    paths = []
    for name, (config, _, steps) in CASES.items():
        if name == "changed":
            written = write_spreadsheet(workdir / "original.xlsx", config, steps=steps)
            path = with_changed_cells(
                written, {"lr": 0.1, "w1": 0.3, "w8": -0.2}, workdir / "changed.xlsx"
            )
        else:
            path = write_spreadsheet(workdir / f"{name}.xlsx", config, steps=steps)
        paths.append(path)
    return recalculate(paths, workdir)


def sheet_rows(path: Path) -> list[dict[str, float]]:
    sheet = openpyxl.load_workbook(path, data_only=True).active
    header = [c.value for c in sheet[TABLE_HEADER_ROW]]
    return [
        dict(zip(header, row, strict=True))
        for row in sheet.iter_rows(min_row=FIRST_DATA_ROW, values_only=True)
    ]


def assert_same(got: list[dict[str, float]], expected: list[dict[str, float]]) -> None:
    assert len(got) == len(expected)
    assert list(got[0]) == list(expected[0]), "sheet columns differ from the engine's names"
    for row_got, row_expected in zip(got, expected, strict=True):
        for name, value in row_expected.items():
            cell = row_got[name]
            assert isinstance(cell, (int, float)), (
                f"iteration {row_expected['iteration']}, {name}: no number in the sheet ({cell!r})"
            )
            assert cell == pytest.approx(value, rel=1e-12, abs=1e-300), (
                f"iteration {row_expected['iteration']}, {name}: sheet {cell!r}, engine {value!r}"
            )


def parameter_column(name: str, config: SeedConfig | None = None) -> int:
    return [n for n, _ in seed_layout(config).parameters].index(name) + 1


def test_every_table_cell_is_a_formula(tmp_path: Path) -> None:
    path = write_spreadsheet(tmp_path / "s.xlsx", steps=3)
    sheet = openpyxl.load_workbook(path).active
    params = [c.value for c in sheet[PARAMETER_ROW]][:13]
    assert params == [0.5, 0.05, 0.10, 0.5, 0.5, *SEED_WEIGHTS]
    for row in sheet.iter_rows(min_row=FIRST_DATA_ROW, min_col=2, values_only=True):
        assert all(isinstance(v, str) and v.startswith("=") for v in row), row
    header = [c.value for c in sheet[TABLE_HEADER_ROW]]
    w5 = sheet.cell(FIRST_DATA_ROW + 1, header.index("w5") + 1).value
    grad_w5 = spreadsheet._letter(header.index("∂E/∂w5") + 1)
    assert header[1:] == [c.name for c in seed_layout().columns]
    assert w5 == f"=AC{FIRST_DATA_ROW}-$A${PARAMETER_ROW}*{grad_w5}{FIRST_DATA_ROW}"
    a_h1 = sheet.cell(FIRST_DATA_ROW, header.index("a_h1") + 1).value
    assert a_h1 == f"=1/(1+EXP(-F{FIRST_DATA_ROW}))"
    assert sheet.max_row == FIRST_DATA_ROW + 3


@pytest.mark.parametrize("case", list(CASES))
def test_libreoffice_recomputes_the_engines_numbers(
    case: str, recalculated: dict[str, Path]
) -> None:
    """Every cell of every row, recomputed by LibreOffice, equals the engine's training:
    the seed; the seed after changing the learning-rate cell to 0.1 and the w1, w8 cells;
    the identity output; biases fixed and trained."""
    _, engine_config, steps = CASES[case]
    got = sheet_rows(recalculated[case])
    assert_same(got, engine_rows(engine_config, steps))
    if case == "seed":  # a number of the course exercise, independently of both engines
        assert got[0]["a_h1"] == pytest.approx(1 / (1 + 2.718281828459045**-0.0275), rel=1e-12)
    if "biases" in case:
        trained = case == "trained_biases"
        assert ("b1" in got[0]) is trained and ("∂E/∂b2" in got[0]) is trained


def test_bad_arguments_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="steps"):
        write_spreadsheet(tmp_path / "x.xlsx", steps=-1)
    with pytest.raises(ValueError, match="sigmoid"):
        spreadsheet.seed_columns("tanh")


def test_without_openpyxl_the_standard_library_writes_the_same_cells(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = SeedConfig(biases=(0.35, 0.60), train_biases=True)
    with_openpyxl = write_spreadsheet(tmp_path / "openpyxl.xlsx", config, steps=4)
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    plain = write_spreadsheet(tmp_path / "plain.xlsx", config, steps=4)
    monkeypatch.undo()
    first, second = (openpyxl.load_workbook(p).active for p in (with_openpyxl, plain))
    assert second.title == "training" and second.freeze_panes == first.freeze_panes
    assert second.max_row == first.max_row and second.max_column == first.max_column
    for row_a, row_b in zip(first.iter_rows(), second.iter_rows(), strict=True):
        for a, b in zip(row_a, row_b, strict=True):
            assert (a.value, a.number_format, bool(a.font.b)) == (
                b.value,
                b.number_format,
                bool(b.font.b),
            ), a.coordinate
    assert second.cell(PARAMETER_ROW, 1).fill.fgColor.rgb.endswith("FFF2A8")


def test_libreoffice_recomputes_the_standard_library_workbook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = SeedConfig(lr=0.2, output_activation="identity")
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    path = write_spreadsheet(tmp_path / "plain.xlsx", config, steps=10)
    monkeypatch.undo()
    got = sheet_rows(recalculate([path], tmp_path)["plain"])
    assert_same(got, engine_rows(config, 10))


# ---- the command line ------------------------------------------------------------------------
def test_cli_sheet_with_no_arguments(tmp_path: Path, run_in_tmp: CLI) -> None:
    assert run_in_tmp(["sheet"]).out == "wrote chainrule-training.xlsx\n"
    sheet = openpyxl.load_workbook(tmp_path / "chainrule-training.xlsx").active
    assert sheet.max_row == FIRST_DATA_ROW + 100  # iterations 0..100
    assert sheet.cell(PARAMETER_ROW, parameter_column("lr")).value == 0.5
    assert [p.name for p in tmp_path.iterdir()] == ["chainrule-training.xlsx"]


def test_cli_sheet_options_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "exercise.xlsx"
    argv = "sheet --json --steps 5 --lr 0.1 --output-activation identity --biases 0.35 0.6 -o"
    assert cli_json([*argv.split(), str(path)], capsys) == {"sheet": str(path)}
    sheet = openpyxl.load_workbook(path).active
    config = SeedConfig(lr=0.1, output_activation="identity", biases=(0.35, 0.6))
    assert sheet.cell(PARAMETER_ROW, parameter_column("lr", config)).value == 0.1
    assert sheet.cell(PARAMETER_ROW, parameter_column("b1", config)).value == 0.35
    assert sheet.max_row == FIRST_DATA_ROW + 5
    header = [c.value for c in sheet[TABLE_HEADER_ROW]]
    a_o1 = sheet.cell(FIRST_DATA_ROW, header.index("a_o1") + 1).value
    assert a_o1 == f"={spreadsheet._letter(header.index('o1') + 1)}{FIRST_DATA_ROW}"


@pytest.mark.parametrize(
    "argv",
    [
        ["-o", "sheet.csv"],
        ["-o", "no/such/dir/s.xlsx"],
        ["--steps", "0"],
        ["--lr", "-1"],
        ["--targets", "0.5"],
        ["--train-biases"],
    ],
)
def test_cli_sheet_bad_arguments(argv: list[str], refuse: CLI) -> None:
    refuse(["sheet", *argv])


def test_cli_sheet_without_openpyxl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from chainrule.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    assert main(["sheet", "--steps", "3"]) == 0  # written by chainrule's own writer
    out, err = capsys.readouterr()
    assert out == "wrote chainrule-training.xlsx\n"
    assert err.count("\n") == 1 and "pip install 'chainrule[spreadsheets]'" in err
    monkeypatch.undo()
    sheet = openpyxl.load_workbook(tmp_path / "chainrule-training.xlsx").active
    assert sheet.max_row == FIRST_DATA_ROW + 3
    assert sheet.cell(FIRST_DATA_ROW, 2).value == "=$B$4"
