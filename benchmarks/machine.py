"""What the benchmark scripts share: the thread count (set before NumPy is imported), a
description of the machine a run was measured on, and the options they declare alike."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Callable
from typing import Any

THREAD_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def default_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def set_threads(threads: int) -> None:
    """Fix the BLAS thread count; it must happen before NumPy is imported to take effect."""
    if "numpy" in sys.modules:
        print("warning: NumPy was imported before the thread count was set", file=sys.stderr)
    for var in THREAD_VARS:
        os.environ[var] = str(threads)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def describe(
    threads: int, torch_version: str | None, chainrule_version: str | None
) -> dict[str, Any]:
    """CPU, cores, thread count, load and versions: the context every quoted ratio needs."""
    import numpy as np

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu
            )
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": default_threads(),
        "threads": threads,
        "load_average": list(os.getloadavg()),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch_version,
        "chainrule": chainrule_version,
    }


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """--threads and --json, the same in every benchmark script."""
    parser.add_argument(
        "--threads",
        type=int,
        default=default_threads(),
        help="threads for PyTorch and NumPy's BLAS (default: this machine's cores, %(default)s)",
    )
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        default=None,
        metavar="PATH",
        help="write the results as JSON to PATH, or to stdout instead of the "
        "table when no PATH is given",
    )


def add_names_argument(
    parser: argparse.ArgumentParser,
    flag: str,
    names: tuple[str, ...],
    default: list[str],
    help: str,
    metavar: str | None = None,
) -> None:
    """``flag NAME [NAME ...]``: which of ``names`` (workloads, models) to run."""
    parser.add_argument(flag, nargs="+", choices=names, default=default, metavar=metavar, help=help)


def print_result(result: dict[str, Any], json_path: str | None, table: Callable[[], str]) -> None:
    """What --json asks for: the result written to its PATH, and printed as JSON when it has
    none ("-") instead of the ``table``."""
    if json_path and json_path != "-":
        with open(json_path, "w") as f:
            json.dump(result, f, indent=1)
    if json_path == "-":
        print(json.dumps(result, indent=1))
    else:
        print(table())
