"""Benchmark chainrule against PyTorch (CPU) and a hand-written NumPy bound, in one process run.

Every workload is first checked (all compute the same loss, gradients and update), then timed
interleaved after a warm-up. "chainrule" is the eager engine; "replay" is chainrule with each
step's forward+backward under ``chainrule.autograd.replay`` (traced once, checked against eager
once, then replayed). Prints a table of medians [min–max] and each one's ratio to PyTorch and to
NumPy; ``--json`` gives the same as JSON.

    python benchmarks/run.py                         # everything, 20 repetitions
    python benchmarks/run.py --workloads tutorial mlp_small --repeat 50
    python benchmarks/run.py --quick --json          # a smoke run (what the tests use)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

from machine import (
    add_common_arguments,
    add_names_argument,
    describe,
    log,
    print_result,
    set_threads,
)

WORKLOADS = (
    "op_overhead",
    "tutorial",
    "mlp_small",
    "mlp_medium",
    "mlp_large",
    "cnn_small",
    "deep_chain",
    "cat_many",
    "peak_rss",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="Time chainrule, PyTorch (CPU) and hand-written NumPy on the same workloads.",
    )
    add_names_argument(
        parser,
        "--workloads",
        WORKLOADS,
        list(WORKLOADS),
        f"which to run (default: all of {', '.join(WORKLOADS)})",
        metavar="NAME",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="timed repetitions per framework (default 20; 2 with --quick)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="untimed repetitions first (default 3; 1 with --quick)",
    )
    add_common_arguments(parser)  # --threads, --json
    parser.add_argument(
        "--quick",
        action="store_true",
        help="few steps and repetitions, shorter chains: checks that everything "
        "runs, not for numbers",
    )
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument(
        "--rss-child", choices=("chainrule", "replay", "torch", "numpy"), help=argparse.SUPPRESS
    )
    parser.add_argument("--rss-steps", type=int, default=10, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 2 if args.quick else 20
    if args.warmup is None:
        args.warmup = 1 if args.quick else 3
    if args.repeat < 1 or args.warmup < 0 or args.threads < 1:
        parser.error("--repeat and --threads must be at least 1, --warmup at least 0")
    return args


# ---- peak RSS: mlp_large training, one framework per process --------------------------------
def _max_rss_mib() -> float:
    """This process's peak resident set size.

    Linux's ru_maxrss survives exec: a child started from a parent that has imported PyTorch
    starts with the parent's peak. VmHWM belongs to the process's own memory map, so it is read
    first; ru_maxrss is the fallback elsewhere (KiB on Linux, bytes on macOS)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def rss_child(framework: str, steps: int, threads: int) -> int:
    import frameworks
    import reference
    import workloads

    params, data = workloads.mlp_setup(*workloads.MLP_SIZES["mlp_large"])
    impl: Any
    if framework == "numpy":
        impl = frameworks.NumpyStep(reference.mlp, params, data, workloads.MLP_LR)
    elif framework == "replay":
        api = frameworks.replay_api()
        impl = frameworks.ReplayStep(api, workloads.mlp_loss, params, data, workloads.MLP_LR)
    else:
        api = (
            frameworks.chainrule_api()
            if framework == "chainrule"
            else frameworks.torch_api(threads)
        )
        impl = frameworks.AutogradStep(api, workloads.mlp_loss, params, data, workloads.MLP_LR)
    after_setup = _max_rss_mib()
    for _ in range(steps):
        impl.step()
    loaded = sorted(m for m in ("torch", "chainrule") if m in sys.modules)
    print(
        json.dumps(
            {
                "framework": framework,
                "peak_rss_mib": _max_rss_mib(),
                "after_setup_mib": after_setup,
                "steps": steps,
                "imported": loaded,
            }
        )
    )
    return 0


def peak_rss(frameworks: list[str], steps: int, threads: int) -> dict[str, Any]:
    out: dict[str, Any] = {"workload": "mlp_large", "steps": steps, "frameworks": {}}
    for fw in frameworks:
        cmd = [
            sys.executable,
            os.path.abspath(__file__),
            "--rss-child",
            fw,
            "--rss-steps",
            str(steps),
            "--threads",
            str(threads),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            last = proc.stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
            if fw == "torch" and "No module named 'torch'" in last[0]:
                continue
            out["frameworks"][fw] = {"error": last[0]}
            continue
        out["frameworks"][fw] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


# ---- the main run ------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    set_threads(args.threads)
    if args.rss_child:
        return rss_child(args.rss_child, args.rss_steps, args.threads)
    if "peak_rss" in args.workloads:  # first, while this process is still small
        log("peak_rss ...")
        names = ["chainrule", "replay", *([] if args.no_torch else ["torch"]), "numpy"]
        rss = peak_rss(names, 1 if args.quick else args.rss_steps, args.threads)
    # imported only now, after the thread variables are set
    import frameworks
    import harness
    import workloads

    apis = frameworks.available(args.threads)
    if args.no_torch:
        apis["torch"] = None
    names = [fw for fw in harness.FRAMEWORKS if fw == "numpy" or apis.get(fw) is not None]
    if apis["torch"] is None:
        log("PyTorch is not used: only chainrule and NumPy are timed")
    result: dict[str, Any] = {
        "machine": describe(
            args.threads,
            apis["torch"].lib.__version__ if apis.get("torch") else None,
            getattr(apis["chainrule"].lib, "__version__", None),
        ),
        "settings": {
            "repeat": args.repeat,
            "warmup": args.warmup,
            "quick": args.quick,
            "workloads": args.workloads,
            "frameworks": names,
            "chainrule_cross_entropy": getattr(apis["chainrule"], "ce_source", None),
        },
        "results": [],
        "deep_chain_scaling": {},
        "peak_rss": None,
    }
    started = time.perf_counter()
    for workload in args.workloads:
        if workload == "peak_rss":
            continue
        for case in workloads.cases(workload, apis, args.quick):
            log(f"{case.name} ...")
            result["results"].append(harness.run_case(case, names, args.repeat, args.warmup))
    result["deep_chain_scaling"] = workloads.chain_scaling(result["results"])
    if "peak_rss" in args.workloads:
        result["peak_rss"] = rss
    result["seconds"] = time.perf_counter() - started
    failures = harness.format_failures(result["results"])
    result["passed"] = not failures

    print_result(result, args.json, lambda: report(result, names, harness))
    if failures:
        log(failures)
    return 0 if result["passed"] else 1


def report(result: dict[str, Any], names: list[str], harness: Any) -> str:
    m = result["machine"]
    lines = [
        f"{m['cpu']}, {m['cores']} cores, {m['threads']} threads, "
        f"load {m['load_average'][0]:.2f}; Python {m['python']}, NumPy {m['numpy']}, "
        f"PyTorch {m['torch']}, chainrule {m['chainrule']}",
        f"medians [min–max] of {result['settings']['repeat']} interleaved repetitions",
        "",
    ]
    if result["results"]:
        lines.append(harness.format_table(result["results"], names))
    if result["deep_chain_scaling"]:
        lines.append(
            "deep_chain time(long) / time(half): "
            + ", ".join(f"{fw} {r:.2f}" for fw, r in result["deep_chain_scaling"].items())
            + " (2.0 = linear)"
        )
    if result["peak_rss"]:
        rss = result["peak_rss"]["frameworks"]
        lines.append(
            "peak RSS of mlp_large training (MiB): "
            + ", ".join(
                f"{fw} {v['peak_rss_mib']:.0f}" if "peak_rss_mib" in v else f"{fw} error"
                for fw, v in rss.items()
            )
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
