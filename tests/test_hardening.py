"""Hardening found by a probe of files, arguments and big graphs: each case here failed before."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule._source import in_package


# ---- cat / stack backward is linear in the number of inputs ----------------------------------
def _lines_run_inside_chainrule(work: Callable[[], Any]) -> int:
    """How many lines of chainrule's own code ``work()`` executes: work, not time."""
    count = 0

    def local(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return local

    def calls(frame: Any, event: str, arg: Any) -> Any:
        return local if in_package(frame.f_code.co_filename) else None

    sys.settrace(calls)
    try:
        work()
    finally:
        sys.settrace(None)
    return count


@pytest.mark.parametrize("join", [cr.cat, cr.stack], ids=["cat", "stack"])
def test_backward_through_many_joined_inputs_is_linear(join):
    def lines(n: int) -> int:
        xs = [cr.tensor(np.ones(2), requires_grad=True) for _ in range(n)]
        y = join(xs).sum()
        return _lines_run_inside_chainrule(y.backward)

    small, large = lines(300), lines(1200)
    assert large < 4.5 * small, (small, large)  # quadratic would be 16×


def test_a_hundred_thousand_inputs_join_and_backpropagate():
    xs = [cr.tensor([float(i)], requires_grad=True) for i in range(100_000)]
    weights = cr.arange(100_000, dtype=cr.float64).float()
    (cr.cat(xs) * weights).sum().backward()
    assert xs[0].grad.item() == 0.0 and xs[99_999].grad.item() == 99_999.0
