"""The timing harness: a workload is a set of framework implementations of one computation;
they are checked against each other, then timed interleaved (one repetition of each in turn)."""

from __future__ import annotations

import gc
import statistics
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

FRAMEWORKS = ("chainrule", "replay", "torch", "numpy")


class Impl(Protocol):
    """One framework's version of a workload."""

    def step(self) -> None:
        """The timed unit: one training step (or one forward+backward)."""

    def probe(self) -> dict[str, np.ndarray]:
        """Run one step from the current state and return its numbers (loss, gradients, updated
        parameters), as float64 arrays, for the cross-framework check."""


@dataclass(frozen=True)
class Case:
    """A timed row of the table: ``make[framework]()`` builds a fresh implementation."""

    name: str
    workload: str
    unit: str  # "us/op" or "ms/step"
    per_step: float  # time of one step is divided by this (ops in an op_overhead step)
    inner: int  # steps per timed repetition
    make: dict[str, Callable[[], Impl]]
    tol: float  # normwise relative tolerance of the check
    target: float | None = None  # SPEC/issue 5 target for chainrule / PyTorch
    notes: dict[str, Any] = field(default_factory=dict)


def rel_err(got: np.ndarray, want: np.ndarray) -> float:
    """Normwise relative error max|got - want| / max(max|want|, 1e-30)."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return float("inf")
    if want.size == 0:
        return 0.0
    return float(np.max(np.abs(got - want)) / max(float(np.max(np.abs(want))), 1e-30))


def check(case: Case, frameworks: list[str]) -> dict[str, Any]:
    """Compare every framework's numbers with the hand-written NumPy ones."""
    numbers: dict[str, dict[str, np.ndarray]] = {}
    errors: dict[str, str] = {}
    for fw in frameworks:
        try:
            numbers[fw] = case.make[fw]().probe()
        except Exception:  # a broken framework is reported, the others still run
            errors[fw] = traceback.format_exc(limit=3).strip().splitlines()[-1]
    result: dict[str, Any] = {
        "tolerance": case.tol,
        "max_rel_err": {},
        "worst": {},
        "errors": errors,
        "quantities": [],
    }
    reference = numbers.get("numpy")
    if reference is None:
        result["passed"] = False
        return result
    result["quantities"] = sorted(reference)
    for fw, got in numbers.items():
        if fw == "numpy":
            continue
        errs = {k: rel_err(got[k], reference[k]) if k in got else float("inf") for k in reference}
        worst = max(errs, key=lambda k: errs[k])
        result["max_rel_err"][fw] = errs[worst]
        result["worst"][fw] = worst
    result["passed"] = not errors and all(e <= case.tol for e in result["max_rel_err"].values())
    return result


def time_interleaved(
    case: Case, frameworks: list[str], repeat: int, warmup: int
) -> dict[str, list[float]]:
    """Per framework, ``repeat`` timings of ``case.inner`` steps each, in the case's unit.

    Repetitions are round-robin (chainrule, torch, numpy, chainrule, ...), rotating which one
    goes first, so that a slow phase of a shared machine hits every framework alike."""
    impls = {fw: case.make[fw]() for fw in frameworks}
    replayed = getattr(impls.get("replay"), "replayed", None)
    if replayed is not None:
        for _ in range(2):  # the trace and the check against eager, before any timing
            impls["replay"].step()
        settled = dict(replayed.counts)
    scale = (1e6 if case.unit == "us/op" else 1e3) / (case.inner * case.per_step)
    times: dict[str, list[float]] = {fw: [] for fw in frameworks}
    for rep in range(warmup + repeat):
        shift = rep % len(frameworks)
        for fw in frameworks[shift:] + frameworks[:shift]:
            step = impls[fw].step
            gc.collect()
            start = time.perf_counter()
            for _ in range(case.inner):
                step()
            elapsed = time.perf_counter() - start
            if rep >= warmup:
                times[fw].append(elapsed * scale)
    if replayed is not None:
        counts = replayed.counts
        if counts["eager"] or counts["traced"] != settled["traced"]:
            # a step that traced again or fell back would be timed as something it isn't
            raise RuntimeError(
                f"replay did not only replay while timed: {counts}, {replayed.reason()}"
            )
    return times


def summarize(times: list[float]) -> dict[str, Any]:
    return {
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "times": times,
    }


def run_case(case: Case, frameworks: list[str], repeat: int, warmup: int) -> dict[str, Any]:
    """Check, then time; the record that goes into the JSON output. Frameworks the case has no
    implementation for are left out of both."""
    frameworks = [fw for fw in frameworks if fw in case.make]
    record: dict[str, Any] = {
        "name": case.name,
        "workload": case.workload,
        "unit": case.unit,
        "inner": case.inner,
        "target": case.target,
        **case.notes,
    }
    record["check"] = check(case, frameworks)
    ok = [fw for fw in frameworks if fw not in record["check"]["errors"]]
    times = time_interleaved(case, ok, repeat, warmup)
    record["frameworks"] = {fw: summarize(t) for fw, t in times.items()}
    med = {fw: s["median"] for fw, s in record["frameworks"].items()}
    for fw in ("chainrule", "replay"):
        suffix = "" if fw == "chainrule" else "_replay"
        for ref in ("torch", "numpy"):
            record[f"ratio_to_{ref}{suffix}"] = (
                med[fw] / med[ref] if fw in med and ref in med else None
            )
    return record


# ---- output ----------------------------------------------------------------------------------
def _fmt(x: float) -> str:
    return f"{x:.3g}" if x < 100 else f"{x:.0f}"


def format_table(records: list[dict[str, Any]], frameworks: list[str]) -> str:
    """Medians with [min–max], the two ratios, the target and the check's verdict."""
    ratios = {
        "cr/torch": "ratio_to_torch",
        "replay/torch": "ratio_to_torch_replay",
        "cr/numpy": "ratio_to_numpy",
        "replay/numpy": "ratio_to_numpy_replay",
    }
    head = ["workload", "unit", *frameworks, *ratios, "target", "check"]
    rows = [head]
    for r in records:
        cells = [r["name"], r["unit"]]
        for fw in frameworks:
            s = r["frameworks"].get(fw)
            cells.append(f"{_fmt(s['median'])} [{_fmt(s['min'])}–{_fmt(s['max'])}]" if s else "—")
        for key in ratios.values():
            cells.append(f"{r[key]:.2f}" if r.get(key) is not None else "—")
        cells.append(f"≤ {r['target']}" if r["target"] is not None else "")
        chk = r["check"]
        cells.append("ok" if chk["passed"] else "FAIL")
        rows.append(cells)
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_failures(records: list[dict[str, Any]]) -> str:
    out = []
    for r in records:
        chk = r["check"]
        for fw, msg in chk["errors"].items():
            out.append(f"{r['name']}: {fw} failed: {msg}")
        for fw, err in chk["max_rel_err"].items():
            if err > chk["tolerance"]:
                out.append(
                    f"{r['name']}: {fw} disagrees with NumPy on {chk['worst'][fw]} "
                    f"(relative error {err:.3g} > {chk['tolerance']:.3g})"
                )
    return "\n".join(out)
