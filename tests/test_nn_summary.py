"""summary(model, input_shape) on a small CNN: output shapes, parameter counts, totals, and that
the model is left exactly as it was."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.summary import summary


def small_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Dropout(0.1),
        nn.Conv2d(8, 16, 3),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),
    )


def test_summary_shapes_and_counts() -> None:
    model = small_cnn()
    table = summary(model, (1, 8, 8), batch_size=2)
    assert [(row.name, row.type) for row in table.rows] == [
        ("0", "Conv2d"),
        ("1", "BatchNorm2d"),
        ("2", "ReLU"),
        ("3", "MaxPool2d"),
        ("4", "Dropout"),
        ("5", "Conv2d"),
        ("6", "ReLU"),
        ("7", "AdaptiveAvgPool2d"),
        ("8", "Flatten"),
        ("9", "Linear"),
    ]
    assert [row.output_shape for row in table.rows] == [
        (2, 8, 8, 8),
        (2, 8, 8, 8),
        (2, 8, 8, 8),
        (2, 8, 4, 4),
        (2, 8, 4, 4),
        (2, 16, 2, 2),
        (2, 16, 2, 2),
        (2, 16, 1, 1),
        (2, 16),
        (2, 10),
    ]
    assert [row.params for row in table.rows] == [80, 16, 0, 0, 0, 1168, 0, 0, 0, 170]
    total = sum(p.numel() for p in model.parameters())
    assert table.total_params == total == 1434 == sum(row.params for row in table.rows)
    assert table.trainable_params == total and table.non_trainable_params == 0
    assert table.input_shape == (2, 1, 8, 8) and table.output_shape == (2, 10)
    text = str(table)
    assert "5 (Conv2d)" in text and "(2, 16, 2, 2)" in text and "1,168" in text
    assert "Total params: 1,434" in text and "Trainable params: 1,434" in text


def test_summary_leaves_model_untouched_and_restores_modes() -> None:
    model = small_cnn()
    model[4].eval()  # a mixed state must come back exactly
    modes = [m.training for m in model.modules()]
    state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    rng_state = cr.random.get_rng_state()
    summary(model, (1, 8, 8))
    assert [m.training for m in model.modules()] == modes
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), state[key], err_msg=key)
    assert cr.random.get_rng_state() == rng_state
    assert not any(m._forward_hooks for m in model.modules())


def test_summary_of_nested_model_and_frozen_parameters() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn.Parameter(cr.ones(1), requires_grad=False)
            self.body = nn.Sequential(nn.Linear(4, 3), nn.Tanh())
            self.head = nn.Linear(3, 2)

        def forward(self, x: cr.Tensor) -> cr.Tensor:
            return self.head(self.body(x)) * self.scale

    table = summary(Net(), (4,))
    assert [row.name for row in table.rows] == ["body.0", "body.1", "head"]
    assert table.total_params == 1 + 15 + 8 and table.trainable_params == 23
    assert "Non-trainable params: 1" in str(table)


def test_input_shape_with_the_batch_dimension_says_so():
    model = cr.nn.Sequential(cr.nn.Conv2d(1, 2, 3), cr.nn.Flatten())
    with pytest.raises(ValueError, match="excludes it: pass \\(1, 8, 8\\)"):
        cr.summary(model, (1, 1, 8, 8))
    assert cr.summary(model, (1, 8, 8)).total_params == 20
