"""The documentation site builds offline with warnings as errors, and every example on its
pages runs and prints what the page says."""

from __future__ import annotations

import doctest
import subprocess
import sys
from pathlib import Path

import pytest

import chainrule

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "docs" / "site"
PAGES = sorted(SITE.glob("*.rst"))


@pytest.mark.slow
def test_the_site_builds_with_warnings_as_errors(tmp_path):
    pytest.importorskip("sphinx", reason="the docs need sphinx (.[test] or .[dev])")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            str(SITE),
            str(tmp_path / "html"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    built = {p.name for p in (tmp_path / "html").glob("*.html")}
    assert {
        "index.html",
        "getting-started.html",
        "tutorial.html",
        "explainer.html",
        "explorer.html",
        "api.html",
    } <= built
    api = (tmp_path / "html" / "api.html").read_text(encoding="utf-8")
    assert "Derive ∂loss/∂parameter by the chain rule" in api  # from explain()'s docstring
    tutorial = (tmp_path / "html" / "tutorial.html").read_text(encoding="utf-8")
    assert "0.0128808186316" in tutorial  # the real output of the tutorial


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_the_examples_on_each_page_run(page):
    failures, tried = doctest.testfile(
        str(page),
        module_relative=False,
        globs={"cr": chainrule},
        verbose=False,
        optionflags=doctest.ELLIPSIS,
    )
    assert failures == 0
    assert tried > 0 or page.name in ("index.rst", "api.rst")
