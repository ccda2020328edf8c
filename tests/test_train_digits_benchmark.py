"""benchmarks/train_digits.py runs both models in both frameworks and reports what it says it
does. No timing is asserted: timings live in the benchmark output, not in tests."""

from __future__ import annotations

import json

import pytest
from conftest import HAS_TORCH, run_benchmark


@pytest.mark.slow
def test_quick_run() -> None:
    proc = run_benchmark("train_digits.py", "--quick", "--threads", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["machine"]["threads"] == 1
    assert [r["model"] for r in result["results"]] == ["mlp", "cnn"]
    frameworks = {"chainrule", "torch"} if HAS_TORCH else {"chainrule"}
    for r in result["results"]:
        assert r["epochs"] == 2 and r["optimizer"] == "adam + OneCycleLR"
        assert set(r["frameworks"]) == frameworks
        for numbers in r["frameworks"].values():
            assert len(numbers["seconds_per_epoch"]) == 2
            assert len(numbers["accuracy_per_epoch"]) == 2
            assert 0.0 <= numbers["test_accuracy"] <= 1.0
            assert numbers["median_seconds"] > 0
        if HAS_TORCH:
            assert r["initial_max_abs_diff"] < 1e-5  # the same weights, the same function
            assert r["ratio"] > 0
    if HAS_TORCH:  # no dropout in the MLP: both frameworks take the same path
        mlp = result["results"][0]["frameworks"]
        assert mlp["chainrule"]["accuracy_per_epoch"] == pytest.approx(
            mlp["torch"]["accuracy_per_epoch"], abs=2 / 256
        )


@pytest.mark.slow
def test_table() -> None:
    proc = run_benchmark(
        "train_digits.py", "--quick", "--models", "mlp", "--epochs", "1", "--threads", "1"
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "1 threads" in lines[0]
    header = lines[3].split()
    assert header[:3] == ["model", "params", "epochs"] and header[-1] == "ratio"
    row = lines[4].split()
    assert row[:3] == ["mlp", "17,226", "1"]
    assert (row[-1] == "-") == (not HAS_TORCH)
