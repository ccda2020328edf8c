"""The ``chainrule`` command: argparse, one module per subcommand, ``main(argv) -> int``.

Adding a subcommand: write ``chainrule/cli/<name>.py`` with ``arguments(parser)`` and
``run(args) -> int`` and add one row to ``COMMANDS``. Shared helpers in ``common``
(``add_network_arguments``, ``network_options``, ``add_format_arguments``, ``emit``) keep the
options of ``tutorial``, ``sweep``, ``sheet`` and ``report`` the same. Raise ``CLIError`` (or
``ValueError``/``OSError``) for a user's mistake: ``main`` turns it into one line on stderr and
exit code 2.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from chainrule import _atomic  # noqa: F401 - chainrule.cli._atomic, for tests that patch writes
from chainrule.cli import (
    derivatives,
    evaluate,
    explore,
    gradcheck,
    graph,
    report,
    sheet,
    sweep,
    train,
    tutorial,
    version,
)
from chainrule.cli.common import (
    EXIT_DIVERGED,
    EXIT_USAGE,
    JSON_NOTE,
    PROG,
    CLIError,
    add_format_arguments,
    add_network_arguments,
    check_suffix,
    dumps_strict,
    emit,
    finite_float,
    network_argv,
    network_options,
    nonnegative_float,
    nonnegative_int,
    output_format,
    port_number,
    positive_float,
    positive_int,
    seed_config,
    use_color,
    write_atomic,
    write_via,
)

__all__ = [
    "COMMANDS",
    "EXIT_DIVERGED",
    "EXIT_USAGE",
    "JSON_NOTE",
    "PROG",
    "CLIError",
    "add_format_arguments",
    "add_network_arguments",
    "build_parser",
    "check_suffix",
    "dumps_strict",
    "emit",
    "finite_float",
    "main",
    "network_argv",
    "network_options",
    "nonnegative_float",
    "nonnegative_int",
    "output_format",
    "port_number",
    "positive_float",
    "positive_int",
    "seed_config",
    "use_color",
    "write_atomic",
    "write_via",
]


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block) and go through ``main``."""

    def error(self, message: str) -> NoReturn:
        raise CLIError(f"{message} (see '{self.prog} --help')")


Command = tuple[
    str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]
]

# name, one-line help, arguments, run: add a subcommand by adding a row
COMMANDS: list[Command] = [
    (
        "tutorial",
        "the worked example's 2-2-2 network step by step: forward values, local derivatives, "
        "chain-rule products, weight updates",
        tutorial.arguments,
        tutorial.run,
    ),
    (
        "explore",
        "the worked example's network as a live page on 127.0.0.1: edit any number and watch "
        "every derivative, product and update change",
        explore.arguments,
        explore.run,
    ),
    (
        "sweep",
        "learning-rate sweep of the seed network: error-vs-epoch curves in one figure "
        "and the table of final weights, error and outputs",
        sweep.arguments,
        sweep.run,
    ),
    (
        "graph",
        "pictures of the seed network (neurons, weights w1..w8) and of its computation "
        "graph (values and gradients), via Graphviz",
        graph.arguments,
        graph.run,
    ),
    (
        "sheet",
        "the seed network's training as an .xlsx of live formulas (change the learning "
        "rate or a weight and it recomputes)",
        sheet.arguments,
        sheet.run,
    ),
    (
        "report",
        "one self-contained HTML page: network picture, derivation, computation graph, "
        "training steps, learning-rate curves",
        report.arguments,
        report.run,
    ),
    (
        "train",
        "train a model on bundled data (an MLP or a small CNN on the 8x8 digits, or "
        "xor, moons, spirals): progress, accuracy, checkpoint, curves",
        train.arguments,
        train.run,
    ),
    (
        "evaluate",
        "evaluate a checkpoint of 'chainrule train' on its dataset's test split: loss and accuracy",
        evaluate.arguments,
        evaluate.run,
    ),
    (
        "gradcheck",
        "check a model's or an op's gradients against finite differences: a report "
        "per parameter (norms, errors, worst element)",
        gradcheck.arguments,
        gradcheck.run,
    ),
    (
        "derivatives",
        "every primitive's forward and local derivatives on one page, like a calculus "
        "handout (generated from the op table)",
        derivatives.arguments,
        derivatives.run,
    ),
    ("version", "print chainrule's version", version.arguments, version.run),
]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="chainrule: backpropagation you can see. Run 'chainrule tutorial' to walk "
        "through the worked example, every number produced by the engine.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from chainrule import __version__

    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, summary, arguments, run in COMMANDS:
        child = sub.add_parser(name, help=summary, description=summary[0].upper() + summary[1:])
        arguments(child)
        child.set_defaults(func=run)
    return parser


def _fail(message: str) -> int:
    first = " ".join(str(message).split())
    print(f"{PROG}: error: {first}", file=sys.stderr)
    return EXIT_USAGE


class _Terminated(SystemExit):
    """SIGTERM, raised like Ctrl-C so that a file being written is removed, not left behind."""


def _on_sigterm(signum: int, frame: Any) -> NoReturn:
    raise _Terminated(128 + signum)


def _run(args: argparse.Namespace) -> int:
    """The subcommand with NumPy's floating-point warnings off: an overflow shows as a non-finite
    result (null in JSON, with a notice), not as Python warnings on stderr."""
    import warnings

    import numpy as np

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return int(args.func(args))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 bad arguments or files)."""
    parser = build_parser()
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: leave SIGTERM alone
        pass
    try:
        args, extra = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
        if extra:  # point at the subcommand's help, which lists its options
            where = f"{PROG} {args.command}" if getattr(args, "command", None) else PROG
            raise CLIError(f"unrecognized arguments: {' '.join(extra)} (see '{where} --help')")
        if getattr(args, "func", None) is None:
            parser.print_help()
            return 0
        return _run(args)
    except SystemExit as stop:  # --help and --version exit through argparse
        return stop.code if isinstance(stop.code, int) else 0
    except BrokenPipeError:  # `chainrule tutorial | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (CLIError, ValueError, OSError, ImportError) as error:  # ImportError: a missing extra
        return _fail(str(error))
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # a bug of ours: still one line, unless asked for the traceback
        if os.environ.get("CHAINRULE_DEBUG"):
            raise
        print(
            f"{PROG}: internal error: {type(error).__name__}: {error} (set CHAINRULE_DEBUG=1 "
            "for the traceback, and please report it)",
            file=sys.stderr,
        )
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
