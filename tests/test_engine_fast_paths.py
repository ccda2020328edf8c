"""The eager engine's cheaper paths give the same numbers as the general ones: two paths'
gradients summed as arrays (no create_graph) equal the recorded sum (create_graph), and the
process-wide count of tracing threads that lets the hot paths skip the thread-local read."""

from __future__ import annotations

import threading

import numpy as np

import chainrule as cr
from chainrule.autograd.grad_mode import state, thread_state


def _grads(create_graph: bool) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    x = cr.tensor(rng.standard_normal(5), requires_grad=True)
    y = cr.tensor(rng.standard_normal(5), requires_grad=True)
    h = cr.tanh(x * y + x)  # x reaches the loss on two paths, h on three
    loss = cr.sum(h * y + h * h + cr.exp(h))
    gx, gy = cr.autograd.grad(loss, [x, y], create_graph=create_graph)
    return [gx.detach().numpy(), gy.detach().numpy()]


def test_array_sums_equal_recorded_sums_bit_for_bit():
    plain, recorded = _grads(False), _grads(True)
    for got, want in zip(plain, recorded, strict=True):
        assert np.array_equal(got, want)


def test_array_sums_match_the_hand_derivative():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal(5), rng.standard_normal(5)
    h = np.tanh(x * y + x)
    dh = y + 2 * h + np.exp(h)  # d loss / d h over its three paths
    dpre = dh * (1 - h * h)
    gx, gy = _grads(False)
    np.testing.assert_allclose(gx, dpre * (y + 1), rtol=1e-13)
    np.testing.assert_allclose(gy, dpre * x + h, rtol=1e-13)


def test_leaf_grad_accumulates_over_paths_into_dot_grad():
    w = cr.tensor([2.0, -1.0], requires_grad=True)
    (w * 3.0 + w * w).sum().backward()
    assert w.grad.tolist() == [3.0 + 4.0, 3.0 - 2.0]


def test_tracer_count_follows_the_threads_that_trace():
    assert state.tracers == 0
    step = cr.autograd.replay(lambda x: (x * 2.0).sum(), warn=False)
    x = cr.tensor([1.0, 2.0])
    for _ in range(3):
        step(x)
    assert step.counts["replayed"] == 1
    assert state.tracers == 0  # back to none after tracing (and after the verifying run)

    inside = threading.Event()
    release = threading.Event()
    seen: list[int] = []

    class _Blocking:
        first_seq = 0

        def refuse(self, reason):
            pass

    def trace_in_thread():
        thread_state.tracing = _Blocking()  # type: ignore[assignment]
        inside.set()
        release.wait(5)
        thread_state.tracing = None

    t = threading.Thread(target=trace_in_thread)
    t.start()
    inside.wait(5)
    seen.append(state.tracers)
    assert thread_state.tracing is None  # this thread's own tracer is untouched
    release.set()
    t.join(5)
    assert seen == [1]
    assert state.tracers == 0


def test_setting_the_same_tracer_twice_counts_once():
    class _Tracer:
        first_seq = 0

    tracer = _Tracer()
    try:
        thread_state.tracing = tracer  # type: ignore[assignment]
        thread_state.tracing = tracer  # type: ignore[assignment]
        assert state.tracers == 1
    finally:
        thread_state.tracing = None
    assert state.tracers == 0
    thread_state.tracing = None
    assert state.tracers == 0
