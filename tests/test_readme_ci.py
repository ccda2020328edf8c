"""The README's two commands, CI's script and the API tour stay in step with each other."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CI_RUN = (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, flags=re.S | re.M)


def _first_commands() -> list[str]:
    """The README's opening commands: the code blocks before the first section heading."""
    head = README.split("\n## ", 1)[0]
    return [b.strip() for b in re.findall(r"^```bash\n(.*?)^```", head, flags=re.S | re.M)]


def test_readme_opens_with_two_one_line_commands() -> None:
    commands = _first_commands()
    assert len(commands) == 2, f"expected two commands before the first section, got {commands}"
    assert all("\n" not in c for c in commands), commands


def test_main_command_is_the_first_one_and_runs_the_tutorial() -> None:
    main, _ = _first_commands()
    assert main.startswith("python -m pip install -e . && ")
    assert main.endswith("chainrule tutorial")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["chainrule"] == "chainrule.cli:main"


def test_ci_runs_exactly_the_readme_test_command() -> None:
    _, test_command = _first_commands()
    assert "pytest" in test_command
    assert "'.[test]'" in test_command
    code_lines = [
        line.strip()
        for line in CI_RUN.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert test_command in code_lines, (
        f".ci/run must run the README's test command verbatim: {test_command!r}"
    )
    assert code_lines[-1] == test_command, "the test command is the last thing .ci/run does"


def test_ci_script_is_strict_and_installs_its_apt_packages_once() -> None:
    assert CI_RUN.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in CI_RUN
    assert CI_RUN.count("apt-get update") == 1
    assert "--no-install-recommends" in CI_RUN
    assert "DEBIAN_FRONTEND=noninteractive" in CI_RUN


def test_the_tour_runs() -> None:
    tour, check = _blocks("python")[:2]
    namespace: dict[str, object] = {}
    exec(compile(tour, "README.md (tour)", "exec"), namespace)
    assert namespace["L"].item() == 0.25  # type: ignore[attr-defined]
    assert namespace["W"].item() == pytest.approx(0.4)  # type: ignore[attr-defined]
    assert namespace["g"].tolist() == [3.0, 12.0, 27.0]  # type: ignore[attr-defined]
    assert namespace["h"].tolist() == [6.0, 12.0, 18.0]  # type: ignore[attr-defined]
    final = namespace["loss"].item()  # type: ignore[attr-defined]
    assert final < 0.693, f"the tour's loop should learn something, loss is {final}"
    exec(compile(check, "README.md (gradcheck)", "exec"), namespace)


def test_the_replay_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    tour, _, replayed = _blocks("python")[:3]
    namespace: dict[str, object] = {}
    exec(compile(tour, "README.md (tour)", "exec"), namespace)
    before = namespace["loss"].item()  # type: ignore[attr-defined]
    exec(compile(replayed, "README.md (replay)", "exec"), namespace)
    counts = {"traced": 1, "verified": 1, "replayed": 198, "eager": 0}
    assert namespace["step"].counts == counts  # type: ignore[attr-defined]
    assert str(counts) in capsys.readouterr().out
    assert namespace["loss"].item() < before  # type: ignore[attr-defined]
