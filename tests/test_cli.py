"""The command line: every subcommand's --help, the tutorial in each format, JSON a program can
read, and bad arguments as one line on stderr with exit code 2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chainrule.cli import COMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parents[1]


def run_main(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_no_arguments_prints_help(capsys):
    code, out, _ = run_main([], capsys)
    assert code == 0 and "tutorial" in out and "usage: chainrule" in out


def test_help_and_every_subcommands_help(capsys):
    code, out, _ = run_main(["--help"], capsys)
    assert code == 0 and "tutorial" in out and "version" in out
    for name, *_ in COMMANDS:
        code, out, err = run_main([name, "--help"], capsys)
        assert code == 0, name
        assert f"usage: chainrule {name}" in out and not err


@pytest.mark.parametrize("command", ["tutorial", "sweep", "sheet", "report", "graph"])
def test_every_explainer_command_offers_the_one_weight_example(command, capsys):
    code, out, _ = run_main([command, "--help"], capsys)
    out = " ".join(out.split())
    assert code == 0 and "--example {seed,one-weight}" in out
    assert "i1 i2 (default 0.05 0.10)" in out and "one-weight: x (default 1.0)" in out


def test_help_with_example_names_the_one_weight_defaults(capsys):
    _, out, _ = run_main(["tutorial", "--help"], capsys)
    out = " ".join(out.split())
    assert "one-weight: x (default 1.0)" in out and "0.1 for one-weight" in out


def test_version(capsys):
    from chainrule import __version__

    code, out, _ = run_main(["version"], capsys)
    assert code == 0 and out.startswith(f"chainrule {__version__}")
    code, out, _ = run_main(["version", "--json"], capsys)
    assert code == 0 and json.loads(out)["version"] == __version__


def test_tutorial_default_text(capsys):
    code, out, err = run_main(["tutorial"], capsys)
    assert code == 0 and not err
    for heading in (
        "1. Forward pass",
        "2. Backward pass: local derivatives",
        "4. Chain rule",
        "5. Update",
    ):
        assert heading in out
    assert "∂E_total/∂w1 = sum over 2 paths" in out and "∂E1/∂a_o1" in out
    assert "−(t1 − a_o1)" in out and "✗" not in out and "\x1b[" not in out


def test_tutorial_json_keys(capsys):
    code, out, _ = run_main(["tutorial", "--json"], capsys)
    data = json.loads(out)
    assert code == 0
    assert {"values", "gradients", "updated", "steps"} <= set(data)
    assert {"i1", "h1", "a_h1", "o1", "a_o1", "E1", "E_total", "w5"} <= set(data["values"])
    assert {f"w{k}" for k in range(1, 9)} <= set(data["gradients"])
    assert set(data["updated"]) == {f"w{k}" for k in range(1, 9)}
    assert data["updated"]["w5"] == data["values"]["w5"] - 0.5 * data["gradients"]["w5"]
    assert data["explanation"]["type"] == "Explanation"
    code, same, _ = run_main(["tutorial", "--format", "json"], capsys)
    assert json.loads(same) == data


@pytest.mark.parametrize(
    "fmt, marker",
    [
        ("markdown", r"\frac{\partial E_{total}}"),
        ("html", "<!DOCTYPE html>"),
        ("text", "1. Forward"),
    ],
)
def test_tutorial_formats(fmt, marker, capsys):
    code, out, _ = run_main(["tutorial", "--format", fmt], capsys)
    assert code == 0 and marker in out


def test_tutorial_color_always(capsys):
    code, out, _ = run_main(["tutorial", "--color", "always"], capsys)
    assert code == 0 and "\x1b[" in out


def test_tutorial_output_file(tmp_path, capsys):
    target = tmp_path / "tutorial.html"
    code, out, err = run_main(["tutorial", "--format", "html", "-o", str(target)], capsys)
    assert code == 0 and not out and "wrote" in err
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left behind


def test_one_weight_example(capsys):
    code, out, _ = run_main(["tutorial", "--example", "one-weight", "--json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["updated"] == {"W": 0.4} and data["values"]["L"] == 0.25
    code, out, _ = run_main(["tutorial", "--example", "one-weight"], capsys)
    assert "∂L/∂z  =  2·(z − y)" in out and "W  =  0.5  −  0.1  ×  1  =  0.4" in out


def test_network_options_reach_the_run(capsys):
    code, out, _ = run_main(
        [
            "tutorial",
            "--json",
            "--lr",
            "0.1",
            "--steps",
            "4",
            "--inputs",
            "1",
            "0",
            "--targets",
            "0",
            "1",
            "--weights",
            "1",
            "2",
            "3",
            "4",
            "5",
            "6",
            "7",
            "8",
            "--output-activation",
            "identity",
        ],
        capsys,
    )
    data = json.loads(out)
    assert code == 0 and len(data["steps"]) == 4
    assert data["config"]["lr"] == 0.1 and data["config"]["output_activation"] == "identity"
    assert data["values"]["i1"] == 1.0 and data["values"]["w8"] == 8.0
    assert data["values"]["a_o1"] == data["values"]["o1"]


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["tutorial", "--lr", "abc"], "--lr"),
        (["tutorial", "--lr", "-1"], "--lr"),
        (["tutorial", "--lr", "nan"], "finite"),
        (["tutorial", "--weights", "1", "2"], "8 values"),
        (["tutorial", "--inputs", "1", "2", "3"], "2 values"),
        (["tutorial", "--example", "two-weights"], "invalid choice"),
        (["tutorial", "--steps", "0"], "--steps"),
        (["tutorial", "--format", "pdf"], "--format"),
        (["tutorial", "--train-biases"], "biases"),
        (["tutorial", "--example", "one-weight", "--weights", "1", "2"], "1 value"),
        (["tutorial", "--example", "one-weight", "--output-activation", "identity"], "one-weight"),
        (["tutorial", "-o", "/nonexistent-dir/x.txt"], "does not exist"),
        (["tutorial", "--no-such-option"], "unrecognized"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_one_line_exit_2(argv, fragment, capsys):
    code, out, err = run_main(argv, capsys)
    assert code == 2, (argv, code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("chainrule: error: ") and fragment in lines[0], lines[0]
    assert "Traceback" not in err and not out


def _command() -> list[str]:
    script = shutil.which("chainrule")
    return [script] if script else [sys.executable, "-m", "chainrule.cli"]


def _shell(command: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ``command`` at the repository root, with this checkout's chainrule importable."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def test_subprocess_tutorial_json_parses():
    done = _shell(_command() + ["tutorial", "--json"])
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["values"]["E_total"] > 0 and "w1" in data["gradients"]


def test_subprocess_bad_argument_has_no_traceback():
    done = _shell(_command() + ["tutorial", "--lr", "abc"])
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("chainrule: error: ")


def test_parser_is_extensible():
    """A subcommand is one row of COMMANDS: the parser picks it up."""
    parser = build_parser()
    choices = parser._subparsers._group_actions[0].choices  # noqa: SLF001
    assert set(choices) >= {"tutorial", "version"}


_HUGE = ["--weights"] + ["1e308"] * 8


def _strict(text: str):
    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize(
    "argv",
    [
        ["tutorial", *_HUGE, "--json"],
        ["sweep", *_HUGE, "--no-figure", "--epochs", "3", "--json"],
        ["graph", *_HUGE, "--format", "svg", "--json", "-o", "{tmp}/"],
        ["sheet", *_HUGE, "--steps", "3", "--json", "-o", "{tmp}/s.xlsx"],
        ["report", *_HUGE, "--steps", "2", "--json", "-o", "{tmp}/r.html"],
        [
            "train",
            "--dataset",
            "xor",
            "--lr",
            "1e300",
            "--epochs",
            "2",
            "--no-checkpoint",
            "--json",
        ],
        ["gradcheck", "--op", "tanh", "--eps", "1e308", "--json"],
        ["version", "--json"],
    ],
)
def test_every_json_output_is_strict_on_overflow_and_warnings_do_not_leak(argv, capsys, tmp_path):
    pytest.importorskip("openpyxl") if argv[0] == "sheet" else None
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    with __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("error")  # a leaked RuntimeWarning would raise
        code, out, err = run_main(argv, capsys)
    assert code in (0, 1), err
    if argv[0] == "train":  # a loss that overflows is a diverged training: no JSON, exit 1
        assert code == 1 and out == "" and "training diverged" in err
        return
    _strict(out)
    assert "RuntimeWarning" not in err and "Infinity" not in out and "NaN" not in out


@pytest.mark.parametrize(
    "argv",
    [
        ["tutorial", "-o", "{dir}"],
        ["sweep", "--epochs", "2", "-o", "{dir}.png"],
        ["sheet", "--steps", "2", "-o", "{dir}.xlsx"],
        ["report", "--steps", "2", "-o", "{dir}.html"],
    ],
)
def test_writing_onto_a_directory_says_so(argv, capsys, tmp_path):
    target = tmp_path / "dirout"
    target.mkdir()
    (tmp_path / "dirout.xlsx").mkdir()
    (tmp_path / "dirout.html").mkdir()
    (tmp_path / "dirout.png").mkdir()
    argv = [a.replace("{dir}", str(target)) for a in argv]
    code, _, err = run_main(argv, capsys)
    assert code == 2
    assert err.strip().endswith("is a directory") and ".tmp" not in err
    assert err.count("\n") == 1


def test_graph_output_ending_in_a_slash_writes_inside_the_directory(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dirout").mkdir()
    code, _, _ = run_main(["graph", "--format", "svg", "-o", "dirout/"], capsys)
    assert (tmp_path / "dirout" / "chainrule-network.dot").exists()
    assert not (tmp_path / "dirout-network.dot").exists()
    assert code in (0, 1)


def test_json_with_another_format_is_an_error(capsys):
    code, out, err = run_main(["tutorial", "--format", "html", "--json"], capsys)
    assert code == 2 and out == "" and "--json" in err and err.count("\n") == 1


def test_sheet_steps_have_a_maximum(capsys):
    code, _, err = run_main(["sheet", "--steps", "100000"], capsys)
    assert code == 2 and "at most 10000" in err


def test_sigterm_while_writing_leaves_no_temporary_file(tmp_path, capsys, monkeypatch):
    import signal

    import chainrule.cli as cli

    def write_and_get_killed(path, write):
        def killed(temporary):
            temporary.write_text("half")
            os.kill(os.getpid(), signal.SIGTERM)

        return cli._atomic.write_path(path, killed)

    monkeypatch.setattr(cli, "write_via", write_and_get_killed)
    code, _, _ = run_main(["tutorial", "-o", str(tmp_path / "t.txt")], capsys)
    assert code == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []


def _without(monkeypatch, module):
    import builtins

    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name == module or name.startswith(module + "."):
            raise ImportError(f"No module named {module!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)


def test_sweep_without_matplotlib_prints_the_table_and_names_the_extra(
    capsys, tmp_path, monkeypatch
):
    _without(monkeypatch, "matplotlib")
    code, out, err = run_main(["sweep", "--epochs", "2", "-o", str(tmp_path / "s.png")], capsys)
    assert code == 0 and out.startswith("learning-rate sweep: 2 epochs")
    assert len(out.splitlines()) == 2 + 6  # title, header, one row per default rate
    assert err.count("\n") == 1 and "no figure was drawn" in err and "chainrule[plots]" in err
    assert list(tmp_path.iterdir()) == []
    code, out, _ = run_main(["sweep", "--epochs", "2", "--json"], capsys)
    assert code == 0 and json.loads(out)["figure"] is None and len(json.loads(out)["runs"]) == 6


def test_sheet_without_openpyxl_writes_the_workbook_itself(capsys, tmp_path, monkeypatch):
    _without(monkeypatch, "openpyxl")
    path = tmp_path / "s.xlsx"
    code, out, err = run_main(["sheet", "--steps", "2", "-o", str(path)], capsys)
    assert code == 0 and out == f"wrote {path}\n"
    assert err.count("\n") == 1 and "chainrule[spreadsheets]" in err
    import zipfile

    with zipfile.ZipFile(path) as archive:
        assert "<f>$B$4</f>" in archive.read("xl/worksheets/sheet1.xml").decode()


def test_report_without_matplotlib_is_written_with_a_notice(capsys, tmp_path, monkeypatch):
    _without(monkeypatch, "matplotlib")
    path = tmp_path / "r.html"
    code, _, err = run_main(["report", "--steps", "2", "--epochs", "2", "-o", str(path)], capsys)
    assert code == 0 and path.exists()
    assert "note: the report has no curves" in err and "chainrule[plots]" in err


def test_version_flag(capsys):
    from chainrule import __version__
    from chainrule.cli import main

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"chainrule {__version__}"


def test_python_dash_m_chainrule_runs_the_cli():
    done = _shell([sys.executable, "-m", "chainrule", "version"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("chainrule ")


def test_license_file_matches_pyproject():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert project["license"] == {"text": "MIT"}
    assert text.startswith("MIT License") and "Copyright (c) 2026 the chainrule authors" in text


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["sweep", "--epochs", "3", "--no-figure"], " lr         L       z       W"),
        (["sheet", "--steps", "3", "-o", "{tmp}/s.xlsx"], "wrote {tmp}/s.xlsx"),
        (["report", "--steps", "2", "--epochs", "3", "-o", "{tmp}/r.html"], "wrote {tmp}/r.html"),
        (["graph", "--format", "svg", "-o", "{tmp}/g"], "wrote {tmp}/g-graph.dot"),
    ],
)
def test_one_weight_example_everywhere(argv, expected, capsys, tmp_path):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, out, err = run_main([*argv, "--example", "one-weight"], capsys)
    assert code in (0, 1) and expected.replace("{tmp}", str(tmp_path)) in out, err
    if argv[0] == "graph":  # exit 1 only for a missing Graphviz, which it says
        assert code == 0 or "Graphviz" in err
    else:
        assert code == 0
    if argv[0] == "sweep":
        assert "0.5         0       0       0" in out  # lr 0.5: W = 0.5 - 0.5·1 = 0 at once
    if argv[0] == "report":
        page = (tmp_path / "r.html").read_text(encoding="utf-8")
        assert "the one-weight example, explained" in page and "∂L/∂W" in page
        assert "seed 00" not in page and "_f7d6bdf578706912" not in page


def test_one_weight_sheet_formulas_compute_the_engines_training(tmp_path):
    """The one-weight sheet's formulas, evaluated here cell by cell, give the engine's numbers."""
    import math
    import re

    from chainrule.explain.seeds import OneWeightConfig, one_weight_tutorial
    from chainrule.explain.spreadsheet import (
        FIRST_DATA_ROW,
        TABLE_HEADER_ROW,
        cell_formula,
        seed_layout,
    )

    config = OneWeightConfig(x=1.5, W=0.8, b=0.1, y=0.2, lr=0.05, train_biases=True)
    layout = seed_layout(config)
    letters = {c.name: chr(ord("A") + i) for i, c in enumerate(layout.columns, start=1)}
    cells = {f"{chr(ord('A') + i)}4": v for i, (_, v) in enumerate(layout.parameters)}
    formulas = {
        f"{letters[c.name]}{row}": cell_formula(layout, c, row)[1:]
        for row in range(FIRST_DATA_ROW, FIRST_DATA_ROW + 6)
        for c in layout.columns
    }

    def value(ref):
        if ref not in cells:
            expression = re.sub(r"\$?([A-Z]+)\$?(\d+)", r'value("\1\2")', formulas[ref])
            cells[ref] = eval(expression.replace("^", "**"), {"value": value, "EXP": math.exp})
        return cells[ref]

    run = one_weight_tutorial(config, explain=False, steps=6)
    for k, step in enumerate(run.steps):
        row = FIRST_DATA_ROW + k
        assert value(f"{letters['L']}{row}") == pytest.approx(step.values["L"], rel=1e-12)
        assert value(f"{letters['∂L/∂W']}{row}") == pytest.approx(step.gradients["W"], rel=1e-12)
        assert value(f"{letters['W']}{row}") == pytest.approx(step.values["W"], rel=1e-12)
        assert value(f"{letters['b']}{row}") == pytest.approx(step.values["b"], rel=1e-12)
    assert TABLE_HEADER_ROW < FIRST_DATA_ROW


def test_an_unknown_option_points_at_the_subcommands_help(capsys):
    code, out, err = run_main(["sweep", "--bogus"], capsys)
    assert code == 2 and out == ""
    assert (
        err == "chainrule: error: unrecognized arguments: --bogus (see 'chainrule sweep --help')\n"
    )


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        ([], "run 'chainrule tutorial --steps 20'"),
        (
            ["--example", "one-weight", "--lr", "0.3"],
            "run 'chainrule tutorial --example one-weight --lr 0.3 --steps 20' to watch L fall",
        ),
        (
            ["--output-activation", "identity", "--biases", "0.35", "0.6", "--train-biases"],
            "run 'chainrule tutorial --output-activation identity --biases 0.35 0.6 "
            "--train-biases --steps 20'",
        ),
    ],
)
def test_the_tutorials_hint_keeps_the_users_options(argv, hint, capsys):
    code, out, _ = run_main(["tutorial", *argv], capsys)
    assert code == 0 and hint in out.splitlines()[-1]


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
@pytest.mark.parametrize(
    "example", [[], ["--example", "one-weight"], ["--output-activation", "identity"]]
)
def test_outputs_name_the_examples_in_words_not_seed_files(fmt, example, capsys):
    code, out, _ = run_main(["tutorial", "--format", fmt, *example], capsys)
    assert code == 0
    assert "seed 00" not in out and ".txt" not in out and "From seed" not in out
    assert "worked example" in out


def test_help_texts_name_no_seed_files(capsys):
    for name, *_ in [("",), *COMMANDS]:
        code, out, _ = run_main([name, "--help"] if name else ["--help"], capsys)
        assert code == 0 and "seed 00" not in out and "seeds 000" not in out, name


@pytest.mark.parametrize(
    "argv",
    [
        ["tutorial"],
        ["sweep", "--epochs", "3"],
        ["sheet", "--steps", "3"],
        ["report", "--steps", "2", "--epochs", "3"],
        ["train", "--epochs", "1"],
        ["evaluate", "chainrule-digits-mlp.safetensors"],
        ["gradcheck", "--samples", "2", "--max-elements", "4"],
        ["version"],
    ],
)
def test_every_subcommand_works_with_numpy_alone(argv, capsys, tmp_path, monkeypatch):
    """The base install: no matplotlib, openpyxl, scikit-learn, torch or safetensors."""
    from chainrule.datasets import sklearn_digits

    monkeypatch.chdir(tmp_path)
    if argv[0] == "evaluate":
        assert main(["train", "--epochs", "1"]) == 0
        capsys.readouterr()
    for module in ("matplotlib", "openpyxl", "sklearn", "torch", "safetensors"):
        monkeypatch.setitem(sys.modules, module, None)
    sklearn_digits._load.cache_clear()
    try:
        code, out, err = run_main(argv, capsys)
    finally:
        sklearn_digits._load.cache_clear()
    assert code == 0, err
    assert out and "Traceback" not in err
    for line in err.splitlines():  # each missing extra: one note naming it
        assert line.startswith("chainrule: note: "), line
        assert "pip install 'chainrule[" in line or "Graphviz" in line, line
