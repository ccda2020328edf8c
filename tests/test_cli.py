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


@pytest.mark.parametrize("command", ["sweep", "sheet", "report"])
def test_help_without_example_has_no_one_weight_defaults(command, capsys):
    code, out, _ = run_main([command, "--help"], capsys)
    assert code == 0
    assert "--example" not in out and "one-weight" not in out, out
    assert "i1 i2 (default 0.05 0.10)" in out


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


def test_subprocess_tutorial_json_parses():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        _command() + ["tutorial", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["values"]["E_total"] > 0 and "w1" in data["gradients"]


def test_subprocess_bad_argument_has_no_traceback():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        _command() + ["tutorial", "--lr", "abc"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("chainrule: error: ")


def test_parser_is_extensible():
    """A subcommand is one row of COMMANDS: the parser picks it up."""
    parser = build_parser()
    choices = parser._subparsers._group_actions[0].choices  # noqa: SLF001
    assert set(choices) >= {"tutorial", "version"}
