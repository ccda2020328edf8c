"""One run of ``chainrule train``: its settings (``TrainConfig``, the per-dataset DEFAULTS) and
``train``, which seeds, loads the data, builds the model, fits it and saves the checkpoint."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from chainrule import nn
from chainrule.random import manual_seed
from chainrule.train.checkpoints import Checkpoint, save_checkpoint
from chainrule.train.data import Data, load_data
from chainrule.train.history import EpochRecord, History
from chainrule.train.loop import BatchCallback, fit
from chainrule.train.models import build_model
from chainrule.train.optimizers import make_optimizer

# (epochs, batch_size, Adam/AdamW learning rate) that solve each problem from any seed we
# tried; SGD (with momentum 0.9) takes ten times the rate.
DEFAULTS = {
    ("digits", "mlp"): (20, 32, 0.01),
    ("digits", "cnn"): (10, 32, 0.01),
    ("xor", "mlp"): (150, 4, 0.05),
    ("moons", "mlp"): (30, 32, 0.01),
    ("spirals", "mlp"): (60, 32, 0.01),
}
SGD_LR_FACTOR = 10.0


@dataclass(frozen=True)
class TrainConfig:
    """Everything ``train`` needs; None means the dataset's default (see DEFAULTS)."""

    dataset: str = "digits"
    model: str = "mlp"
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    optimizer: str = "adam"
    schedule: str = "onecycle"
    weight_decay: float | None = None
    seed: int = 0

    def resolved(self) -> TrainConfig:
        """The config with every None default filled in."""
        if (self.dataset, self.model) not in DEFAULTS:
            build_model(self.dataset, self.model)  # raises the error that names the problem
        epochs, batch_size, lr = DEFAULTS[(self.dataset, self.model)]
        if self.optimizer == "sgd":
            lr *= SGD_LR_FACTOR
        return TrainConfig(
            self.dataset,
            self.model,
            epochs if self.epochs is None else self.epochs,
            batch_size if self.batch_size is None else self.batch_size,
            lr if self.lr is None else self.lr,
            self.optimizer,
            self.schedule,
            self.weight_decay,
            self.seed,
        )


def train(
    config: TrainConfig = TrainConfig(),
    on_batch: BatchCallback | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    data: Data | None = None,
    *,
    resume: Checkpoint | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    on_start: Callable[[nn.Module], None] | None = None,
) -> tuple[nn.Module, History]:
    """Seed, load the data, build the model and fit it: what ``chainrule train`` runs.

    ``resume`` (a :class:`Checkpoint` from :func:`load_checkpoint`) starts from its weights,
    optimizer state and epoch count instead of a fresh model: ``config.epochs`` more epochs,
    numbered on from the checkpoint's, with the schedule run afresh over them; its dataset,
    model and optimizer must be ``config``'s. ``checkpoint`` saves the trained model there
    afterwards (:func:`save_checkpoint`). ``on_start(model)`` runs just before training.

    Raises :class:`TrainingDivergedError` when the loss becomes NaN/inf or blows up (see
    :func:`fit`); nothing is saved then.

    Examples
    --------
    >>> from chainrule.train import TrainConfig, train
    >>> model, history = train(TrainConfig(dataset="moons", epochs=5))
    >>> history.final.test_accuracy > 0.85
    True
    """
    config = config.resolved()
    data = load_data(config.dataset, images=config.model == "cnn") if data is None else data
    manual_seed(config.seed)
    model = build_model(config.dataset, config.model)
    opt = make_optimizer(
        config.optimizer, model.parameters(), config.lr or 0.0, config.weight_decay
    )
    done = 0
    if resume is not None:
        resume.restore(model, opt, config)
        done = resume.epochs_done
    if on_start is not None:
        on_start(model)
    history = fit(
        model,
        data.train,
        data.test,
        epochs=config.epochs or 1,
        batch_size=config.batch_size or 1,
        lr=config.lr or 0.0,
        optimizer=opt,
        schedule=config.schedule,
        weight_decay=config.weight_decay,
        seed=config.seed,
        on_batch=on_batch,
        on_epoch=on_epoch,
        first_epoch=done + 1,
    )
    full = {"dataset": config.dataset, "model": config.model, **history.config}
    full["optimizer"] = config.optimizer
    history = History(
        full, history.epochs, history.parameters, history.test_correct, history.test_size
    )
    if checkpoint is not None:
        save_checkpoint(checkpoint, model, opt, history, done + len(history.epochs))
    return model, history
