"""The models ``chainrule train`` trains: an MLP for any of the datasets, a small CNN for the
digits."""

from __future__ import annotations

from collections.abc import Sequence

from chainrule import nn
from chainrule.train.data import DATASETS

MODELS = ("mlp", "cnn")

# Hidden layer widths of the MLP for each dataset.
HIDDEN = {"digits": (128, 64), "xor": (8,), "moons": (32, 32), "spirals": (64, 64)}


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
