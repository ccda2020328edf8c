"""Data that ships with chainrule or is generated on the spot: the seeds' worked examples, XOR,
two moons, spirals, scikit-learn's 8×8 digits; plus MNIST and Fashion-MNIST from IDX files.

Nothing here touches the network unless a dataset is created with ``download=True``.
"""

from chainrule.datasets.idx import IDXError, read_idx, write_idx
from chainrule.datasets.mnist import MNIST, DownloadError, FashionMNIST, download_file
from chainrule.datasets.seeds import (
    ONE_WEIGHT,
    TWO_LAYER,
    TWO_LAYER_IDENTITY_OUTPUT,
    OneWeightExample,
    TwoLayerExample,
)
from chainrule.datasets.sklearn_digits import digits, digits_split_indices
from chainrule.datasets.synthetic import moons, spirals, xor

__all__ = [
    "MNIST",
    "ONE_WEIGHT",
    "TWO_LAYER",
    "TWO_LAYER_IDENTITY_OUTPUT",
    "DownloadError",
    "FashionMNIST",
    "IDXError",
    "OneWeightExample",
    "TwoLayerExample",
    "digits",
    "digits_split_indices",
    "download_file",
    "moons",
    "read_idx",
    "spirals",
    "write_idx",
    "xor",
]
