"""Every learning-rate scheduler against PyTorch: the learning rates (and OneCycleLR's
momentum / beta1) of every group over 100 steps, the state-dict keys and values, resuming from
PyTorch's state dicts, and the MLP trajectory of an optimizer driven by each scheduler."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from test_optim_torch import assert_same_trajectory, run  # noqa: E402

import chainrule as cr  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("one_torch_thread")]


STEPS = 100
# A metric that falls, then stalls in noise, then rises: plateaus, improvements within and
# beyond the threshold, and long bad runs, for ReduceLROnPlateau.
_rng = np.random.default_rng(5)
METRICS = [
    float(m)
    for m in np.concatenate(
        [np.linspace(1.0, 0.5, 20), 0.5 + 1e-3 * _rng.normal(size=40), np.linspace(0.5, 0.8, 40)]
    )
]

SchedMaker = Callable[[Any, Any], Any]
# (label, optimizer, its options, the scheduler made on it)
Case = tuple[str, str, dict[str, Any], SchedMaker]
CASES: list[Case] = [
    ("StepLR", "SGD", {}, lambda s, o: s.StepLR(o, step_size=7, gamma=0.5)),
    ("MultiStepLR", "SGD", {}, lambda s, o: s.MultiStepLR(o, [10, 30, 30, 60], gamma=0.3)),
    ("ExponentialLR", "SGD", {}, lambda s, o: s.ExponentialLR(o, gamma=0.95)),
    (
        "CosineAnnealingLR-past-T_max",
        "SGD",
        {},
        lambda s, o: s.CosineAnnealingLR(o, T_max=30, eta_min=1e-3),
    ),
    ("CosineAnnealingLR", "Adam", {}, lambda s, o: s.CosineAnnealingLR(o, T_max=STEPS)),
    (
        "OneCycleLR",
        "SGD",
        {"momentum": 0.9},
        lambda s, o: s.OneCycleLR(o, max_lr=1.0, total_steps=STEPS),
    ),
    (
        "OneCycleLR-three-phase-linear",
        "SGD",
        {},
        lambda s, o: s.OneCycleLR(
            o,
            max_lr=[1.0, 0.3],
            total_steps=STEPS,
            pct_start=0.25,
            anneal_strategy="linear",
            three_phase=True,
            div_factor=10.0,
            final_div_factor=100.0,
            base_momentum=[0.8, 0.7],
            max_momentum=0.9,
        ),
    ),
    (
        "OneCycleLR-epochs-no-momentum",
        "SGD",
        {},
        lambda s, o: s.OneCycleLR(
            o, max_lr=0.5, epochs=10, steps_per_epoch=10, cycle_momentum=False
        ),
    ),
    (
        "OneCycleLR-beta1",
        "Adam",
        {"betas": (0.9, 0.99)},
        lambda s, o: s.OneCycleLR(o, max_lr=0.01, total_steps=STEPS, pct_start=0.4),
    ),
    ("ReduceLROnPlateau", "SGD", {}, lambda s, o: s.ReduceLROnPlateau(o)),
    (
        "ReduceLROnPlateau-abs-cooldown",
        "SGD",
        {},
        lambda s, o: s.ReduceLROnPlateau(
            o,
            patience=3,
            factor=0.5,
            cooldown=2,
            threshold=0.01,
            threshold_mode="abs",
            min_lr=[0.01, 0.001],
        ),
    ),
    (
        "ReduceLROnPlateau-max-eps",
        "SGD",
        {},
        lambda s, o: s.ReduceLROnPlateau(o, mode="max", patience=2, factor=0.7, eps=0.02),
    ),
]
IDS = [case[0] for case in CASES]


def build(
    lib: Any, opt_name: str, opt_kwargs: dict[str, Any], make_sched: SchedMaker
) -> tuple[Any, Any]:
    """Two groups with different learning rates (schedulers handle each on its own)."""
    params = [lib.zeros(2, requires_grad=True), lib.zeros(3, requires_grad=True)]
    opt = getattr(lib.optim, opt_name)(
        [{"params": params[:1]}, {"params": params[1:], "lr": 0.03}], lr=0.1, **opt_kwargs
    )
    return opt, make_sched(lib.optim.lr_scheduler, opt)


def in_both(case: Case) -> list[tuple[Any, Any]]:
    """The case's optimizer and scheduler in chainrule, then in PyTorch."""
    _, opt_name, opt_kwargs, make_sched = case
    return [build(lib, opt_name, opt_kwargs, make_sched) for lib in (cr, torch)]


def snapshot(opt: Any, sched: Any) -> list[Any]:
    """What a step decides: the reported and the actual lrs, and momentum / beta1."""
    groups = opt.param_groups
    return [
        list(sched.get_last_lr()),
        [g["lr"] for g in groups],
        [g.get("momentum") for g in groups],
        [g.get("betas") for g in groups],
    ]


def advance(opt: Any, sched: Any, steps: range) -> list[list[Any]]:
    records = []
    for step in steps:
        opt.step()  # no gradients: nothing moves, but the scheduler sees a stepped optimizer
        if type(sched).__name__ == "ReduceLROnPlateau":
            sched.step(METRICS[step])
        else:
            sched.step()
        records.append(snapshot(opt, sched))
    return records


def assert_same_records(ours: list[Any], theirs: list[Any]) -> None:
    """Bit for bit: the same float formulas in the same order give the same doubles (well
    within the rtol 1e-12 asked for)."""
    for step, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        for what, x, y in zip(("get_last_lr", "lr", "momentum", "betas"), a, b, strict=True):
            assert x == y, f"step {step}, {what}: {x} != {y} (torch)"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_lr_sequence_matches_torch(case: Case) -> None:
    records = [
        [snapshot(opt, sched), *advance(opt, sched, range(STEPS))] for opt, sched in in_both(case)
    ]
    assert_same_records(*records)
    lrs = [r[1][0] for r in records[0]]
    assert len(set(lrs)) >= 3, "the case should exercise the schedule"


def to_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(to_plain(v) for v in value)
    if isinstance(value, cr.Tensor | torch.Tensor):
        return value.detach().numpy().tolist()
    return value


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_state_dict_equals_torch(case: Case) -> None:
    state_dicts = []
    for opt, sched in in_both(case):
        advance(opt, sched, range(37))
        state_dicts.append((sched.state_dict(), opt.state_dict()["param_groups"]))
    (ours, ours_groups), (theirs, theirs_groups) = state_dicts
    assert list(ours) == list(theirs)  # same keys, in the same order
    for key in theirs:
        if isinstance(theirs[key], list) and theirs[key] and isinstance(theirs[key][0], float):
            np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-12, err_msg=key)
        else:
            assert ours[key] == theirs[key], key
    # The scheduler's entries in the groups (initial_lr, max_lr, max_momentum, ...) too.
    assert [sorted(g) for g in ours_groups] == [sorted(g) for g in theirs_groups]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_resuming_from_torch_state_dicts_follows_torch(case: Case) -> None:
    _, opt_name, opt_kwargs, make_sched = case
    torch_opt, torch_sched = build(torch, opt_name, opt_kwargs, make_sched)
    advance(torch_opt, torch_sched, range(40))
    opt, sched = build(cr, opt_name, opt_kwargs, make_sched)
    opt.load_state_dict(to_plain(copy.deepcopy(torch_opt.state_dict())))
    sched.load_state_dict(copy.deepcopy(torch_sched.state_dict()))
    assert_same_records(
        advance(opt, sched, range(40, STEPS)), advance(torch_opt, torch_sched, range(40, STEPS))
    )


TRAINING: list[tuple[str, dict[str, Any], SchedMaker, bool]] = [
    (
        "SGD",
        {"lr": 0.1, "momentum": 0.9},
        lambda s, o: s.OneCycleLR(o, max_lr=0.2, total_steps=STEPS),
        False,
    ),
    (
        "AdamW",
        {"lr": 0.01},
        lambda s, o: s.OneCycleLR(o, max_lr=0.02, total_steps=STEPS, three_phase=True),
        False,
    ),
    ("Adam", {"lr": 0.02}, lambda s, o: s.CosineAnnealingLR(o, T_max=40, eta_min=1e-4), False),
    (
        "SGD",
        {"lr": 0.2, "nesterov": True, "momentum": 0.5},
        lambda s, o: s.StepLR(o, step_size=10, gamma=0.7),
        False,
    ),
    ("RMSprop", {"lr": 0.01}, lambda s, o: s.ExponentialLR(o, gamma=0.97), False),
    ("Adagrad", {"lr": 0.2}, lambda s, o: s.MultiStepLR(o, [20, 50], gamma=0.5), False),
    (
        "SGD",
        {"lr": 0.5},
        lambda s, o: s.ReduceLROnPlateau(o, patience=2, factor=0.5, threshold=0.05),
        True,
    ),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize(
    ("opt_name", "opt_kwargs", "make_sched", "metrics"),
    TRAINING,
    ids=[f"{t[0]}-{i}" for i, t in enumerate(TRAINING)],
)
def test_scheduled_training_matches_torch(
    opt_name: str, opt_kwargs: dict[str, Any], make_sched: SchedMaker, metrics: bool, dtype: type
) -> None:
    def make_opt(optim: Any, params: Any) -> Any:
        return getattr(optim, opt_name)(params, **opt_kwargs)

    ours, opt, sched = run(cr, make_opt, dtype, make_sched=make_sched, metrics=metrics)
    theirs, torch_opt, torch_sched = run(
        torch, make_opt, dtype, make_sched=make_sched, metrics=metrics
    )
    assert_same_trajectory(ours, theirs, dtype)
    np.testing.assert_allclose(sched.get_last_lr(), torch_sched.get_last_lr(), rtol=1e-12)


def test_warns_when_the_scheduler_steps_before_the_optimizer() -> None:
    for lib in (cr, torch):
        opt, sched = build(lib, "SGD", {}, lambda s, o: s.StepLR(o, step_size=2))
        with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
            sched.step()
        opt, sched = build(lib, "SGD", {}, lambda s, o: s.StepLR(o, step_size=2))
        opt.step()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            sched.step()


@pytest.mark.parametrize("epoch", [0, 5, 17])
def test_deprecated_step_with_epoch_uses_the_closed_form_as_torch(epoch: int) -> None:
    makers = [
        lambda s, o: s.StepLR(o, step_size=4, gamma=0.5),
        lambda s, o: s.MultiStepLR(o, [3, 6, 6], gamma=0.5),
        lambda s, o: s.ExponentialLR(o, gamma=0.9),
        lambda s, o: s.CosineAnnealingLR(o, T_max=10, eta_min=0.01),
    ]
    for make_sched in makers:
        lrs = []
        for lib in (cr, torch):
            opt, sched = build(lib, "SGD", {}, make_sched)
            opt.step()
            with pytest.warns(UserWarning, match="epoch parameter"):
                sched.step(epoch)
            lrs.append(sched.get_last_lr())
        np.testing.assert_allclose(*lrs, rtol=1e-12)
