"""``chainrule sheet``: the seed network's training as an .xlsx workbook of live formulas."""

from __future__ import annotations

import argparse
import sys

from chainrule import cli  # write_via is looked up where a test may patch it
from chainrule.cli.common import (
    PROG,
    CLIError,
    add_network_arguments,
    add_output_file,
    check_suffix,
    dumps_strict,
    seed_config,
    set_help,
)

MAX_SHEET_STEPS = 10_000  # a workbook of formulas beyond this takes minutes to write


def arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser, steps=100)
    set_help(
        parser,
        "--steps",
        f"training steps in the workbook (default: 100, at most {MAX_SHEET_STEPS})",
    )
    add_output_file(parser, "chainrule-training.xlsx", "the workbook")
    parser.add_argument("--json", action="store_true", help="print the written path as JSON")


def run(args: argparse.Namespace) -> int:
    from chainrule.explain.spreadsheet import OPENPYXL_MISSING, write_spreadsheet

    if args.steps > MAX_SHEET_STEPS:
        raise CLIError(
            f"--steps {args.steps} is too many for a workbook; at most {MAX_SHEET_STEPS}"
        )
    config = seed_config(args, "sheet")
    path = check_suffix(args.output, (".xlsx",), "the workbook")
    cli.write_via(path, lambda temporary: write_spreadsheet(temporary, config, steps=args.steps))
    print(dumps_strict({"sheet": str(path)}) if args.json else f"wrote {path}")
    try:
        import openpyxl  # noqa: F401 - only to say which writer wrote the file
    except ImportError:
        print(f"{PROG}: note: {OPENPYXL_MISSING}", file=sys.stderr)
    return 0
