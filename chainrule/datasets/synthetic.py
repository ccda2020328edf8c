"""Small 2-D classification problems generated from a seed: XOR, two moons and k spirals.

Every generator uses its own ``numpy.random.default_rng(seed)``, never the global generator,
so the same arguments give the same arrays. Inputs come back as float tensors of shape (N, 2)
and labels as int64 class indices of shape (N,), in a shuffled order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import _dtype
from chainrule.tensor import Tensor

__all__ = ["moons", "spirals", "xor"]


def _float(dtype: Any) -> np.dtype:
    return _dtype.get_default_dtype() if dtype is None else _dtype.as_dtype(dtype)


def _finish(
    points: np.ndarray, labels: np.ndarray, rng: np.random.Generator, dtype: Any
) -> tuple[Tensor, Tensor]:
    order = rng.permutation(len(labels))
    return (
        Tensor._wrap(points[order].astype(_float(dtype))),
        Tensor._wrap(labels[order].astype(np.int64)),
    )


def _class_sizes(n_samples: int, classes: int) -> np.ndarray:
    if n_samples < classes:
        raise ValueError(
            f"need at least one sample per class: n_samples={n_samples}, classes={classes}"
        )
    sizes = np.full(classes, n_samples // classes)
    sizes[: n_samples % classes] += 1  # the first classes take the remainder
    return sizes


def xor(dtype: Any = None) -> tuple[Tensor, Tensor]:
    """The four XOR points (0,0)→0, (0,1)→1, (1,0)→1, (1,1)→0, in that order.

    Examples
    --------
    >>> from chainrule.datasets import xor
    >>> x, y = xor()
    >>> x.tolist(), y.tolist()
    ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0])
    """
    points = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=_float(dtype))
    return Tensor._wrap(points), Tensor._wrap(np.array([0, 1, 1, 0], dtype=np.int64))


def moons(
    n_samples: int = 200, noise: float = 0.1, seed: int = 0, dtype: Any = None
) -> tuple[Tensor, Tensor]:
    """Two interleaving half circles.

    Class 0 lies on the upper unit half circle (cos θ, sin θ) and class 1 on the lower one
    shifted right and up, (1 − cos θ, ½ − sin θ), with θ evenly spaced over [0, π] in each
    class; then Gaussian noise of standard deviation ``noise`` is added to both coordinates.
    The classes differ in size by at most one (class 0 takes the odd sample).

    Examples
    --------
    >>> from chainrule.datasets import moons
    >>> x, y = moons(100, seed=0)
    >>> x.shape, int(y.sum())
    ((100, 2), 50)
    """
    rng = np.random.default_rng(seed)
    n0, n1 = _class_sizes(n_samples, 2)
    theta0 = np.linspace(0.0, np.pi, n0)
    theta1 = np.linspace(0.0, np.pi, n1)
    upper = np.stack([np.cos(theta0), np.sin(theta0)], axis=1)
    lower = np.stack([1.0 - np.cos(theta1), 0.5 - np.sin(theta1)], axis=1)
    points = np.concatenate([upper, lower]) + noise * rng.standard_normal((n_samples, 2))
    labels = np.repeat([0, 1], [n0, n1])
    return _finish(points, labels, rng, dtype)


def spirals(
    n_samples: int = 300,
    classes: int = 3,
    noise: float = 0.2,
    turns: float = 0.875,
    seed: int = 0,
    dtype: Any = None,
) -> tuple[Tensor, Tensor]:
    """``classes`` spiral arms wound around the origin, one per class.

    Point j of the m points of class k has radius r = (j + 1) / m and angle
    θ = 2πk / classes + 2π·turns·r + noise·ε with ε ~ N(0, 1), so the arms start evenly spaced
    around the origin and each winds ``turns`` of a full turn; the point is r·(cos θ, sin θ).
    Noise is in the angle (radians), so arms stay apart far from the centre.

    Examples
    --------
    >>> from chainrule.datasets import spirals
    >>> x, y = spirals(300, classes=3, seed=0)
    >>> x.shape, sorted(set(y.tolist()))
    ((300, 2), [0, 1, 2])
    """
    if classes < 2:
        raise ValueError(f"spirals: need at least 2 classes, got {classes}")
    rng = np.random.default_rng(seed)
    sizes = _class_sizes(n_samples, classes)
    radius = np.concatenate([(np.arange(m) + 1.0) / m for m in sizes])
    labels = np.repeat(np.arange(classes), sizes)
    theta = (
        2 * np.pi * labels / classes
        + 2 * np.pi * turns * radius
        + noise * rng.standard_normal(n_samples)
    )
    points = radius[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    return _finish(points, labels, rng, dtype)
