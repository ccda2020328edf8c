"""Replay's tracing and other threads: a step traced in one thread records only that thread's
ops, eager work in another thread at the same moment is untouched, and two threads may trace at
once; afterwards the engine's entry points are the plain ones again."""

from __future__ import annotations

import threading

import numpy as np

import chainrule as cr
from chainrule.autograd.node import Primitive
from chainrule.tensor import Tensor


def _eager_numbers(seed: int) -> tuple[float, list[float]]:
    w = cr.tensor(np.random.default_rng(seed).normal(size=3), requires_grad=True)
    x = cr.tensor([1.0, 2.0, 3.0])
    loss = ((w * x).tanh().sum() - 1.0) ** 2
    loss.backward()
    return loss.item(), w.grad.tolist()


def _replayed_step(w: Tensor, pause: threading.Event | None, go: threading.Event | None):
    @cr.autograd.replay
    def step(x):
        y = (w * x).tanh()
        if pause is not None:  # stop mid-trace while the other thread works
            pause.set()
            assert go is not None and go.wait(10)
        loss = (y.sum() - 1.0) ** 2
        loss.backward()
        return loss

    return step


def test_eager_work_in_another_thread_during_a_trace_is_untouched():
    plain_call, plain_wrap = Primitive.__call__, Tensor.__dict__["_wrap"]
    pause, go = threading.Event(), threading.Event()
    w = cr.tensor([0.5, -0.25, 0.1], requires_grad=True)
    step = _replayed_step(w, pause, go)
    results: dict[str, object] = {}

    def trace() -> None:
        w.grad = None
        results["first"] = step(cr.tensor([1.0, 2.0, 3.0])).item()

    tracer = threading.Thread(target=trace)
    tracer.start()
    assert pause.wait(10)
    results["other"] = _eager_numbers(7)  # while the trace is paused in the middle
    go.set()
    tracer.join(10)
    assert results["other"] == _eager_numbers(7)
    # the trace saw none of the other thread's ops: its replays give the eager numbers
    pause.clear()
    for k in range(3):
        x = cr.tensor([1.0 + k, 2.0, 3.0 - k])
        w.grad = None
        replayed = step(x).item()
        grad = w.grad.tolist()
        w2 = cr.tensor(w.detach().numpy(), requires_grad=True)
        loss = ((w2 * x).tanh().sum() - 1.0) ** 2
        loss.backward()
        assert replayed == loss.item() and grad == w2.grad.tolist()
    assert step.counts["replayed"] >= 1 and step.counts["eager"] == 0, step.counts
    assert Primitive.__call__ is plain_call and Tensor.__dict__["_wrap"] is plain_wrap


def test_two_threads_trace_at_once():
    plain_call, plain_wrap = Primitive.__call__, Tensor.__dict__["_wrap"]
    barrier = threading.Barrier(2, timeout=10)
    failures: list[BaseException] = []

    def run(seed: int) -> None:
        try:
            w = cr.tensor(np.random.default_rng(seed).normal(size=3), requires_grad=True)

            @cr.autograd.replay
            def step(x):
                y = (w * x).tanh()
                barrier.wait()  # both threads are tracing now
                loss = (y.sum() - 1.0) ** 2
                loss.backward()
                return loss

            step(cr.tensor([1.0, 2.0, 3.0]))
            for k in range(3):
                x = cr.tensor([1.0 + k, 2.0, 3.0 - k])
                w.grad = None
                got = step(x).item()
                grad = w.grad.tolist()
                w2 = cr.tensor(w.detach().numpy(), requires_grad=True)
                want = ((w2 * x).tanh().sum() - 1.0) ** 2
                want.backward()
                assert got == want.item() and grad == w2.grad.tolist(), (seed, k)
            assert step.counts["eager"] == 0, step.counts
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            failures.append(error)

    threads = [threading.Thread(target=run, args=(seed,)) for seed in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not failures, failures
    assert Primitive.__call__ is plain_call and Tensor.__dict__["_wrap"] is plain_wrap
