"""The benchmark runner runs every workload and the frameworks agree on the numbers.

No timing is asserted: timings live in the benchmark output, not in tests."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from conftest import HAS_TORCH, ROOT, run_benchmark

RUNNER = ROOT / "benchmarks" / "run.py"
FRAMEWORKS = (
    ["chainrule", "replay", "torch", "numpy"] if HAS_TORCH else ["chainrule", "replay", "numpy"]
)
CASES = [
    "op_overhead/1",
    "op_overhead/4",
    "tutorial",
    "mlp_small",
    "mlp_medium",
    "mlp_large",
    "cnn_small",
    "deep_chain/10000",
    "deep_chain/5000",
    "cat_many/1000",
]

# workloads timed on the eager engine only, with nothing to update (no replay column)
EAGER_ONLY = ("deep_chain", "cat_many")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quick_run() -> dict[str, Any]:
    proc = run_benchmark(
        "run.py", "--quick", "--repeat", "1", "--warmup", "0", "--threads", "1", "--json"
    )
    assert proc.stdout, f"no output; stderr:\n{proc.stderr}"
    result: dict[str, Any] = json.loads(proc.stdout)
    result["returncode"] = proc.returncode
    result["stderr"] = proc.stderr
    return result


def test_every_workload_runs(quick_run: dict[str, Any]) -> None:
    assert [r["name"] for r in quick_run["results"]] == CASES
    assert quick_run["settings"]["frameworks"] == FRAMEWORKS
    for record in quick_run["results"]:
        assert record["check"]["errors"] == {}, (record["name"], record["check"]["errors"])
        eager_only = record["workload"] in EAGER_ONLY
        expected = [fw for fw in FRAMEWORKS if fw != "replay" or not eager_only]
        assert sorted(record["frameworks"]) == sorted(expected), record["name"]


@pytest.mark.parametrize("case", CASES)
def test_frameworks_agree(quick_run: dict[str, Any], case: str) -> None:
    record = next(r for r in quick_run["results"] if r["name"] == case)
    check = record["check"]
    assert "loss" in check["quantities"]
    assert any(q.startswith("grad.") for q in check["quantities"])
    for fw in FRAMEWORKS:
        if fw == "numpy" or (fw == "replay" and record["workload"] in EAGER_ONLY):
            continue
        err = check["max_rel_err"][fw]
        assert err <= check["tolerance"], (
            f"{case}: {fw} differs from hand-written NumPy on {check['worst'][fw]} "
            f"(relative error {err:.3g} > {check['tolerance']:.3g})"
        )
    assert check["passed"]


def test_training_workloads_check_the_update(quick_run: dict[str, Any]) -> None:
    for record in quick_run["results"]:
        if record["unit"] == "ms/step" and record["workload"] not in EAGER_ONLY:
            assert any(q.startswith("param.") for q in record["check"]["quantities"]), record


def test_run_passes_and_json_has_the_documented_fields(quick_run: dict[str, Any]) -> None:
    assert quick_run["returncode"] == 0, quick_run["stderr"]
    assert quick_run["passed"] is True
    assert {"cpu", "cores", "threads", "python", "numpy", "torch", "chainrule"} <= set(
        quick_run["machine"]
    )
    assert quick_run["machine"]["threads"] == 1
    for record in quick_run["results"]:
        assert {
            "name",
            "workload",
            "unit",
            "inner",
            "target",
            "check",
            "frameworks",
            "ratio_to_torch",
            "ratio_to_numpy",
            "ratio_to_torch_replay",
            "ratio_to_numpy_replay",
        } <= set(record)
        assert record["unit"] in ("us/op", "ms/step")
        for stats in record["frameworks"].values():
            assert {"median", "min", "max", "times"} <= set(stats)
            assert stats["min"] <= stats["median"] <= stats["max"]
            assert len(stats["times"]) == 1
        replayed = record["workload"] not in EAGER_ONLY
        assert record["ratio_to_numpy"] is not None
        assert (record["ratio_to_numpy_replay"] is not None) == replayed
        assert (record["ratio_to_torch"] is not None) == HAS_TORCH
        assert (record["ratio_to_torch_replay"] is not None) == (HAS_TORCH and replayed)
    # deep_chain times the eager engine only (no replay column)
    assert set(quick_run["deep_chain_scaling"]) == set(FRAMEWORKS) - {"replay"}


def test_peak_rss_runs_each_framework_alone(quick_run: dict[str, Any]) -> None:
    rss = quick_run["peak_rss"]["frameworks"]
    assert sorted(rss) == sorted(FRAMEWORKS)
    for fw, record in rss.items():
        assert "error" not in record, (fw, record)
        assert record["peak_rss_mib"] >= record["after_setup_mib"] > 0
    # chainrule must never import torch
    assert "torch" not in rss["chainrule"]["imported"]
    assert "torch" not in rss["replay"]["imported"]
    assert "torch" not in rss["numpy"]["imported"]


def test_table_output_without_json() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(RUNNER),
            "--workloads",
            "tutorial",
            "--quick",
            "--repeat",
            "1",
            "--warmup",
            "0",
            "--no-torch",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    header = proc.stdout.splitlines()[3].split()
    assert header[:5] == ["workload", "unit", "chainrule", "replay", "numpy"]
    assert "cr/numpy" in header and "replay/numpy" in header
    assert any(
        line.startswith("tutorial ") and line.rstrip().endswith("ok")
        for line in proc.stdout.splitlines()
    )


def test_bad_arguments_are_refused() -> None:
    proc = subprocess.run(
        [sys.executable, str(RUNNER), "--workloads", "nope"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr


def test_explain_size_benchmark_stays_within_its_output_bounds() -> None:
    """The 4-16-16-1 explanation's sizes (its time is the benchmark's to report)."""
    script = ROOT / "benchmarks" / "explain_size.py"
    done = subprocess.run(
        [sys.executable, str(script), "--repeat", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    result = json.loads(done.stdout)
    assert result["agrees"] and result["levels"]["4.bias[0]"] == "element"
    assert result["text_lines"] <= 400 and result["html_bytes"] <= 200_000
    assert result["json_bytes"] <= 600_000
    assert done.returncode == (1 if result["over"] else 0)


def test_the_profile_script_says_where_the_time_goes() -> None:
    script = ROOT / "benchmarks" / "profile_steps.py"
    done = subprocess.run(
        [sys.executable, str(script), "--workloads", "tutorial", "--steps", "5", "--top", "4"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "tutorial (chainrule, 5 steps)" in done.stdout
    assert "chainrule/autograd/engine.py" in done.stdout and "run_backward" in done.stdout
    assert "warning" not in done.stderr
