"""A replayed step runs as one compiled straight-line function of its slots: it must do exactly
what the plain loop over the recorded calls does, params, frees and all."""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule.autograd import replay_plan


def _calls() -> list[replay_plan.Call]:
    # slots: 1, 2 inputs; 3 = 1 * 2; 4 = sum(3, axis=0) (a param); 5 = 4 + 1, freeing 3
    return [
        (np.multiply, (1, 2), {}, 3, ()),
        (np.sum, (3,), {"axis": 0}, 4, ()),
        (np.add, (4, 1), {}, 5, (3,)),
        (np.zeros, (), {"shape": (2,)}, 6, ()),  # a call without inputs
    ]


def _slots() -> list:
    rng = np.random.default_rng(0)
    return [None, rng.standard_normal((3, 2)), rng.standard_normal((3, 2)), None, None, None, None]


def test_compiled_calls_equal_the_loop():
    looped, compiled = _slots(), _slots()
    replay_plan._execute(_calls(), looped)
    replay_plan._compile(_calls())(compiled)
    assert compiled[3] is None and looped[3] is None  # freed after its last use
    for got, want in zip(compiled[4:], looped[4:], strict=True):
        assert np.array_equal(got, want)
    np.testing.assert_array_equal(compiled[5], (looped[1] * looped[2]).sum(axis=0) + looped[1])


def test_a_plan_over_the_limit_runs_the_loop(monkeypatch):
    monkeypatch.setattr(replay_plan, "_COMPILE_LIMIT", 2)
    run = replay_plan._compile(_calls())
    slots = _slots()
    run(slots)
    assert run.__name__ == "<lambda>"  # the loop, not a compiled function
    np.testing.assert_array_equal(slots[6], np.zeros(2))


def test_a_replayed_step_is_compiled_and_bit_identical_to_eager():
    rng = np.random.default_rng(1)
    w = cr.tensor(rng.standard_normal((4, 3)), requires_grad=True)

    def step(x):
        loss = cr.sum(cr.tanh(cr.matmul(x, w)) ** 2)
        loss.backward()
        return loss

    replayed = cr.autograd.replay(step, warn=False)
    x = cr.tensor(rng.standard_normal((5, 4)))
    losses, grads = [], []
    for _ in range(4):
        w.grad = None
        losses.append(replayed(x).item())
        grads.append(w.grad.numpy().copy())
    assert replayed.counts["replayed"] == 2
    (plan,) = replayed.plans.values()
    assert plan.compiled is not None and plan.compiled[0] is plan.calls
    w.grad = None
    eager = step(x)
    assert losses[-1] == eager.item()
    assert np.array_equal(grads[-1], w.grad.numpy())
