"""A short fuzzing session of the readers of untrusted files (fuzz/fuzz_readers.py, atheris):
only the readers' own errors may come out. Longer sessions: run the script by hand."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

TARGET = Path(__file__).resolve().parent.parent / "fuzz" / "fuzz_readers.py"


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris not installed")
def test_a_short_fuzzing_session_finds_nothing(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(TARGET), "-runs=30000", "-seed=1", f"-artifact_prefix={tmp_path}/"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Done 30000 runs" in done.stderr
    assert not list(tmp_path.glob("crash-*"))
