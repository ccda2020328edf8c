"""``chainrule report``: one self-contained HTML page of the worked example."""

from __future__ import annotations

import argparse
import sys

from chainrule import cli  # write_via is looked up where a test may patch it
from chainrule.cli.common import (
    PROG,
    add_network_arguments,
    add_output_file,
    check_suffix,
    dumps_strict,
    seed_config,
)
from chainrule.cli.sweep import add_sweep_arguments


def arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser, steps=10)
    add_sweep_arguments(parser)
    add_output_file(parser, "chainrule-report.html", "the page")
    parser.add_argument("--json", action="store_true", help="print the written path as JSON")


def run(args: argparse.Namespace) -> int:
    import html

    from chainrule.explain.curves import MATPLOTLIB_MISSING
    from chainrule.explain.graphs import GRAPHVIZ_MISSING
    from chainrule.explain.report import build_report, render_report

    config = seed_config(args, "report")
    path = check_suffix(args.output, (".html", ".htm"), "the report")
    page = render_report(
        build_report(
            config,
            steps=args.steps,
            lrs=args.lrs,
            epochs=args.epochs,
            carry_weights=args.carry_weights,
        )
    )
    cli.write_via(path, lambda temporary: temporary.write_text(page, encoding="utf-8"))
    print(dumps_strict({"report": str(path)}) if args.json else f"wrote {path}")
    for what, missing in (("curves", MATPLOTLIB_MISSING), ("pictures", GRAPHVIZ_MISSING)):
        if html.escape(missing) in page:  # the page is written; say what it lacks, in one line
            print(f"{PROG}: note: the report has no {what}: {missing}", file=sys.stderr)
    return 0
