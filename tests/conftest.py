"""Shared fixtures: a seeded NumPy generator per test, so every run draws the same numbers."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    """A NumPy generator seeded from the test's id: reproducible, and different per test."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture(scope="module")
def one_torch_thread() -> Any:
    """PyTorch on one thread for a module's tests (``pytest.mark.usefixtures``): on tiny
    tensors its thread pool only spins against the other processes."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def requires(module: str, extra: str) -> pytest.MarkDecorator:
    """Skip, naming the extra that installs it, where an optional package is missing."""
    return pytest.mark.skipif(
        importlib.util.find_spec(module) is None,
        reason=f"needs {module}: pip install -e '.[{extra}]'",
    )


needs_matplotlib = requires("matplotlib", "plots")
HAS_TORCH = importlib.util.find_spec("torch") is not None
ROOT = Path(__file__).resolve().parent.parent


def run_benchmark(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python benchmarks/SCRIPT ARGS`` at the repository root, ``--no-torch`` added where
    PyTorch is missing; the exit status is the caller's to check."""
    cmd = [sys.executable, str(ROOT / "benchmarks" / script), *args]
    if not HAS_TORCH:
        cmd.append("--no-torch")
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)


def refused(argv: list[str], folder: Any, monkeypatch: Any, capsys: Any) -> str:
    """Run ``chainrule ARGV`` in ``folder``: it must exit 2 with one "chainrule: error:" line
    and write nothing there. Returns that line."""
    from chainrule.cli import main

    monkeypatch.chdir(folder)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("chainrule: error: ") and err.count("\n") == 1, err
    assert list(folder.iterdir()) == []
    return str(err)


# a run of ``chainrule ARGV`` as the fixtures below give it
CLI = Callable[[list[str]], Any]


@pytest.fixture
def refuse(tmp_path: Path, monkeypatch: Any, capsys: Any) -> CLI:
    """``refused(argv)`` in this test's tmp_path."""
    return lambda argv: refused(argv, tmp_path, monkeypatch, capsys)


@pytest.fixture
def run_in_tmp(tmp_path: Path, monkeypatch: Any, capsys: Any) -> CLI:
    """Run ``chainrule ARGV`` in this test's tmp_path; it must succeed. Returns what it printed
    (``capsys.readouterr()``)."""
    from chainrule.cli import main

    def run(argv: list[str]) -> Any:
        monkeypatch.chdir(tmp_path)
        assert main(argv) == 0
        return capsys.readouterr()

    return run


def cli_json(argv: list[str], capsys: Any) -> Any:
    """Run ``chainrule ARGV`` (with --json); it must succeed. Returns what it printed, parsed."""
    from chainrule.cli import main

    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)
