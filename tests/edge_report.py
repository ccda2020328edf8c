"""Counts behind the closing notes of the in-place and numerics work, from the same code as the
tests (run from the repository root; needs torch):

    python tests/edge_report.py numerics   # runs that differ from PyTorch, and how many are listed
    python tests/edge_report.py inplace    # in-place scenarios by outcome in each library

Run it against another checkout with PYTHONPATH=<that checkout> to compare before and after.
"""

from __future__ import annotations

import collections
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def numerics() -> None:
    import test_numerics_vs_torch as t

    import chainrule as cr

    runs = differ = listed = 0
    for case in t.COMPARED:
        for dtype in ("float64", "float32"):
            base = case.sample()
            for index, arg in enumerate(case.args):
                if not arg.requires_grad:
                    continue
                for value in t.SPECIAL:
                    runs += 1
                    arrays = list(base)
                    arrays[index] = np.full(arg.shape, value)
                    theirs = t._reference(case, index, value, arrays, dtype)
                    ours = t._run(cr, case, arrays, dtype)
                    if _differs(t, case, theirs, ours, dtype):
                        differ += 1
                        listed += t._deviation(case, index, value, dtype) is not None
    print(f"{runs} runs; {differ} differ from PyTorch, {listed} of them listed deviations")


def _differs(t, case, theirs, ours, dtype) -> bool:  # type: ignore[no-untyped-def]
    if isinstance(theirs, Exception) or isinstance(ours, Exception):
        return not (isinstance(theirs, Exception) and isinstance(ours, Exception))
    rtol = t.TOLERANCE[dtype]
    signed = case.name in t.ELEMENTWISE
    for got, expected in zip(ours.outputs, theirs.outputs, strict=True):
        if got.dtype.kind == "f" and t._agree(got, expected, rtol, dtype, signed):
            return True
    for got, expected in zip(ours.grads, theirs.grads, strict=True):
        if got is not None and expected is not None and t._agree(got, expected, rtol, dtype, False):
            return True
    return False


def inplace() -> None:
    import test_inplace_vs_torch as t
    from op_catalog import torch_namespace

    import chainrule as cr

    outcomes: collections.Counter[str] = collections.Counter()
    for case in t.COMPARED:
        arrays = case.sample()
        for method in t.METHODS:
            for target in ("input", "output"):
                for mode in t.MODES:
                    theirs = t._scenario(torch_namespace(), case, arrays, target, method, mode)
                    if theirs is None:
                        continue
                    ours = t._scenario(cr, case, arrays, target, method, mode)
                    pytorch = "PyTorch raises" if theirs.raised else "PyTorch computes"
                    chainrule = "chainrule raises" if ours.raised else "chainrule computes"
                    outcomes[f"{pytorch}, {chainrule}"] += 1
    for outcome, count in sorted(outcomes.items()):
        print(f"{count:6d}  {outcome}")
    print(f"{sum(outcomes.values()):6d}  scenarios")


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    np.seterr(all="ignore")
    {"numerics": numerics, "inplace": inplace}[sys.argv[1] if len(sys.argv) > 1 else "numerics"]()
