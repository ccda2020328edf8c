"""benchmarks/course_cnn.py trains the course-style CNN in both frameworks on the same weights
and reports epoch times, their ratio and (with --rss) each framework's peak memory. No timing is
asserted: timings live in the benchmark output, not in tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "course_cnn.py"


@pytest.mark.slow
def test_quick_run_with_memory() -> None:
    cmd = [sys.executable, str(SCRIPT), "--quick", "--threads", "1", "--rss", "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["machine"]["threads"] == 1
    assert result["parameters"] == 7416 and result["batch"] == 128
    assert result["initial_max_abs_diff"] < 1e-4  # the same weights, the same function
    for framework in ("chainrule", "torch"):
        assert len(result["seconds_per_epoch"][framework]) == 2
        assert result["median_seconds"][framework] > 0
        assert result["peak_rss_mib"][framework] > 20
    assert result["ratio"] > 0
    # its BatchNorm and Dropout replay: one trace and one check, then every step replayed
    assert result["replay_counts"] == {"traced": 1, "verified": 1, "replayed": 4, "eager": 0}
    # each child's peak is its own: PyTorch's import alone is bigger than chainrule's
    assert result["peak_rss_mib"]["chainrule"] != result["peak_rss_mib"]["torch"]


def test_profile_times_each_replayed_call() -> None:
    script = ROOT / "benchmarks" / "profile_cnn.py"
    cmd = [sys.executable, str(script), "--steps", "3", "--calls", "--top", "4"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert int(lines[0].split()[0]) > 100 and "calls per step" in lines[0]  # the whole step
    rows = lines[2:]
    assert len(rows) == 4 and any("_conv2d_forward" in row for row in rows)
