"""What the subcommands share: the network and output options, argument types, ``CLIError``,
strict JSON and all-or-nothing file writes."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from chainrule import _atomic, cli  # cli: write_via is looked up where a test may patch it

PROG = "chainrule"
EXIT_USAGE = 2
EXIT_DIVERGED = 1  # training ran and failed, as gradcheck's failing check: not a usage error

JSON_NOTE = (
    "JSON output is strict (RFC 8259): a number that overflowed to ±inf or NaN is written as null"
)


class CLIError(Exception):
    """A mistake in the command line or its files: reported in one line, exit code 2."""


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


def _whole_number(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid whole number: {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be at least {least}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return _whole_number(text, 1)


def nonnegative_int(text: str) -> int:
    return _whole_number(text, 0)


def nonnegative_float(text: str) -> float:
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def port_number(text: str) -> int:
    value = nonnegative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 0 to 65535, got {text!r}")
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
    for key, metavar, text in (
        ("inputs", "X", "i1 i2 (default 0.05 0.10)" + one("x (default 1.0)")),
        ("targets", "T", "t1 t2 (default 0.5 0.5)" + one("y (default 0.0)")),
        (
            "weights",
            "W",
            "w1..w8 (default 0.15 0.20 0.25 0.30 0.40 0.45 0.50 0.55)" + one("W (default 0.5)"),
        ),
        ("biases", "B", "b1 b2, one per layer (default: no biases)" + one("b (default 0.0)")),
    ):
        group.add_argument(f"--{key}", type=finite_float, nargs="+", metavar=metavar, help=text)
    group.add_argument(
        "--train-biases",
        action="store_true",
        help="update the biases by gradient descent too (default: keep them)",
    )


def set_help(parser: argparse.ArgumentParser, option: str, text: str) -> None:
    """Reword a shared option's --help for one command."""
    for action in parser._actions:
        if option in action.option_strings:
            action.help = text


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


def add_output_file(parser: argparse.ArgumentParser, default: str, what: str) -> None:
    """-o/--output FILE, for a command that writes one file: what it is, and its default."""
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path(default),
        metavar="FILE",
        help=f"{what} (default: {default})",
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


# ---- output and files ---------------------------------------------------------------------------
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
    cli.write_via(path, lambda temporary: temporary.write_bytes(payload))


def write_via(path: Path, write: Callable[[Path], Any]) -> Path:
    """Let ``write(temporary)`` make the file, then rename it into place: all or nothing."""
    if path.is_dir():
        raise CLIError(f"{path} is a directory")
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise CLIError(f"can't write {path}: the directory {directory} does not exist")
    return _atomic.write_path(path, write)


def check_suffix(path: Path, suffixes: Sequence[str], what: str) -> Path:
    if path.suffix.lower() not in suffixes:
        choices = (
            suffixes[0] if len(suffixes) == 1 else (f"{', '.join(suffixes[:-1])} or {suffixes[-1]}")
        )
        raise CLIError(f"{path}: {what} must end in {choices}")
    return path
