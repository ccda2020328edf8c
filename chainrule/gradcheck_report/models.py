"""The gradient check of a small float64 model's parameters on the digits."""

from __future__ import annotations

import numpy as np

from chainrule import nn
from chainrule.gradcheck_report.checks import ATOL, EPS, RTOL, GradcheckReport, check_parameters

MODELS = ("mlp", "cnn")


def model_report(
    model: str = "mlp",
    samples: int = 8,
    eps: float = EPS,
    rtol: float = RTOL,
    atol: float = ATOL,
    max_elements: int | None = None,
    seed: int = 0,
) -> GradcheckReport:
    """Check every parameter of a float64 model under cross-entropy on the first ``samples``
    training digits.

    ``mlp``: 64-32-10 with tanh (smooth, so no kink sits near a finite-difference step), every
    element. ``cnn``: ``chainrule.train.digits_cnn`` (BatchNorm in train mode, dropout off so
    the loss is deterministic), ``max_elements`` (default 32) random elements per parameter.
    """
    from chainrule.datasets import digits
    from chainrule.random import manual_seed
    from chainrule.train import digits_cnn, mlp_for

    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}: choose one of {', '.join(MODELS)}")
    manual_seed(seed)
    x, y = digits(train=True, flat=model == "mlp", dtype=np.float64)
    x, y = x[:samples], y[:samples]
    if model == "mlp":
        network: nn.Module = mlp_for(64, 10, hidden=(32,), activation=nn.Tanh).double()
        subject = f"MLP 64-32-10 (tanh), float64, cross-entropy on {len(y)} digits samples"
    else:
        network = digits_cnn().double().train()
        for module in network.modules():
            if isinstance(module, nn.Dropout):
                module.eval()
        max_elements = 32 if max_elements is None else max_elements
        subject = (
            f"digits CNN ({sum(p.numel() for p in network.parameters())} parameters, "
            f"BatchNorm in train mode, dropout off), float64, cross-entropy on {len(y)} "
            "digits samples"
        )
    loss_fn = nn.CrossEntropyLoss()
    checks = check_parameters(
        lambda: loss_fn(network(x), y),
        list(network.named_parameters()),
        eps,
        rtol,
        atol,
        max_elements,
        seed,
    )
    return GradcheckReport(subject, checks, eps, rtol, atol)
