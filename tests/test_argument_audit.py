"""Argument validation against PyTorch's, generated from the layer and optimizer lists: each
argument in turn gets a wrong value (negative, zero, fractional, a string, None); the layer is
built and run (the optimizer built and stepped) in both libraries, and either both refuse or
both work and agree on the output's shape. Where chainrule refuses, the message names the
argument (test_hardening.py pins the messages of the cases the probe found)."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import chainrule as cr  # noqa: E402

pytestmark = pytest.mark.torch

CONV = {
    "in_channels": 2,
    "out_channels": 4,
    "kernel_size": 3,
    "stride": 1,
    "padding": 0,
    "dilation": 1,
    "groups": 1,
}
# layer -> (valid keyword arguments, an input for it)
LAYERS: dict[str, tuple[dict[str, Any], Any]] = {
    "Linear": ({"in_features": 4, "out_features": 3}, lambda m: m.ones(2, 4)),
    "Conv1d": (
        CONV,
        lambda m: m.ones(1, 2, 8),
    ),
    "Conv2d": (
        CONV,
        lambda m: m.ones(1, 2, 8, 8),
    ),
    "BatchNorm1d": (
        {"num_features": 3, "eps": 1e-5, "momentum": 0.1},
        lambda m: m.arange(12.0).reshape(4, 3),
    ),
    "BatchNorm2d": (
        {"num_features": 3, "eps": 1e-5, "momentum": 0.1},
        lambda m: m.ones(2, 3, 4, 4),
    ),
    "LayerNorm": ({"normalized_shape": 4, "eps": 1e-5}, lambda m: m.ones(2, 4)),
    "Dropout": ({"p": 0.5}, lambda m: m.ones(2, 4)),
    "MaxPool2d": (
        {"kernel_size": 2, "stride": 2, "padding": 0, "dilation": 1},
        lambda m: m.ones(1, 1, 6, 6),
    ),
    "AvgPool2d": ({"kernel_size": 2, "stride": 2, "padding": 0}, lambda m: m.ones(1, 1, 6, 6)),
    "AdaptiveAvgPool2d": ({"output_size": 2}, lambda m: m.ones(1, 1, 6, 6)),
    "Embedding": ({"num_embeddings": 5, "embedding_dim": 3}, lambda m: m.tensor([0, 4])),
    "Flatten": ({"start_dim": 1, "end_dim": -1}, lambda m: m.ones(2, 3, 4)),
    "LeakyReLU": ({"negative_slope": 0.1}, lambda m: m.ones(2, 3)),
    "ELU": ({"alpha": 1.0}, lambda m: m.ones(2, 3)),
    "Softmax": ({"dim": 1}, lambda m: m.ones(2, 3)),
    "LogSoftmax": ({"dim": 1}, lambda m: m.ones(2, 3)),
}
OPTIMIZERS: dict[str, dict[str, Any]] = {
    "SGD": {"lr": 0.1, "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.0},
    "Adam": {"lr": 0.1, "eps": 1e-8, "weight_decay": 0.0, "betas": (0.9, 0.999)},
    "AdamW": {"lr": 0.1, "eps": 1e-8, "weight_decay": 0.01, "betas": (0.9, 0.999)},
    "RMSprop": {"lr": 0.1, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0},
    "Adagrad": {"lr": 0.1, "lr_decay": 0.0, "weight_decay": 0.0, "eps": 1e-10},
}
WRONG = {
    int: (-1, 0, 2.5, "a", None),
    float: (-1.0, 2.0, "a", None),
    tuple: ((-0.1, 0.999), (0.9, 1.5), "a"),
}


def _cases(table: dict[str, Any], layers: bool) -> list[Any]:
    cases = []
    for name, entry in table.items():
        kwargs = entry[0] if layers else entry
        for argument, good in kwargs.items():
            for wrong in WRONG[type(good)]:
                cases.append(pytest.param(name, argument, wrong, id=f"{name}-{argument}={wrong!r}"))
    return cases


def _outcome(run: Any) -> tuple[str, Any]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return "works", run()
    except Exception as error:  # noqa: BLE001 - refusing is the outcome compared
        return "refuses", error


def _layer(m: Any, name: str, kwargs: dict[str, Any]) -> tuple[int, ...]:
    module = getattr(m.nn, name)(**kwargs)
    module.eval()
    return tuple(module(LAYERS[name][1](m)).shape)


def _optimizer(m: Any, name: str, kwargs: dict[str, Any]) -> list[float]:
    p = m.ones(3, requires_grad=True)
    optimizer = getattr(m.optim, name)([p], **kwargs)
    (p * p).sum().backward()
    optimizer.step()
    return [round(v, 6) for v in p.detach().numpy().tolist()]


def _compare(theirs: tuple[str, Any], ours: tuple[str, Any], argument: str) -> None:
    assert theirs[0] == ours[0], (
        f"PyTorch {theirs[0]} ({theirs[1]!r}), chainrule {ours[0]} ({ours[1]!r})"
    )
    if ours[0] == "works":
        assert str(ours[1]) == str(theirs[1])  # (as text: NaN equals NaN)
        return
    words = (argument, *ALSO_NAMED.get(argument, ()))
    if not any(word in str(ours[1]) for word in words):
        pytest.fail(f"the error doesn't name {argument!r}: {ours[1]}")


# where the refusal comes at the forward, the error names what the argument made
ALSO_NAMED = {
    "in_channels": ("channels",),
    "num_features": ("channels",),
    "num_embeddings": ("embeddings",),
    "start_dim": ("dim",),
    "end_dim": ("dim",),
}


@pytest.mark.parametrize("name, argument, wrong", _cases(LAYERS, layers=True))
def test_layer_arguments(name: str, argument: str, wrong: Any) -> None:
    kwargs = {**LAYERS[name][0], argument: wrong}
    _compare(
        _outcome(lambda: _layer(torch, name, kwargs)),
        _outcome(lambda: _layer(cr, name, kwargs)),
        argument,
    )


@pytest.mark.parametrize("name, argument, wrong", _cases(OPTIMIZERS, layers=False))
def test_optimizer_arguments(name: str, argument: str, wrong: Any) -> None:
    kwargs = {**OPTIMIZERS[name], argument: wrong}
    _compare(
        _outcome(lambda: _optimizer(torch, name, kwargs)),
        _outcome(lambda: _optimizer(cr, name, kwargs)),
        argument,
    )
