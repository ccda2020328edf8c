"""Sphinx configuration of chainrule's documentation site, built offline from the repository:

    python -m sphinx -W -b html docs/site build/docs        # the site (warnings are errors)

Every ``>>>`` example on the pages is run by tests/test_docs.py (the docstrings' own examples
are run by pytest's --doctest-modules).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import chainrule  # noqa: E402
from chainrule.explain import render_html, render_text  # noqa: E402
from chainrule.explain.seeds import seed_tutorial  # noqa: E402

project = "chainrule"
author = "the chainrule authors"
copyright = "2026, the chainrule authors"  # noqa: A001 - Sphinx's name
release = version = chainrule.__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon"]
exclude_patterns = ["_build", "_generated"]
html_theme = "alabaster"
html_title = "chainrule"
html_static_path: list[str] = []
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
napoleon_numpy_docstring = True
napoleon_google_docstring = False
nitpicky = False

# the tutorial page shows the real output of `chainrule tutorial`, made at build time
GENERATED = Path(__file__).resolve().parent / "_generated"
GENERATED.mkdir(exist_ok=True)
_run = seed_tutorial()
(GENERATED / "tutorial.txt").write_text(render_text(_run, color=False), encoding="utf-8")
(GENERATED / "tutorial.html").write_text(render_html(_run), encoding="utf-8")

# the derivatives page is the handout generated from the primitives (chainrule derivatives)
from chainrule.explain.handout import render_handout  # noqa: E402

(GENERATED / "derivatives.txt").write_text(render_handout(), encoding="utf-8")
