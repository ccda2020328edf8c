"""The optimizers and learning-rate schedules ``chainrule train`` offers, by name."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chainrule import optim
from chainrule.optim.lr_scheduler import CosineAnnealingLR, LRScheduler, OneCycleLR

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("onecycle", "cosine", "constant")


def make_optimizer(
    name: str, params: Iterable[Any], lr: float, weight_decay: float | None = None
) -> optim.Optimizer:
    """SGD (momentum 0.9), Adam or AdamW; ``weight_decay=None`` keeps PyTorch's default."""
    decay = 0.0 if weight_decay is None else weight_decay
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=0.9, weight_decay=decay)
    if name == "adam":
        return optim.Adam(params, lr=lr, weight_decay=decay)
    if name == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=1e-2 if weight_decay is None else decay)
    raise ValueError(f"unknown optimizer {name!r}: choose one of {', '.join(OPTIMIZERS)}")


def make_scheduler(
    name: str, optimizer: optim.Optimizer, lr: float, total_steps: int
) -> LRScheduler | None:
    """A schedule stepped after every batch: 1cycle up to ``lr`` (the default), cosine
    annealing from ``lr`` to 0, or none ("constant")."""
    if name == "onecycle":
        return OneCycleLR(optimizer, max_lr=lr, total_steps=total_steps)
    if name == "cosine":
        return CosineAnnealingLR(optimizer, T_max=total_steps)
    if name == "constant":
        return None
    raise ValueError(f"unknown schedule {name!r}: choose one of {', '.join(SCHEDULES)}")
