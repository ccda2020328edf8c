"""Where chainrule's time goes, per workload: the benchmark's own steps (benchmarks/workloads.py)
run under cProfile, the functions that take the most time printed with their share, grouped by
file so the layers show (engine, node, tensor, an op module, NumPy).

    python benchmarks/profile_steps.py                         # op_overhead, tutorial, mlp_small
    python benchmarks/profile_steps.py --workloads cnn_small --steps 20 --top 25
    python benchmarks/profile_steps.py --framework replay      # the replayed step instead of eager

Profiling slows Python calls more than NumPy's, so the shares point at the overhead to remove;
the speed itself is benchmarks/run.py's to measure (against PyTorch, in one process).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import add_names_argument, set_threads  # noqa: E402

WORKLOADS = ("op_overhead", "tutorial", "mlp_small", "mlp_medium", "cnn_small", "cat_many")
PROFILED = WORKLOADS  # the rows with a training step or an op expression to profile


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/profile_steps.py", description=__doc__.split("\n")[0]
    )
    add_names_argument(
        parser,
        "--workloads",
        PROFILED,
        ["op_overhead", "tutorial", "mlp_small"],
        f"which to profile (of {', '.join(PROFILED)})",
        metavar="NAME",
    )
    parser.add_argument("--framework", choices=("chainrule", "replay"), default="chainrule")
    parser.add_argument("--steps", type=int, default=200, help="steps profiled per row")
    parser.add_argument("--top", type=int, default=15, help="functions listed per row")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.top < 1 or args.threads < 1:
        parser.error("--steps, --top and --threads must be at least 1")
    return args


def profile_case(case: Any, framework: str, steps: int) -> pstats.Stats:
    impl = case.make[framework]()
    for _ in range(3):  # warm up (and let a replayed step trace and check itself)
        impl.step()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        impl.step()
    profiler.disable()
    return pstats.Stats(profiler, stream=io.StringIO())


def _place(filename: str) -> str:
    """chainrule/autograd/engine.py, numpy, or the file name: where a function lives."""
    path = filename.replace("\\", "/")
    for marker in ("/chainrule/", "/benchmarks/"):
        if marker in path:
            return marker.strip("/") + "/" + path.split(marker, 1)[1]
    if "/numpy/" in path:
        return "numpy"
    if path == "~":
        return "built-ins (NumPy's C functions among them)"
    return Path(path).name if "/" in path else path


def report(stats: pstats.Stats, top: int) -> str:
    rows = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for (_, _, tt, _, _) in rows.values()) or 1.0
    by_place: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, tt, _, _) in rows.items():
        by_place[_place(filename)] += tt
    lines = ["  own time by file:"]
    for place, tt in sorted(by_place.items(), key=lambda kv: -kv[1])[:8]:
        lines.append(f"    {100 * tt / total:5.1f} %  {place}")
    lines.append(f"  the {top} functions with the most own time:")
    ranked = sorted(rows.items(), key=lambda kv: -kv[1][2])[:top]
    for (filename, line, name), (_, calls, tt, _, _) in ranked:
        lines.append(
            f"    {100 * tt / total:5.1f} %  {calls:>8} calls  {name}  ({_place(filename)}:{line})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    set_threads(args.threads)  # before NumPy is imported by the workloads
    from frameworks import available
    from workloads import cases

    apis = available(args.threads)
    apis["torch"] = None  # chainrule's own time only
    for workload in args.workloads:
        for case in cases(workload, apis, quick=False):
            if args.framework not in case.make:
                print(f"{case.name}: no {args.framework} version, skipped")
                continue
            stats = profile_case(case, args.framework, args.steps)
            print(f"{case.name} ({args.framework}, {args.steps} steps)")
            print(report(stats, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
