"""The ``chainrule`` command: argparse, one small ``cmd_*`` function per subcommand.

Adding a subcommand: write ``_<name>_arguments(parser)`` and ``cmd_<name>(args) -> int`` and add
one row to ``COMMANDS``. Shared helpers (``add_network_arguments``, ``network_options``,
``add_format_arguments``, ``emit``) keep the options of ``tutorial``, ``sweep``, ``sheet`` and
``report`` the same. Raise ``CLIError`` (or ``ValueError``/``OSError``) for a user's mistake:
``main`` turns it into one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from chainrule import _atomic

PROG = "chainrule"
EXIT_USAGE = 2
EXIT_DIVERGED = 1  # training ran and failed, as gradcheck's failing check: not a usage error
MAX_SHEET_STEPS = 10_000  # a workbook of formulas beyond this takes minutes to write

JSON_NOTE = (
    "JSON output is strict (RFC 8259): a number that overflowed to ±inf or NaN is written as null"
)


class CLIError(Exception):
    """A mistake in the command line or its files: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block) and go through ``main``."""

    def error(self, message: str) -> NoReturn:
        raise CLIError(f"{message} (see '{self.prog} --help')")


# ---- strict JSON --------------------------------------------------------------------------------
def _finite(value: Any, seen: list[bool]) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        seen.append(True)
        return None
    if isinstance(value, dict):
        return {key: _finite(item, seen) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item, seen) for item in value]
    return value


def dumps_strict(data: Any, **options: Any) -> str:
    """JSON that every parser accepts: non-finite numbers become null (with a one-line notice on
    stderr), never ``NaN``/``Infinity``."""
    seen: list[bool] = []
    text = json.dumps(_finite(data, seen), allow_nan=False, **options)
    if seen:
        print(
            f"{PROG}: note: some results are not finite (overflow); written as null",
            file=sys.stderr,
        )
    return text


# ---- argument types ------------------------------------------------------------------------------
def finite_float(text: str) -> float:
    """A float that is neither nan nor ±inf."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


# ---- shared option groups ------------------------------------------------------------------------
def add_network_arguments(
    parser: argparse.ArgumentParser,
    lr: float | None = None,
    steps: int | None = 1,
    example: bool = True,
) -> None:
    """The seed network's options: --lr --steps --output-activation --inputs --targets
    --weights --biases --train-biases (and --example unless ``example=False``)."""
    group = parser.add_argument_group("network (defaults: the worked example's course exercise)")
    if example:
        group.add_argument(
            "--example",
            choices=("seed", "one-weight"),
            default="seed",
            help="seed: the worked example's 2-2-2 network (default); one-weight: the "
            "one-weight example, z = W x + b",
        )

    def one(text: str) -> str:  # the one-weight default, for commands that have --example
        return f"; one-weight: {text}" if example else ""

    group.add_argument(
        "--lr",
        type=positive_float,
        default=lr,
        metavar="ETA",
        help="learning rate η (default: 0.5 for the seed network, 0.1 for one-weight)"
        if example
        else "learning rate η (default 0.5)",
    )
    if steps is not None:
        group.add_argument(
            "--steps",
            type=positive_int,
            default=steps,
            metavar="N",
            help=f"gradient-descent steps to run (default: {steps})",
        )
    group.add_argument(
        "--output-activation",
        choices=("sigmoid", "identity"),
        default="sigmoid",
        help="sigmoid (default) or identity, the worked example's two variants",
    )
    group.add_argument(
        "--inputs",
        type=finite_float,
        nargs="+",
        metavar="X",
        help="i1 i2 (default 0.05 0.10)" + one("x (default 1.0)"),
    )
    group.add_argument(
        "--targets",
        type=finite_float,
        nargs="+",
        metavar="T",
        help="t1 t2 (default 0.5 0.5)" + one("y (default 0.0)"),
    )
    group.add_argument(
        "--weights",
        type=finite_float,
        nargs="+",
        metavar="W",
        help="w1..w8 (default 0.15 0.20 0.25 0.30 0.40 0.45 0.50 0.55)" + one("W (default 0.5)"),
    )
    group.add_argument(
        "--biases",
        type=finite_float,
        nargs="+",
        metavar="B",
        help="b1 b2, one per layer (default: no biases)" + one("b (default 0.0)"),
    )
    group.add_argument(
        "--train-biases",
        action="store_true",
        help="update the biases by gradient descent too (default: keep them)",
    )


def network_options(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """(example, keyword options for ``chainrule.explain.seeds.tutorial``) from the arguments."""
    example = getattr(args, "example", "seed")
    options: dict[str, Any] = {}
    if getattr(args, "steps", None) is not None:
        options["steps"] = args.steps
    if args.lr is not None:
        options["lr"] = args.lr
    if example == "seed":
        options["output_activation"] = args.output_activation
        for key in ("inputs", "targets", "weights", "biases"):
            if getattr(args, key) is not None:
                options[key] = tuple(getattr(args, key))
        options["train_biases"] = args.train_biases
        return example, options
    if args.output_activation != "sigmoid":
        raise CLIError(
            "--output-activation applies to the seed network; the one-weight "
            "example's activation is the identity"
        )
    for key, field in (("inputs", "x"), ("targets", "y"), ("weights", "W"), ("biases", "b")):
        values = getattr(args, key)
        if values is not None:
            if len(values) != 1:
                raise CLIError(
                    f"--{key} takes 1 value ({field}) for the one-weight example, got {len(values)}"
                )
            options[field] = values[0]
    options["train_biases"] = args.train_biases
    return example, options


def _number(value: float) -> str:
    short = f"{value:g}"
    return short if float(short) == value else repr(value)


def network_argv(args: argparse.Namespace, steps: int = 20) -> list[str]:
    """The network options the user gave, as command-line words, then ``--steps steps``."""
    words = []
    if getattr(args, "example", "seed") != "seed":
        words += ["--example", args.example]
    if args.lr is not None:
        words += ["--lr", _number(args.lr)]
    if args.output_activation != "sigmoid":
        words += ["--output-activation", args.output_activation]
    for key in ("inputs", "targets", "weights", "biases"):
        if getattr(args, key) is not None:
            words += [f"--{key}", *map(_number, getattr(args, key))]
    if args.train_biases:
        words.append("--train-biases")
    return [*words, "--steps", str(steps)]


def add_format_arguments(
    parser: argparse.ArgumentParser, formats: Sequence[str] = ("text", "markdown", "json", "html")
) -> None:
    """--format, --json (same as --format json), --color, -o/--output."""
    parser.add_argument(
        "--format",
        choices=tuple(formats),
        default=None,
        help=f"output format (default: {formats[0]})",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help=f"machine-readable JSON on stdout (same as --format json). {JSON_NOTE}",
    )
    parser.set_defaults(default_format=formats[0])
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour in text output (default: auto, when stdout is a terminal "
        "and NO_COLOR is unset)",
    )
    parser.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write to FILE instead of stdout"
    )


def output_format(args: argparse.Namespace) -> str:
    """--format, or json for --json; --json with another --format is a mistake."""
    chosen = getattr(args, "format", None)
    if getattr(args, "json", False):
        if chosen not in (None, "json"):
            raise CLIError(f"--json and --format {chosen} conflict; pass one of them")
        return "json"
    return chosen or getattr(args, "default_format", "text")


def use_color(args: argparse.Namespace, stream: TextIO) -> bool:
    choice = getattr(args, "color", "auto")
    if choice != "auto":
        return choice == "always"
    if getattr(args, "output", None) is not None or os.environ.get("NO_COLOR"):
        return False
    return hasattr(stream, "isatty") and stream.isatty()


def emit(text: str, args: argparse.Namespace) -> None:
    """Print ``text``, or write it to ``--output`` whole (a temporary file renamed into place,
    so a failure never leaves half a file)."""
    path = getattr(args, "output", None)
    if path is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    write_atomic(Path(path), text)
    print(f"wrote {path}", file=sys.stderr)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write a whole file or nothing."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    write_via(path, lambda temporary: temporary.write_bytes(payload))


# ---- subcommands ---------------------------------------------------------------------------------
def _version_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help='print {"version": ...}')


def cmd_version(args: argparse.Namespace) -> int:
    import numpy as np

    from chainrule import __version__

    if args.json:
        print(
            dumps_strict(
                {"version": __version__, "python": sys.version.split()[0], "numpy": np.__version__}
            )
        )
    else:
        print(f"chainrule {__version__} (Python {sys.version.split()[0]}, NumPy {np.__version__})")
    return 0


def _tutorial_arguments(parser: argparse.ArgumentParser) -> None:
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


def port_number(text: str) -> int:
    value = nonnegative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 0 to 65535, got {text!r}")
    return value


def _explore_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser, steps=None)
    parser.add_argument(
        "--port",
        type=port_number,
        default=8765,
        help="the port on 127.0.0.1 to serve the page on (default %(default)s; 0 picks a free one)",
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="don't open a browser; just print the address"
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "examples:\n"
        "  chainrule explore                            the 2-2-2 network, in your browser\n"
        "  chainrule explore --example one-weight       W = 0.5, x = 1, y = 0\n"
        "  chainrule explore --port 0 --no-browser      any free port; print the address\n"
        "Ctrl-C stops the server."
    )


def cmd_explore(args: argparse.Namespace) -> int:
    import webbrowser

    from chainrule.explain.seeds import OneWeightConfig, SeedConfig, build_one_weight
    from chainrule.explorer import ExplorerServer, GraphSession, SeedSession

    example, options = network_options(args)
    if example == "one-weight":
        config = OneWeightConfig(**options)
        net = build_one_weight(config, {"W": config.W, "b": config.b})
        session: Any = GraphSession(net.loss, net.parameters, config.lr)
    else:
        session = SeedSession(SeedConfig(**options))
    server = ExplorerServer(session, args.port)
    print(f"{PROG} explore: serving {server.url}  (Ctrl-C stops it)", flush=True)
    if not args.no_browser:
        webbrowser.open(server.url)
    server.serve_forever()
    print(f"{PROG} explore: stopped", flush=True)
    return 0


def cmd_tutorial(args: argparse.Namespace) -> int:
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


# ---- sweep, graph, sheet, report: the explainer's files -----------------------------------------
def write_via(path: Path, write: Callable[[Path], Any]) -> Path:
    """Let ``write(temporary)`` make the file, then rename it into place: all or nothing."""
    if path.is_dir():
        raise CLIError(f"{path} is a directory")
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise CLIError(f"can't write {path}: the directory {directory} does not exist")
    return _atomic.write_path(path, write)


def _check_suffix(path: Path, suffixes: Sequence[str], what: str) -> Path:
    if path.suffix.lower() not in suffixes:
        choices = (
            suffixes[0] if len(suffixes) == 1 else (f"{', '.join(suffixes[:-1])} or {suffixes[-1]}")
        )
        raise CLIError(f"{path}: {what} must end in {choices}")
    return path


def seed_config(args: argparse.Namespace, command: str) -> Any:
    """The SeedConfig of the network options, or with ``--example one-weight`` the
    OneWeightConfig (``--lr`` is not one of a sweep's)."""
    from chainrule.explain.seeds import OneWeightConfig, SeedConfig

    example, options = network_options(args)
    steps = options.pop("steps", None)
    lr = options.pop("lr", None)
    if command == "sweep" and lr is not None:
        raise CLIError("sweep runs several learning rates: give them with --lrs, not --lr")
    return (OneWeightConfig if example == "one-weight" else SeedConfig)(
        **options,
        **({"lr": lr} if lr is not None else {}),
        **({"steps": steps} if steps is not None else {}),
    )


def _add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
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


def _sweep_arguments(parser: argparse.ArgumentParser) -> None:
    _add_sweep_arguments(parser)
    add_network_arguments(parser, steps=None)
    for action in parser._actions:  # the shared --lr is not a sweep's: say so in --help
        if "--lr" in action.option_strings:
            action.help = "not used by sweep: give the learning rates with --lrs"
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("chainrule-sweep.png"),
        metavar="FILE",
        help="the figure: .png, .svg or .pdf (default: chainrule-sweep.png)",
    )
    parser.add_argument("--no-figure", action="store_true", help="print the table only")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the table (final error, outputs, weights and every epoch's "
        "error per rate) and the figure's path as JSON",
    )


def cmd_sweep(args: argparse.Namespace) -> int:
    from chainrule.explain.curves import save_figure, sweep, sweep_figure, sweep_table

    config = seed_config(args, "sweep")
    figure_path = (
        None
        if args.no_figure
        else _check_suffix(args.output, (".png", ".svg", ".pdf"), "the figure")
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
            write_via(figure_path, lambda temporary: save_figure(figure, temporary))
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


def _graph_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser, steps=None)
    parser.add_argument(
        "--which",
        choices=("network", "computation"),
        nargs="+",
        default=["network", "computation"],
        help="the network picture (neurons, weights w1..w8) and/or the "
        "computation graph (ops, tensors with value and gradient); "
        "default both (the one-weight example has no network picture)",
    )
    parser.add_argument(
        "--format",
        choices=("svg", "png", "pdf"),
        nargs="+",
        default=["svg", "png"],
        help="picture formats besides the .dot text (default: svg png)",
    )
    parser.add_argument(
        "-o",
        "--output",
        default="chainrule",
        metavar="PREFIX",
        help="file-name prefix (default: chainrule, writing "
        "chainrule-network.svg, chainrule-graph.svg, ...); a directory (or a path "
        "ending in /) writes chainrule-network.svg, ... inside it",
    )
    parser.add_argument("--json", action="store_true", help="print the written paths as JSON")


def graph_pictures(args: argparse.Namespace, which: Sequence[str]) -> dict[str, Any]:
    """The pictures asked for, as Graph records: the network with step 1's values and weight
    gradients, and the computation graph of the loss at the starting weights."""
    from chainrule.explain import graphs
    from chainrule.explain.seeds import (
        WEIGHT_NAMES,
        OneWeightConfig,
        build_one_weight,
        build_seed_network,
        tutorial,
    )

    example, options = network_options(args)
    pictures = {}
    if "network" in which:
        first = tutorial(example, explain=False, **options).steps[0]
        weights = [k for k in first.gradients if k in WEIGHT_NAMES or k in ("b1", "b2")]
        pictures["network"] = graphs.network_graph(
            first.values, {k: first.gradients[k] for k in weights}, options["output_activation"]
        )
    if "computation" in which:
        if example == "seed":
            config = seed_config(args, "graph")
            start = dict(zip(WEIGHT_NAMES, config.weights, strict=True))
            start.update(zip(("b1", "b2"), config.biases or (), strict=False))
            loss = build_seed_network(config, start).loss
        else:
            one = OneWeightConfig(**options)
            loss = build_one_weight(one, {"W": one.W, "b": one.b}).loss
        pictures["graph"] = graphs.computation_graph(loss)
    return pictures


def cmd_graph(args: argparse.Namespace) -> int:
    from chainrule.explain import graphs

    which = list(dict.fromkeys(args.which))
    if getattr(args, "example", "seed") == "one-weight" and "network" in which:
        if args.which != ["network", "computation"]:
            raise CLIError(
                "the network picture is of the 2-2-2 network; the one-weight example "
                "has only --which computation"
            )
        which = ["computation"]
    prefix = Path(args.output)
    if str(args.output).endswith(("/", os.sep)) or prefix.is_dir():
        prefix = prefix / PROG
    if not (prefix.parent if str(prefix.parent) else Path(".")).is_dir():
        raise CLIError(f"can't write {prefix}-*: the directory {prefix.parent} does not exist")
    written: list[str] = []
    problem = None
    for kind, picture in graph_pictures(args, which).items():
        try:
            written += map(str, graphs.render(picture, f"{prefix}-{kind}", args.format))
        except graphs.GraphvizMissingError:
            written.append(f"{prefix}-{kind}.dot")
            problem = graphs.GRAPHVIZ_MISSING
    if args.json:
        print(dumps_strict({"written": written, "error": problem}))
    else:
        for path in written:
            print(f"wrote {path}")
    if problem:
        print(f"{PROG}: {problem}", file=sys.stderr)
        return 1
    return 0


def _sheet_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser, steps=100)
    for action in parser._actions:
        if action.dest == "steps":
            action.help = (
                f"training steps in the workbook (default: 100, at most {MAX_SHEET_STEPS})"
            )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("chainrule-training.xlsx"),
        metavar="FILE",
        help="the workbook (default: chainrule-training.xlsx)",
    )
    parser.add_argument("--json", action="store_true", help="print the written path as JSON")


def cmd_sheet(args: argparse.Namespace) -> int:
    from chainrule.explain.spreadsheet import OPENPYXL_MISSING, write_spreadsheet

    if args.steps > MAX_SHEET_STEPS:
        raise CLIError(
            f"--steps {args.steps} is too many for a workbook; at most {MAX_SHEET_STEPS}"
        )
    config = seed_config(args, "sheet")
    path = _check_suffix(args.output, (".xlsx",), "the workbook")
    write_via(path, lambda temporary: write_spreadsheet(temporary, config, steps=args.steps))
    print(dumps_strict({"sheet": str(path)}) if args.json else f"wrote {path}")
    try:
        import openpyxl  # noqa: F401 - only to say which writer wrote the file
    except ImportError:
        print(f"{PROG}: note: {OPENPYXL_MISSING}", file=sys.stderr)
    return 0


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser, steps=10)
    _add_sweep_arguments(parser)
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("chainrule-report.html"),
        metavar="FILE",
        help="the page (default: chainrule-report.html)",
    )
    parser.add_argument("--json", action="store_true", help="print the written path as JSON")


def cmd_report(args: argparse.Namespace) -> int:
    import html

    from chainrule.explain.curves import MATPLOTLIB_MISSING
    from chainrule.explain.graphs import GRAPHVIZ_MISSING
    from chainrule.explain.report import build_report, render_report

    config = seed_config(args, "report")
    path = _check_suffix(args.output, (".html", ".htm"), "the report")
    page = render_report(
        build_report(
            config,
            steps=args.steps,
            lrs=args.lrs,
            epochs=args.epochs,
            carry_weights=args.carry_weights,
        )
    )
    write_via(path, lambda temporary: temporary.write_text(page, encoding="utf-8"))
    print(dumps_strict({"report": str(path)}) if args.json else f"wrote {path}")
    for what, missing in (("curves", MATPLOTLIB_MISSING), ("pictures", GRAPHVIZ_MISSING)):
        if html.escape(missing) in page:  # the page is written; say what it lacks, in one line
            print(f"{PROG}: note: the report has no {what}: {missing}", file=sys.stderr)
    return 0


# ---- train, gradcheck: the training library and the gradient checker ----------------------------
def nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {text!r}")
    return value


def nonnegative_float(text: str) -> float:
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def _train_arguments(parser: argparse.ArgumentParser) -> None:
    from chainrule.train import DATASETS, DEFAULTS, OPTIMIZERS, SCHEDULES

    defaults = "; ".join(f"{d} {m}: {e}" for (d, m), (e, _, _) in DEFAULTS.items())
    parser.add_argument(
        "--dataset",
        choices=DATASETS,
        default=None,
        help="bundled data, no download (default: digits, scikit-learn's 8x8 "
        "images: 1,438 train, 359 test; with --resume, the checkpoint's)",
    )
    parser.add_argument(
        "--model",
        choices=("mlp", "cnn"),
        default=None,
        help="mlp (default), or cnn for the digits: three conv-BatchNorm-ReLU "
        "blocks, max pooling, dropout, global average pooling, linear "
        "(19,354 parameters)",
    )
    parser.add_argument(
        "--resume",
        type=Path,
        metavar="CHECKPOINT",
        help="continue the training a checkpoint of 'chainrule train' saved: its weights, "
        "optimizer state and settings, --epochs more epochs numbered on from its count "
        "(the learning-rate schedule runs afresh over them)",
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        metavar="N",
        help=f"passes over the training data (default: {defaults})",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="N",
        help="samples per step (default: 32; 4 for xor)",
    )
    parser.add_argument(
        "--lr",
        type=positive_float,
        metavar="ETA",
        help="peak learning rate (default: 0.01 for adam/adamw, 0.1 for sgd; 0.05 and 0.5 for xor)",
    )
    parser.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        default=None,
        help="adam (default), adamw, or sgd with momentum 0.9",
    )
    parser.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default="onecycle",
        help="learning-rate schedule, stepped every batch: onecycle (default), cosine, or constant",
    )
    parser.add_argument(
        "--weight-decay",
        type=nonnegative_float,
        metavar="L2",
        help="weight decay (default: the optimizer's, as PyTorch: 0, or 0.01 for adamw)",
    )
    parser.add_argument(
        "--seed",
        type=nonnegative_int,
        default=0,
        help="seeds the initial weights, the shuffling and dropout (default 0): "
        "the same seed repeats a run exactly",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        metavar="FILE",
        help="where to save the trained weights, .safetensors or .npz "
        "(default: chainrule-DATASET-MODEL.safetensors); the optimizer's state goes "
        "beside it, in NAME.optimizer.safetensors, for --resume",
    )
    parser.add_argument("--no-checkpoint", action="store_true", help="don't save the weights")
    parser.add_argument(
        "--curves",
        type=Path,
        metavar="FILE",
        help="draw loss and accuracy per epoch, train and test, to FILE (.png, "
        ".svg or .pdf; needs matplotlib)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the settings, every epoch's metrics and the final accuracy "
        "as JSON (and no progress bar)",
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "examples:\n"
        "  chainrule train                        MLP on the digits (about 98-99 % test accuracy)\n"
        "  chainrule train --model cnn --curves curves.png\n"
        "  chainrule train --dataset spirals --optimizer sgd\n"
        "  chainrule train --json --no-checkpoint | jq .final\n"
        "  chainrule train --resume chainrule-digits-mlp.safetensors --epochs 5\n"
        "  chainrule evaluate chainrule-digits-mlp.safetensors\n"
        "\nexit status: 0 when training finishes, 1 when it diverges (the loss became nan or "
        "inf, or\nblew up; nothing is saved), 2 for bad arguments or files.\n"
        "\nThe checkpoint loads back with model.load_state_dict(chainrule.load(FILE)) into\n"
        "chainrule.train.build_model(DATASET, MODEL), and into the same PyTorch model."
    )


def _train_files(args: argparse.Namespace) -> tuple[Path | None, Path | None]:
    """The checkpoint and curves paths, checked before any training is spent on them."""
    import importlib.util

    checkpoint = None
    if not args.no_checkpoint:
        checkpoint = args.checkpoint or Path(f"chainrule-{args.dataset}-{args.model}.safetensors")
        _check_suffix(checkpoint, (".safetensors", ".npz"), "the checkpoint")
    curves = args.curves
    if curves is not None:
        _check_suffix(curves, (".png", ".svg", ".pdf"), "the curves")
        if importlib.util.find_spec("matplotlib") is None:
            from chainrule.explain.curves import MATPLOTLIB_MISSING

            raise CLIError(f"--curves: {MATPLOTLIB_MISSING}")
    for path in (checkpoint, curves):
        if path is not None:
            _check_writable(path)
    return checkpoint, curves


def _check_writable(path: Path) -> None:
    """Fail now, not after the training, when ``path`` can't be written."""
    import tempfile

    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise CLIError(f"can't write {path}: the directory {folder} does not exist")
    if path.is_dir():
        raise CLIError(f"{path} is a directory")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise CLIError(
            f"can't write {path}: the folder {folder} is not writable ({reason})"
        ) from None


def _epoch_line(record: Any, epochs: int) -> str:
    width = len(str(epochs))
    return (
        f"epoch {record.epoch:>{width}}/{epochs}  train loss {record.train_loss:.4f} "
        f"acc {100 * record.train_accuracy:6.2f} %  test loss {record.test_loss:.4f} "
        f"acc {100 * record.test_accuracy:6.2f} %  lr {record.lr:.3g}  "
        f"{record.seconds:.2f} s"
    )


def _read_checkpoint(path: Path) -> Any:
    """load_checkpoint, its errors in one line that names the path as typed."""
    from chainrule.train import load_checkpoint

    try:
        return load_checkpoint(path)
    except FileNotFoundError:
        raise CLIError(f"{path}: no such checkpoint file") from None
    except IsADirectoryError:
        raise CLIError(f"{path} is a folder, not a checkpoint file") from None
    except OSError as error:
        raise CLIError(f"can't read {path}: {error.strerror or error}") from None


def _train_config(args: argparse.Namespace, resume: Any) -> Any:
    """The TrainConfig of the arguments; with --resume, the checkpoint's settings fill in the
    ones not given, and a different --dataset, --model or --optimizer is refused."""
    from chainrule.train import TrainConfig

    saved = resume.config if resume is not None else {}
    for key in ("dataset", "model", "optimizer"):
        given = getattr(args, key)
        if resume is not None and given is not None and given != saved.get(key):
            raise CLIError(
                f"{args.resume} is a checkpoint of the {resume.dataset} {resume.model} trained "
                f"with {saved.get('optimizer')}: it can't resume with --{key} {given} "
                "(leave it out to use the checkpoint's)"
            )

    def pick(key: str, default: Any = None) -> Any:
        value = getattr(args, key)
        return value if value is not None else saved.get(key, default)

    dataset, model = pick("dataset", "digits"), pick("model", "mlp")
    if model == "cnn" and dataset != "digits":
        raise CLIError(
            f"--model cnn is for the digits images; {dataset} has 2-D points (use --model mlp)"
        )
    return TrainConfig(
        dataset,
        model,
        args.epochs,
        pick("batch_size"),
        pick("lr"),
        pick("optimizer", "adam"),
        args.schedule,
        pick("weight_decay"),
        args.seed,
    ).resolved()


def cmd_train(args: argparse.Namespace) -> int:
    from chainrule.summary import summary
    from chainrule.train import (
        ProgressBar,
        TrainingDivergedError,
        history_figure,
        load_data,
        optimizer_path,
        train,
    )

    resume = _read_checkpoint(args.resume) if args.resume is not None else None
    config = _train_config(args, resume)
    args.dataset, args.model = config.dataset, config.model
    if resume is not None:
        resume.build()  # weights of another model: refused before anything is printed
    checkpoint, curves = _train_files(args)
    data = load_data(config.dataset, images=config.model == "cnn")
    done = resume.epochs_done if resume is not None else 0
    epochs = done + (config.epochs or 1)
    bar = ProgressBar(epochs, enabled=False if args.json else None)

    def on_start(model: Any) -> None:
        if not args.json:
            print(summary(model, data.input_shape), flush=True)

    def on_epoch(record: Any) -> None:
        bar.clear()
        if not args.json:
            print(_epoch_line(record, epochs), flush=True)

    if not args.json:
        start = f"from {args.resume} (epoch {done}), " if resume is not None else ""
        print(
            f"training {config.model} on {data.description}: {start}{config.epochs} epochs, "
            f"batch {config.batch_size}, {config.optimizer} lr {config.lr:g} "
            f"({config.schedule}), seed {config.seed}",
            flush=True,
        )
    if resume is not None and resume.note and not args.json:
        print(f"{PROG}: note: {resume.note}", file=sys.stderr)
    try:
        model, history = train(
            config,
            on_batch=bar.update,
            on_epoch=on_epoch,
            data=data,
            resume=resume,
            checkpoint=checkpoint,
            on_start=on_start,
        )
    except OSError as error:  # saving the checkpoint: name the user's path, not a temporary
        raise CLIError(
            f"can't write {checkpoint} (or {optimizer_path(checkpoint).name} beside it): "
            f"{error.strerror or type(error).__name__}"
        ) from None
    except TrainingDivergedError as diverged:  # nothing is saved: the weights are of no use
        print(
            f"{PROG}: error: training diverged at epoch {diverged.epoch}: {diverged.reason}; "
            f"try a smaller --lr (now {config.lr:g})",
            file=sys.stderr,
        )
        return EXIT_DIVERGED
    finally:
        bar.clear()
    if curves is not None:
        from chainrule.explain.curves import save_figure

        figure = history_figure(history)
        write_via(curves, lambda temporary: save_figure(figure, temporary))
    final = history.final
    if args.json:
        print(
            dumps_strict(
                {
                    **history.to_dict(),
                    "test_accuracy": final.test_accuracy,
                    "checkpoint": str(checkpoint) if checkpoint else None,
                    "curves": str(curves) if curves else None,
                    "resumed_from": str(args.resume) if resume is not None else None,
                }
            )
        )
        return 0
    print(f"{config.model}: {history.parameters:,} parameters, {history.seconds:.1f} s of training")
    for label, path in (("checkpoint", checkpoint), ("curves", curves)):
        if path is not None:
            print(f"wrote {label} {path}")
    print(
        f"final test accuracy: {100 * final.test_accuracy:.2f} % ({history.test_correct}/"
        f"{history.test_size}) after {final.epoch} epochs"
    )
    return 0


def _evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "checkpoint",
        type=Path,
        metavar="CHECKPOINT",
        help="a checkpoint written by 'chainrule train' (.safetensors or .npz)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the checkpoint's settings and the test loss and accuracy as JSON",
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "The model is rebuilt from the settings saved in the checkpoint and evaluated, in eval\n"
        "mode, on the test split of the dataset it was trained on.\n\n"
        "examples:\n"
        "  chainrule evaluate chainrule-digits-mlp.safetensors\n"
        "  chainrule evaluate chainrule-digits-cnn.safetensors --json | jq .test_accuracy"
    )


def cmd_evaluate(args: argparse.Namespace) -> int:
    from chainrule.train import evaluate, load_data

    saved = _read_checkpoint(args.checkpoint)
    model = saved.build()
    data = load_data(saved.dataset, images=saved.model == "cnn")
    loss, accuracy, correct = evaluate(model, *data.test)
    size = len(data.test[1])
    if args.json:
        print(
            dumps_strict(
                {
                    "checkpoint": str(args.checkpoint),
                    "config": saved.config,
                    "epochs_done": saved.epochs_done,
                    "test_loss": loss,
                    "test_accuracy": accuracy,
                    "test_correct": correct,
                    "test_size": size,
                }
            )
        )
        return 0
    print(
        f"{args.checkpoint}: {saved.model} on {data.description}, trained "
        f"{saved.epochs_done} epochs"
    )
    print(f"test loss {loss:.4f}, accuracy {100 * accuracy:.2f} % ({correct}/{size})")
    return 0


def _gradcheck_arguments(parser: argparse.ArgumentParser) -> None:
    from chainrule.gradcheck_report import ATOL, EPS, MODELS, OPS, RTOL

    parser.add_argument(
        "--model",
        choices=MODELS,
        default=None,
        help="mlp (default): a float64 64-32-10 tanh MLP, every parameter, "
        "every element; cnn: the digits CNN of 'chainrule train --model "
        "cnn', --max-elements random elements of each parameter",
    )
    parser.add_argument(
        "--op",
        choices=OPS,
        metavar="NAME",
        help="check one op instead of a model, each input element by element "
        "(random float64 inputs, random upstream gradient); one of: " + ", ".join(OPS),
    )
    parser.add_argument(
        "--samples",
        type=positive_int,
        default=8,
        metavar="N",
        help="digits samples in the model's loss (default 8)",
    )
    parser.add_argument(
        "--max-elements",
        type=positive_int,
        metavar="N",
        help="check at most N random elements per parameter (default: all for "
        "the mlp and ops, 32 for the cnn)",
    )
    parser.add_argument(
        "--eps", type=positive_float, default=EPS, help=f"finite-difference step (default {EPS:g})"
    )
    parser.add_argument(
        "--rtol",
        type=nonnegative_float,
        default=RTOL,
        help=f"relative tolerance (default {RTOL:g})",
    )
    parser.add_argument(
        "--atol",
        type=nonnegative_float,
        default=ATOL,
        help=f"absolute tolerance (default {ATOL:g}); an element passes when "
        "|analytic - numeric| <= atol + rtol*|numeric|",
    )
    parser.add_argument(
        "--seed",
        type=nonnegative_int,
        default=0,
        help="seeds the weights, inputs and chosen elements (default 0)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "exit status: 0 when every parameter passes, 1 when some fail, 2 for bad arguments.\n\n"
        "examples:\n"
        "  chainrule gradcheck                   every weight of a small MLP on digits samples\n"
        "  chainrule gradcheck --model cnn\n"
        "  chainrule gradcheck --op conv2d --json"
    )


def cmd_gradcheck(args: argparse.Namespace) -> int:
    from chainrule.gradcheck_report import model_report, op_report

    if args.op is not None and (args.model is not None or args.samples != 8):
        raise CLIError("--op checks one op on random inputs; --model and --samples are for models")
    try:
        if args.op is not None:
            report = op_report(
                args.op,
                eps=args.eps,
                rtol=args.rtol,
                atol=args.atol,
                seed=args.seed,
                max_elements=args.max_elements,
            )
        else:
            report = model_report(
                args.model or "mlp",
                samples=args.samples,
                eps=args.eps,
                rtol=args.rtol,
                atol=args.atol,
                max_elements=args.max_elements,
                seed=args.seed,
            )
    except ImportError as missing:
        raise CLIError(str(missing)) from None
    if args.json:
        print(dumps_strict(report.to_dict()))
    else:
        sys.stdout.write(report.to_text())
    return 0 if report.passed else 1


Command = tuple[
    str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]
]

# name, one-line help, arguments, run: add a subcommand by adding a row
COMMANDS: list[Command] = [
    (
        "tutorial",
        "the worked example's 2-2-2 network step by step: forward values, local derivatives, "
        "chain-rule products, weight updates",
        _tutorial_arguments,
        cmd_tutorial,
    ),
    (
        "explore",
        "the worked example's network as a live page on 127.0.0.1: edit any number and watch "
        "every derivative, product and update change",
        _explore_arguments,
        cmd_explore,
    ),
    (
        "sweep",
        "learning-rate sweep of the seed network: error-vs-epoch curves in one figure "
        "and the table of final weights, error and outputs",
        _sweep_arguments,
        cmd_sweep,
    ),
    (
        "graph",
        "pictures of the seed network (neurons, weights w1..w8) and of its computation "
        "graph (values and gradients), via Graphviz",
        _graph_arguments,
        cmd_graph,
    ),
    (
        "sheet",
        "the seed network's training as an .xlsx of live formulas (change the learning "
        "rate or a weight and it recomputes)",
        _sheet_arguments,
        cmd_sheet,
    ),
    (
        "report",
        "one self-contained HTML page: network picture, derivation, computation graph, "
        "training steps, learning-rate curves",
        _report_arguments,
        cmd_report,
    ),
    (
        "train",
        "train a model on bundled data (an MLP or a small CNN on the 8x8 digits, or "
        "xor, moons, spirals): progress, accuracy, checkpoint, curves",
        _train_arguments,
        cmd_train,
    ),
    (
        "evaluate",
        "evaluate a checkpoint of 'chainrule train' on its dataset's test split: loss and accuracy",
        _evaluate_arguments,
        cmd_evaluate,
    ),
    (
        "gradcheck",
        "check a model's or an op's gradients against finite differences: a report "
        "per parameter (norms, errors, worst element)",
        _gradcheck_arguments,
        cmd_gradcheck,
    ),
    ("version", "print chainrule's version", _version_arguments, cmd_version),
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


if __name__ == "__main__":
    sys.exit(main())
