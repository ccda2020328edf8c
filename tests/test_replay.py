"""chainrule.autograd.replay: a replayed step gives the eager numbers bit for bit, over the whole
op catalog with new values on every call, and falls back to eager (with a reason) when what it
recorded can't stand for the next call."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from op_catalog import CATALOG, outputs_of

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F


def _tensors(case, seed):
    return [
        cr.tensor(a, requires_grad=arg.requires_grad)
        for a, arg in zip(case.sample(seed), case.args, strict=True)
    ]


def _step_for(case):
    """forward, a random-weighted sum of the float outputs, backward; returns the outputs."""
    weights: dict[tuple, cr.Tensor] = {}

    def step(*inputs):
        outs = outputs_of(case.call(cr, *inputs))
        total = None
        for k, out in enumerate(outs):
            if out.dtype.kind != "f" or not out.requires_grad:
                continue
            key = (k, tuple(out.shape))
            if key not in weights:  # fixed upstream weights, read from outside like parameters
                rng = np.random.default_rng(k)
                weights[key] = cr.tensor(rng.standard_normal(out.shape), dtype=out.dtype)
            term = (out * weights[key]).sum()
            total = term if total is None else total + term
        if total is not None:
            total.backward()
        return tuple(outs)

    return step


def _numbers(outs, inputs):
    values = [o.detach().numpy() for o in outs]
    grads = [None if t.grad is None else t.grad.numpy() for t in inputs]
    return values, grads


def _assert_identical(got, want, what):
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        if w is None:
            assert g is None, f"{what} {k}: a gradient where eager has none"
            continue
        assert g.shape == w.shape and g.dtype == w.dtype, f"{what} {k}: {g.shape} vs {w.shape}"
        assert np.array_equal(g, w, equal_nan=True), f"{what} {k}: values differ"


# The catalog cases a trace refuses, and why: each runs eagerly (and the test checks that too).
EAGER_ONLY = {
    "index_tensor": "parameter 'key'",  # an index tensor is a parameter of the op, not an input
    "index_tensor_2d": "parameter 'key'",
    "index_pairs_repeat": "parameter 'key'",
    "index_mixed": "parameter 'key'",
    "index_mask": "parameter 'key'",
    "index_mask_rows": "parameter 'key'",
    "index_by_value": "parameter 'key'",
    "index_select_dim0": "parameter 'key'",
    "index_select_dim1": "parameter 'key'",
    "embedding": "parameter 'key'",
    "embedding_padding_idx": "parameter 'key'",
    "embedding_padding_idx_neg": "parameter 'key'",
    "dropout_train": "seeds the random generator",  # (to draw the same mask on every call)
    "batch_norm_train_2d": "a buffer that the step itself made",  # its running statistics
    "batch_norm_train_4d": "a buffer that the step itself made",
}


@pytest.mark.parametrize("case", CATALOG, ids=repr)
def test_replay_equals_eager_with_new_values(case):
    step = cr.autograd.replay(_step_for(case))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for seed in (0, 1):  # trace, then check
            step(*_tensors(case, seed))
        inputs = _tensors(case, 2)
        got = _numbers(step(*inputs), inputs)
    fresh = _tensors(case, 2)
    want = _numbers(_step_for(case)(*fresh), fresh)
    _assert_identical(got[0], want[0], "output")
    _assert_identical(got[1], want[1], "grad of input")
    if case.name in EAGER_ONLY:
        assert step.counts["replayed"] == 0 and EAGER_ONLY[case.name] in step.reason()
    else:
        assert step.counts == {"traced": 1, "verified": 1, "replayed": 1, "eager": 0}, step.reason()


# ---- training with modules and optimizers -------------------------------------------------------
def _mlp_and_data(seed=0):
    cr.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    rng = np.random.default_rng(seed)
    batches = [
        (
            cr.tensor(rng.standard_normal((5, 6)).astype(np.float32)),
            cr.tensor(rng.integers(0, 3, 5)),
        )
        for _ in range(6)
    ]
    return model, batches


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_training_with_replay_matches_eager_bit_for_bit(optimizer):
    results = []
    for use_replay in (False, True):
        model, batches = _mlp_and_data()
        opt = getattr(cr.optim, optimizer)(model.parameters(), lr=0.05)

        def step(x, y, model=model, opt=opt):
            opt.zero_grad()  # recorded: a replay clears .grad as this does
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            return loss

        run = cr.autograd.replay(step) if use_replay else step
        losses = []
        for _ in range(3):
            for x, y in batches:
                losses.append(run(x, y).item())
                opt.step()
        results.append((losses, [p.detach().numpy().copy() for p in model.parameters()]))
        if use_replay:
            assert run.counts == {"traced": 1, "verified": 1, "replayed": 16, "eager": 0}
    (eager_losses, eager_params), (replay_losses, replay_params) = results
    assert replay_losses == eager_losses
    for got, want in zip(replay_params, eager_params, strict=True):
        assert np.array_equal(got, want)


def test_gradients_accumulate_when_not_cleared():
    w = cr.tensor([1.0, -2.0], requires_grad=True)

    @cr.autograd.replay
    def step(x):
        loss = (w * x).sum()
        loss.backward()
        return loss

    for _ in range(4):
        step(cr.tensor([0.5, 3.0]))
    assert step.counts["replayed"] == 2
    assert w.grad.tolist() == [2.0, 12.0]


# ---- guards and retracing -----------------------------------------------------------------------
def _replaying_classifier():
    """A model, one batch, and its cross-entropy step traced, checked and replayed once."""
    model, batches = _mlp_and_data()
    x, y = batches[0]

    @cr.autograd.replay
    def step(x, y):
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss

    for _ in range(3):
        model.zero_grad()
        step(x, y)
    assert step.counts["replayed"] == 1
    return model, step, x


def test_cross_entropy_guard_falls_back_for_an_ignored_target():
    model, step, x = _replaying_classifier()
    ignored = cr.tensor(np.array([0, -100, 2, 1, -100]))
    model.zero_grad()
    got = step(x, ignored)  # the fused branch's condition fails: this call runs eagerly
    assert step.counts["eager"] == 1
    grads = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    want = F.cross_entropy(model(x), ignored)
    want.backward()
    assert got.item() == want.item()
    for g, p in zip(grads, model.parameters(), strict=True):
        assert np.array_equal(g, p.grad.numpy())


def test_out_of_range_target_gets_the_eager_error():
    _, step, x = _replaying_classifier()
    with pytest.raises(IndexError, match="cross_entropy: target 7 is out of bounds for 3 classes"):
        step(x, cr.tensor(np.array([0, 7, 2, 1, 0])))


def test_new_shapes_trace_again_and_old_ones_still_replay():
    w = cr.tensor([[0.5, -1.0, 2.0]], requires_grad=True)

    @cr.autograd.replay
    def step(x):
        loss = cr.tanh(x @ w.T).sum()
        loss.backward()
        return loss

    for batch in (4, 4, 4, 7, 7, 7, 4):
        w.grad = None
        step(cr.ones(batch, 3))
    assert step.counts == {"traced": 2, "verified": 2, "replayed": 3, "eager": 0}
    assert len(step.plans) == 2


def test_a_parameter_with_new_storage_or_requires_grad_is_traced_again():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([0.5, 0.5], requires_grad=True)

    @cr.autograd.replay
    def step(x):
        loss = (w * x + b).sum()
        loss.backward()
        return loss

    x = cr.tensor([3.0, 4.0])
    for _ in range(3):
        step(x)
    w.data = cr.tensor([5.0, 6.0])  # a new array: the recorded one would be stale
    w.grad = b.grad = None
    assert step(x).item() == 40.0
    assert step.counts["traced"] == 2
    b.requires_grad_(False)  # b's gradient is no longer part of the step
    w.grad = b.grad = None
    step(x)
    assert step.counts["traced"] == 3
    assert b.grad is None and w.grad.tolist() == [3.0, 4.0]


def test_switching_train_and_eval_traces_again():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    x = cr.randn(6, 4)
    model.eval()

    @cr.autograd.replay
    def step(x):
        loss = model(x).sum()
        loss.backward()
        return loss

    for _ in range(3):
        step(x)
    assert step.counts["replayed"] == 1
    model.train()  # BatchNorm now uses batch statistics and updates its buffers
    for _ in range(3):
        step(x)
    assert step.counts == {"traced": 2, "verified": 2, "replayed": 2, "eager": 0}
    model.eval()  # each mode's plan is kept: back and forth, nothing is traced again
    step(x)
    model.train()
    step(x)
    assert step.counts == {"traced": 2, "verified": 2, "replayed": 4, "eager": 0}


# ---- what can't be replayed runs eagerly, with the reason -------------------------------------
def _refusal(fn, *args):
    step = cr.autograd.replay(fn)
    with pytest.warns(RuntimeWarning) as caught:
        for _ in range(3):
            step(*args)
    assert step.counts == {"traced": 1, "verified": 0, "replayed": 0, "eager": 2}
    assert len(caught) == 1  # one warning, not one per call
    return step.reason()


def test_reading_a_value_into_python_is_refused():
    w = cr.tensor([1.0, -1.0], requires_grad=True)

    def step(x):
        y = (w * x).sum()
        if y > 0:  # a branch on the data: a replay would always take the traced side
            y = y * 2
        y.backward()
        return y

    assert "as a bool" in _refusal(step, cr.tensor([2.0, 1.0]))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (lambda w, x: (w * x).sum().item(), "item()"),
        (lambda w, x: (w * x * cr.rand(2)).sum(), "random numbers"),  # (dropout replays)
        (lambda w, x: (w * x).sum().detach().numpy(), "numpy()"),
    ],
)
def test_hidden_dependencies_are_refused(body, reason):
    w = cr.tensor([1.0, -1.0], requires_grad=True)
    assert reason in _refusal(lambda x: body(w, x), cr.tensor([2.0, 1.0]))


def test_in_place_writes_hooks_and_kept_graphs_are_refused():
    w = cr.tensor([1.0, -1.0], requires_grad=True)
    x = cr.tensor([2.0, 1.0])

    def in_place(x):
        y = w * x
        y.mul_(2.0)
        y.sum().backward()
        return y.detach()

    def hooked(x):
        y = w * x
        y.register_hook(lambda g: g * 2)
        y.sum().backward()

    def retained(x):
        y = (w * x).sum()
        y.backward(retain_graph=True)

    def live(x):
        return (w * x).sum()

    assert "in place" in _refusal(in_place, x)
    assert "hook" in _refusal(hooked, x)
    assert "retain_graph" in _refusal(retained, x)
    assert "graph is still alive" in _refusal(live, x)


def test_a_changed_python_value_is_caught_by_the_check_call():
    w = cr.tensor([1.0, -1.0], requires_grad=True)
    scale = [1.0]

    def step(x):
        loss = (w * x * scale[0]).sum()  # a Python number from outside, taken as fixed
        loss.backward()
        return loss

    replayed = cr.autograd.replay(step)
    replayed(cr.tensor([2.0, 1.0]))
    scale[0] = 3.0
    w.grad = None
    with pytest.warns(RuntimeWarning, match="differs from eager"):
        loss = replayed(cr.tensor([2.0, 1.0]))
    assert loss.item() == 3.0 and w.grad.tolist() == [6.0, 3.0]  # the eager numbers


def test_anomaly_mode_runs_eagerly():
    w = cr.tensor([1.0], requires_grad=True)

    @cr.autograd.replay
    def step(x):
        loss = (w * x).sum()
        loss.backward()
        return loss

    with cr.autograd.detect_anomaly():
        for _ in range(3):
            step(cr.tensor([1.0]))
    assert step.counts == {"traced": 0, "verified": 0, "replayed": 0, "eager": 3}


# ---- found by an adversarial review: each of these once replayed wrong numbers silently ------
def _three_calls(fn, first, second, third):
    step = cr.autograd.replay(fn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        step(*first)
        step(*second)
        return step, step(*third)


def test_prod_rule_guard_sees_a_new_zero():
    w = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)

    def fn(x):
        loss = (w + x).prod()
        loss.backward()
        return loss

    step = cr.autograd.replay(fn)
    for x in ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [-1.0, 0.0, 0.0]):
        w.grad = None
        step(cr.tensor(x))  # the last one makes a factor zero: the other formula applies
    got = w.grad.tolist()
    w.grad = None
    fn(cr.tensor([-1.0, 0.0, 0.0]))
    assert step.counts["eager"] == 1 and got == w.grad.tolist() == [6.0, 0.0, 0.0]


def test_python_arguments_are_keyed_by_type_and_bits():
    w = cr.tensor([1.0, 2.0], requires_grad=True)

    def fn(x, c):
        loss = (w * x / c).sum()
        loss.backward()
        return loss

    x = cr.tensor([1.0, 1.0])
    step, loss = _three_calls(fn, (x, 0.0), (x, 0.0), (x, -0.0))
    assert loss.item() == float("-inf") and step.counts["traced"] == 2
    step, loss = _three_calls(fn, (x, 2), (x, 2), (x, 2.0))
    assert step.counts["traced"] == 2


def test_reading_values_inside_the_library_is_refused():
    w = cr.tensor([0.2, 0.5, 0.3], requires_grad=True)

    def single_sample(y):
        loss = F.cross_entropy(w * 2.0, y)  # (C,) logits: the target picks an element
        loss.backward()
        return loss

    def compares(x):
        loss = (w * x).sum() * (2.0 if x.allclose(w) else 3.0)
        loss.backward()
        return loss

    assert "class index" in _refusal(single_sample, cr.tensor(0))
    assert "allclose" in _refusal(compares, cr.tensor([1.0, 1.0, 1.0]))


def test_binary_cross_entropy_range_is_checked_on_replay():
    w = cr.tensor([0.5, 0.5], requires_grad=True)

    def fn(x):
        loss = F.binary_cross_entropy(w * x, cr.tensor([1.0, 0.0]))
        loss.backward()
        return loss

    ok = (cr.tensor([1.0, 1.0]),)
    with pytest.raises(ValueError, match="between 0 and 1"):
        _three_calls(fn, ok, ok, (cr.tensor([3.0, 1.0]),))


def test_an_argument_with_an_outside_graph_is_refused():
    enc = cr.tensor([[1.0, 2.0], [3.0, -1.0]], requires_grad=True)
    w = cr.tensor([1.0, -1.0], requires_grad=True)

    def fn(h):
        loss = (h * w).sum()
        loss.backward()
        return loss

    step = cr.autograd.replay(fn)
    with pytest.warns(RuntimeWarning, match="built before the step"):
        for row in ([1.0, 0.0], [0.0, 1.0], [2.0, 1.0]):
            enc.grad = None
            step(cr.tensor([row]) @ enc)  # an argument that carries a graph of its own
    assert step.counts["replayed"] == 0
    assert enc.grad.tolist() == [[2.0, -2.0], [1.0, -1.0]]


def test_hooks_added_after_tracing_make_it_trace_again():
    w = cr.tensor([1.0, 2.0], requires_grad=True)

    def fn(x):
        loss = (w * x).sum()
        loss.backward()
        return loss

    step = cr.autograd.replay(fn)
    for _ in range(3):
        w.grad = None
        step(cr.tensor([3.0, 4.0]))
    w.register_hook(lambda grad: grad * 0)
    w.grad = None
    with pytest.warns(RuntimeWarning, match="hook"):
        step(cr.tensor([3.0, 4.0]))
    assert w.grad.tolist() == [0.0, 0.0]


def test_a_parameter_passed_as_an_argument_is_not_bound_to_its_slot():
    w = cr.tensor([1.0, 2.0], requires_grad=True)

    def fn(x):
        loss = (w * x).sum()
        loss.backward()
        return loss

    step = cr.autograd.replay(fn)
    for _ in range(3):
        step(cr.tensor([3.0, 4.0]))
    w.grad = None
    with pytest.warns(RuntimeWarning, match="argument 0 is also a variable it reads"):
        step(w)  # the plan reads w from outside: as an argument too, it is not current
    assert w.grad.tolist() == [2.0, 4.0]  # d/dw of (w * w).sum()


def test_tracing_with_a_parameter_as_the_argument_is_refused():
    w = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)

    def fn(x):
        loss = ((w - x) ** 2).sum()
        loss.backward()
        return loss

    # traced with w's own storage as the argument, the plan couldn't tell the two apart later
    assert "shares its storage" in _refusal(fn, w.detach())
    assert "argument 0 is also a variable" in _refusal(fn, w)


def test_reading_grad_inside_the_step_is_refused():
    w = cr.tensor([1.0, 2.0], requires_grad=True)

    def fn(x):
        loss = (w * x).sum()
        loss.backward()
        return loss, (w.grad**2).sum()

    assert ".grad" in _refusal(fn, cr.tensor([3.0, 4.0]))
