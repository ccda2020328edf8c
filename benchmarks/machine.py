"""What both benchmark scripts share: the thread count (set before NumPy is imported) and a
description of the machine a run was measured on."""

from __future__ import annotations

import argparse
import os
import platform
import sys
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
