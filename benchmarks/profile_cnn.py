"""Where chainrule's time goes in the course CNN (benchmarks/course_cnn.py): training steps
run under cProfile, the functions with the most own time printed with their share.

    python benchmarks/profile_cnn.py                     # 6 replayed steps, 1 thread
    python benchmarks/profile_cnn.py --steps 12 --top 30 --eager
    python benchmarks/profile_cnn.py --calls             # each replayed NumPy call, timed

Profiling slows Python calls more than NumPy's, so read the shares as pointers; the speed
itself is course_cnn.py's to measure (against PyTorch, in one process).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from course_cnn import BATCH, _data, course_cnn  # noqa: E402
from machine import set_threads  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="benchmarks/profile_cnn.py", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--steps", type=int, default=6, help="steps profiled (default 6)")
    parser.add_argument("--top", type=int, default=25, help="functions listed")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    parser.add_argument("--eager", action="store_true", help="the eager step, not the replayed")
    parser.add_argument(
        "--calls",
        action="store_true",
        help="no cProfile: time each call of the replayed plan, summed by what it calls",
    )
    args = parser.parse_args(argv)
    if min(args.steps, args.top, args.threads) < 1:
        parser.error("--steps, --top and --threads must be at least 1")
    set_threads(args.threads)
    import chainrule as cr
    from chainrule.train import training_step

    x, y = _data(0, args.steps)
    cr.manual_seed(0)
    model = course_cnn()
    optimizer = cr.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    step = training_step(model, optimizer)
    if not args.eager:
        step = cr.autograd.replay(step, warn=False)
    batches = [
        (cr.from_numpy(x[i : i + BATCH]), cr.from_numpy(y[i : i + BATCH]))
        for i in range(0, len(x), BATCH)
    ]
    for xb, yb in batches[:2]:  # warm up (a replayed step traces and checks itself)
        step(xb, yb)
    if args.calls and not args.eager:
        _print_call_times(step, batches, optimizer, args.top)
        return 0
    profiler = cProfile.Profile()
    profiler.enable()
    for xb, yb in batches:
        step(xb, yb)
        optimizer.step()
    profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(args.top)
    print(text.getvalue())
    return 0


def _call_name(forward: Any) -> str:
    inner = getattr(forward, "make", None) or getattr(forward, "write", None)  # draws, updates
    if inner is not None:
        forward = inner
    return str(getattr(forward, "__qualname__", None) or type(forward).__name__)


def _print_call_times(step: Any, batches: list[Any], optimizer: Any, top: int) -> None:
    """Each recorded NumPy call timed on its own (the plan's calls in a loop, as
    replay_plan._execute runs them): milliseconds per step, summed by the function called."""
    (plan,) = step.plans.values()
    totals: dict[str, list[float]] = {}
    for xb, yb in batches:
        slots = plan.template.copy()
        arguments = (xb, yb)
        for position, slot in plan.arg_arrays:
            slots[slot] = arguments[position]._data
        for position, slot in plan.arg_tensors:
            slots[slot] = arguments[position]
        for forward, ins, params, out, drops in plan.calls:
            begin = time.perf_counter()
            slots[out] = forward(*[slots[i] for i in ins], **params)
            spent = time.perf_counter() - begin
            entry = totals.setdefault(_call_name(forward), [0.0, 0])
            entry[0] += spent
            entry[1] += 1
            for slot in drops:
                slots[slot] = None
        optimizer.step()
    steps = len(batches)
    whole = sum(entry[0] for entry in totals.values())
    print(f"{len(plan.calls)} calls per step, {1000 * whole / steps:.1f} ms per step in them")
    print(f"{'ms/step':>8} {'share':>6} {'calls':>6}  function")
    ranked = sorted(totals.items(), key=lambda item: -item[1][0])
    for name, (spent, count) in ranked[:top]:
        print(f"{1000 * spent / steps:8.2f} {spent / whole:6.1%} {count // steps:6d}  {name}")


if __name__ == "__main__":
    sys.exit(main())
