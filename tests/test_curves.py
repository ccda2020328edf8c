"""Learning-rate sweeps: the engine's numbers against an independent plain-Python training of
the seed network (1e-12), carrying weights from one rate to the next, the table, JSON and the
matplotlib figure."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
from conftest import CLI, cli_json, needs_matplotlib

from chainrule.datasets import TWO_LAYER
from chainrule.explain import curves
from chainrule.explain.curves import (
    DEFAULT_LRS,
    save_figure,
    sweep,
    sweep_figure,
    sweep_table,
    train_seed_network,
    training_figure,
)
from chainrule.explain.seeds import SeedConfig


def plain_python_training(
    lr: float, epochs: int, weights: tuple[float, ...], identity: bool = False
) -> tuple[list[float], list[float], list[float]]:
    """The seed network by hand: the chain rule written out, no engine. Returns the errors
    (epochs + 1), the final weights and the final outputs."""
    i1, i2, t1, t2 = 0.05, 0.10, 0.5, 0.5
    w = list(weights)

    def sigma(x: float) -> float:
        return 1 / (1 + math.exp(-x))

    errors = []
    for epoch in range(epochs + 1):
        a_h1 = sigma(w[0] * i1 + w[1] * i2)
        a_h2 = sigma(w[2] * i1 + w[3] * i2)
        o1 = w[4] * a_h1 + w[5] * a_h2
        o2 = w[6] * a_h1 + w[7] * a_h2
        a_o1, a_o2 = (o1, o2) if identity else (sigma(o1), sigma(o2))
        errors.append(0.5 * (t1 - a_o1) ** 2 + 0.5 * (t2 - a_o2) ** 2)
        if epoch == epochs:
            return errors, w, [a_o1, a_o2]
        d1 = (a_o1 - t1) * (1 if identity else a_o1 * (1 - a_o1))
        d2 = (a_o2 - t2) * (1 if identity else a_o2 * (1 - a_o2))
        dh1 = (d1 * w[4] + d2 * w[6]) * a_h1 * (1 - a_h1)
        dh2 = (d1 * w[5] + d2 * w[7]) * a_h2 * (1 - a_h2)
        grads = [dh1 * i1, dh1 * i2, dh2 * i1, dh2 * i2, d1 * a_h1, d1 * a_h2, d2 * a_h1, d2 * a_h2]
        w = [wk - lr * gk for wk, gk in zip(w, grads, strict=True)]
    raise AssertionError("unreachable")


def close(got: list[float] | tuple[float, ...], expected: list[float], what: str) -> None:
    assert len(got) == len(expected), what
    for k, (a, b) in enumerate(zip(got, expected, strict=True)):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-18), (
            f"{what}[{k}]: engine {a!r}, by hand {b!r}"
        )


def test_default_sweep_equals_plain_python() -> None:
    result = sweep()
    assert [run.lr for run in result.runs] == list(DEFAULT_LRS) and result.epochs == 100
    for run in result.runs:
        errors, weights, outputs = plain_python_training(run.lr, 100, TWO_LAYER.weights)
        close(run.errors, errors, f"lr={run.lr} errors")
        close(run.final_weights, weights, f"lr={run.lr} weights")
        close(run.final_outputs, outputs, f"lr={run.lr} outputs")
        assert run.start_weights == TWO_LAYER.weights
    # a larger rate converges faster on this network
    finals = [run.final_error for run in result.runs]
    assert finals == sorted(finals, reverse=True)


def test_carry_weights_starts_each_rate_where_the_last_ended() -> None:
    result = sweep([0.1, 0.5, 1.0], epochs=20, carry_weights=True)
    assert result.runs[0].start_weights == TWO_LAYER.weights
    weights = TWO_LAYER.weights
    for before, run in zip((None, *result.runs), result.runs, strict=False):
        if before is not None:
            assert run.start_weights == before.final_weights
        errors, weights, _ = plain_python_training(run.lr, 20, weights)
        close(run.errors, errors, f"lr={run.lr}")
        assert run.errors[0] == pytest.approx(
            before.final_error if before else run.errors[0], rel=1e-15
        )


def test_identity_output_variant() -> None:
    run = train_seed_network(0.2, 15, SeedConfig(output_activation="identity"))
    errors, weights, outputs = plain_python_training(0.2, 15, TWO_LAYER.weights, identity=True)
    close(run.errors, errors, "errors")
    close(run.final_outputs, outputs, "outputs")


def test_trained_biases_are_swept_and_carried() -> None:
    config = SeedConfig(biases=(0.35, 0.60), train_biases=True, targets=(0.01, 0.99))
    result = sweep([0.5, 1.0], epochs=3, carry_weights=True, config=config)
    first, second = result.runs
    assert list(first.final) == [*curves.WEIGHT_NAMES, "b1", "b2"]
    assert first.start["b2"] == 0.60 and second.start == first.final
    assert sweep_table(result).splitlines()[1].split()[-2:] == ["b1", "b2"]
    # the seed's classic numbers: a_o1 = 0.75136507 before any update
    run = train_seed_network(0.5, 0, config)
    assert run.final_outputs[0] == pytest.approx(0.7513650695523157, rel=1e-12)


def test_table_and_json() -> None:
    result = sweep([0.5, 2.0], epochs=5)
    table = sweep_table(result)
    lines = table.splitlines()
    assert lines[0] == "learning-rate sweep: 5 epochs, weights reset for each rate"
    assert lines[1].split() == ["lr", "E_total", "a_o1", "a_o2", *curves.WEIGHT_NAMES]
    assert lines[2].split()[0] == "0.5" and lines[3].split()[0] == "2"
    data = json.loads(json.dumps(result.to_dict()))
    assert data["epochs"] == 5 and data["carry_weights"] is False
    run = data["runs"][1]
    assert run["lr"] == 2.0 and len(run["errors"]) == 6
    assert run["final_error"] == result.runs[1].final_error
    assert set(run["final_weights"]) == set(curves.WEIGHT_NAMES)
    assert set(run["final_outputs"]) == {"a_o1", "a_o2"}


def test_table_and_report_print_the_same_numbers() -> None:
    from chainrule.explain.report import sweep_html

    result = sweep([0.5, 0.8], epochs=100)
    table_rows = [line.split() for line in sweep_table(result).splitlines()[2:]]
    assert table_rows[1][1] == "0.0000852819"  # as the report prints it, not 8.52819e-05
    page = sweep_html(result)
    for row in table_rows:
        assert all(f"<td>{cell}</td>" in page for cell in row), row


def test_bad_sweeps_say_why() -> None:
    with pytest.raises(ValueError, match="epochs"):
        sweep(epochs=-1)
    with pytest.raises(ValueError, match="learning rate"):
        sweep([])
    with pytest.raises(ValueError, match="learning rate must be"):
        sweep([0.5, -1.0], epochs=2)


@needs_matplotlib
def test_figures_are_written(tmp_path: Path) -> None:
    result = sweep([0.1, 1.0], epochs=10)
    png = save_figure(sweep_figure(result), tmp_path / "sweep.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    svg = save_figure(sweep_figure(result), tmp_path / "sweep.svg")
    text = svg.read_text()
    assert "<svg" in text
    # same sweep, same SVG bytes (no date stamp)
    again = save_figure(sweep_figure(result), tmp_path / "again.svg")
    assert again.read_bytes() == svg.read_bytes()
    carried = sweep([0.1, 1.0], epochs=10, carry_weights=True)
    figure = sweep_figure(carried)
    assert figure.axes[0].get_xlabel() == "epoch (cumulative)"
    # the fast rates' errors end orders of magnitude below the slow ones': a linear axis
    # would draw them flat on zero after a few dozen epochs
    assert figure.axes[0].get_yscale() == "log"
    assert list(figure.axes[0].lines[1].get_xdata())[0] == 10
    save_figure(figure, tmp_path / "carried.png")
    curve = save_figure(training_figure(result.runs[0].errors), tmp_path / "curve.png")
    assert curve.exists()


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[plots\]'"):
        sweep_figure(sweep([0.5], epochs=1))


# ---- the command line ------------------------------------------------------------------------
def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@needs_matplotlib
def test_cli_sweep_with_no_arguments(tmp_path: Path, run_in_tmp: CLI) -> None:
    out = run_in_tmp(["sweep"])
    lines = out.out.splitlines()
    assert lines[0] == "learning-rate sweep: 100 epochs, weights reset for each rate"
    assert [line.split()[0] for line in lines[2:]] == ["0.1", "0.2", "0.5", "0.8", "1", "2"]
    assert (tmp_path / "chainrule-sweep.png").read_bytes()[:4] == b"\x89PNG"
    assert out.err == "wrote chainrule-sweep.png\n"


@needs_matplotlib
def test_cli_sweep_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    figure = tmp_path / "sweep.svg"
    weights = "0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8"
    argv = f"sweep --json --epochs 5 --lrs 0.5 1 --carry-weights --weights {weights} -o"
    data = cli_json([*argv.split(), str(figure)], capsys)
    assert data["figure"] == str(figure) and "<svg" in figure.read_text()
    assert data["carry_weights"] is True and [r["lr"] for r in data["runs"]] == [0.5, 1.0]
    first, second = data["runs"]
    assert first["start_weights"]["w8"] == 0.8
    assert second["start_weights"] == first["final_weights"]
    errors, weights, _ = plain_python_training(0.5, 5, (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8))
    close(first["errors"], errors, "errors")


@pytest.mark.parametrize(
    "argv",
    [
        ["--lr", "0.5"],
        ["--lrs", "abc"],
        ["--lrs", "0"],
        ["--epochs", "0"],
        ["-o", "figure.txt"],
        pytest.param(["-o", "no/such/dir/f.png"], marks=needs_matplotlib),  # the figure's path
        ["--weights", "1", "2"],
        ["--output-activation", "tanh"],
        ["--bogus"],
    ],
)
def test_cli_sweep_bad_arguments(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from chainrule.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "--epochs", "2", *argv]) == 2
    assert one_line_error(capsys).startswith("chainrule: error: ")
    assert list(tmp_path.iterdir()) == []


def test_cli_sweep_help(capsys: pytest.CaptureFixture[str]) -> None:
    from chainrule.cli import main

    assert main(["sweep", "--help"]) == 0
    out = capsys.readouterr().out
    assert all(
        option in out for option in ("--lrs", "--epochs", "--carry-weights", "--output", "--json")
    )


def test_cli_sweep_without_matplotlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from chainrule.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["sweep", "--epochs", "2"]) == 0  # the table, and a line on the figure
    out = capsys.readouterr()
    assert out.out.startswith("learning-rate sweep: 2 epochs") and out.err.count("\n") == 1
    assert "no figure was drawn" in out.err and "pip install 'chainrule[plots]'" in out.err
    assert list(tmp_path.iterdir()) == []
