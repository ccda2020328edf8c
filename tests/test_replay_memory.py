"""A replayed step keeps nothing of a step's arrays alive between calls that eager would free:
the convolution's im2col columns, saved by the forward for the weight gradient, go with that
gradient (issue 15: a plan kept each conv layer's last buffer, 1.77 MB measured). What a forward
saves for its rules is owned by its node, and in a plan by a slot freed after its last use; the
params stay static values."""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.ops.convolution import _conv2d_weight_forward


def test_a_replayed_conv_step_keeps_no_columns_between_calls():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    twin = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    step = _replayed_against_eager(model, twin, (5, 1, 8, 8), 3, seed=0)
    assert step.counts["replayed"] >= 2, step.counts
    for plan in step.plans.values():
        _assert_keeps_nothing_of_a_step(plan)
        weight_grads = [call for call in plan.calls if call[0] is _conv2d_weight_forward]
        # the forward's columns reach the weight gradient through a slot (not recomputed)
        assert weight_grads and all(len(call[1]) == 3 for call in weight_grads)


def _replayed_against_eager(model, twin, shape, classes, seed):
    """A cross-entropy step of ``model`` under replay, four calls each checked bit for bit
    against the same step of ``twin`` (loaded with the same weights) run eagerly."""
    twin.load_state_dict(model.state_dict())

    @cr.autograd.replay
    def step(x, y):
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        return loss

    rng = np.random.default_rng(seed)
    for k in range(4):
        x = cr.tensor(rng.normal(size=shape).astype(np.float32))
        y = cr.tensor(rng.integers(0, classes, size=shape[0]))
        model.zero_grad()
        twin.zero_grad()
        got = step(x, y).item()
        want = nn.functional.cross_entropy(twin(x), y)
        want.backward()
        assert got == want.item(), k
        for a, b in zip(model.parameters(), twin.parameters(), strict=True):
            assert np.array_equal(a.grad.numpy(), b.grad.numpy()), k
    return step


def _arrays_in(value):
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in _arrays_in(v)]
    return []


def _assert_keeps_nothing_of_a_step(plan):
    """Between calls a plan holds only what every call starts from: the arrays it reads from
    outside (parameters), 0-d constants, and static parameters (no array, no mutable dict)."""
    outside = {id(array) for _, array, _ in plan.externals}
    kept = [a for a in _arrays_in(plan.template) if id(a) not in outside]
    assert all(a.ndim == 0 for a in kept), [a.shape for a in kept]
    for call in plan.calls:
        params = call[2]
        assert not _arrays_in(params), call
        assert not any(isinstance(v, dict) for v in params.values()), call


def test_a_replayed_batch_norm_step_equals_eager_and_keeps_nothing_between_calls():
    """batch_norm's x̂ and 1/σ, saved by its forward, reach the rules through slots of the
    plan (they were arrays made outside a primitive, which refused the replay, while they sat
    in a cache in the params); with running statistics it still runs eagerly (an in-place
    write)."""
    cr.manual_seed(0)

    def net():
        return nn.Sequential(
            nn.Conv2d(1, 3, 3),
            nn.BatchNorm2d(3, track_running_stats=False),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(3 * 4 * 4, 2),
        )

    step = _replayed_against_eager(net(), net(), (4, 1, 6, 6), 2, seed=1)
    assert step.counts == {"traced": 1, "verified": 1, "replayed": 2, "eager": 0}, step.reason()
    for plan in step.plans.values():
        _assert_keeps_nothing_of_a_step(plan)
