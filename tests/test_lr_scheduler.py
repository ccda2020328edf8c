"""The learning-rate schedulers without PyTorch: each against its closed form or a sequence
traced by hand, OneCycleLR's phases and momentum, ReduceLROnPlateau's patience, cooldown,
thresholds and floors, state-dict round trips mid-training, and clear errors."""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.optim import lr_scheduler


def make_optimizer(
    lrs: tuple[float, ...] = (0.1,), cls: type = optim.SGD, **kwargs: Any
) -> optim.Optimizer:
    groups = [{"params": [cr.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return cls(groups, **kwargs)


def lr_history(sched: Any, steps: int, metrics: list[float] | None = None) -> list[list[float]]:
    """get_last_lr() after construction and after each of ``steps`` steps."""
    history = [list(sched.get_last_lr())]
    for step in range(steps):
        sched.optimizer.step()
        sched.step(metrics[step]) if metrics is not None else sched.step()
        history.append(list(sched.get_last_lr()))
    return history


# ---- closed forms ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "closed_form"),
    [
        (
            lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
            lambda base, t: base * 0.5 ** (t // 3),
        ),
        (
            lambda o: lr_scheduler.MultiStepLR(o, milestones=[2, 5, 5], gamma=0.1),
            lambda base, t: base * 0.1 ** sum(m <= t for m in (2, 5, 5)),
        ),
        (lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9), lambda base, t: base * 0.9**t),
        (
            lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.01),
            lambda base, t: 0.01 + (base - 0.01) * (1 + math.cos(math.pi * t / 10)) / 2,
        ),
    ],
    ids=["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR"],
)
def test_schedule_follows_its_closed_form(
    make: Callable[[Any], Any], closed_form: Callable[[float, int], float]
) -> None:
    opt = make_optimizer((0.1, 0.02))
    history = lr_history(make(opt), 25)  # Cosine goes past T_max and back up
    for t, lrs in enumerate(history):
        expected = [closed_form(base, t) for base in (0.1, 0.02)]
        np.testing.assert_allclose(lrs, expected, rtol=1e-12, atol=1e-15, err_msg=f"epoch {t}")
    assert [g["lr"] for g in opt.param_groups] == history[-1]


def test_scheduler_records_initial_lr_and_base_lrs() -> None:
    opt = make_optimizer((0.1, 0.02))
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    assert sched.base_lrs == [0.1, 0.02] and sched.last_epoch == 0
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.02]
    opt.step()
    sched.step()
    assert sched.last_epoch == 1 and sched.get_last_lr() == [0.05, 0.01]


def test_resuming_with_last_epoch_needs_initial_lr() -> None:
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(make_optimizer(), step_size=2, last_epoch=4)
    opt = make_optimizer()
    opt.param_groups[0]["initial_lr"] = 1.0
    sched = lr_scheduler.StepLR(opt, step_size=2, last_epoch=4)
    assert sched.last_epoch == 5 and sched.get_last_lr() == [0.1]
    # resuming never applies a step's decay during construction, even where t ≠ 0
    opt = make_optimizer((0.5,))
    opt.param_groups[0]["initial_lr"] = 1.0
    assert lr_scheduler.ExponentialLR(opt, gamma=0.5, last_epoch=3).get_last_lr() == [0.5]


def test_schedules_compose_with_outside_changes() -> None:
    """The recursive forms scale the current lr, so a manual change carries on (as torch)."""
    opt = make_optimizer((1.0,))
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    opt.param_groups[0]["lr"] = 3.0
    opt.step()
    sched.step()
    assert sched.get_last_lr() == [1.5]


# ---- OneCycleLR -----------------------------------------------------------------------------
def test_one_cycle_phases_and_momentum() -> None:
    opt = make_optimizer((0.1,), momentum=0.9)
    sched = lr_scheduler.OneCycleLR(
        opt, max_lr=2.0, total_steps=20, pct_start=0.25, div_factor=20.0, final_div_factor=50.0
    )
    history, momenta = [sched.get_last_lr()[0]], [opt.param_groups[0]["momentum"]]
    for _ in range(19):
        opt.step()
        sched.step()
        history.append(sched.get_last_lr()[0])
        momenta.append(opt.param_groups[0]["momentum"])
    assert history[0] == pytest.approx(0.1)  # max_lr / div_factor
    assert max(history) == history[4] == pytest.approx(2.0)  # peak at pct_start * total - 1
    assert history[-1] == pytest.approx(0.1 / 50.0)  # initial_lr / final_div_factor
    assert all(a < b for a, b in zip(history[:4], history[1:5], strict=True))
    assert all(a > b for a, b in zip(history[4:-1], history[5:], strict=True))
    # momentum mirrors the rate: max_momentum at the ends, base_momentum at the peak
    assert momenta[0] == pytest.approx(0.95) and momenta[-1] == pytest.approx(0.95)
    assert momenta[4] == pytest.approx(0.85)
    # cos annealing: half-way through the warm-up the rate is half-way between its bounds
    half = lr_scheduler.OneCycleLR(
        make_optimizer(momentum=0.9), max_lr=2.0, total_steps=21, pct_start=11 / 21, div_factor=20.0
    )  # warm-up ends at 10
    assert lr_history(half, 5)[5][0] == pytest.approx((0.1 + 2.0) / 2)


def test_one_cycle_three_phase_linear_and_beta1() -> None:
    opt = make_optimizer((0.1,), cls=optim.Adam)
    sched = lr_scheduler.OneCycleLR(
        opt,
        max_lr=1.0,
        total_steps=11,
        pct_start=0.3,
        anneal_strategy="linear",
        three_phase=True,
        div_factor=10.0,
        final_div_factor=10.0,
    )
    history = [lrs[0] for lrs in lr_history(sched, 10)]
    # phases end at steps 0.3·11 − 1 = 2.3 and 2·0.3·11 − 2 = 4.6, then 10; linear in each
    expected = []
    for t in range(11):
        if t <= 2.3:
            expected.append(0.1 + (1.0 - 0.1) * t / 2.3)
        elif t <= 4.6:
            expected.append(1.0 + (0.1 - 1.0) * (t - 2.3) / 2.3)
        else:
            expected.append(0.1 + (0.01 - 0.1) * (t - 4.6) / 5.4)
    np.testing.assert_allclose(history, expected, rtol=1e-12)
    assert opt.param_groups[0]["betas"] == (pytest.approx(0.95), 0.999)


def test_one_cycle_with_epochs_and_per_group_values() -> None:
    opt = make_optimizer((0.1, 0.1), momentum=0.5)
    sched = lr_scheduler.OneCycleLR(
        opt,
        max_lr=[1.0, 0.5],
        epochs=2,
        steps_per_epoch=5,
        max_momentum=[0.9, 0.8],
        base_momentum=0.7,
    )
    assert sched.total_steps == 10
    assert [g["max_lr"] for g in opt.param_groups] == [1.0, 0.5]
    assert [g["momentum"] for g in opt.param_groups] == [0.9, 0.8]
    lr_history(sched, 10)
    with pytest.raises(ValueError, match="Tried to step 11 times"):
        opt.step()
        sched.step()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"total_steps": 0}, "Expected positive integer total_steps, but got 0"),
        ({"total_steps": 2.5}, "Expected positive integer total_steps"),
        ({"epochs": 0, "steps_per_epoch": 3}, "Expected positive integer epochs, but got 0"),
        ({"epochs": 2, "steps_per_epoch": -1}, "Expected positive integer steps_per_epoch"),
        ({}, "either total_steps OR"),
        ({"total_steps": 10, "pct_start": 1.5}, "Expected float between 0 and 1 pct_start"),
        ({"total_steps": 10, "anneal_strategy": "exp"}, "anneal_strategy must be one of"),
        ({"total_steps": 10, "max_lr": [1.0, 2.0]}, "max_lr must have the same length"),
    ],
)
def test_one_cycle_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    kwargs = {"max_lr": 1.0, **kwargs}
    with pytest.raises(ValueError, match=message):
        lr_scheduler.OneCycleLR(make_optimizer(momentum=0.9), **kwargs)


def test_one_cycle_needs_momentum_to_cycle_it() -> None:
    with pytest.raises(ValueError, match="must support momentum or beta1"):
        lr_scheduler.OneCycleLR(make_optimizer(cls=optim.Adagrad), max_lr=1.0, total_steps=5)
    lr_scheduler.OneCycleLR(
        make_optimizer(cls=optim.Adagrad), max_lr=1.0, total_steps=5, cycle_momentum=False
    )


# ---- ReduceLROnPlateau ----------------------------------------------------------------------
def test_plateau_patience_and_reduction() -> None:
    opt = make_optimizer((1.0, 0.1))
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=2, factor=0.5, min_lr=[0.3, 0.0])
    metrics = [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.8, 0.8, 0.8, 0.8]
    history = lr_history(sched, len(metrics), metrics)
    # 3 bad epochs (> patience) reduce: after epochs 5, 8 and 12; the first group is floored
    # at 0.3 (0.5 → 0.25 is clipped, then 0.3 → 0.15 changes nothing), the second is not
    assert [lrs[0] for lrs in history] == [1.0] * 5 + [0.5] * 3 + [0.3] * 5
    assert [lrs[1] for lrs in history][-1] == pytest.approx(0.1 / 8)
    assert sched.best == 0.8


def test_plateau_threshold_modes_cooldown_and_eps() -> None:
    # rel: 0.9995 is not below 1.0·(1 − 1e-3), so it is a bad epoch
    rel = lr_scheduler.ReduceLROnPlateau(make_optimizer((1.0,)), patience=0, threshold=1e-3)
    assert [h[0] for h in lr_history(rel, 2, [1.0, 0.9995])] == [1.0, 1.0, 0.1]
    # abs, max mode: needs more than best + 0.1
    up = lr_scheduler.ReduceLROnPlateau(
        make_optimizer((1.0,)), mode="max", patience=0, threshold=0.1, threshold_mode="abs"
    )
    assert [h[0] for h in lr_history(up, 3, [1.0, 1.2, 1.25])] == [1.0, 1.0, 1.0, 0.1]
    # cooldown: two epochs after a reduction count as good
    cool = lr_scheduler.ReduceLROnPlateau(
        make_optimizer((1.0,)), patience=0, cooldown=2, factor=0.5
    )
    assert [h[0] for h in lr_history(cool, 6, [1.0, 2.0, 2.0, 2.0, 2.0, 2.0])] == [
        1.0,
        1.0,
        0.5,
        0.5,
        0.5,
        0.25,
        0.25,
    ]
    # eps: a reduction smaller than eps is skipped
    tiny = lr_scheduler.ReduceLROnPlateau(make_optimizer((1e-8,)), patience=0)
    assert [h[0] for h in lr_history(tiny, 3, [1.0, 2.0, 2.0])] == [1e-8] * 4


def test_plateau_accepts_a_scalar_tensor() -> None:
    sched = lr_scheduler.ReduceLROnPlateau(make_optimizer(), patience=0)
    sched.step(cr.tensor(2.0))
    assert sched.best == 2.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"factor": 1.0}, "Factor should be < 1.0"),
        ({"mode": "up"}, "mode 'up' is unknown"),
        ({"threshold_mode": "pct"}, "threshold mode 'pct' is unknown"),
        ({"min_lr": [0.1, 0.2]}, "expected 1 min_lrs"),
    ],
)
def test_plateau_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        lr_scheduler.ReduceLROnPlateau(make_optimizer(), **kwargs)


# ---- state dicts, warnings, types -----------------------------------------------------------
SCHEDULERS: list[tuple[str, Callable[[Any], Any]]] = [
    ("StepLR", lambda o: lr_scheduler.StepLR(o, step_size=4, gamma=0.5)),
    ("MultiStepLR", lambda o: lr_scheduler.MultiStepLR(o, [3, 9, 15], gamma=0.5)),
    ("ExponentialLR", lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9)),
    ("CosineAnnealingLR", lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.01)),
    ("OneCycleLR", lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.5, total_steps=30)),
    ("ReduceLROnPlateau", lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=1, factor=0.5)),
]


def train_scheduled(params: list[cr.Tensor], opt: Any, sched: Any, steps: range) -> list[Any]:
    history = []
    for step in steps:
        opt.zero_grad()
        loss = ((params[0] - math.sin(step)) ** 2).sum()
        loss.backward()
        opt.step()
        if isinstance(sched, lr_scheduler.ReduceLROnPlateau):
            sched.step(round(loss.item(), 1))
        else:
            sched.step()
        history.append(
            (params[0].tolist(), sched.get_last_lr(), opt.param_groups[0].get("momentum"))
        )
    return history


@pytest.mark.parametrize(("name", "make"), SCHEDULERS, ids=[s[0] for s in SCHEDULERS])
@pytest.mark.parametrize("opt_cls", [optim.SGD, optim.Adam])
def test_round_trip_mid_training_resumes_exactly(
    name: str, make: Callable[[Any], Any], opt_cls: type
) -> None:
    def fresh(start: list[float]) -> tuple[list[cr.Tensor], Any, Any]:
        params = [cr.tensor(start, dtype=cr.float64, requires_grad=True)]
        kwargs = {"momentum": 0.9} if opt_cls is optim.SGD else {}
        opt = opt_cls(params, lr=0.1, **kwargs)
        return params, opt, make(opt)

    params, opt, sched = fresh([1.0, -1.0])
    train_scheduled(params, opt, sched, range(12))
    saved = (params[0].tolist(), copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict()))
    uninterrupted = train_scheduled(params, opt, sched, range(12, 30))

    # PyTorch's recipe: build the scheduler, then load the optimizer, then the scheduler.
    params, opt, sched = fresh(saved[0])
    opt.load_state_dict(saved[1])
    sched.load_state_dict(saved[2])
    assert train_scheduled(params, opt, sched, range(12, 30)) == uninterrupted


def test_state_dict_holds_everything_but_the_optimizer() -> None:
    opt = make_optimizer()
    sched = lr_scheduler.StepLR(opt, step_size=3)
    state = sched.state_dict()
    assert list(state) == [
        "step_size",
        "gamma",
        "base_lrs",
        "last_epoch",
        "_step_count",
        "_is_initial",
        "_get_lr_called_within_step",
        "_last_lr",
    ]
    other = lr_scheduler.StepLR(make_optimizer(), step_size=5)
    other.load_state_dict(state)
    assert other.step_size == 3
    state["base_lrs"].append(9.0)  # loaded values are copies
    assert other.base_lrs == [0.1]


def test_warns_when_stepped_before_the_optimizer() -> None:
    opt = make_optimizer()
    sched = lr_scheduler.StepLR(opt, step_size=3)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    opt = make_optimizer()
    sched = lr_scheduler.StepLR(opt, step_size=3)
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.step()


def test_a_subclass_with_its_own_step_counts_as_stepped() -> None:
    class Plain(optim.Optimizer):
        def __init__(self, params: Any) -> None:
            super().__init__(params, {"lr": 0.1})

        def step(self, closure: Any = None) -> None:
            return None

    opt = Plain([cr.zeros(1, requires_grad=True)])
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.step()
    assert sched.get_last_lr() == [0.05]


def test_deprecated_epoch_argument_uses_the_closed_form() -> None:
    sched = lr_scheduler.StepLR(make_optimizer((1.0,)), step_size=2, gamma=0.5)
    sched.optimizer.step()
    with pytest.warns(UserWarning, match="epoch parameter"):
        sched.step(7)
    assert sched.last_epoch == 7 and sched.get_last_lr() == [0.125]


@pytest.mark.parametrize(
    "make",
    [
        lambda o: lr_scheduler.StepLR(o, step_size=1),
        lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=3),
        lambda o: lr_scheduler.ReduceLROnPlateau(o),
    ],
)
def test_schedulers_need_an_optimizer(make: Callable[[Any], Any]) -> None:
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        make([cr.zeros(1, requires_grad=True)])
