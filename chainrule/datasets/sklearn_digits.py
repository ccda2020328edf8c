"""scikit-learn's 8×8 handwritten digits (1,797 images), scaled to [0, 1], with one fixed
train/test split.

The images ship with chainrule (``digits.npz`` beside this file, 45 kB: the pixel counts 0..16
and the labels, in ``sklearn.datasets.load_digits()``'s order), so neither scikit-learn nor a
download is needed. They are the test part of the UCI ML Repository's "Optical Recognition of
Handwritten Digits" (E. Alpaydin, C. Kaynak, 1998; CC BY 4.0), as scikit-learn copies it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from chainrule import _dtype
from chainrule.tensor import Tensor

__all__ = ["TEST_FRACTION", "digits", "digits_split_indices"]

TEST_FRACTION = 0.2
_SPLIT_SEED = 0
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
DIGITS_FILE = Path(__file__).with_name("digits.npz")


def _splitmix64(values: np.ndarray, seed: int) -> np.ndarray:
    """SplitMix64's output function of ``value + seed·γ``: a fixed, NumPy-version-proof hash."""
    with np.errstate(over="ignore"):
        z = values.astype(np.uint64) + np.uint64(seed + 1) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return (z ^ (z >> np.uint64(31))) & _MASK64


def _split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split: within each class, samples ordered by their index's SplitMix64 hash
    (seed 0); the first round(20 % of the class) go to test. Both parts keep the original order.
    """
    test = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        ranked = members[np.argsort(_splitmix64(members, _SPLIT_SEED), kind="stable")]
        test.append(ranked[: int(round(TEST_FRACTION * len(members)))])
    test_index = np.sort(np.concatenate(test))
    train_index = np.setdiff1d(np.arange(len(labels)), test_index)
    return train_index, test_index


@functools.lru_cache(maxsize=1)
def _load() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    with np.load(DIGITS_FILE, allow_pickle=False) as bundled:
        pixels, labels = bundled["pixels"], bundled["labels"]
    images = (pixels.astype(np.float64) / 16.0).reshape(-1, 1, 8, 8)
    labels = labels.astype(np.int64)
    train_index, test_index = _split(labels)
    for array in (images, labels, train_index, test_index):
        array.flags.writeable = False  # cached: hand out copies only
    return images, labels, train_index, test_index


def digits_split_indices() -> tuple[np.ndarray, np.ndarray]:
    """The indices into ``sklearn.datasets.load_digits()`` of the train and test samples."""
    _, _, train_index, test_index = _load()
    return train_index.copy(), test_index.copy()


def digits(train: bool = True, flat: bool = False, dtype: Any = None) -> tuple[Tensor, Tensor]:
    """The 8×8 digits: images in [0, 1] (pixel / 16) and int64 labels 0..9.

    The split is fixed: stratified by class, 20 % test (1,438 train and 359 test images),
    chosen by hashing each sample's index (SplitMix64, seed 0) — no random generator, so
    every machine and NumPy version gets the same split. Images are (N, 1, 8, 8), or (N, 64)
    with ``flat=True``; ``dtype`` defaults to chainrule's default float dtype. The images
    are bundled: scikit-learn is not needed.

    Examples
    --------
    >>> from chainrule.datasets import digits
    >>> x, y = digits(train=False, flat=True)
    >>> x.shape, y.shape, float(x.max()) <= 1.0
    ((359, 64), (359,), True)
    """
    images, labels, train_index, test_index = _load()
    index = train_index if train else test_index
    x = images[index].astype(
        _dtype.get_default_dtype() if dtype is None else _dtype.as_dtype(dtype)
    )
    if flat:
        x = x.reshape(len(index), 64)
    return Tensor._wrap(x), Tensor._wrap(labels[index].copy())
