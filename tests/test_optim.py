"""The optimizer base without PyTorch: parameter groups, zero_grad, skipping parameters without
a gradient, closures, version counters, state-dict round trips, and clear errors; plus each
update rule against its formula worked by hand."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim

OPTIMIZERS: list[tuple[type, dict[str, Any]]] = [
    (optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    (optim.Adam, {"lr": 0.01, "amsgrad": True}),
    (optim.AdamW, {"lr": 0.01}),
    (optim.RMSprop, {"lr": 0.01, "centered": True, "momentum": 0.5}),
    (optim.Adagrad, {"lr": 0.1, "lr_decay": 0.01}),
]
OPT_IDS = [cls.__name__ for cls, _ in OPTIMIZERS]


def quadratic_problem(dtype: Any = cr.float64) -> tuple[list[cr.Tensor], Any]:
    """Two parameters and a loss with a different minimum for each coordinate."""
    w = cr.tensor([[0.5, -1.0], [2.0, 0.25]], dtype=dtype, requires_grad=True)
    b = cr.tensor([0.1, -0.3], dtype=dtype, requires_grad=True)

    def loss_fn(step: int, params: list[cr.Tensor]) -> cr.Tensor:
        w, b = params
        target = cr.tensor([[1.0, 2.0], [-1.0, 0.5]], dtype=dtype) * math.cos(step)
        return ((w - target) ** 2).sum() + (cr.tanh(b) * (w @ b)).sum()

    return [w, b], loss_fn


def train(
    opt: optim.Optimizer, params: list[cr.Tensor], loss_fn: Any, steps: range
) -> list[np.ndarray]:
    for step in steps:
        opt.zero_grad()
        loss_fn(step, params).backward()
        opt.step()
    return [p.detach().numpy().copy() for p in params]


# ---- each update rule against its formula, worked by hand in NumPy --------------------------
def test_sgd_momentum_dampening_by_hand() -> None:
    theta = cr.tensor([1.0, -2.0], dtype=cr.float64, requires_grad=True)
    opt = optim.SGD([theta], lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.1)
    expected, buffer = np.array([1.0, -2.0]), None
    for step in range(3):
        grad = np.array([3.0, 1.0]) * (step + 1)
        theta.grad = cr.tensor(grad, dtype=cr.float64)
        opt.step()
        g = grad + 0.1 * expected
        buffer = g if buffer is None else 0.9 * buffer + 0.5 * g
        expected = expected - 0.1 * buffer
        np.testing.assert_allclose(theta.detach().numpy(), expected, rtol=1e-15)


def test_adam_by_hand() -> None:
    theta = cr.tensor([1.0, -2.0, 0.5], dtype=cr.float64, requires_grad=True)
    opt = optim.Adam([theta], lr=0.01, betas=(0.8, 0.9), eps=1e-3)
    expected, m, v = np.array([1.0, -2.0, 0.5]), np.zeros(3), np.zeros(3)
    for t in range(1, 4):
        grad = np.array([0.3, -1.0, 2.0]) / t
        theta.grad = cr.tensor(grad, dtype=cr.float64)
        opt.step()
        m = 0.8 * m + 0.2 * grad
        v = 0.9 * v + 0.1 * grad**2
        m_hat, v_hat = m / (1 - 0.8**t), v / (1 - 0.9**t)
        expected = expected - 0.01 * m_hat / (np.sqrt(v_hat) + 1e-3)
        np.testing.assert_allclose(theta.detach().numpy(), expected, rtol=1e-13)
    assert opt.state[theta]["step"].item() == 3.0
    assert opt.state[theta]["step"].dtype == cr.float32


def test_adamw_decays_the_weights_not_the_gradient() -> None:
    theta = cr.tensor([1.0, -2.0], dtype=cr.float64, requires_grad=True)
    opt = optim.AdamW([theta], lr=0.1, weight_decay=0.5)
    theta.grad = cr.tensor([0.4, 0.4], dtype=cr.float64)
    opt.step()
    # θ(1 − γλ) − γ m̂/(√v̂ + ε), and m̂/√v̂ = sign(g) on the first step
    expected = np.array([1.0, -2.0]) * (1 - 0.05) - 0.1 * 0.4 / (0.4 + 1e-8)
    np.testing.assert_allclose(theta.detach().numpy(), expected, rtol=1e-14)
    assert opt.param_groups[0]["decoupled_weight_decay"] is True
    assert optim.AdamW([cr.zeros(1, requires_grad=True)]).defaults["weight_decay"] == 1e-2


def test_rmsprop_centered_by_hand() -> None:
    theta = cr.tensor([1.0, -2.0], dtype=cr.float64, requires_grad=True)
    opt = optim.RMSprop([theta], lr=0.01, alpha=0.9, centered=True, eps=1e-6)
    expected, v, g_avg = np.array([1.0, -2.0]), np.zeros(2), np.zeros(2)
    for step in range(3):
        grad = np.array([1.0, -0.5]) * (1 + step)
        theta.grad = cr.tensor(grad, dtype=cr.float64)
        opt.step()
        v = 0.9 * v + 0.1 * grad**2
        g_avg = 0.9 * g_avg + 0.1 * grad
        expected = expected - 0.01 * grad / (np.sqrt(v - g_avg**2) + 1e-6)
        np.testing.assert_allclose(theta.detach().numpy(), expected, rtol=1e-13)


def test_adagrad_by_hand() -> None:
    theta = cr.tensor([1.0, -2.0], dtype=cr.float64, requires_grad=True)
    opt = optim.Adagrad([theta], lr=0.5, lr_decay=0.1, initial_accumulator_value=0.2)
    expected, total = np.array([1.0, -2.0]), np.full(2, 0.2)
    for t in range(1, 4):
        grad = np.array([1.0, 3.0]) / t
        theta.grad = cr.tensor(grad, dtype=cr.float64)
        opt.step()
        total = total + grad**2
        expected = expected - 0.5 / (1 + (t - 1) * 0.1) * grad / (np.sqrt(total) + 1e-10)
        np.testing.assert_allclose(theta.detach().numpy(), expected, rtol=1e-14)


@pytest.mark.parametrize(("cls", "kwargs"), OPTIMIZERS, ids=OPT_IDS)
def test_maximize_ascends_where_minimize_descends(cls: type, kwargs: dict[str, Any]) -> None:
    """maximize on f equals minimizing −f, to the last bit."""
    down = cr.tensor([0.3, -0.7], dtype=cr.float64, requires_grad=True)
    up = cr.tensor([0.3, -0.7], dtype=cr.float64, requires_grad=True)
    opt_down, opt_up = cls([down], **kwargs), cls([up], maximize=True, **kwargs)
    for _ in range(5):
        for theta, opt, sign in ((down, opt_down, 1.0), (up, opt_up, -1.0)):
            opt.zero_grad()
            (sign * (cr.sin(theta) * theta).sum()).backward()
            opt.step()
    np.testing.assert_array_equal(up.detach().numpy(), down.detach().numpy())


@pytest.mark.parametrize(("cls", "kwargs"), OPTIMIZERS, ids=OPT_IDS)
def test_float32_parameters_stay_float32(cls: type, kwargs: dict[str, Any]) -> None:
    params, loss_fn = quadratic_problem(cr.float32)
    opt = cls(params, **kwargs)
    train(opt, params, loss_fn, range(3))
    assert all(p.dtype == cr.float32 for p in params)
    for state in opt.state.values():
        for name, value in state.items():
            assert value.dtype == cr.float32, name


# ---- parameter groups, zero_grad, skipping, closures ----------------------------------------
def test_param_groups_take_their_own_options_and_defaults() -> None:
    a, b = cr.zeros(2, requires_grad=True), cr.zeros(3, requires_grad=True)
    opt = optim.SGD([{"params": [a], "lr": 0.5}, {"params": b}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.1]
    assert [g["momentum"] for g in opt.param_groups] == [0.9, 0.9]
    assert len(opt.param_groups[1]["params"]) == 1 and opt.param_groups[1]["params"][0] is b
    a.grad, b.grad = cr.ones(2), cr.ones(3)
    opt.step()
    assert a.tolist() == [-0.5, -0.5]
    np.testing.assert_allclose(b.detach().numpy(), -0.1, rtol=1e-6)


def test_add_param_group_later() -> None:
    a, b = cr.zeros(2, requires_grad=True), cr.zeros(2, requires_grad=True)
    opt = optim.Adagrad([a], lr=1.0)
    opt.add_param_group({"params": [b], "lr": 0.5})
    assert opt.param_groups[1]["lr_decay"] == 0
    assert set(opt.state[b]) == {"step", "sum"}  # Adagrad creates state on joining
    a.grad, b.grad = cr.ones(2), cr.ones(2)
    opt.step()
    np.testing.assert_allclose(b.detach().numpy(), -0.5, rtol=1e-6)


def test_named_parameters_are_accepted() -> None:
    a = cr.zeros(2, requires_grad=True)
    opt = optim.SGD([("layer.weight", a)], lr=0.1)
    assert opt.param_groups[0]["params"][0] is a
    assert opt.param_groups[0]["param_names"] == ["layer.weight"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["layer.weight"]


@pytest.mark.parametrize(("cls", "kwargs"), OPTIMIZERS, ids=OPT_IDS)
def test_parameters_without_grad_are_skipped(cls: type, kwargs: dict[str, Any]) -> None:
    used = cr.tensor([1.0, 2.0], requires_grad=True)
    unused = cr.tensor([3.0, 4.0], requires_grad=True)
    opt = cls([used, unused], **kwargs)
    for _ in range(2):
        opt.zero_grad()
        (used * used).sum().backward()
        opt.step()
    assert unused.tolist() == [3.0, 4.0]
    assert unused._version == 0
    # Only Adagrad has state before a step (PyTorch creates it on joining).
    assert (unused in opt.state) == (cls is optim.Adagrad)


def test_zero_grad_sets_to_none_or_zeros_in_place() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    grad = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is grad and w.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert w.grad is None


def test_zero_grad_detaches_a_gradient_with_a_graph() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w**3).sum().backward(create_graph=True)
    assert w.grad.grad_fn is not None
    opt.zero_grad(set_to_none=False)
    assert w.grad.grad_fn is None and not w.grad.requires_grad
    assert w.grad.tolist() == [0.0, 0.0]


def test_step_with_closure_returns_its_loss_and_runs_it_with_grad_on() -> None:
    w = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    opt = optim.SGD([w], lr=0.25)

    def closure() -> cr.Tensor:
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with cr.no_grad():  # the closure still records its graph
        loss = opt.step(closure)
    assert loss.item() == 5.0
    assert w.tolist() == [0.5, 1.0]
    assert opt.step() is None


def test_step_bumps_the_version_so_a_stale_graph_refuses_backward() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    w.grad = cr.ones(2)
    stale = (w * w).sum()  # saved w before the update
    opt.step()
    assert w._version == 1
    with pytest.raises(RuntimeError, match="in place"):
        stale.backward()


def test_repr_lists_the_group_options() -> None:
    opt = optim.Adam([cr.zeros(1, requires_grad=True)], lr=0.5)
    text = repr(opt)
    assert text.startswith("Adam (\nParameter Group 0\n")
    assert "    lr: 0.5\n" in text and "    betas: (0.9, 0.999)\n" in text


# ---- state dicts ----------------------------------------------------------------------------
@pytest.mark.parametrize(("cls", "kwargs"), OPTIMIZERS, ids=OPT_IDS)
def test_state_dict_round_trip_resumes_exactly(cls: type, kwargs: dict[str, Any]) -> None:
    params, loss_fn = quadratic_problem()
    opt = cls(params, **kwargs)
    train(opt, params, loss_fn, range(5))
    saved_params = [p.detach().numpy().copy() for p in params]
    saved = copy.deepcopy(opt.state_dict())
    uninterrupted = train(opt, params, loss_fn, range(5, 12))

    resumed_params = [cr.tensor(a, requires_grad=True) for a in saved_params]
    resumed = cls(resumed_params, lr=123.0)  # the loaded groups bring their own options
    resumed.load_state_dict(saved)
    assert resumed.param_groups[0]["lr"] == kwargs["lr"]
    for a, b in zip(
        train(resumed, resumed_params, loss_fn, range(5, 12)), uninterrupted, strict=True
    ):
        np.testing.assert_array_equal(a, b)


def test_state_dict_layout() -> None:
    a, b, c = (cr.zeros(2, requires_grad=True) for _ in range(3))
    opt = optim.SGD([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1, momentum=0.9)
    a.grad, c.grad = cr.ones(2), cr.ones(2)
    opt.step()
    sd = opt.state_dict()
    assert list(sd) == ["state", "param_groups"]
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert list(sd["state"]) == [0, 2]  # b had no gradient: no state
    assert list(sd["state"][0]) == ["momentum_buffer"]
    assert list(sd["param_groups"][0]) == [
        "lr",
        "momentum",
        "dampening",
        "weight_decay",
        "nesterov",
        "maximize",
        "foreach",
        "differentiable",
        "fused",
        "params",
    ]
    assert sd["state"][0]["momentum_buffer"] is opt.state[a]["momentum_buffer"]


def test_load_state_dict_copies_and_casts() -> None:
    w = cr.tensor([1.0, 2.0], dtype=cr.float32, requires_grad=True)
    opt = optim.Adam([w])
    saved = {
        "state": {
            0: {
                "step": np.array(3.0),
                "exp_avg": np.array([0.1, 0.2]),
                "exp_avg_sq": np.array([0.01, 0.02]),
            }
        },
        "param_groups": [dict(opt.state_dict()["param_groups"][0])],
    }
    opt.load_state_dict(saved)
    state = opt.state[w]
    assert state["exp_avg"].dtype == cr.float32 and state["step"].dtype == cr.float32
    state["exp_avg"]._data[0] = 9.0
    assert saved["state"][0]["exp_avg"][0] == 0.1


def test_load_state_dict_fills_options_missing_from_older_dicts() -> None:
    w = cr.zeros(2, requires_grad=True)
    opt = optim.Adam([w], lr=0.5)
    saved = opt.state_dict()
    del saved["param_groups"][0]["decoupled_weight_decay"]
    fresh = optim.Adam([w])
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["decoupled_weight_decay"] is False
    assert fresh.param_groups[0]["lr"] == 0.5


def test_load_state_dict_with_wrong_shapes_changes_nothing() -> None:
    params, loss_fn = quadratic_problem()
    opt = optim.Adam(params, lr=0.01)
    train(opt, params, loss_fn, range(2))
    before = copy.deepcopy(opt.state_dict())
    other = [cr.zeros(3, 3, requires_grad=True, dtype=cr.float64), params[1]]
    wrong = optim.Adam(other, lr=0.01)
    train(wrong, other, lambda step, ps: (ps[0] ** 2).sum() + (ps[1] ** 2).sum(), range(1))
    with pytest.raises(ValueError, match=r"'exp_avg' of shape \(3, 3\) for parameter 0"):
        opt.load_state_dict(wrong.state_dict())
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for index, state in before["state"].items():
        for key, value in state.items():
            np.testing.assert_array_equal(after["state"][index][key].numpy(), value.numpy())


def test_load_state_dict_with_other_groups_raises() -> None:
    a, b = cr.zeros(2, requires_grad=True), cr.zeros(2, requires_grad=True)
    one_group = optim.SGD([a, b]).state_dict()
    two_groups = optim.SGD([{"params": [a]}, {"params": [b]}])
    with pytest.raises(ValueError, match="different number of parameter groups"):
        two_groups.load_state_dict(one_group)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.SGD([a]).load_state_dict(one_group)


# ---- bad arguments --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (optim.SGD, {"lr": -0.1}, r"Invalid learning rate: -0.1 \(lr must be >= 0\)"),
        (optim.SGD, {"momentum": -0.5}, "Invalid momentum value: -0.5"),
        (optim.SGD, {"weight_decay": -1.0}, "Invalid weight_decay value: -1.0"),
        (optim.SGD, {"nesterov": True}, "Nesterov momentum requires a momentum and zero dampening"),
        (optim.SGD, {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "zero dampening"),
        (optim.Adam, {"lr": float("nan")}, "Invalid learning rate: nan"),
        (optim.Adam, {"betas": (1.0, 0.999)}, "Invalid beta parameter at index 0: 1.0"),
        (optim.Adam, {"betas": (0.9, -0.1)}, "Invalid beta parameter at index 1: -0.1"),
        (optim.Adam, {"eps": -1e-8}, "Invalid epsilon value: -1e-08"),
        (optim.AdamW, {"weight_decay": -0.01}, "Invalid weight_decay value: -0.01"),
        (optim.RMSprop, {"alpha": -0.9}, "Invalid alpha value: -0.9"),
        (optim.RMSprop, {"momentum": -1}, "Invalid momentum value: -1"),
        (optim.Adagrad, {"lr_decay": -1}, "Invalid lr_decay value: -1"),
        (
            optim.Adagrad,
            {"initial_accumulator_value": -1},
            "Invalid initial_accumulator_value value: -1",
        ),
        (optim.Adam, {"differentiable": True}, "differentiable=True is not supported"),
        (optim.RMSprop, {"capturable": True}, "capturable=True is not supported"),
        (optim.SGD, {"lr": cr.tensor(0.1)}, "a Tensor lr is not supported"),
    ],
)
def test_bad_options_raise_value_errors_naming_them(
    cls: type, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        cls([cr.zeros(1, requires_grad=True)], **kwargs)


def test_bad_options_in_a_group_raise_too() -> None:
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optim.SGD([{"params": [cr.zeros(1, requires_grad=True)], "lr": -1}], lr=0.1)


def test_bad_params_raise() -> None:
    w = cr.zeros(2, requires_grad=True)
    with pytest.raises(TypeError, match="got a Tensor"):
        optim.SGD(w)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([])
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD({w})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([np.zeros(2)])
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([w * 2])
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [w]}, {"params": [w]}])
    with pytest.raises(TypeError, match="must be a dict"):
        optim.SGD([w]).add_param_group([w])  # type: ignore[arg-type]
