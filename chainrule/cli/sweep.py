"""``chainrule sweep``: a learning-rate sweep of the seed network, as a table and a figure."""

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
    positive_float,
    positive_int,
    seed_config,
    set_help,
)


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    from chainrule.explain.curves import DEFAULT_EPOCHS, DEFAULT_LRS

    group = parser.add_argument_group("learning-rate sweep")
    group.add_argument(
        "--lrs",
        type=positive_float,
        nargs="+",
        default=list(DEFAULT_LRS),
        metavar="ETA",
        help="learning rates, in the order they run (default: "
        f"{' '.join(f'{lr:g}' for lr in DEFAULT_LRS)})",
    )
    group.add_argument(
        "--epochs",
        type=positive_int,
        default=DEFAULT_EPOCHS,
        metavar="N",
        help=f"gradient-descent steps per learning rate (default: {DEFAULT_EPOCHS})",
    )
    group.add_argument(
        "--carry-weights",
        action="store_true",
        help="start each rate from the previous rate's final weights (default: "
        "every rate starts from the same weights)",
    )


def arguments(parser: argparse.ArgumentParser) -> None:
    add_sweep_arguments(parser)
    add_network_arguments(parser, steps=None)
    # the shared --lr is not a sweep's: say so in --help
    set_help(parser, "--lr", "not used by sweep: give the learning rates with --lrs")
    add_output_file(parser, "chainrule-sweep.png", "the figure: .png, .svg or .pdf")
    parser.add_argument("--no-figure", action="store_true", help="print the table only")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the table (final error, outputs, weights and every epoch's "
        "error per rate) and the figure's path as JSON",
    )


def run(args: argparse.Namespace) -> int:
    from chainrule.explain.curves import save_figure, sweep, sweep_figure, sweep_table

    config = seed_config(args, "sweep")
    figure_path = (
        None
        if args.no_figure
        else check_suffix(args.output, (".png", ".svg", ".pdf"), "the figure")
    )
    if figure_path is not None and figure_path.is_dir():
        raise CLIError(f"{figure_path} is a directory")
    result = sweep(args.lrs, args.epochs, carry_weights=args.carry_weights, config=config)
    missing = None
    if figure_path is not None:
        try:
            figure = sweep_figure(result)
        except ImportError as error:  # the table is the result; the picture is the extra
            missing, figure_path = str(error), None
        else:
            cli.write_via(figure_path, lambda temporary: save_figure(figure, temporary))
    if args.json:
        print(
            dumps_strict({**result.to_dict(), "figure": str(figure_path) if figure_path else None})
        )
    else:
        sys.stdout.write(sweep_table(result))
        if figure_path is not None:
            print(f"wrote {figure_path}", file=sys.stderr)
    if missing is not None:
        print(f"{PROG}: note: no figure was drawn: {missing}", file=sys.stderr)
    return 0
