"""nn.functional exposes PyTorch's names for the layer ops; the ones without a module of their
own here (pad, one_hot, linear, normalize, embedding, batch_norm in eval) match PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn import functional as F

NAMES = (
    "relu sigmoid softmax log_softmax conv1d conv2d max_pool2d avg_pool2d "
    "adaptive_avg_pool2d dropout embedding batch_norm layer_norm linear pad one_hot gelu "
    "silu elu leaky_relu softplus tanh mse_loss l1_loss huber_loss smooth_l1_loss "
    "binary_cross_entropy binary_cross_entropy_with_logits cross_entropy nll_loss "
    "half_squared_error normalize"
).split()


def test_functional_has_pytorchs_names() -> None:
    missing = [name for name in NAMES if not callable(getattr(F, name, None))]
    assert missing == []
    assert sorted(F.__all__) == sorted(NAMES)


@pytest.mark.torch
def test_functional_ops_match_torch(rng: np.random.Generator) -> None:
    torch = pytest.importorskip("torch")
    TF = torch.nn.functional
    x = rng.standard_normal((3, 4, 5))
    w, b = rng.standard_normal((6, 5)), rng.standard_normal(6)
    cases = [
        (
            F.linear(cr.tensor(x), cr.tensor(w), cr.tensor(b)),
            TF.linear(torch.tensor(x), torch.tensor(w), torch.tensor(b)),
        ),
        (F.pad(cr.tensor(x), (1, 2, 0, 1)), TF.pad(torch.tensor(x), (1, 2, 0, 1))),
        (F.normalize(cr.tensor(x), dim=-1), TF.normalize(torch.tensor(x), dim=-1)),
        (F.relu(cr.tensor(x), inplace=False), TF.relu(torch.tensor(x))),
        (F.leaky_relu(cr.tensor(x), 0.3), TF.leaky_relu(torch.tensor(x), 0.3)),
        (F.elu(cr.tensor(x), 0.5), TF.elu(torch.tensor(x), 0.5)),
        (F.silu(cr.tensor(x)), TF.silu(torch.tensor(x))),
        (F.gelu(cr.tensor(x), approximate="tanh"), TF.gelu(torch.tensor(x), approximate="tanh")),
        (F.log_softmax(cr.tensor(x), dim=1), TF.log_softmax(torch.tensor(x), dim=1)),
        (F.dropout(cr.tensor(x), 0.4, training=False), TF.dropout(torch.tensor(x), 0.4, False)),
        (
            F.batch_norm(cr.tensor(x), cr.tensor(np.full(4, 0.5)), cr.tensor(np.full(4, 2.0))),
            TF.batch_norm(
                torch.tensor(x),
                torch.full((4,), 0.5, dtype=torch.float64),
                torch.full((4,), 2.0, dtype=torch.float64),
            ),
        ),
    ]
    for index, (ours, theirs) in enumerate(cases):
        np.testing.assert_allclose(
            ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-15, err_msg=f"case {index}"
        )
    labels = rng.integers(0, 5, (2, 3))
    np.testing.assert_array_equal(
        F.one_hot(cr.tensor(labels), 6).numpy(), TF.one_hot(torch.tensor(labels), 6).numpy()
    )
