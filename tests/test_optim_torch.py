"""Every optimizer, in its main option combinations, against PyTorch: the 100-step parameter
trajectory of a small MLP (4-8-3, tanh), every parameter at every step, in float64 and float32;
and the state-dict layout, which must equal PyTorch's key for key and index for index."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import chainrule as cr  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("one_torch_thread")]


# Measured: float64 trajectories agree to ~1e-14 absolute (FMA in PyTorch's kernels vs two
# roundings here is the only difference in the update); the bounds leave a margin, yet any
# change in the order of operations fails them. In float32 the engine's own rounding (matmul,
# log_softmax) differs from PyTorch's by an ulp, and near-zero gradients divided by √v (RMSprop,
# Adagrad) amplify that: ~2e-6 absolute after 100 steps. So float32 is compared per tensor,
# relative to its largest entry: max|ours − torch| ≤ 1e-5 · max|torch|.
RTOL64, ATOL64 = 1e-10, 1e-12
RTOL32 = 1e-5
STEPS = 100

# ---- the harness: one MLP written once, run by either library --------------------------------
SIZES = (4, 8, 3)
N_SAMPLES, BATCH = 48, 16


def make_data(dtype: type) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs, class labels (cross-entropy) and targets (MSE), the same for every run."""
    rng = np.random.default_rng(1234)
    x = rng.normal(size=(N_SAMPLES, SIZES[0])).astype(dtype)
    labels = rng.integers(0, SIZES[2], size=N_SAMPLES)
    targets = rng.normal(size=(N_SAMPLES, SIZES[2])).astype(dtype)
    return x, labels, targets


def make_arrays(dtype: type, seed: int = 0) -> list[np.ndarray]:
    """W1 (4, 8), b1 (8,), W2 (8, 3), b2 (3,), and one parameter the loss never uses."""
    rng = np.random.default_rng(seed)
    shapes = [(SIZES[0], SIZES[1]), (SIZES[1],), (SIZES[1], SIZES[2]), (SIZES[2],), (2, 2)]
    return [(rng.normal(size=s) / np.sqrt(s[0])).astype(dtype) for s in shapes]


def loss_fn(lib: Any, params: list[Any], x: Any, labels: Any, targets: Any, kind: str) -> Any:
    """The same expression for chainrule and torch (they share the names used here)."""
    w1, b1, w2, b2 = params[:4]
    out = lib.tanh(x @ w1 + b1) @ w2 + b2
    if kind == "mse":
        return ((out - targets) ** 2).mean()
    log_probs = lib.log_softmax(out, dim=1)
    return -lib.gather(log_probs, 1, labels[:, None]).mean()


def groups_of(params: list[Any], group_lrs: tuple[float, ...] | None) -> Any:
    """All parameters in one group, or layer 1 / layer 2 + the unused one, with their own lr."""
    if group_lrs is None:
        return params
    first, second = group_lrs
    return [{"params": params[:2], "lr": first}, {"params": params[2:], "lr": second}]


def run(
    lib: Any,
    make_opt: Callable[[Any, Any], Any],
    dtype: type,
    *,
    steps: int = STEPS,
    kind: str = "ce",
    group_lrs: tuple[float, ...] | None = None,
    make_sched: Callable[[Any, Any], Any] | None = None,
    metrics: bool = False,
) -> tuple[list[list[np.ndarray]], Any, Any]:
    """Train ``steps`` minibatch steps; return each step's parameters, the optimizer, the
    scheduler. ``make_opt(optim_module, params)`` builds the optimizer; ``make_sched(
    lr_scheduler_module, optimizer)`` the scheduler, stepped after each optimizer step (with
    the loss when ``metrics``)."""
    x, labels, targets = make_data(dtype)
    params = [lib.tensor(a, requires_grad=True) for a in make_arrays(dtype)]
    opt = make_opt(lib.optim, groups_of(params, group_lrs))
    sched = make_sched(lib.optim.lr_scheduler, opt) if make_sched else None
    trajectory = []
    for step in range(steps):
        rows = slice(step * BATCH % N_SAMPLES, step * BATCH % N_SAMPLES + BATCH)
        opt.zero_grad()
        loss = loss_fn(
            lib,
            params,
            lib.tensor(x[rows]),
            lib.tensor(labels[rows]),
            lib.tensor(targets[rows]),
            kind,
        )
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step(loss.item()) if metrics else sched.step()
        trajectory.append([p.detach().numpy().copy() for p in params])
    return trajectory, opt, sched


def max_rel_diff(ours: list[list[np.ndarray]], theirs: list[list[np.ndarray]]) -> float:
    return max(
        float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-3)))
        for step_a, step_b in zip(ours, theirs, strict=True)
        for a, b in zip(step_a, step_b, strict=True)
    )


def assert_same_trajectory(
    ours: list[list[np.ndarray]],
    theirs: list[list[np.ndarray]],
    dtype: type,
    rtol32: float = RTOL32,
) -> None:
    for step, (step_ours, step_theirs) in enumerate(zip(ours, theirs, strict=True)):
        for i, (a, b) in enumerate(zip(step_ours, step_theirs, strict=True)):
            where = f"step {step + 1}, parameter {i}"
            assert a.dtype == b.dtype, f"{where}: dtype {a.dtype} != {b.dtype}"
            if dtype == np.float64:
                np.testing.assert_allclose(a, b, rtol=RTOL64, atol=ATOL64, err_msg=where)
            else:
                scale = float(np.max(np.abs(b)))
                np.testing.assert_allclose(a, b, rtol=0, atol=rtol32 * scale, err_msg=where)


# ---- the option combinations ----------------------------------------------------------------
CASES: list[tuple[str, dict[str, Any], str]] = [
    ("SGD", {"lr": 0.1}, "ce"),
    ("SGD", {"lr": 0.05, "momentum": 0.9}, "ce"),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}, "mse"),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, "ce"),
    ("SGD", {"lr": 0.1, "weight_decay": 0.01}, "mse"),
    (
        "SGD",
        {"lr": 0.02, "momentum": 0.8, "nesterov": True, "weight_decay": 0.05, "maximize": True},
        "ce",
    ),
    ("Adam", {"lr": 0.01}, "ce"),
    ("Adam", {"lr": 0.01, "amsgrad": True}, "ce"),
    ("Adam", {"lr": 0.01, "weight_decay": 0.05}, "mse"),
    ("Adam", {"lr": 0.01, "betas": (0.3, 0.6), "eps": 1e-6}, "ce"),  # lerp from the far end
    ("Adam", {"lr": 0.005, "maximize": True, "amsgrad": True, "weight_decay": 0.01}, "ce"),
    ("AdamW", {"lr": 0.01}, "ce"),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}, "mse"),
    ("AdamW", {"lr": 0.005, "maximize": True}, "ce"),
    ("RMSprop", {"lr": 0.01}, "ce"),
    ("RMSprop", {"lr": 0.005, "centered": True}, "ce"),
    ("RMSprop", {"lr": 0.005, "momentum": 0.9, "alpha": 0.3}, "mse"),
    # Centered with a short memory (small alpha) makes v − ḡ² cancel to rounding noise, which
    # then decides the step: a test of float32 noise, not of the algorithm. Default alpha.
    ("RMSprop", {"lr": 0.002, "momentum": 0.5, "centered": True, "weight_decay": 0.01}, "ce"),
    ("RMSprop", {"lr": 0.005, "maximize": True}, "ce"),
    ("Adagrad", {"lr": 0.1}, "ce"),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.01}, "mse"),
    ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.1, "eps": 1e-6}, "ce"),
    ("Adagrad", {"lr": 0.05, "maximize": True}, "ce"),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}-{kind}" for name, kw, kind in CASES]


def maker(name: str, kwargs: dict[str, Any]) -> Callable[[Any, Any], Any]:
    return lambda optim, params: getattr(optim, name)(params, **kwargs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize(("name", "kwargs", "kind"), CASES, ids=IDS)
def test_trajectory_matches_torch(
    name: str, kwargs: dict[str, Any], kind: str, dtype: type
) -> None:
    ours, opt, _ = run(cr, maker(name, kwargs), dtype, kind=kind)
    theirs, _, _ = run(torch, maker(name, kwargs), dtype, kind=kind)
    assert_same_trajectory(ours, theirs, dtype)
    # The parameter the loss never touches has no gradient: skipped, so it never moves.
    np.testing.assert_array_equal(ours[-1][4], make_arrays(dtype)[4])


def given_gradient(theta: np.ndarray, step: int) -> np.ndarray:
    """A fixed, smooth, non-quadratic gradient field, computed in float64 outside both
    libraries, so that both optimizers receive the very same gradient arrays. Its constant
    part swings with the step: with a steady gradient, centered RMSprop's v − ḡ² cancels to
    rounding noise and the comparison would measure that noise."""
    rng = np.random.default_rng(7)
    a, c = rng.normal(size=(theta.size, theta.size)) / 5, rng.normal(size=theta.size)
    return a @ np.tanh(theta) + c * np.cos(1.7 * step) + 0.1 * theta


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize(("name", "kwargs", "kind"), CASES, ids=IDS)
def test_update_rule_matches_torch_given_the_same_gradients(
    name: str, kwargs: dict[str, Any], kind: str, dtype: type
) -> None:
    """The optimizer alone, without the engine's rounding: 10 steps from equal gradients agree
    to a few ulps, in float32 too (every scalar is applied in the parameter's dtype, as
    PyTorch does)."""
    start = np.random.default_rng(1).normal(size=12)
    trajectories = []
    for lib in (cr, torch):
        param = lib.tensor(start.astype(dtype), requires_grad=True)
        opt = getattr(lib.optim, name)([param], **kwargs)
        steps = []
        for step in range(10):
            grad = given_gradient(param.detach().numpy().astype(np.float64), step)
            param.grad = lib.tensor(grad.astype(dtype))
            opt.step()
            steps.append([param.detach().numpy().copy()])
        trajectories.append(steps)
    assert_same_trajectory(*trajectories, dtype, rtol32=1e-6)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_param_groups_with_their_own_lr_match_torch(name: str) -> None:
    kwargs = {"momentum": 0.9} if name in ("SGD", "RMSprop") else {}
    ours, opt, _ = run(cr, maker(name, kwargs), np.float64, group_lrs=(0.03, 0.003))
    theirs, _, _ = run(torch, maker(name, kwargs), np.float64, group_lrs=(0.03, 0.003))
    assert_same_trajectory(ours, theirs, np.float64)
    assert [g["lr"] for g in opt.param_groups] == [0.03, 0.003]


def closure_run(lib: Any) -> tuple[list[float], list[np.ndarray]]:
    x, labels, targets = make_data(np.float64)
    params = [lib.tensor(a, requires_grad=True) for a in make_arrays(np.float64)]
    opt = lib.optim.SGD(params, lr=0.1, momentum=0.5)

    def closure() -> Any:
        opt.zero_grad()
        loss = loss_fn(lib, params, lib.tensor(x), lib.tensor(labels), lib.tensor(targets), "ce")
        loss.backward()
        return loss

    losses = [opt.step(closure).item() for _ in range(20)]
    return losses, [p.detach().numpy() for p in params]


def test_closure_loss_and_trajectory_match_torch() -> None:
    """step(closure) re-evaluates the loss itself, as with LBFGS-style use."""
    (losses, params), (torch_losses, torch_params) = closure_run(cr), closure_run(torch)
    np.testing.assert_allclose(losses, torch_losses, rtol=1e-12)
    for a, b in zip(params, torch_params, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


# ---- state dicts ----------------------------------------------------------------------------
def to_numpy_tree(value: Any) -> Any:
    """State-dict values with every tensor (ours or torch's) turned into an ndarray."""
    if isinstance(value, dict):
        return {k: to_numpy_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_numpy_tree(v) for v in value]
    if isinstance(value, cr.Tensor | torch.Tensor):
        return np.asarray(value.detach().numpy())
    return value


STATE_CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("Adam", {"amsgrad": True}),
    ("AdamW", {}),
    ("RMSprop", {"centered": True, "momentum": 0.5}),
    ("Adagrad", {"initial_accumulator_value": 0.5}),
]


@pytest.mark.parametrize(("name", "kwargs"), STATE_CASES, ids=[c[0] for c in STATE_CASES])
def test_state_dict_layout_equals_torch(name: str, kwargs: dict[str, Any]) -> None:
    _, ours, _ = run(cr, maker(name, kwargs), np.float64, steps=3, group_lrs=(0.01, 0.02))
    _, theirs, _ = run(torch, maker(name, kwargs), np.float64, steps=3, group_lrs=(0.01, 0.02))
    ours_sd, theirs_sd = to_numpy_tree(ours.state_dict()), to_numpy_tree(theirs.state_dict())
    # Same options with the same values, in the same order, and the same index lists.
    assert ours_sd["param_groups"] == theirs_sd["param_groups"]
    assert [list(g) for g in ours_sd["param_groups"]] == [
        list(g) for g in theirs_sd["param_groups"]
    ]
    assert list(ours_sd["state"]) == list(theirs_sd["state"])
    for index, state in theirs_sd["state"].items():
        assert list(ours_sd["state"][index]) == list(state), f"parameter {index}"
        for key, value in state.items():
            assert ours_sd["state"][index][key].dtype == value.dtype, (index, key)
            np.testing.assert_allclose(
                ours_sd["state"][index][key], value, rtol=1e-12, err_msg=f"parameter {index}, {key}"
            )


@pytest.mark.parametrize(("name", "kwargs"), STATE_CASES, ids=[c[0] for c in STATE_CASES])
def test_torch_state_dict_loads_and_training_continues_identically(
    name: str, kwargs: dict[str, Any]
) -> None:
    """A PyTorch checkpoint (parameters + optimizer state) resumed here follows PyTorch."""
    x, labels, targets = make_data(np.float64)
    torch_params = [torch.tensor(a, requires_grad=True) for a in make_arrays(np.float64)]
    torch_opt = getattr(torch.optim, name)(torch_params, **kwargs)

    def train(lib: Any, params: list[Any], opt: Any, steps: range) -> None:
        for step in steps:
            rows = slice(step * BATCH % N_SAMPLES, step * BATCH % N_SAMPLES + BATCH)
            opt.zero_grad()
            loss_fn(
                lib,
                params,
                lib.tensor(x[rows]),
                lib.tensor(labels[rows]),
                lib.tensor(targets[rows]),
                "ce",
            ).backward()
            opt.step()

    train(torch, torch_params, torch_opt, range(30))
    ours_params = [cr.tensor(p.detach().numpy(), requires_grad=True) for p in torch_params]
    ours_opt = getattr(cr.optim, name)(ours_params, **kwargs)
    ours_opt.load_state_dict(copy.deepcopy(torch_opt.state_dict()))
    train(torch, torch_params, torch_opt, range(30, 60))
    train(cr, ours_params, ours_opt, range(30, 60))
    for a, b in zip(ours_params, torch_params, strict=True):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)
