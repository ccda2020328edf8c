"""Instructions per step of a workload, counted by valgrind's callgrind: a measure of the Python
work per step that, unlike a timing, doesn't move when other processes share the cores.

    python benchmarks/count_instructions.py op_overhead chainrule replay numpy

Each count is (instructions for N + 10 steps - instructions for 10 steps) / N, in a child run
under ``valgrind --tool=callgrind`` with PYTHONHASHSEED=0 (dict layouts, hence counts, repeat).
It compares versions of chainrule on one machine; it says nothing about time across machines.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FRAMEWORKS = ("chainrule", "replay", "torch", "numpy")


def run_steps(workload: str, framework: str, steps: int) -> None:
    """The child: build one framework's step for the workload and run it ``steps`` times."""
    sys.path.insert(0, str(HERE))
    import frameworks
    import workloads

    apis = {
        "chainrule": frameworks.chainrule_api(),
        "replay": frameworks.replay_api(),
        "torch": frameworks.torch_api(1) if framework == "torch" else None,
    }
    impl = workloads.cases(workload, apis, False)[-1].make[framework]()
    for _ in range(steps):
        impl.step()


def count(workload: str, framework: str, steps: int) -> int:
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--child",
        workload,
        framework,
        "--steps",
        str(steps),
    ]
    env = dict(os.environ, PYTHONHASHSEED="0")
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no count in callgrind's output:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/count_instructions.py", description=__doc__)
    parser.add_argument("workload", help="a workload of benchmarks/run.py (op_overhead, ...)")
    parser.add_argument("frameworks", nargs="+", choices=FRAMEWORKS)
    parser.add_argument("--steps", type=int, default=1000, help="steps counted (default 1000)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_steps(args.workload, args.frameworks[0], args.steps)
        return 0
    if shutil.which("valgrind") is None:
        print(
            "count_instructions: valgrind is not installed (apt install valgrind)", file=sys.stderr
        )
        return 1
    for framework in args.frameworks:
        warm = count(args.workload, framework, 10)
        total = count(args.workload, framework, 10 + args.steps)
        print(f"{args.workload}/{framework}: {(total - warm) / args.steps:,.0f} instructions/step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
