"""What a training did, epoch by epoch: the records ``fit`` returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


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
