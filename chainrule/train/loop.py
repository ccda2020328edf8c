"""The flat training loop: one step, one epoch, ``evaluate`` and ``fit``, which stops a training
that diverges."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from chainrule import autograd, nn, optim
from chainrule.autograd.grad_mode import no_grad
from chainrule.optim.lr_scheduler import LRScheduler
from chainrule.tensor import Tensor
from chainrule.train.history import EpochRecord, History
from chainrule.train.optimizers import make_optimizer, make_scheduler
from chainrule.utils.data import DataLoader, TensorDataset

# An epoch whose mean training loss is this many times the first batch's has blown up: a
# cross-entropy that starts near ln(classes) never climbs that far while it is learning.
DIVERGENCE_FACTOR = 1e4


BatchCallback = Callable[[int, int, int, float], None]  # (epoch, batch, batches, loss)


class TrainingDivergedError(ArithmeticError):
    """``fit`` stopped because the loss became NaN or ±inf, or blew up (see DIVERGENCE_FACTOR).

    ``epoch`` and ``batch`` say where, ``loss`` is the offending value, ``lr`` the learning rate
    that was asked for, ``epochs`` the EpochRecords finished before it. The model's weights are
    whatever the last update left, so they are of no use: nothing should be saved.
    """

    def __init__(
        self, epoch: int, batch: int | None, loss: float, lr: float, epochs: tuple[Any, ...]
    ) -> None:
        self.epoch, self.batch, self.loss, self.lr, self.epochs = epoch, batch, loss, lr, epochs
        super().__init__(f"training diverged at epoch {epoch}: {self.reason}; try a smaller lr")

    @property
    def reason(self) -> str:
        """What went wrong, in a few words: ``loss is nan`` or ``loss blew up to 2e+05``."""
        if math.isfinite(self.loss):
            return f"loss blew up to {self.loss:.3g}"
        return f"loss is {self.loss}"


def _correct(logits: Tensor, labels: Tensor) -> int:
    return int(np.count_nonzero(np.argmax(logits._data, axis=1) == labels._data))


def training_step(
    model: nn.Module, optimizer: optim.Optimizer, loss_fn: nn.Module | None = None
) -> Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """``step(x, y) -> (loss, logits)``: zero_grad, forward, loss, backward (not the update)."""
    loss_fn = nn.CrossEntropyLoss() if loss_fn is None else loss_fn

    def step(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        optimizer.zero_grad()
        logits = model(x)
        loss = loss_fn(logits, y)
        loss.backward()
        return loss, logits

    return step


def run_epoch(
    model: nn.Module,
    batches: Iterable[tuple[Tensor, Tensor]],
    optimizer: optim.Optimizer,
    scheduler: LRScheduler | None = None,
    loss_fn: nn.Module | None = None,
    on_batch: BatchCallback | None = None,
    epoch: int = 1,
    total: int = 0,
    step: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]] | None = None,
) -> tuple[float, float]:
    """Train one pass over ``batches`` (zero_grad, forward, loss, backward, step, schedule);
    returns the sample-weighted mean loss and accuracy over the pass. ``step`` replaces the
    first four (a ``training_step``, perhaps under ``chainrule.autograd.replay``)."""
    step = training_step(model, optimizer, loss_fn) if step is None else step
    model.train()
    loss_sum, correct, seen = 0.0, 0, 0
    for index, (x, y) in enumerate(batches, start=1):
        loss, logits = step(x, y)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        value = float(loss._data)
        loss_sum += value * len(y)
        correct += _correct(logits, y)
        seen += len(y)
        if on_batch is not None:
            on_batch(epoch, index, total, value)
    return loss_sum / max(seen, 1), correct / max(seen, 1)


def evaluate(
    model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 1024, loss_fn: nn.Module | None = None
) -> tuple[float, float, int]:
    """(mean loss, accuracy, number correct) of ``model`` on ``x, y`` in eval mode, without a
    graph; the model's train/eval mode is restored afterwards."""
    loss_fn = nn.CrossEntropyLoss(reduction="sum") if loss_fn is None else loss_fn
    was_training = model.training
    model.eval()
    loss_sum, correct = 0.0, 0
    try:
        with no_grad():
            for start in range(0, len(y), batch_size):
                xb, yb = x[start : start + batch_size], y[start : start + batch_size]
                logits = model(xb)
                loss_sum += float(loss_fn(logits, yb)._data)
                correct += _correct(logits, yb)
    finally:
        model.train(was_training)
    n = max(len(y), 1)
    return loss_sum / n, correct / n, correct


def fit(
    model: nn.Module,
    train_data: tuple[Tensor, Tensor],
    test_data: tuple[Tensor, Tensor] | None = None,
    *,
    epochs: int = 10,
    batch_size: int = 32,
    lr: float = 0.01,
    optimizer: str | optim.Optimizer = "adam",
    schedule: str = "onecycle",
    weight_decay: float | None = None,
    seed: int = 0,
    on_batch: BatchCallback | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    replay: bool = True,
    divergence_factor: float | None = DIVERGENCE_FACTOR,
    first_epoch: int = 1,
) -> History:
    """Train ``model`` on ``train_data`` with cross-entropy, evaluating on ``test_data`` (the
    training data when None) after every epoch.

    Training that diverges raises :class:`TrainingDivergedError`: at once when a batch's loss
    is NaN or ±inf, and after an epoch whose mean training loss exceeds ``divergence_factor``
    times the first batch's loss (``None`` turns that second check off). The error carries
    the epoch, the loss and the epochs finished before it.

    Batches come from a DataLoader shuffled with ``seed``; dropout draws from chainrule's
    global generator, so ``manual_seed(seed)`` before building the model repeats a run
    exactly. The schedule is stepped after every batch. With ``replay`` the forward and
    backward of each batch run under ``chainrule.autograd.replay`` (the same numbers, bit for
    bit, dropout and BatchNorm included; a model it can't replay quietly runs eagerly).

    ``optimizer`` is a name (``make_optimizer`` builds it over the model's parameters) or an
    optimizer already built over them, e.g. with a state loaded to resume a training; the
    schedule then still runs from the start, peaking at ``lr``. ``first_epoch`` numbers the
    epochs from there (a resumed run continues the numbering).
    """
    if epochs < 1 or batch_size < 1 or not lr > 0:
        raise ValueError(
            f"fit: epochs ({epochs}) and batch_size ({batch_size}) must be at least "
            f"1 and lr ({lr}) positive"
        )
    test_data = train_data if test_data is None else test_data
    loader = DataLoader(TensorDataset(*train_data), batch_size=batch_size, shuffle=True, seed=seed)
    if isinstance(optimizer, optim.Optimizer):
        opt, optimizer = optimizer, type(optimizer).__name__.lower()
    else:
        opt = make_optimizer(optimizer, model.parameters(), lr, weight_decay)
    scheduler = make_scheduler(schedule, opt, lr, epochs * len(loader))
    step = training_step(model, opt)
    if replay:
        step = autograd.replay(step, warn=False)
    records: list[EpochRecord] = []
    correct = 0
    first_loss: list[float] = []

    def watch(epoch: int, batch: int, batches: int, value: float) -> None:
        if not math.isfinite(value):
            raise TrainingDivergedError(epoch, batch, value, lr, tuple(records))
        if not first_loss:
            first_loss.append(value)
        if on_batch is not None:
            on_batch(epoch, batch, batches, value)

    for epoch in range(first_epoch, first_epoch + epochs):
        start = time.perf_counter()
        train_loss, train_accuracy = run_epoch(
            model,
            loader,
            opt,
            scheduler,
            on_batch=watch,
            epoch=epoch,
            total=len(loader),
            step=step,
        )
        seconds = time.perf_counter() - start
        if divergence_factor is not None and train_loss > divergence_factor * max(
            first_loss[0], 1e-12
        ):
            raise TrainingDivergedError(epoch, None, train_loss, lr, tuple(records))
        test_loss, test_accuracy, correct = evaluate(model, *test_data)
        record = EpochRecord(
            epoch,
            train_loss,
            train_accuracy,
            test_loss,
            test_accuracy,
            float(opt.param_groups[0]["lr"]),
            seconds,
        )
        records.append(record)
        if on_epoch is not None:
            on_epoch(record)
    config = {
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "optimizer": optimizer,
        "schedule": schedule,
        "weight_decay": weight_decay,
        "seed": seed,
    }
    return History(
        config,
        tuple(records),
        sum(p.numel() for p in model.parameters()),
        correct,
        len(test_data[1]),
    )
