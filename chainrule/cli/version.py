"""``chainrule version``: chainrule's, Python's and NumPy's versions."""

from __future__ import annotations

import argparse
import sys

from chainrule.cli.common import dumps_strict


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help='print {"version": ...}')


def run(args: argparse.Namespace) -> int:
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
