"""Every loss against PyTorch, functional and module form, each reduction: the value and the
gradients for input and (where PyTorch differentiates it) target, float64, random upstream
gradients; plus extreme logits and the seeds' half sum of squares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

RTOL, ATOL = 1e-7, 1e-12
REDUCTIONS = ["none", "mean", "sum"]


def _probabilities(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(0.02, 0.98, shape)


def _soft_labels(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    raw = rng.uniform(0.1, 1.0, shape)
    return raw / raw.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class LossCase:
    """``call(f, lib, input, target, reduction)`` runs with either library (lib) and its
    functional module (f);
    ``module(nn, reduction)`` builds the module form; ``data(rng)`` gives input and target
    arrays; ``target_grad`` says whether PyTorch differentiates the target."""

    name: str
    call: Callable
    module: Callable
    data: Callable
    target_grad: bool = True


def _float_pair(shape: tuple[int, ...]) -> Callable:
    return lambda rng: (rng.standard_normal(shape), rng.standard_normal(shape))


def _weight(lib: object, values: list[float]) -> object:
    """A class-weight tensor for either library."""
    return lib.tensor(values, dtype=lib.float64)  # type: ignore[attr-defined]


CLASS_WEIGHTS = [0.3, 1.0, 2.5, 0.7]


def _labels_with_ignored(
    rng: np.random.Generator, shape: tuple[int, ...], classes: int
) -> np.ndarray:
    labels = rng.integers(0, classes, shape)
    labels.flat[1] = -100
    labels.flat[-1] = 2
    return labels


CASES = [
    LossCase(
        "mse",
        lambda f, lib, x, t, r: f.mse_loss(x, t, reduction=r),
        lambda nn, r: nn.MSELoss(reduction=r),
        _float_pair((4, 3)),
    ),
    LossCase(
        "l1",
        lambda f, lib, x, t, r: f.l1_loss(x, t, reduction=r),
        lambda nn, r: nn.L1Loss(reduction=r),
        _float_pair((4, 3)),
    ),
    LossCase(
        "huber",
        lambda f, lib, x, t, r: f.huber_loss(x, t, reduction=r, delta=0.7),
        lambda nn, r: nn.HuberLoss(reduction=r, delta=0.7),
        _float_pair((5, 3)),
    ),
    LossCase(
        "smooth_l1",
        lambda f, lib, x, t, r: f.smooth_l1_loss(x, t, reduction=r, beta=0.5),
        lambda nn, r: nn.SmoothL1Loss(reduction=r, beta=0.5),
        _float_pair((5, 3)),
    ),
    LossCase(
        "bce",
        lambda f, lib, x, t, r: f.binary_cross_entropy(x, t, reduction=r),
        lambda nn, r: nn.BCELoss(reduction=r),
        lambda rng: (_probabilities(rng, (4, 3)), _probabilities(rng, (4, 3))),
    ),
    LossCase(
        "bce_weight",
        lambda f, lib, x, t, r: f.binary_cross_entropy(
            x, t, weight=_weight(lib, [0.5, 2.0, 1.5]), reduction=r
        ),
        None,
        lambda rng: (_probabilities(rng, (4, 3)), _probabilities(rng, (4, 3))),
    ),
    LossCase(
        "bce_logits",
        lambda f, lib, x, t, r: f.binary_cross_entropy_with_logits(x, t, reduction=r),
        lambda nn, r: nn.BCEWithLogitsLoss(reduction=r),
        lambda rng: (rng.standard_normal((4, 3)) * 4, _probabilities(rng, (4, 3))),
    ),
    LossCase(
        "bce_logits_weights",
        lambda f, lib, x, t, r: f.binary_cross_entropy_with_logits(
            x,
            t,
            reduction=r,
            weight=_weight(lib, [0.5, 2.0, 1.5]),
            pos_weight=_weight(lib, [3.0, 0.2, 1.0]),
        ),
        None,
        lambda rng: (rng.standard_normal((4, 3)) * 4, _probabilities(rng, (4, 3))),
    ),
    LossCase(
        "nll",
        lambda f, lib, x, t, r: f.nll_loss(x, t, reduction=r),
        lambda nn, r: nn.NLLLoss(reduction=r),
        lambda rng: (rng.standard_normal((6, 4)), rng.integers(0, 4, 6)),
        False,
    ),
    LossCase(
        "nll_weight_ignore",
        lambda f, lib, x, t, r: f.nll_loss(
            x, t, reduction=r, ignore_index=-100, weight=_weight(lib, CLASS_WEIGHTS)
        ),
        None,
        lambda rng: (rng.standard_normal((6, 4)), _labels_with_ignored(rng, 6, 4)),
        False,
    ),
    LossCase(
        "nll_spatial",
        lambda f, lib, x, t, r: f.nll_loss(x, t, reduction=r, ignore_index=1),
        lambda nn, r: nn.NLLLoss(reduction=r, ignore_index=1),
        lambda rng: (rng.standard_normal((2, 4, 3, 2)), rng.integers(0, 4, (2, 3, 2))),
        False,
    ),
    LossCase(
        "cross_entropy",
        lambda f, lib, x, t, r: f.cross_entropy(x, t, reduction=r),
        lambda nn, r: nn.CrossEntropyLoss(reduction=r),
        lambda rng: (rng.standard_normal((6, 4)) * 3, rng.integers(0, 4, 6)),
        False,
    ),
    LossCase(
        "cross_entropy_weight_ignore_smoothing",
        lambda f, lib, x, t, r: f.cross_entropy(
            x,
            t,
            reduction=r,
            ignore_index=-100,
            label_smoothing=0.15,
            weight=_weight(lib, CLASS_WEIGHTS),
        ),
        None,
        lambda rng: (rng.standard_normal((7, 4)) * 3, _labels_with_ignored(rng, 7, 4)),
        False,
    ),
    LossCase(
        "cross_entropy_smoothing_spatial",
        lambda f, lib, x, t, r: f.cross_entropy(
            x, t, reduction=r, ignore_index=0, label_smoothing=0.3
        ),
        lambda nn, r: nn.CrossEntropyLoss(reduction=r, ignore_index=0, label_smoothing=0.3),
        lambda rng: (rng.standard_normal((2, 4, 3, 3)), rng.integers(0, 4, (2, 3, 3))),
        False,
    ),
    LossCase(
        "cross_entropy_single_sample",
        lambda f, lib, x, t, r: f.cross_entropy(x, t, reduction=r),
        None,
        lambda rng: (rng.standard_normal(5), np.array(3)),
        False,
    ),
    LossCase(
        "cross_entropy_probabilities",
        lambda f, lib, x, t, r: f.cross_entropy(x, t, reduction=r),
        lambda nn, r: nn.CrossEntropyLoss(reduction=r),
        lambda rng: (rng.standard_normal((5, 4)), _soft_labels(rng, (5, 4))),
    ),
    LossCase(
        "cross_entropy_probabilities_weight_smoothing",
        lambda f, lib, x, t, r: f.cross_entropy(
            x, t, reduction=r, label_smoothing=0.2, weight=_weight(lib, CLASS_WEIGHTS)
        ),
        None,
        lambda rng: (rng.standard_normal((2, 4, 3)), _soft_labels(rng, (2, 4, 3))),
    ),
]


def _run(
    lib_functional: object,
    lib: object,
    x: np.ndarray,
    t: np.ndarray,
    case: LossCase,
    reduction: str,
    upstream: np.ndarray | None,
    module: bool,
) -> tuple:
    """Loss value and (input grad, target grad) in one library."""
    if lib is cr:
        x_t = cr.tensor(x, requires_grad=True)
        t_t = cr.tensor(t, requires_grad=case.target_grad)
    else:
        x_t = torch.tensor(x, requires_grad=True)
        t_t = torch.tensor(t, requires_grad=case.target_grad)
    if module:
        loss = case.module(nn if lib is cr else torch.nn, reduction)(x_t, t_t)
    else:
        loss = case.call(lib_functional, lib, x_t, t_t, reduction)
    if upstream is None:
        upstream = np.random.default_rng(7).standard_normal(tuple(loss.shape))
    loss.backward(lib.tensor(upstream, dtype=lib.float64))  # type: ignore[attr-defined]
    grads = (x_t.grad, t_t.grad if case.target_grad else None)
    return loss.detach().numpy(), grads


def _check(case: LossCase, reduction: str, rng: np.random.Generator, module: bool) -> None:
    x, t = case.data(rng)
    ours, our_grads = _run(F, cr, x, t, case, reduction, None, module)
    theirs, their_grads = _run(torch.nn.functional, torch, x, t, case, reduction, None, module)
    what = f"{case.name} ({'module' if module else 'functional'}, reduction={reduction})"
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs {theirs.shape}"
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL, err_msg=f"{what}: value")
    for label, mine, other in zip(("input", "target"), our_grads, their_grads, strict=True):
        if other is None:
            continue
        assert mine is not None, f"{what}: no {label} gradient"
        np.testing.assert_allclose(
            mine.numpy(), other.numpy(), rtol=RTOL, atol=ATOL, err_msg=f"{what}: {label} gradient"
        )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_loss_matches_torch(case: LossCase, reduction: str, rng: np.random.Generator) -> None:
    _check(case, reduction, rng, module=False)
    if case.module is not None:
        _check(case, reduction, rng, module=True)


def test_weighted_loss_modules_match_torch_and_register_buffers(rng: np.random.Generator) -> None:
    """Class weights given to the module form act like the functional form's, and are buffers
    (in the state dict, as in PyTorch)."""
    x, t = rng.standard_normal((7, 4)), _labels_with_ignored(rng, 7, 4)
    ours = nn.CrossEntropyLoss(
        weight=cr.tensor(CLASS_WEIGHTS, dtype=cr.float64), label_smoothing=0.1
    )
    theirs = torch.nn.CrossEntropyLoss(
        weight=torch.tensor(CLASS_WEIGHTS, dtype=torch.float64), label_smoothing=0.1
    )
    value = ours(cr.tensor(x), cr.tensor(t)).item()
    assert value == pytest.approx(theirs(torch.tensor(x), torch.tensor(t)).item(), rel=RTOL)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    pos = nn.BCEWithLogitsLoss(pos_weight=cr.tensor([2.0, 0.5, 1.0], dtype=cr.float64))
    their_pos = torch.nn.BCEWithLogitsLoss(
        pos_weight=torch.tensor([2.0, 0.5, 1.0], dtype=torch.float64)
    )
    logits, targets = rng.standard_normal((4, 3)), _probabilities(rng, (4, 3))
    assert pos(cr.tensor(logits), cr.tensor(targets)).item() == pytest.approx(
        their_pos(torch.tensor(logits), torch.tensor(targets)).item(), rel=RTOL
    )
    assert list(pos.state_dict()) == list(their_pos.state_dict()) == ["pos_weight"]


EXTREME = np.array([[1000.0, -1000.0, 3.0], [-1000.0, 1000.0, 0.0], [500.0, -800.0, 1000.0]])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_extreme_logits_bce_with_logits_finite_and_equal_to_torch(reduction: str) -> None:
    targets = np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 1.0], [0.3, 0.9, 0.0]])
    x = cr.tensor(EXTREME, requires_grad=True)
    ours = F.binary_cross_entropy_with_logits(x, cr.tensor(targets), reduction=reduction)
    x_t = torch.tensor(EXTREME, requires_grad=True)
    theirs = torch.nn.functional.binary_cross_entropy_with_logits(
        x_t, torch.tensor(targets), reduction=reduction
    )
    upstream = np.ones(tuple(theirs.shape))
    ours.backward(cr.tensor(upstream, dtype=cr.float64))
    theirs.backward(torch.tensor(upstream))
    assert np.isfinite(ours.detach().numpy()).all() and np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=RTOL)
    np.testing.assert_allclose(x.grad.numpy(), x_t.grad.numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_extreme_logits_cross_entropy_finite_and_equal_to_torch(reduction: str, dtype: str) -> None:
    labels = np.array([1, 0, 2])
    x = cr.tensor(EXTREME, dtype=dtype, requires_grad=True)
    ours = F.cross_entropy(x, cr.tensor(labels), reduction=reduction, label_smoothing=0.1)
    x_t = torch.tensor(EXTREME, dtype=getattr(torch, dtype), requires_grad=True)
    theirs = torch.nn.functional.cross_entropy(
        x_t, torch.tensor(labels), reduction=reduction, label_smoothing=0.1
    )
    ours.backward(cr.ones(*theirs.shape, dtype=dtype))
    theirs.backward(torch.ones_like(theirs))
    assert np.isfinite(ours.detach().numpy()).all() and np.isfinite(x.grad.numpy()).all()
    rtol = RTOL if dtype == "float64" else 1e-5
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol)
    np.testing.assert_allclose(x.grad.numpy(), x_t.grad.numpy(), rtol=rtol, atol=1e-7)


def test_bce_clamps_log_at_minus_100_like_torch() -> None:
    """Probabilities of exactly 0 and 1 give PyTorch's finite loss and gradient."""
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.4])
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.3])
    x = cr.tensor(p, requires_grad=True)
    ours = F.binary_cross_entropy(x, cr.tensor(t), reduction="none")
    ours.backward(cr.ones(5, dtype=cr.float64))
    x_t = torch.tensor(p, requires_grad=True)
    theirs = torch.nn.functional.binary_cross_entropy(x_t, torch.tensor(t), reduction="none")
    theirs.backward(torch.ones(5, dtype=torch.float64))
    assert ours.detach().numpy()[:2].tolist() == [100.0, 100.0]
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=RTOL)
    np.testing.assert_allclose(x.grad.numpy(), x_t.grad.numpy(), rtol=RTOL)


def test_losses_have_second_derivatives_like_torch(rng: np.random.Generator) -> None:
    """The BCE primitives' rules are differentiable: a gradient penalty matches PyTorch."""
    x, t = rng.standard_normal(5) * 3, _probabilities(rng, (5,))
    values = []
    for lib, lib_functional in ((cr, F), (torch, torch.nn.functional)):
        xt = lib.tensor(x, requires_grad=True)
        loss = lib_functional.binary_cross_entropy_with_logits(
            xt, lib.tensor(t), pos_weight=lib.tensor([2.0], dtype=lib.float64), reduction="sum"
        )
        (g,) = (cr.autograd.grad if lib is cr else torch.autograd.grad)(loss, xt, create_graph=True)
        (g * g).sum().backward()
        values.append(xt.grad.numpy())
    np.testing.assert_allclose(values[0], values[1], rtol=RTOL)


def test_half_squared_error_is_the_seeds_e_total() -> None:
    """E_total = E1 + E2 with E_i = ½(t_i − a_i)², seed 001's output values."""
    outputs = cr.tensor([0.75136507, 0.772928465], dtype=cr.float64, requires_grad=True)
    targets = cr.tensor([0.01, 0.99], dtype=cr.float64)
    loss = nn.HalfSquaredError()(outputs, targets)
    e1 = 0.5 * (0.01 - 0.75136507) ** 2
    e2 = 0.5 * (0.99 - 0.772928465) ** 2
    assert loss.item() == pytest.approx(e1 + e2, rel=1e-15)
    assert loss.item() == pytest.approx(0.298371109, abs=1e-9)
    loss.backward()
    np.testing.assert_allclose(
        outputs.grad.numpy(), [0.75136507 - 0.01, 0.772928465 - 0.99], rtol=1e-15
    )
    elementwise = F.half_squared_error(outputs, targets, reduction="none").detach().numpy()
    np.testing.assert_allclose(elementwise, [e1, e2], rtol=1e-15)
    assert F.half_squared_error(outputs, targets, reduction="mean").item() == pytest.approx(
        (e1 + e2) / 2, rel=1e-15
    )
    torch_value = 0.5 * torch.nn.functional.mse_loss(
        torch.tensor([0.75136507, 0.772928465], dtype=torch.float64),
        torch.tensor([0.01, 0.99], dtype=torch.float64),
        reduction="sum",
    )
    assert loss.item() == pytest.approx(torch_value.item(), rel=1e-15)


def test_loss_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(cr.zeros(3), cr.zeros(3), reduction="average")
    with pytest.raises(ValueError, match="reduction"):
        nn.L1Loss(reduction="avg")
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(cr.tensor([1.5]), cr.tensor([1.0]))
    with pytest.raises(ValueError, match="same as input size"):
        F.binary_cross_entropy_with_logits(cr.zeros(3, 1), cr.zeros(3))
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(cr.zeros(2, 3), cr.tensor([0, 3]))
    with pytest.raises(ValueError, match="target of shape"):
        F.cross_entropy(cr.zeros(2, 3), cr.tensor([0, 1, 2]))
    with pytest.warns(UserWarning, match="broadcasting"):
        F.mse_loss(cr.zeros(3, 1), cr.zeros(3))


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_every_target_ignored_gives_nan_like_torch(
    smoothing: float, rng: np.random.Generator
) -> None:
    x, labels = rng.standard_normal((3, 4)), np.full(3, -100)
    ours = F.cross_entropy(cr.tensor(x), cr.tensor(labels), label_smoothing=smoothing)
    theirs = torch.nn.functional.cross_entropy(
        torch.tensor(x), torch.tensor(labels), label_smoothing=smoothing
    )
    assert np.isnan(ours.item()) and np.isnan(theirs.item())
    assert F.cross_entropy(cr.tensor(x), cr.tensor(labels), reduction="sum").item() == 0.0
