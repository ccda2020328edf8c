"""``chainrule derivatives``: every primitive's forward and local derivatives, one page."""

from __future__ import annotations

import argparse

from chainrule.cli.common import CLIError, dumps_strict


def arguments(parser: argparse.ArgumentParser) -> None:
    shape = parser.add_mutually_exclusive_group()
    shape.add_argument("--markdown", action="store_true", help="a Markdown table per section")
    shape.add_argument("--json", action="store_true", help="one record per primitive")
    parser.add_argument(
        "--op", metavar="NAME", action="append", help="only this primitive (repeatable)"
    )


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from chainrule.explain.handout import handout_rows, render_handout
    from chainrule.ops.registry import primitives

    names = args.op or []
    unknown = [name for name in names if name not in primitives()]
    if unknown:
        raise CLIError(
            f"no primitive named {', '.join(map(repr, unknown))}; the primitives are: "
            + ", ".join(primitives())
        )
    if args.json:
        rows = [row for row in handout_rows() if not names or row.name in names]
        print(dumps_strict([asdict(row) for row in rows]))
    else:
        print(render_handout(markdown=args.markdown, only=names), end="")
    return 0
