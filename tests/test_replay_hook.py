"""Replay's tracing goes through one explicit hook (autograd/tracer.py): the engine's entry points
call this thread's tracer directly, so nothing of the engine is swapped while a step traces."""

from __future__ import annotations

import threading

import numpy as np

import chainrule as cr
from chainrule.autograd.grad_mode import thread_state
from chainrule.autograd.node import Primitive
from chainrule.tensor import Tensor


def test_tracing_swaps_nothing_and_only_this_thread_has_a_tracer():
    plain_call, plain_wrap = Primitive.__call__, Tensor.__dict__["_wrap"]
    w = cr.tensor([0.5, -0.25], requires_grad=True)
    seen: dict[str, object] = {}

    def other_thread() -> None:
        seen["other"] = thread_state.tracing

    @cr.autograd.replay
    def step(x):
        seen["call"] = Primitive.__call__ is plain_call
        seen["wrap"] = Tensor.__dict__["_wrap"] is plain_wrap
        seen["mine"] = thread_state.tracing
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join(10)
        loss = ((w * x).sum() - 1.0) ** 2
        loss.backward()
        return loss

    step(cr.tensor([1.0, 2.0]))
    assert seen["call"] is True and seen["wrap"] is True
    assert seen["mine"] is not None and seen["other"] is None
    assert thread_state.tracing is None
    for _ in range(2):
        w.grad = None
        step(cr.tensor([1.0, 2.0]))
    assert step.counts == {"traced": 1, "verified": 1, "replayed": 1, "eager": 0}


# ---- constants are marked where they are made, not recognised by their function's name --------
def _replays(fn, make_x):
    """(counts, reason) after four calls of ``fn`` under replay, each checked against eager."""
    step = cr.autograd.replay(fn, warn=False)
    for k in range(4):
        step(make_x(k))
    return step.counts, step.reason()


def test_a_constant_marked_anywhere_replays_bit_for_bit():
    w = cr.tensor([0.5, -0.25, 2.0], requires_grad=True)

    def offsets_made_here(like):  # a name no library site has, in a test file
        return Tensor._wrap(np.arange(3, dtype=like.dtype), constant=True)

    def step(x):
        loss = ((w * x + offsets_made_here(x)) ** 2).sum()
        loss.backward()
        return loss

    replayed = cr.autograd.replay(step)
    for k in range(4):
        x = cr.tensor([1.0 + k, 2.0, -k])
        w.grad = None
        loss = replayed(x)
        grad = w.grad.tolist()
        w.grad = None
        eager = step(x)
        assert loss.item() == eager.item() and grad == w.grad.tolist(), k
    assert replayed.counts == {"traced": 1, "verified": 1, "replayed": 2, "eager": 0}


def test_an_unmarked_array_made_outside_a_primitive_is_refused_whatever_its_function_is_called():
    w = cr.tensor([0.5, -0.25, 2.0], requires_grad=True)

    def _zero(y):  # named as ops/selection.py's constant site: the name doesn't matter
        return Tensor._wrap(y._data * 0.0)  # computed from the data, not marked

    def step(x):
        y = w * x
        loss = (y + _zero(y)).sum()
        loss.backward()
        return loss

    counts, reason = _replays(step, lambda k: cr.tensor([1.0 + k, 2.0, -k]))
    assert counts["replayed"] == 0 and counts["eager"] == 3
    assert reason is not None and "an array made outside a primitive" in reason
