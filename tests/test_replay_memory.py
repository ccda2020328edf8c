"""A replayed step keeps nothing of a step's arrays alive between calls that eager would free:
the convolution's im2col columns, saved by the forward for the weight gradient, go with that
gradient (issue 15: a plan kept each conv layer's last buffer, 1.77 MB measured)."""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule import nn


def test_a_replayed_conv_step_keeps_no_columns_between_calls():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    twin = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    twin.load_state_dict(model.state_dict())

    @cr.autograd.replay
    def step(x, y):
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        return loss

    rng = np.random.default_rng(0)
    for k in range(4):
        x = cr.tensor(rng.normal(size=(5, 1, 8, 8)).astype(np.float32))
        y = cr.tensor(rng.integers(0, 3, size=5))
        model.zero_grad()
        twin.zero_grad()
        got = step(x, y).item()
        want = nn.functional.cross_entropy(twin(x), y)
        want.backward()
        assert got == want.item(), k
        for a, b in zip(model.parameters(), twin.parameters(), strict=True):
            assert np.array_equal(a.grad.numpy(), b.grad.numpy()), k
    assert step.counts["replayed"] >= 2, step.counts
    caches = [
        call[2]["cache"]
        for plan in step.plans.values()
        for call in plan.calls
        if isinstance(call[2], dict) and isinstance(call[2].get("cache"), dict)
    ]
    assert caches, "the plan has the convolution's cache"
    assert all("cols" not in cache for cache in caches), [sorted(c) for c in caches]
