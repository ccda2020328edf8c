"""The HTML report: self-contained (no scripts, no external URLs), its numbers the engine's, and
rendered by a real headless Chromium that finds the derivation and non-empty pictures."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CLI, cli_json, needs_matplotlib

from chainrule.explain import graphs, report
from chainrule.explain.graphs import number
from chainrule.explain.report import build_report, render_report, write_report
from chainrule.explain.seeds import SeedConfig

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot is not installed (apt-get install graphviz)"
)

SMALL = dict(steps=3, lrs=(0.1, 0.5, 2.0), epochs=20)
EXTERNAL = re.compile(
    r"""(?:src|href|action|data)\s*=\s*["']?\s*(?:https?:|ftp:)?//"""
    r"""|url\(\s*["']?\s*(?:https?:)?//|@import""",
    re.I,
)

# Measures what the browser laid out and writes it into the DOM, for --dump-dom to carry out.
# Only the test's copy of the page gets it: the report itself has no scripts.
MEASURE = """<script>
window.addEventListener("load", function () {
  function box(e) { var r = e.getBoundingClientRect();
                    return {tag: e.tagName.toLowerCase(), width: r.width, height: r.height,
                            natural: e.naturalWidth || 0, section: e.closest("section").id}; }
  var found = Array.prototype.map.call(document.querySelectorAll("section > div > .picture > svg,"
                                                                 + " section img"), box);
  var out = document.createElement("pre");
  out.id = "measured";
  out.textContent = JSON.stringify(found);
  document.body.appendChild(out);
});
</script>"""


@pytest.fixture(scope="module")
def seed_report() -> report.Report:
    return build_report(**SMALL)


@pytest.fixture(scope="module")
def page(seed_report: report.Report) -> str:
    return render_report(seed_report)


@needs_matplotlib  # the sweep's picture is the page's one PNG
def test_page_is_self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    assert not EXTERNAL.search(page), EXTERNAL.search(page)
    assert page.count('src="data:image/png;base64,') == 1


def test_sections_in_reading_order(seed_report: report.Report, page: str) -> None:
    ids = [s.id for s in seed_report.sections]
    assert ids == ["network", "derivation", "graph", "steps", "sweep"]
    positions = [page.index(f'<section id="{i}">') for i in ids]
    assert positions == sorted(positions)


def test_numbers_are_the_engines(seed_report: report.Report, page: str) -> None:
    run = seed_report.tutorial
    assert len(run.steps) == 3
    for step in run.steps:
        cells = [
            number(step.values["E_total"]),
            number(step.values["a_o1"]),
            *(number(step.updated[w]) for w in run.parameters),
        ]
        row = "".join(f"<td>{c}</td>" for c in cells[:2])
        assert f"<td>{step.step}</td>{row}" in page
    sweep_runs = seed_report.sweep.runs
    assert [r.lr for r in sweep_runs] == [0.1, 0.5, 2.0]
    for r in sweep_runs:
        assert f"<td>{r.lr:g}</td><td>{number(r.final_error)}</td>" in page
    # the network picture carries the step-1 weights and gradients
    labels = {e.label for e in seed_report.network.edges}
    assert f"w5 = 0.4\n∂E/∂w5 = {number(run.gradients['w5'])}" in labels


def test_nothing_is_said_twice(page: str) -> None:
    """A single-path derivation prints its product once (no "sum over 1 path" and a repeated
    total); the tutorial's training table is not repeated above the report's own section."""
    derivation = page[page.index('<section id="derivation">') : page.index('<section id="graph">')]
    assert "sum over 1 path" not in derivation
    assert "sum over 2 paths" in derivation  # ∂E_total/∂w1 reaches E_total by two paths
    blocks = derivation.split("Chain rule, path by path")[1].split("<p><b>")[1:]
    singles = [block for block in blocks if "sum over" not in block]
    assert len(singles) == 4  # w5..w8
    for block in singles:
        assert block.count("= <b>") == 1, block  # the path's product is the total
    assert "Training:" not in derivation
    # inputs and weights on one line, not table rows with an empty definition cell
    assert "<td></td>" not in derivation and "<b>Given:</b>" in derivation
    assert page.count("Training, step by step") == 2  # the nav link and the heading


@needs_dot
def test_pictures_are_inline_svg(page: str) -> None:
    assert page.count("<svg") == 2
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page
    network = page[page.index('<section id="network">') : page.index('<section id="derivation">')]
    assert all(f">w{k} = " in network for k in range(1, 9))


def test_without_graphviz_the_dot_text_is_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graphs.shutil, "which", lambda name: None)
    page = render_report(build_report(steps=1, lrs=(0.5,), epochs=2, plots=False))
    assert "<svg" not in page
    assert page.count("apt-get install graphviz") == 2
    assert html.escape('"i1->h1" [label=<<TABLE') in page
    assert html.escape("<TD>w1 = 0.15</TD>") in page


def test_without_matplotlib_the_table_stays(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    page = render_report(build_report(steps=1, lrs=(0.5, 1.0), epochs=2, pictures=False))
    assert "data:image/png" not in page and "pip install" in page
    assert "<td>1</td>" in page


def test_variants_and_bad_paths(tmp_path: Path) -> None:
    config = SeedConfig(output_activation="identity", biases=(0.35, 0.6), train_biases=True)
    path = write_report(
        tmp_path / "r.html", config, steps=2, lrs=(0.2,), epochs=3, pictures=False, plots=False
    )
    text = path.read_text()
    assert "identity output layer" in text and "<th>b2 after</th>" in text
    assert path.stat().st_mode & 0o044  # readable by others, as any file the user writes
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_report(tmp_path / "missing" / "r.html", steps=1, lrs=(0.5,), epochs=1)
    assert not (tmp_path / "missing").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # no temporary left behind


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no headless Chromium (apt-get install chromium)")


def run_chromium(browser: str, url: str, profile: Path, *extra: str) -> str:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--window-size=1280,2000",
    ]
    result = subprocess.run(
        [browser, *flags, *extra, url], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@needs_dot
@needs_matplotlib
def test_chromium_renders_the_derivation_and_the_pictures(
    tmp_path: Path, page: str, seed_report: report.Report
) -> None:
    browser = chromium()
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    shot = tmp_path / "report.png"
    run_chromium(browser, path.as_uri(), tmp_path / "profile", f"--screenshot={shot}")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000

    measured = tmp_path / "measured.html"
    measured.write_text(page.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    dom = run_chromium(
        browser, measured.as_uri(), tmp_path / "profile", "--dump-dom", "--virtual-time-budget=5000"
    )
    sizes = json.loads(
        html.unescape(re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S).group(1))
    )
    where = {(s["section"], s["tag"]): s for s in sizes}
    assert set(where) == {("network", "svg"), ("graph", "svg"), ("sweep", "img")}, sizes
    for item in sizes:
        assert item["width"] > 300 and item["height"] > 150, item
    assert where[("sweep", "img")]["natural"] == 800  # the 8×5 in figure at 100 dpi

    derivation = dom[dom.index('<section id="derivation">') : dom.index('<section id="graph">')]
    text = re.sub(r"<[^>]+>", " ", derivation)
    # the explainer core's derivation: every weight's chain rule, checked against the engine
    assert "Chain rule, path by path" in text
    squeezed = "".join(text.split())
    assert all(f"∂Etotal/∂w{k}=sumover2paths" in squeezed for k in range(1, 5)), squeezed
    assert all(f"∂Etotal/∂w{k}∂Etotal/∂E" in squeezed for k in range(5, 9)), squeezed
    assert text.count("equals the engine's .grad") == 8


# ---- the command line ------------------------------------------------------------------------
def test_cli_report_with_no_arguments(tmp_path: Path, run_in_tmp: CLI) -> None:
    assert run_in_tmp(["report"]).out == "wrote chainrule-report.html\n"
    page = (tmp_path / "chainrule-report.html").read_text()
    assert "<td>10</td>" in page and "<td>2</td><td>" in page  # 10 steps, lr 2 in the sweep
    assert [p.name for p in tmp_path.iterdir()] == ["chainrule-report.html"]


def test_cli_report_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.html"
    argv = "report --json --steps 2 --epochs 5 --lrs 0.5 1 --carry-weights --lr 0.25 -o"
    assert cli_json([*argv.split(), str(path)], capsys) == {"report": str(path)}
    page = path.read_text()
    assert "learning rate 0.25" in page and "each rate starting from the last" in page


@pytest.mark.parametrize(
    "argv",
    [
        ["-o", "r.txt"],
        ["-o", "no/such/dir/r.html"],
        ["--epochs", "x"],
        ["--lrs"],
        ["--steps", "-3"],
    ],
)
def test_cli_report_bad_arguments(argv: list[str], refuse: CLI) -> None:
    refuse(["report", "--epochs", "2", *argv])
