"""Training on the bundled data: the models (an MLP for any of the datasets, a small CNN for the
digits), a flat training loop ``fit`` that returns a per-epoch History, ``evaluate``, and the
progress bar and curves that ``chainrule train`` shows.

Examples
--------
>>> import chainrule as cr
>>> from chainrule.train import build_model, fit, load_data
>>> data = load_data("xor")
>>> _ = cr.manual_seed(0)
>>> history = fit(build_model("xor", "mlp"), data.train, data.test, epochs=150, batch_size=4,
...               lr=0.05, seed=0)
>>> history.final.test_accuracy
1.0
"""

from __future__ import annotations

import json
import math
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from chainrule import autograd, nn, optim
from chainrule.autograd.grad_mode import no_grad
from chainrule.optim.lr_scheduler import CosineAnnealingLR, LRScheduler, OneCycleLR
from chainrule.random import manual_seed
from chainrule.tensor import Tensor
from chainrule.utils.data import DataLoader, TensorDataset

__all__ = [
    "DATASETS",
    "DEFAULTS",
    "MODELS",
    "OPTIMIZERS",
    "SCHEDULES",
    "DIVERGENCE_FACTOR",
    "Checkpoint",
    "CheckpointMismatchError",
    "Data",
    "EpochRecord",
    "History",
    "ProgressBar",
    "TrainConfig",
    "TrainingDivergedError",
    "build_model",
    "digits_cnn",
    "evaluate",
    "fit",
    "history_figure",
    "load_checkpoint",
    "load_data",
    "make_optimizer",
    "make_scheduler",
    "mlp_for",
    "optimizer_path",
    "run_epoch",
    "save_checkpoint",
    "train",
]

DATASETS = ("digits", "xor", "moons", "spirals")
MODELS = ("mlp", "cnn")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("onecycle", "cosine", "constant")

# Hidden layer widths of the MLP for each dataset.
HIDDEN = {"digits": (128, 64), "xor": (8,), "moons": (32, 32), "spirals": (64, 64)}

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

# An epoch whose mean training loss is this many times the first batch's has blown up: a
# cross-entropy that starts near ln(classes) never climbs that far while it is learning.
DIVERGENCE_FACTOR = 1e4


# ---- data ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Data:
    """A dataset's train and test parts as (inputs, labels) tensors."""

    name: str
    train: tuple[Tensor, Tensor]
    test: tuple[Tensor, Tensor]
    classes: int
    description: str

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train[0].shape[1:])


def load_data(name: str, images: bool = False) -> Data:
    """The bundled dataset ``name`` with a fixed train/test split (the same on every machine).

    digits: scikit-learn's 8×8 digits, 1,438 train and 359 test images, flat (N, 64) or with
    ``images=True`` (N, 1, 8, 8). xor: the four XOR points, which are also the test set.
    moons: 400 training points (noise 0.15, seed 0) and 400 test points drawn afresh (seed 1).
    spirals: three arms, 600 training points (angle noise 0.2, seed 0), 600 test points (seed 1).
    """
    from chainrule import datasets

    if name == "digits":
        train = datasets.digits(train=True, flat=not images)
        test = datasets.digits(train=False, flat=not images)
        return Data(name, train, test, 10, "scikit-learn's 8×8 digits: 1,438 train, 359 test")
    if name == "xor":
        points = datasets.xor()
        return Data(name, points, points, 2, "XOR's four points (trained and tested on)")
    if name == "moons":
        return Data(
            name,
            datasets.moons(400, noise=0.15, seed=0),
            datasets.moons(400, noise=0.15, seed=1),
            2,
            "two moons, noise 0.15: 400 train, 400 test points",
        )
    if name == "spirals":
        return Data(
            name,
            datasets.spirals(600, classes=3, seed=0),
            datasets.spirals(600, classes=3, seed=1),
            3,
            "three spirals, angle noise 0.2: 600 train, 600 test points",
        )
    raise ValueError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}")


# ---- models ----------------------------------------------------------------------------------
def mlp_for(
    in_features: int,
    classes: int,
    hidden: Sequence[int] = (128, 64),
    activation: type[nn.Module] = nn.ReLU,
) -> nn.Sequential:
    """Linear layers of the given ``hidden`` widths with ``activation`` between them, ending
    in ``classes`` logits (no softmax: CrossEntropyLoss takes logits).

    Examples
    --------
    >>> from chainrule.train import mlp_for
    >>> mlp_for(64, 10)
    Sequential(
      (0): Linear(in_features=64, out_features=128, bias=True)
      (1): ReLU()
      (2): Linear(in_features=128, out_features=64, bias=True)
      (3): ReLU()
      (4): Linear(in_features=64, out_features=10, bias=True)
    )
    """
    layers: list[nn.Module] = []
    width = in_features
    for size in hidden:
        layers += [nn.Linear(width, size), activation()]
        width = size
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)


def digits_cnn(classes: int = 10, dropout: float = 0.1) -> nn.Sequential:
    """A small CNN for 1×8×8 images (19,354 parameters): two 3×3 conv-BatchNorm-ReLU blocks,
    2×2 max pooling, dropout, a third block, global average pooling and a linear classifier.

    Examples
    --------
    >>> from chainrule.train import digits_cnn
    >>> sum(p.numel() for p in digits_cnn().parameters())
    19354
    """
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),  # (B, 16, 8, 8)
        nn.Conv2d(16, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),  # (B, 32, 8, 8)
        nn.MaxPool2d(2),
        nn.Dropout(dropout),  # (B, 32, 4, 4)
        nn.Conv2d(32, 48, 3, padding=1),
        nn.BatchNorm2d(48),
        nn.ReLU(),  # (B, 48, 4, 4)
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),  # (B, 48)
        nn.Linear(48, classes),
    )


def build_model(dataset: str, model: str = "mlp") -> nn.Module:
    """The architecture ``chainrule train`` uses for ``dataset`` (initialised from chainrule's
    global generator: call ``manual_seed`` first for a repeatable start)."""
    if model == "cnn":
        if dataset != "digits":
            raise ValueError(
                f"the CNN is for the digits images; {dataset} has 2-D points: use --model mlp"
            )
        return digits_cnn()
    if model != "mlp":
        raise ValueError(f"unknown model {model!r}: choose one of {', '.join(MODELS)}")
    if dataset not in HIDDEN:
        raise ValueError(f"unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}")
    in_features = 64 if dataset == "digits" else 2
    activation = nn.Tanh if dataset == "xor" else nn.ReLU  # four points: no dead units
    return mlp_for(
        in_features,
        3 if dataset == "spirals" else (10 if dataset == "digits" else 2),
        HIDDEN[dataset],
        activation,
    )


# ---- optimizer and schedule ------------------------------------------------------------------
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


# ---- the loop --------------------------------------------------------------------------------
@dataclass(frozen=True)
class EpochRecord:
    """One epoch's numbers. Train loss and accuracy are averages over the epoch's batches as
    they were trained (train mode, weights still moving); test ones are measured after the
    epoch in eval mode."""

    epoch: int
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float
    lr: float
    seconds: float


@dataclass(frozen=True)
class History:
    """What ``fit`` did: its settings and one EpochRecord per epoch."""

    config: dict[str, Any]
    epochs: tuple[EpochRecord, ...]
    parameters: int
    test_correct: int = 0
    test_size: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def final(self) -> EpochRecord:
        return self.epochs[-1]

    @property
    def seconds(self) -> float:
        return sum(record.seconds for record in self.epochs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": dict(self.config),
            "parameters": self.parameters,
            "epochs": [asdict(record) for record in self.epochs],
            "final": {
                "epoch": self.final.epoch,
                "test_accuracy": self.final.test_accuracy,
                "test_loss": self.final.test_loss,
                "test_correct": self.test_correct,
                "test_size": self.test_size,
                "train_accuracy": self.final.train_accuracy,
                "train_loss": self.final.train_loss,
            },
            "seconds": self.seconds,
            **self.extra,
        }


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
    bit; a model it can't replay, with dropout or BatchNorm, quietly runs eagerly).

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


# ---- checkpoints -----------------------------------------------------------------------------
CONFIG_KEY = "chainrule.train"  # the checkpoint's __metadata__: the run's settings as JSON
EPOCHS_KEY = "chainrule.train.epochs_done"
RUN_KEY = "chainrule.train.run"  # the same token in a checkpoint and its optimizer file


def optimizer_path(path: str | os.PathLike[str]) -> Path:
    """Where the optimizer state of checkpoint ``path`` lives: beside it, ``NAME.optimizer.EXT``.

    It is a file of its own so that the checkpoint holds the model's state dict alone and
    loads into the model (and into PyTorch's) as it is.

    Examples
    --------
    >>> from chainrule.train import optimizer_path
    >>> str(optimizer_path("runs/chainrule-digits-mlp.safetensors"))
    'runs/chainrule-digits-mlp.optimizer.safetensors'
    """
    path = Path(path)
    return path.with_name(f"{path.stem}.optimizer{path.suffix}")


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    optimizer: optim.Optimizer,
    history: History,
    epochs_done: int,
) -> Path:
    """Save the model's state dict to ``path`` and the optimizer's to :func:`optimizer_path`,
    each whole or not at all; the settings and the epoch count go in the metadata."""
    from chainrule.serialization import save

    token = secrets.token_hex(8)
    meta = {CONFIG_KEY: json.dumps(history.config), EPOCHS_KEY: str(epochs_done), RUN_KEY: token}
    save(optimizer.state_dict(), optimizer_path(path), metadata={RUN_KEY: token})
    save(model.state_dict(), path, metadata=meta)
    return Path(path)


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint written by ``chainrule train`` (:func:`save_checkpoint`), read back.

    ``config`` holds the run's settings (dataset, model, optimizer, ...), ``epochs_done`` the
    epochs trained in all, ``optimizer_state`` the optimizer's state dict (None when its file
    is missing or belongs to another save: ``note`` says which).
    """

    path: Path
    config: dict[str, Any]
    epochs_done: int
    model_state: dict[str, Any]
    optimizer_state: dict[str, Any] | None = None
    note: str | None = None

    @property
    def dataset(self) -> str:
        return str(self.config["dataset"])

    @property
    def model(self) -> str:
        return str(self.config["model"])

    def build(self) -> nn.Module:
        """The model of the checkpoint, with its weights."""
        model = build_model(self.dataset, self.model)
        self.load_into(model)
        return model

    def load_into(self, model: nn.Module) -> None:
        try:
            model.load_state_dict(self.model_state)
        except (KeyError, ValueError, RuntimeError) as error:
            problem = " ".join(str(error).split())
            raise CheckpointMismatchError(
                f"{self.path}: doesn't fit the {self.dataset} {self.model} ({problem})"
            ) from None

    def restore(self, model: nn.Module, optimizer: optim.Optimizer, config: TrainConfig) -> None:
        """Load the weights into ``model`` and the optimizer state into ``optimizer``, after
        checking that ``config`` trains the same model with the same optimizer."""
        for key in ("dataset", "model", "optimizer"):
            if getattr(config, key) != self.config.get(key):
                raise CheckpointMismatchError(
                    f"{self.path} is a {self.dataset} {self.model} checkpoint trained with "
                    f"{self.config.get('optimizer')}; it can't resume a run with {key} "
                    f"{getattr(config, key)}"
                )
        self.load_into(model)
        if self.optimizer_state is not None:
            try:
                optimizer.load_state_dict(self.optimizer_state)
            except (KeyError, ValueError, TypeError) as error:
                raise CheckpointMismatchError(
                    f"{optimizer_path(self.path)}: optimizer state that doesn't fit ({error})"
                ) from None


class CheckpointMismatchError(ValueError):
    """A checkpoint of another model (or optimizer) than the one asked for."""


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint written by ``chainrule train``, with its optimizer state when the
    file beside it is the one saved with it.

    Raises ``FileNotFoundError`` or ``chainrule.serialization.CheckpointError`` (a file that
    isn't a checkpoint), both naming ``path``, and CheckpointError for a checkpoint without
    ``chainrule train``'s settings (a state dict saved by hand: load it with
    ``chainrule.load`` into ``build_model(DATASET, MODEL)``).
    """
    from chainrule.serialization import CheckpointError, load, load_metadata

    path = Path(path)
    state = load(path)
    meta = load_metadata(path)
    try:
        config = json.loads(meta[CONFIG_KEY])
        epochs_done = int(meta.get(EPOCHS_KEY, config["epochs"]))
        config["dataset"], config["model"]  # noqa: B018 - both must be there
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(
            path, "has no 'chainrule train' settings: not a checkpoint that chainrule train wrote"
        ) from None
    companion = optimizer_path(path)
    optimizer_state, note = None, None
    if not companion.is_file():
        note = f"no optimizer state beside it ({companion}): the optimizer starts afresh"
    elif load_metadata(companion).get(RUN_KEY) != meta.get(RUN_KEY):
        note = f"{companion} was saved with another checkpoint: the optimizer starts afresh"
    else:
        optimizer_state = load(companion)
    return Checkpoint(path, config, epochs_done, state, optimizer_state, note)


# ---- progress and curves ---------------------------------------------------------------------
class ProgressBar:
    """A one-line text progress bar redrawn in place (``\\r``), at most ten times a second.

    Shown only when ``enabled`` (by default: when ``stream`` is a terminal)."""

    def __init__(
        self,
        epochs: int,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        width: int = 24,
    ) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.enabled = (
            (hasattr(self.stream, "isatty") and self.stream.isatty())
            if enabled is None
            else enabled
        )
        self.epochs = epochs
        self.width = width
        self._last = -math.inf
        self._drawn = False

    def update(self, epoch: int, batch: int, batches: int, loss: float) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and batch < batches):
            return
        self._last = now
        filled = self.width * batch // max(batches, 1)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(
            f"\repoch {epoch}/{self.epochs} [{bar}] {batch}/{batches} loss {loss:.4f}"
        )
        self.stream.flush()
        self._drawn = True

    def clear(self) -> None:
        """Erase the bar (before a line of other output, and at the end)."""
        if self._drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._drawn = False


def history_figure(history: History, title: str | None = None) -> Any:
    """A matplotlib Figure: loss (left) and accuracy (right) per epoch, train and test."""
    from chainrule.explain.curves import MATPLOTLIB_MISSING

    try:
        import matplotlib
    except ImportError as error:
        raise ImportError(MATPLOTLIB_MISSING) from error
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r.epoch for r in history.epochs]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    for axes, key, label in ((left, "loss", "cross-entropy loss"), (right, "accuracy", "accuracy")):
        for part, style in (("train", "-"), ("test", "--")):
            values = [getattr(r, f"{part}_{key}") for r in history.epochs]
            axes.plot(
                epochs,
                values,
                style,
                marker="o" if len(epochs) <= 30 else None,
                markersize=3,
                linewidth=1.8,
                label=part,
            )
        axes.set_xlabel("epoch")
        axes.set_ylabel(label)
        axes.grid(True, alpha=0.3)
        axes.legend()
    left.set_yscale("log")
    config = history.config
    name = str(config.get("model", "model")).upper()
    figure.suptitle(
        title
        or (
            f"{name} ({history.parameters:,} parameters) on "
            f"{config.get('dataset', 'data')}: final test accuracy "
            f"{100 * history.final.test_accuracy:.2f} %"
        )
    )
    figure.tight_layout()
    return figure
