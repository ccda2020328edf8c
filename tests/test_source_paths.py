""" "Inside chainrule" means inside the installed package's own folder, not "a path containing
/chainrule/": a clone of this repository, or a user's project, is often a folder named chainrule,
and anomaly reports and replay's constant sites must still tell the user's code from ours."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import chainrule
from chainrule._source import in_package, package_relative

PACKAGE = Path(chainrule.__file__).resolve().parent
TESTS = Path(__file__).resolve().parent

USER_SCRIPT = """\
import numpy as np
import chainrule as cr

x = cr.tensor(np.array([1.0, -1.0]), requires_grad=True)
with cr.autograd.detect_anomaly():
    h = x * 2.0
    try:
        h.log()  # the line the report must point at
    except RuntimeError as error:
        print(error)
print("package:", cr.__file__)
"""


def run_python(args: list[str], cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def copy_package(destination: Path) -> Path:
    """A copy of the package at ``destination/chainrule`` (as a clone or a checkout holds it)."""
    target = destination / "chainrule"
    shutil.copytree(PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def test_package_files_are_named_inside_the_package_and_nothing_else() -> None:
    assert package_relative(str(PACKAGE / "tensor.py")) == "chainrule/tensor.py"
    assert package_relative(str(PACKAGE / "autograd" / "node.py")) == "chainrule/autograd/node.py"
    assert package_relative("/home/someone/chainrule/train.py") is None
    assert package_relative(str(PACKAGE.parent / "chainrule_extras" / "x.py")) is None
    assert package_relative("<string>") is None and not in_package("<stdin>")


def test_user_code_in_a_folder_named_chainrule_is_the_users(tmp_path: Path) -> None:
    project = tmp_path / "chainrule"  # e.g. ~/chainrule/, the user's own project
    project.mkdir()
    (project / "train_me.py").write_text(USER_SCRIPT)
    done = run_python(["train_me.py"], cwd=project, pythonpath=PACKAGE.parent)
    assert done.returncode == 0, done.stderr
    assert "'log' produced nan in the forward pass" in done.stdout
    assert "train_me.py:8 in <module>: h.log()" in done.stdout


def test_user_code_next_to_a_checkout_named_chainrule(tmp_path: Path) -> None:
    # a clone named chainrule with an editable install: the repository root is on sys.path and
    # the user's script sits beside the package folder
    clone = tmp_path / "chainrule"
    clone.mkdir()
    copy_package(clone)
    (clone / "example.py").write_text(USER_SCRIPT)
    done = run_python(["example.py"], cwd=clone, pythonpath=clone)
    assert done.returncode == 0, done.stderr
    assert f"package: {clone / 'chainrule' / '__init__.py'}" in done.stdout
    assert "example.py:8 in <module>: h.log()" in done.stdout


def test_a_symlinked_site_packages_is_still_the_package(tmp_path: Path) -> None:
    # the package reached through a symlink: its frames must still count as the library's
    site = tmp_path / "site-packages"
    site.mkdir()
    (site / "chainrule").symlink_to(PACKAGE, target_is_directory=True)
    user = tmp_path / "work" / "chainrule"
    user.mkdir(parents=True)
    (user / "run.py").write_text(USER_SCRIPT)
    done = run_python(["run.py"], cwd=user, pythonpath=site)
    assert done.returncode == 0, done.stderr
    assert f"package: {site / 'chainrule' / '__init__.py'}" in done.stdout
    assert "run.py:8 in <module>: h.log()" in done.stdout


@pytest.mark.slow
def test_the_anomaly_tests_pass_from_a_clone_named_chainrule(tmp_path: Path) -> None:
    # the fresh-clone failure itself: tests/test_anomaly.py run from <somewhere>/chainrule/tests/
    clone = tmp_path / "chainrule"
    (clone / "tests").mkdir(parents=True)
    copy_package(clone)
    shutil.copy(TESTS / "test_anomaly.py", clone / "tests" / "test_anomaly.py")
    done = run_python(
        ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_anomaly.py"],
        cwd=clone,
        pythonpath=clone,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout and "failed" not in done.stdout
