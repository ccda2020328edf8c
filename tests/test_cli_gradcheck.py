"""``chainrule gradcheck`` and chainrule.gradcheck_report: every parameter of a model and every
named op checked against central differences; a wrong gradient is caught and located; exit
codes 0 (all pass), 1 (some fail), 2 (bad arguments, one line)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main
from chainrule.gradcheck_report import (
    OPS,
    GradcheckReport,
    check_parameters,
    model_report,
    op_report,
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["gradcheck", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_default_checks_every_mlp_parameter(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    assert code == 0, err
    assert out.startswith("gradcheck: MLP 64-32-10 (tanh), float64, cross-entropy on 8 digits")
    rows = {
        line.split()[0]: line
        for line in out.splitlines()
        if line.split() and line.split()[0] in ("0.weight", "0.bias", "2.weight", "2.bias")
    }
    assert set(rows) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert "(32, 64)" in rows["0.weight"] and " 2048 " in rows["0.weight"]
    assert all(row.rstrip().endswith("ok") for row in rows.values())
    assert out.rstrip().endswith("all 4 passed (2410 elements)")


def test_json_report(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--json", "--samples", "3", "--seed", "2")
    assert code == 0
    report = json.loads(out)
    assert report["passed"] is True and "on 3 digits samples" in report["subject"]
    assert (report["eps"], report["rtol"], report["atol"]) == (1e-6, 1e-3, 1e-5)
    checks = {c["name"]: c for c in report["checks"]}
    assert {k: c["shape"] for k, c in checks.items()} == {
        "0.weight": [32, 64],
        "0.bias": [32],
        "2.weight": [10, 32],
        "2.bias": [10],
    }
    for check in checks.values():
        assert check["checked"] == check["size"] == int(np.prod(check["shape"]))
        assert check["passed"] and check["failing"] == 0
        assert check["max_abs_error"] < 1e-7
        assert check["relative_error"] < 1e-6
        assert check["analytic_norm"] == pytest.approx(check["numeric_norm"], rel=1e-6)
        assert len(check["worst_index"]) == len(check["shape"])


def test_cnn_samples_elements() -> None:
    report = model_report("cnn", samples=4, max_elements=5)
    assert report.passed, report.to_text()
    names = [c.name for c in report.checks]
    assert names[:4] == ["0.weight", "0.bias", "1.weight", "1.bias"] and len(names) == 14
    conv = report.checks[0]
    assert (conv.shape, conv.size, conv.checked) == ((16, 1, 3, 3), 144, 5)
    assert "5/144" in report.to_text()


def test_every_op_passes() -> None:
    for name in OPS:
        report = op_report(name)
        assert report.passed, report.to_text()
        assert report.checks and all(c.checked == c.size for c in report.checks)


def test_op_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--op", "conv2d")
    assert code == 0
    assert out.startswith("gradcheck: op conv2d: conv2d, 3×3 kernel, stride 2, padding 1")
    assert [line.split()[0] for line in out.splitlines()[4:7]] == ["input", "weight", "bias"]
    code, out, _ = run(capsys, "--op", "sigmoid", "--json", "--eps", "1e-5")
    report = json.loads(out)
    assert code == 0 and report["eps"] == 1e-5
    assert [(c["name"], c["shape"]) for c in report["checks"]] == [("x", [3, 4])]


def test_failures_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    """Central differences carry ~1e-10 of rounding error: no tolerance at all must fail."""
    code, out, _ = run(capsys, "--op", "tanh", "--rtol", "0", "--atol", "0")
    assert code == 1
    assert "FAIL (" in out and out.rstrip().endswith("1 of 1 FAILED: x")
    code, out, _ = run(capsys, "--op", "tanh", "--rtol", "0", "--atol", "0", "--json")
    assert code == 1 and json.loads(out)["passed"] is False


def test_a_wrong_gradient_is_caught_and_located() -> None:
    """y = w² with one element's derivative cut by detach(): backward says 0 there."""
    rng = np.random.default_rng(0)
    w = cr.tensor(rng.uniform(1, 2, (3, 4)), dtype=cr.float64, requires_grad=True)
    b = cr.tensor(rng.standard_normal(4), dtype=cr.float64, requires_grad=True)
    mask = np.zeros((3, 4))
    mask[1, 2] = 1.0
    cut = cr.tensor(mask)

    def loss() -> Any:
        square = w * w * (1 - cut) + w.detach() * w.detach() * cut
        return (square + b).sum()

    checks = check_parameters(loss, [("w", w), ("b", b)])
    by_name = {c.name: c for c in checks}
    bad = by_name["w"]
    assert not bad.passed and bad.failing == 1
    assert bad.worst_index == (1, 2)
    assert bad.analytic_at_worst == 0.0
    assert bad.numeric_at_worst == pytest.approx(2 * w.detach().numpy()[1, 2], rel=1e-6)
    assert bad.max_abs_error == pytest.approx(2 * w.detach().numpy()[1, 2], rel=1e-6)
    assert by_name["b"].passed
    report = GradcheckReport("w squared, one element cut", checks, 1e-6, 1e-3, 1e-5)
    assert not report.passed
    assert "1 of 2 FAILED: w" in report.to_text()


def test_check_parameters_needs_float64_and_a_scalar() -> None:
    w = cr.ones(3, requires_grad=True)
    with pytest.raises(TypeError, match="finite differences need float64"):
        check_parameters(lambda: w.sum(), [("w", w)])
    v = cr.ones(3, dtype=cr.float64, requires_grad=True)
    with pytest.raises(ValueError, match="the loss must be a scalar"):
        check_parameters(lambda: v * 2, [("v", v)])


def test_help_lists_the_ops(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    flat = " ".join(out.split())
    assert ", ".join(OPS) in flat
    for option in ("--op", "--model", "--json", "--eps", "--rtol", "--atol"):
        assert option in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--op", "softmaxx"], "argument --op: invalid choice: 'softmaxx'"),
        (["--model", "rnn"], "argument --model: invalid choice: 'rnn'"),
        (["--eps", "0"], "argument --eps: must be > 0"),
        (["--eps", "inf"], "argument --eps: must be a finite number"),
        (["--rtol", "-1"], "argument --rtol: must be >= 0"),
        (["--samples", "0"], "argument --samples: must be at least 1"),
        (["--op", "relu", "--model", "mlp"], "--model and --samples are for models"),
    ],
)
def test_bad_arguments(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("chainrule: error: ") and err.count("\n") == 1
    assert message in err


def test_from_the_shell() -> None:
    ok, bad = (
        subprocess.run(
            [sys.executable, "-m", "chainrule.cli", "gradcheck", *argv],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        for argv in (["--op", "exp"], ["--atol", "x"])
    )
    assert ok.returncode == 0 and ok.stderr == ""
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("chainrule: error: argument --atol: invalid number: 'x'")
