"""Replay's tracing goes through one explicit hook (autograd/tracer.py): the engine's entry points
call this thread's tracer directly, so nothing of the engine is swapped while a step traces."""

from __future__ import annotations

import threading

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
