"""``chainrule tutorial``: the worked example step by step, in text, Markdown, JSON or HTML."""

from __future__ import annotations

import argparse
import json
import shlex
import sys

from chainrule.cli.common import (
    PROG,
    add_format_arguments,
    add_network_arguments,
    dumps_strict,
    emit,
    network_argv,
    network_options,
    output_format,
    use_color,
)


def arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser)
    add_format_arguments(parser)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "examples:\n"
        "  chainrule tutorial                          the 2-2-2 network, one step, in full\n"
        "  chainrule tutorial --steps 20               ... and 20 steps of training\n"
        "  chainrule tutorial --output-activation identity   its identity-output variant\n"
        "  chainrule tutorial --example one-weight     one weight: W = 0.5 -> 0.4\n"
        "  chainrule tutorial --biases 0.35 0.60 --targets 0.01 0.99\n"
        "                                              the classic walk-through's numbers\n"
        "  chainrule tutorial --format markdown -o tutorial.md"
    )


def run(args: argparse.Namespace) -> int:
    from chainrule.explain import render
    from chainrule.explain.seeds import tutorial

    example, options = network_options(args)
    run = tutorial(example, **options)
    fmt = output_format(args)
    text = render(run, fmt, color=use_color(args, sys.stdout), full_page=True)
    # the closing hint repeats the user's options, so that running it continues this tutorial
    given = shlex.join(network_argv(args))
    text = text.replace("run 'chainrule tutorial --steps 20'", f"run '{PROG} tutorial {given}'")
    if fmt == "json":
        text = dumps_strict(json.loads(text), indent=2, ensure_ascii=False)
    emit(text, args)
    return 0
