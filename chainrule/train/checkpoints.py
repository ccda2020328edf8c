"""Checkpoints of ``chainrule train``: the model's state dict with the run's settings in its
metadata, and the optimizer's state in a file beside it; saved and read back."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chainrule import nn, optim
from chainrule.train.history import History
from chainrule.train.models import build_model

if TYPE_CHECKING:
    from chainrule.train.run import TrainConfig

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
