"""The course-style CNN of the speed issue, chainrule against PyTorch in one process: Conv2d
without bias, BatchNorm2d, ReLU, MaxPool, Dropout, 1×1 convolutions and global average pooling
(under 20k parameters), batches of 128 1×28×28 images, SGD with momentum and OneCycleLR.

Same initial weights (chainrule's copied into PyTorch), same batches, epochs interleaved (which
framework goes first alternates), the same thread count. The images are drawn once from a fixed
seed (the time of an epoch does not depend on what the pixels show; no download). Prints the
median wall time of an epoch for each and the ratio chainrule / PyTorch; ``--rss`` also runs
each framework alone in a child process and reports its peak resident memory.

    python benchmarks/course_cnn.py                      # 6 epochs of 8 batches, all threads
    python benchmarks/course_cnn.py --threads 1 --epochs 10
    python benchmarks/course_cnn.py --quick --json       # a smoke run (what the tests use)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any

from machine import add_common_arguments, describe, log, set_threads

BATCH = 128


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/course_cnn.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--epochs", type=int, default=6, help="timed epochs (default 6)")
    parser.add_argument("--batches", type=int, default=8, help="batches of 128 per epoch")
    add_common_arguments(parser)  # --threads, --json
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--quick", action="store_true", help="2 epochs of 2 batches: runs, no numbers"
    )
    parser.add_argument("--rss", action="store_true", help="peak memory of each, in a child")
    parser.add_argument("--alone", choices=("chainrule", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.batches = 2, 2
    if min(args.threads, args.epochs, args.batches) < 1:
        parser.error("--threads, --epochs and --batches must be at least 1")
    return args


def course_cnn() -> Any:
    """8-16 3×3 convolutions with BatchNorm and ReLU, a max-pool, a 1×1 transition, dropout,
    global average pooling and a 1×1 classifier: 7,416 parameters (7,272 convolution weights)."""
    from chainrule import nn

    def block(cin: int, cout: int) -> list[Any]:
        return [nn.Conv2d(cin, cout, 3, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(
        *block(1, 8),  # 26
        *block(8, 16),  # 24
        nn.MaxPool2d(2),  # 12
        nn.Conv2d(16, 8, 1, bias=False),
        *block(8, 16),  # 10
        nn.Dropout(0.05),
        *block(16, 16),  # 8
        *block(16, 16),  # 6
        nn.AdaptiveAvgPool2d(1),
        nn.Conv2d(16, 10, 1, bias=False),
        nn.Flatten(),
    )


def _data(seed: int, batches: int) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batches * BATCH, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, batches * BATCH).astype(np.int64)
    return x, y


def _runners(args: argparse.Namespace, which: tuple[str, ...]) -> tuple[dict[str, Any], int]:
    """Each framework's "run one epoch" (returning its wall time), built on the same weights."""
    import numpy as np

    import chainrule as cr
    from chainrule.train import run_epoch, training_step

    x, y = _data(args.seed, args.batches)
    steps = (args.epochs + 1) * args.batches
    cr.manual_seed(args.seed)
    model = course_cnn()
    runs: dict[str, Any] = {}
    if "chainrule" in which:
        optimizer = cr.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        scheduler = cr.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.05, total_steps=steps)
        step = cr.autograd.replay(training_step(model, optimizer), warn=False)

        def cr_run(order: np.ndarray) -> float:
            batches = (
                (cr.from_numpy(x[order[i : i + BATCH]]), cr.from_numpy(y[order[i : i + BATCH]]))
                for i in range(0, len(order), BATCH)
            )
            begin = time.perf_counter()
            run_epoch(model, batches, optimizer, scheduler, step=step)
            return time.perf_counter() - begin

        runs["chainrule"] = cr_run
        runs["replay_counts"] = step.counts  # (kept up to date by the step)
    if "torch" in which:
        import torch
        from train_digits import torch_epoch, torch_twin

        torch.set_num_threads(args.threads)
        twin = torch_twin(model, torch)
        model.eval()
        twin.eval()
        with cr.no_grad(), torch.no_grad():  # the same weights, the same function
            probe = x[:BATCH]
            ours, theirs = model(cr.from_numpy(probe)).numpy(), twin(torch.from_numpy(probe))
        runs["initial_max_abs_diff"] = float(np.max(np.abs(ours - theirs.numpy())))
        model.train()
        t_optimizer = torch.optim.SGD(twin.parameters(), lr=0.05, momentum=0.9)
        t_scheduler = torch.optim.lr_scheduler.OneCycleLR(
            t_optimizer, max_lr=0.05, total_steps=steps
        )

        def t_run(order: np.ndarray) -> float:
            batches = (
                (
                    torch.from_numpy(x[order[i : i + BATCH]]),
                    torch.from_numpy(y[order[i : i + BATCH]]),
                )
                for i in range(0, len(order), BATCH)
            )
            begin = time.perf_counter()
            torch_epoch(twin, batches, t_optimizer, t_scheduler, torch)
            return time.perf_counter() - begin

        runs["torch"] = t_run
    parameters = sum(p.numel() for p in model.parameters())
    return runs, parameters


def measure(args: argparse.Namespace, which: tuple[str, ...]) -> dict[str, Any]:
    import numpy as np

    runs, parameters = _runners(args, which)
    agreement = runs.pop("initial_max_abs_diff", None)
    counts = runs.pop("replay_counts", None)
    rng = np.random.default_rng(args.seed)
    n = args.batches * BATCH
    for run in runs.values():  # one untimed epoch each: the trace, the caches, the allocator
        run(rng.permutation(n))
    times: dict[str, list[float]] = {fw: [] for fw in runs}
    for epoch in range(args.epochs):
        order = rng.permutation(n)
        for fw in list(runs) if epoch % 2 == 0 else list(reversed(runs)):
            times[fw].append(runs[fw](order))
        log(
            f"epoch {epoch + 1}/{args.epochs}: "
            + ", ".join(f"{fw} {1000 * times[fw][-1]:.0f} ms" for fw in runs)
        )
    result: dict[str, Any] = {
        "parameters": parameters,
        "batch": BATCH,
        "batches_per_epoch": args.batches,
        "epochs": args.epochs,
        "seconds_per_epoch": times,
        "median_seconds": {fw: statistics.median(t) for fw, t in times.items()},
        "initial_max_abs_diff": agreement,
        "replay_counts": counts,  # chainrule's steps: traced, verified, replayed, eager
    }
    if len(runs) == 2:
        median = result["median_seconds"]
        result["ratio"] = median["chainrule"] / median["torch"]
    return result


def peak_rss(args: argparse.Namespace, framework: str) -> float:
    """MiB: the peak resident memory of a child process that trains with one framework alone
    (it reports its own peak, so one child's peak never shows as the other's)."""
    command = [sys.executable, __file__, "--alone", framework, "--threads", str(args.threads)]
    command += ["--epochs", str(args.epochs), "--batches", str(args.batches)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return float(done.stdout.strip().splitlines()[-1])


def _high_water_mib() -> float:
    """This process's peak resident memory. (Not getrusage: on Linux a child's ru_maxrss starts
    at its parent's peak, fork and exec notwithstanding; VmHWM belongs to the new image.)"""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise OSError("no VmHWM in /proc/self/status (peak memory is measured on Linux only)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    set_threads(args.threads)
    if args.alone:
        measure(args, (args.alone,))
        print(_high_water_mib())
        return 0
    import torch

    import chainrule

    result = {
        "machine": describe(args.threads, torch.__version__, chainrule.__version__),
        **measure(args, ("chainrule", "torch")),
    }
    if args.rss:
        result["peak_rss_mib"] = {fw: peak_rss(args, fw) for fw in ("chainrule", "torch")}
    if args.json and args.json != "-":
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    if args.json == "-":
        print(json.dumps(result, indent=1))
    else:
        m, median = result["machine"], result["median_seconds"]
        print(
            f"{m['cpu']}, {m['threads']} threads, load {m['load_average'][0]:.2f}: course CNN, "
            f"{result['parameters']:,} parameters, {args.batches} batches of {BATCH} per epoch"
        )
        print(
            f"median epoch: chainrule {1000 * median['chainrule']:.0f} ms, PyTorch "
            f"{1000 * median['torch']:.0f} ms, ratio {result['ratio']:.2f}"
        )
        print(f"chainrule's steps: {result['replay_counts']}")
        if "peak_rss_mib" in result:
            rss = result["peak_rss_mib"]
            print(f"peak RSS: chainrule {rss['chainrule']:.0f} MiB, PyTorch {rss['torch']:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
