"""The bundled datasets as ``chainrule train`` trains on them: a fixed train/test split each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chainrule.tensor import Tensor

DATASETS = ("digits", "xor", "moons", "spirals")


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
    # the drawn datasets: (draw with a seed, classes, description); train seed 0, test seed 1
    drawn: dict[str, tuple[Callable[[int], Any], int, str]] = {
        "moons": (
            lambda seed: datasets.moons(400, noise=0.15, seed=seed),
            2,
            "two moons, noise 0.15: 400 train, 400 test points",
        ),
        "spirals": (
            lambda seed: datasets.spirals(600, classes=3, seed=seed),
            3,
            "three spirals, angle noise 0.2: 600 train, 600 test points",
        ),
    }
    if name in drawn:
        draw, classes, description = drawn[name]
        return Data(name, draw(0), draw(1), classes, description)
    raise ValueError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}")
