"""Regenerate the README's pictures from the real command line, so they stay true.

    python docs/make_images.py            # writes docs/images/*.{svg,png}

Every picture is made by a ``chainrule`` subcommand with its defaults (the seeds' 2-2-2
network); this script only runs the commands and, for the two pictures a browser has to
draw, takes a screenshot:

    network.svg, graph.svg   chainrule graph --format svg
    sweep.png                chainrule sweep
    train.png                chainrule train --curves (the digits MLP, seed 0)
    report.png               chainrule report, opened in headless Chromium (top of the page)
    sheet.png                chainrule sheet, recalculated by LibreOffice (soffice), exported
                             to HTML and opened in headless Chromium (top-left corner)
    explorer.png             chainrule explore's page (its server, from Python), in headless
                             Chromium after ten steps of training (?train=10)

Chromium and LibreOffice are the Debian packages CI installs (``.ci/run``); without one of
them the picture that needs it is skipped with a message and the old file is kept. Pillow
(which matplotlib already needs) crops and resizes the screenshots.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

IMAGES = Path(__file__).resolve().parent / "images"
WIDTH = 1000  # pixels, for the screenshots


def chainrule(*args: str, cwd: Path) -> str:
    """Run ``chainrule ARGS`` (the console script, else the module) and return its stdout."""
    script = shutil.which("chainrule")
    command = (
        [script]
        if script
        else [sys.executable, "-c", "import sys; from chainrule.cli import main; sys.exit(main())"]
    )
    done = subprocess.run([*command, *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"chainrule {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    return None


def screenshot(page: Path | str, png: Path, width: int, height: int) -> None:
    """A headless-Chromium screenshot of ``page`` (a file or a URL) in a ``width`` x ``height``
    window, after its scripts have run (up to 5 s of virtual time)."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser() or "chromium",
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
                f"--screenshot={png}",
                f"--window-size={width},{height}",
                "--virtual-time-budget=5000",
                page if isinstance(page, str) else page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def save_small(image: Image.Image, out: Path) -> None:
    """Resize to WIDTH pixels wide (if wider) and save as a 256-colour PNG."""
    if image.width > WIDTH:
        image = image.resize((WIDTH, round(image.height * WIDTH / image.width)), Image.LANCZOS)
    image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
        out, optimize=True
    )
    print(f"wrote {out.relative_to(IMAGES.parent.parent)} ({out.stat().st_size // 1024} KB)")


def graphs(tmp: Path) -> None:
    chainrule("graph", "--format", "svg", "-o", "chainrule", cwd=tmp)
    for source, target in (
        ("chainrule-network.svg", "network.svg"),
        ("chainrule-graph.svg", "graph.svg"),
    ):
        shutil.copyfile(tmp / source, IMAGES / target)
        print(f"wrote docs/images/{target}")


def sweep(tmp: Path) -> None:
    chainrule("sweep", "-o", "sweep.png", cwd=tmp)
    shutil.copyfile(tmp / "sweep.png", IMAGES / "sweep.png")
    print("wrote docs/images/sweep.png")


def train(tmp: Path) -> None:
    chainrule("train", "--no-checkpoint", "--curves", "train.png", cwd=tmp)
    shutil.copyfile(tmp / "train.png", IMAGES / "train.png")
    print("wrote docs/images/train.png")


def report(tmp: Path) -> None:
    if browser() is None:
        print("skipped docs/images/report.png: no chromium on PATH")
        return
    chainrule("report", "-o", "report.html", cwd=tmp)
    shot = tmp / "report-shot.png"
    screenshot(tmp / "report.html", shot, 1280, 1400)
    # the top of the page: title, contents, the network picture, the derivation's opening
    save_small(Image.open(shot).crop((0, 0, 1280, 1130)), IMAGES / "report.png")


def sheet(tmp: Path) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None or browser() is None:
        print("skipped docs/images/sheet.png: needs soffice (LibreOffice) and chromium")
        return
    chainrule("sheet", "-o", "training.xlsx", cwd=tmp)
    # LibreOffice opens the workbook, computes every formula and writes the values as HTML
    subprocess.run(
        [
            soffice,
            "--headless",
            f"-env:UserInstallation={(tmp / 'lo').as_uri()}",
            "--convert-to",
            "html",
            "--outdir",
            str(tmp),
            str(tmp / "training.xlsx"),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    page = tmp / "training.html"
    html = page.read_text(encoding="utf-8")
    # a spreadsheet's look: fixed columns, text spilling over empty cells instead of wrapping
    html = html.replace(
        "</style>",
        "  table { table-layout: fixed; width: 2600px }\n"
        "  td { white-space: nowrap; overflow: visible; padding: 1px 4px }\n</style>",
        1,
    )
    html = re.sub(r'<colgroup span="(\d+)" width="\d+">', r'<colgroup span="\1" width="80">', html)
    page.write_text(html, encoding="utf-8")
    shot = tmp / "sheet-shot.png"
    screenshot(page, shot, WIDTH, 440)
    # the title, the yellow input cells and the first ten iterations, cut between two rows
    save_small(Image.open(shot).crop((0, 0, WIDTH, 386)), IMAGES / "sheet.png")


def explorer(tmp: Path) -> None:
    """The explorer's page, served from this process, after ten steps of training."""
    from chainrule.explorer import ExplorerServer, SeedSession

    # ?train=10: the page takes ten steps when it opens, so the curve has something to show
    with ExplorerServer(SeedSession()) as server:
        shot = tmp / "explorer-full.png"
        screenshot(server.url + "?train=10", shot, 1440, 1000)
    save_small(Image.open(shot).crop((0, 0, 1440, 1000)), IMAGES / "explorer.png")


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        graphs(tmp)
        sweep(tmp)
        train(tmp)
        report(tmp)
        sheet(tmp)
        explorer(tmp)


if __name__ == "__main__":
    main()
