"""Dropout and BatchNorm under chainrule.autograd.replay: a replayed training step draws fresh
dropout masks from the same generator as eager and updates BatchNorm's running statistics, so
that a whole training run is bit-identical to the same run done eagerly under a seed; train/eval
switches trace once per mode and then find their plans again."""

from __future__ import annotations

import copy
import gc
import pickle
import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.autograd import grad_mode


def _cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, bias=False),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Dropout(0.25),
        nn.Conv2d(4, 3, 1, bias=False),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )


def _mlp_without_affine() -> nn.Module:
    return nn.Sequential(
        nn.Linear(5, 6),
        nn.BatchNorm1d(6, affine=False),
        nn.Tanh(),
        nn.Dropout(0.4),
        nn.Linear(6, 3),
    )


def _batches(shape, count, seed=7):
    rng = np.random.default_rng(seed)
    return [
        (
            cr.tensor(rng.standard_normal((8, *shape)).astype(np.float32)),
            cr.tensor(rng.integers(0, 3, 8)),
        )
        for _ in range(count)
    ]


def _run(make_model, batches, use_replay):
    """Train from manual_seed(0): the losses, and the state everything ends in."""
    cr.manual_seed(0)
    model = make_model()
    for p in model.parameters():
        p.data = p.data.float()
    optimizer = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step(x, y):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss

    stepper = cr.autograd.replay(step) if use_replay else step
    losses, grads = [], []
    for x, y in batches:
        losses.append(stepper(x, y).detach().numpy().copy())
        grads.append([p.grad.numpy().copy() for p in model.parameters()])
        optimizer.step()
    state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    return losses, grads, state, cr.random.get_rng_state(), stepper


def _assert_same_runs(replayed, eager):
    for a, b in zip(replayed[0], eager[0], strict=True):
        assert np.array_equal(a, b), "losses differ"
    for step_a, step_b in zip(replayed[1], eager[1], strict=True):
        for a, b in zip(step_a, step_b, strict=True):
            assert np.array_equal(a, b), "gradients differ"
    assert replayed[2].keys() == eager[2].keys()
    for name in eager[2]:  # parameters, running_mean, running_var, num_batches_tracked
        assert np.array_equal(replayed[2][name], eager[2][name]), name
    assert replayed[3] == eager[3], "the generator ends in another state"


@pytest.mark.parametrize(
    ("make_model", "shape"),
    [(_cnn, (1, 8, 8)), (_mlp_without_affine, (5,))],
    ids=["conv_batchnorm2d_dropout", "batchnorm1d_no_affine_dropout"],
)
def test_replayed_training_is_bit_identical_to_eager(make_model, shape):
    batches = _batches(shape, 6)
    replayed = _run(make_model, batches, use_replay=True)
    eager = _run(make_model, batches, use_replay=False)
    assert replayed[4].counts == {"traced": 1, "verified": 1, "replayed": 4, "eager": 0}
    _assert_same_runs(replayed, eager)
    assert int(replayed[2][next(k for k in replayed[2] if "num_batches" in k)]) == 6
    # dropout really dropped something, and differently in each step
    assert not np.array_equal(replayed[1][2][0], replayed[1][3][0])


def test_a_guard_that_falls_back_draws_and_updates_once():
    batches = _batches((1, 8, 8), 5)
    labels = batches[3][1].numpy().copy()
    labels[0] = -100  # an ignored target: cross-entropy's fused path no longer applies
    batches[3] = (batches[3][0], cr.tensor(labels))
    replayed = _run(_cnn, batches, use_replay=True)
    eager = _run(_cnn, batches, use_replay=False)
    assert replayed[4].counts == {"traced": 1, "verified": 1, "replayed": 2, "eager": 1}
    _assert_same_runs(replayed, eager)


def test_epochs_of_train_and_eval_trace_once_per_mode():
    cr.manual_seed(1)
    model = _cnn()
    x = cr.randn(8, 1, 8, 8)
    y = cr.tensor(np.arange(8) % 3)

    @cr.autograd.replay
    def step(x, y):
        model.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss

    @cr.autograd.replay
    def evaluate(x):
        with cr.no_grad():
            return model(x)

    for _ in range(4):  # epochs: three training steps, then an evaluation
        model.train()
        for _ in range(3):
            step(x, y)
        model.eval()
        for _ in range(3):
            evaluate(x)
    assert step.counts == {"traced": 1, "verified": 1, "replayed": 10, "eager": 0}
    assert evaluate.counts == {"traced": 1, "verified": 1, "replayed": 10, "eager": 0}
    # the evaluation reads the running statistics the replayed training steps wrote
    eager = model(x).detach().numpy()
    assert np.array_equal(evaluate(x).numpy(), eager)


def test_reading_a_buffer_after_its_update_is_refused():
    bn = nn.BatchNorm1d(3)
    x = cr.randn(4, 3, requires_grad=True)

    @cr.autograd.replay
    def step(x):
        loss = bn(x).sum() + bn.running_mean.sum()
        loss.backward()
        return loss

    with pytest.warns(RuntimeWarning, match="reads a tensor after updating it in place"):
        for _ in range(3):
            step(x)
    assert step.counts["replayed"] == 0
    assert int(bn.num_batches_tracked) == 3  # each eager call updated once


def test_cumulative_momentum_reads_the_count_and_runs_eagerly():
    bn = nn.BatchNorm1d(3, momentum=None)  # m = 1 / num_batches_tracked: a value read
    x = cr.randn(4, 3, requires_grad=True)
    step = cr.autograd.replay(lambda x: bn(x).sum().backward(), warn=False)
    for _ in range(3):
        step(x)
    assert "item()" in step.reason()


def test_a_random_draw_other_than_dropout_and_seeding_are_refused():
    w = cr.tensor([1.0, 2.0], requires_grad=True)

    def seeded(x):
        cr.manual_seed(0)
        loss = F.dropout(w * x, 0.5).sum()
        loss.backward()
        return loss

    step = cr.autograd.replay(seeded, warn=False)
    for _ in range(3):
        step(cr.tensor([1.0, 1.0]))
    assert "seeds the random generator" in step.reason()


def _eval_step(model):
    def step(x):
        with cr.no_grad():
            return model(x)

    return cr.autograd.replay(step)


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copy_in_eval_mode_has_a_mode_of_its_own(how):
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5))
    model.eval()
    twin = copy.deepcopy(model) if how == "deepcopy" else pickle.loads(pickle.dumps(model))
    model.train()  # the original only: the copy stays in eval mode, and the key says so
    assert not twin.training
    step = _eval_step(twin)
    x = cr.randn(2, 3)
    for _ in range(3):
        step(x)
    twin.train()  # dropout now drops: the eval plan must not be used
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = step(x)
    assert step.counts["traced"] == 2
    assert not np.array_equal(out.numpy(), twin.eval()(x).detach().numpy())


def test_setting_training_directly_and_collecting_a_module_keep_the_key():
    gc.collect()  # (modules of earlier tests, still in eval mode, leave the set here)
    before = grad_mode.state.modes
    model = nn.Dropout(0.5)
    model.training = False
    assert grad_mode.state.modes != before
    model.training = True
    assert grad_mode.state.modes == before
    model.eval()
    del model
    gc.collect()
    assert grad_mode.state.modes == before


def test_summary_leaves_the_modes_as_they_were():
    model = _cnn()
    before = grad_mode.state.modes
    cr.summary(model, (1, 8, 8))
    assert model.training and grad_mode.state.modes == before


def test_epochs_as_fit_runs_them_trace_once_per_batch_shape():
    from chainrule.train import digits_cnn, evaluate, run_epoch, training_step
    from chainrule.utils.data import DataLoader, TensorDataset

    cr.manual_seed(0)
    model = digits_cnn()  # BatchNorm and dropout, as `chainrule train --model cnn` trains
    optimizer = cr.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    step = cr.autograd.replay(training_step(model, optimizer))
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((20, 1, 8, 8)).astype(np.float32))
    y = cr.tensor(rng.integers(0, 10, 20))
    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True, seed=0)  # 8, 8, 4
    for _ in range(3):  # each epoch ends with an evaluation in eval mode, as fit's do
        run_epoch(model, loader, optimizer, step=step)
        evaluate(model, x, y)
    # each batch shape traced and checked once, in the first epoch; nothing runs eagerly
    assert step.counts == {"traced": 2, "verified": 2, "replayed": 5, "eager": 0}


def _accumulating_run(use_replay):
    """Two micro-batches per step (a BatchNorm forward after the first backward)."""
    cr.manual_seed(0)
    model = _mlp_without_affine()
    model[1] = nn.BatchNorm1d(6)  # affine, with running statistics
    rng = np.random.default_rng(1)
    batches = [(cr.randn(6, 5), cr.randn(6, 5)) for _ in range(5)]

    def step(a, b):
        model.zero_grad()
        first = (model(a) ** 2).mean()
        first.backward()
        second = (model(b) ** 2).mean()
        second.backward()
        return first, second

    stepper = cr.autograd.replay(step) if use_replay else step
    losses = [[t.detach().numpy().copy() for t in stepper(a, b)] for a, b in batches]
    grads = [p.grad.numpy().copy() for p in model.parameters()]
    state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    del rng
    return losses, grads, state, cr.random.get_rng_state(), stepper


def test_gradient_accumulation_updates_each_micro_batch_in_place():
    replayed = _accumulating_run(True)
    eager = _accumulating_run(False)
    assert replayed[4].counts == {"traced": 1, "verified": 1, "replayed": 3, "eager": 0}
    for a, b in zip(replayed[0], eager[0], strict=True):
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    for a, b in zip(replayed[1], eager[1], strict=True):
        assert np.array_equal(a, b)
    for name in eager[2]:
        assert np.array_equal(replayed[2][name], eager[2][name]), name
    assert int(replayed[2]["1.num_batches_tracked"]) == 10  # two updates per step
    assert replayed[3] == eager[3]


def test_a_new_buffer_or_parameter_on_a_module_traces_again():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    x = cr.randn(4, 3)
    step = cr.autograd.replay(lambda x: model(x).sum().backward())
    for _ in range(3):
        step(x)
    model[1].running_mean = cr.zeros(3)  # a new tensor: the plan updates the old one
    for _ in range(3):
        step(x)
    assert step.counts["traced"] == 2
    eager_mean = model[1].running_mean.numpy().copy()
    assert not np.array_equal(eager_mean, np.zeros(3))  # the new buffer was updated
    model[0].weight = nn.Parameter(cr.ones(3, 3))
    step(x)
    assert step.counts["traced"] == 3


class _Slotted(nn.Module):
    __slots__ = ("scale",)

    def __init__(self):
        super().__init__()
        self.scale = 2.0


def test_copies_of_a_module_with_slots_keep_them():
    module = _Slotted().eval()
    for copy_of in (copy.deepcopy(module), pickle.loads(pickle.dumps(module))):
        assert copy_of.scale == 2.0 and not copy_of.training


def test_a_plan_that_raises_while_checked_runs_eagerly_with_everything_restored():
    from chainrule.autograd.buffer_updates import update_buffers

    buffer = cr.zeros(2)
    writes = []

    def write(data, batch):
        writes.append(1)
        if len(writes) == 2:  # the check's replay: after its gradient was accumulated
            raise ValueError("no room")
        data += batch

    w = cr.tensor([1.0, 2.0], requires_grad=True)

    def step(x):
        loss = (w * x).sum()
        loss.backward()
        update_buffers(write, (buffer,), (w * x * 2.0)._data)  # recorded after the backward
        return loss

    replayed = cr.autograd.replay(step)
    x = cr.tensor([3.0, 5.0])
    replayed(x)
    with pytest.warns(RuntimeWarning, match="its replay raised ValueError: no room"):
        replayed(x)
    assert replayed.counts == {"traced": 1, "verified": 0, "replayed": 0, "eager": 1}
    assert w.grad.tolist() == [6.0, 10.0]  # two eager calls' worth, not three
    assert buffer.tolist() == [12.0, 40.0]  # updated by the trace and by the eager call
