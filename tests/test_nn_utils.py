"""nn.utils against PyTorch: clip_grad_norm_ (every norm type, clipping or not),
clip_grad_value_, and parameters <-> vector."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    parameters_to_vector,
    vector_to_parameters,
)

SHAPES = [(3, 4), (4,), (2, 2, 3)]


def _grads(rng: np.random.Generator) -> list[np.ndarray]:
    return [rng.standard_normal(shape) for shape in SHAPES]


def _ours(grads: list[np.ndarray]) -> list[cr.Tensor]:
    params = [nn.Parameter(cr.zeros(*g.shape, dtype=cr.float64)) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = cr.tensor(g)
    return params


def _ours_and_theirs(rng: np.random.Generator, torch: Any) -> tuple[list[cr.Tensor], list[Any]]:
    """The same random gradients on chainrule parameters and on PyTorch ones."""
    grads = _grads(rng)
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(theirs, grads, strict=True):
        p.grad = torch.from_numpy(g.copy())
    return _ours(grads), theirs


@pytest.mark.torch
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_equals_torch(
    norm_type: float, max_norm: float, rng: np.random.Generator
) -> None:
    torch = pytest.importorskip("torch")
    ours, theirs = _ours_and_theirs(rng, torch)
    total = clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert total.item() == pytest.approx(expected.item(), rel=1e-12)
    for p, q in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)
    clipped = max_norm < total.item()
    assert clipped == (max_norm == 0.5)
    if clipped:  # the clipped gradients have (almost exactly) the maximum norm
        flat = np.concatenate([p.grad.numpy().ravel() for p in ours])
        norm = (
            np.abs(flat).max()
            if math.isinf(norm_type)
            else np.sum(np.abs(flat) ** norm_type) ** (1 / norm_type)
        )
        assert norm == pytest.approx(max_norm, rel=1e-5)


def test_clip_grad_norm_skips_missing_grads_and_checks_finite(rng: np.random.Generator) -> None:
    params = _ours(_grads(rng)) + [nn.Parameter(cr.zeros(2))]
    total = clip_grad_norm_(params, 1.0)
    assert np.isfinite(total.item()) and params[-1].grad is None
    params[0].grad = cr.tensor(np.full((3, 4), np.inf))
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    assert clip_grad_norm_([nn.Parameter(cr.zeros(2))], 1.0).item() == 0.0


@pytest.mark.torch
def test_clip_grad_value_equals_torch(rng: np.random.Generator) -> None:
    torch = pytest.importorskip("torch")
    ours, theirs = _ours_and_theirs(rng, torch)
    clip_grad_value_(ours, 0.3)
    torch.nn.utils.clip_grad_value_(theirs, 0.3)
    for p, q in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
    assert max(np.abs(p.grad.numpy()).max() for p in ours) == 0.3


def test_parameters_to_vector_and_back() -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vec = parameters_to_vector(model.parameters())
    assert vec.shape == (11,)
    expected = np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])
    np.testing.assert_array_equal(vec.detach().numpy(), expected)
    vector_to_parameters(cr.arange(11.0), model.parameters())
    assert model[0].weight.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert model[1].bias.tolist() == [10.0]
    with pytest.raises(ValueError, match="11"):
        vector_to_parameters(cr.zeros(5), model.parameters())
