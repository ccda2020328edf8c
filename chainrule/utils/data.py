"""Datasets and the DataLoader that batches them, as ``torch.utils.data`` (in-process only)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from chainrule import random as _random
from chainrule.tensor import Tensor

__all__ = [
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "Subset",
    "TensorDataset",
    "default_collate",
    "random_split",
]


class Dataset:
    """A map-style dataset: ``dataset[i]`` is one sample and ``len(dataset)`` their number.

    Subclasses implement ``__getitem__`` and ``__len__``. A subclass may also implement
    ``_get_batch(index)`` returning the whole batch for an integer array ``index`` at once; the
    DataLoader then skips the per-sample loop (TensorDataset and the MNIST classes do).
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


def _as_array(value: Any) -> np.ndarray:
    if isinstance(value, Tensor):
        return value._data
    if isinstance(value, (np.ndarray, np.generic)):
        return np.asarray(value)
    return Tensor(value)._data  # Python data: the dtypes chainrule.tensor() would give


def _check_index(index: int, length: int, what: str) -> int:
    i = int(index)
    if not -length <= i < length:
        raise IndexError(f"{what}: index {i} is out of range for {length} samples")
    return i + length if i < 0 else i


class TensorDataset(Dataset):
    """Samples are the i-th rows of equally long tensors: ``dataset[i] == (x[i], y[i])``.

    Samples are detached from any graph the tensors belong to. Arrays are accepted too.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.utils.data import TensorDataset
    >>> ds = TensorDataset(cr.zeros(5, 3), cr.arange(5))
    >>> len(ds), ds[2][0].shape, ds[2][1].item()
    (5, (3,), 2)
    """

    def __init__(self, *tensors: Tensor | np.ndarray) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        arrays = [_as_array(t) for t in tensors]
        for position, array in enumerate(arrays):
            if array.ndim == 0:
                raise ValueError(
                    f"TensorDataset: tensor {position} is 0-d; samples are rows of "
                    "the first dimension, so each tensor needs at least one"
                )
        lengths = [a.shape[0] for a in arrays]
        if len(set(lengths)) != 1:
            raise ValueError(
                f"TensorDataset: all tensors must have the same size in dimension 0, got {lengths}"
            )
        self._arrays = tuple(arrays)
        self.tensors = tuple(
            t if isinstance(t, Tensor) else Tensor._wrap(a)
            for t, a in zip(tensors, arrays, strict=True)
        )

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        i = _check_index(index, len(self), "TensorDataset")
        return tuple(Tensor._wrap(np.array(a[i])) for a in self._arrays)

    def __len__(self) -> int:
        return int(self._arrays[0].shape[0])

    def _get_batch(self, index: np.ndarray) -> tuple[Tensor, ...]:
        return tuple(Tensor._wrap(a[index]) for a in self._arrays)  # fancy indexing copies


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int] | np.ndarray) -> None:
        self.dataset = dataset
        index = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if index.size and (index.min() < -n or index.max() >= n):
            raise IndexError(
                f"Subset: indices must lie in [-{n}, {n}) for a dataset of {n} samples"
            )
        self.indices = np.where(index < 0, index + n, index)

    def __getitem__(self, index: int) -> Any:
        i = _check_index(index, len(self), "Subset")
        return self.dataset[int(self.indices[i])]

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def _get_batch(self, index: np.ndarray) -> Any:
        return _fetch_batch(self.dataset, self.indices[index])


class ConcatDataset(Dataset):
    """Several datasets one after the other."""

    def __init__(self, datasets: Sequence[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset needs at least one dataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return int(self.cumulative_sizes[-1])

    def __getitem__(self, index: int) -> Any:
        i = _check_index(index, len(self), "ConcatDataset")
        part = int(np.searchsorted(self.cumulative_sizes, i, side="right"))
        start = self.cumulative_sizes[part - 1] if part else 0
        return self.datasets[part][i - start]


def _fetch_batch(dataset: Dataset, index: np.ndarray) -> Any:
    """The batch at ``index`` from the dataset's own batch hook, or None if it has none."""
    hook = getattr(dataset, "_get_batch", None)
    return None if hook is None else hook(index)


def _rng(generator: np.random.Generator | int | None) -> np.random.Generator:
    if generator is None:
        return _random.generator()
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.default_rng(int(generator))
    raise TypeError(
        f"generator must be a numpy.random.Generator or an int seed, got {type(generator).__name__}"
    )


def random_split(
    dataset: Dataset,
    lengths: Sequence[int | float],
    generator: np.random.Generator | int | None = None,
    *,
    seed: int | None = None,
) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random subsets of the given lengths.

    ``lengths`` are counts summing to ``len(dataset)`` or fractions summing to 1 (the remainder
    of rounding down is handed out one by one from the first subset on, as PyTorch does). The
    permutation comes from ``seed``, or ``generator``, or else chainrule's global generator.

    Examples
    --------
    >>> from chainrule.utils.data import TensorDataset, random_split
    >>> import numpy as np
    >>> train, test = random_split(TensorDataset(np.arange(10)), [0.8, 0.2], seed=0)
    >>> len(train), len(test)
    (8, 2)
    """
    n = len(dataset)
    counts = _split_counts(n, lengths)
    rng = _rng(seed if seed is not None else generator)
    order = rng.permutation(n)
    bounds = np.cumsum([0, *counts])
    return [Subset(dataset, order[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _split_counts(n: int, lengths: Sequence[int | float]) -> list[int]:
    values = list(lengths)
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        counts = [int(v) for v in values]
        if any(c < 0 for c in counts) or sum(counts) != n:
            raise ValueError(
                f"random_split: lengths {counts} must be non-negative and sum to the "
                f"dataset's {n} samples"
            )
        return counts
    if any(v < 0 or v > 1 for v in values) or not math.isclose(sum(values), 1.0, abs_tol=1e-6):
        raise ValueError(f"random_split: fractions {values} must lie in [0, 1] and sum to 1")
    counts = [math.floor(n * v) for v in values]
    for i in range(n - sum(counts)):
        counts[i % len(counts)] += 1
    return counts


def default_collate(samples: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch, keeping the samples' structure.

    Tensors and arrays are stacked along a new first dimension; Python ints become an int64
    tensor, floats a float64 tensor (as PyTorch), bools a bool tensor; tuples, lists, named
    tuples and dicts are collated field by field; strings stay a list. Unlike PyTorch a tuple
    sample gives a tuple (not a list) of batched fields.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.utils.data import default_collate
    >>> x, y = default_collate([(cr.zeros(3), 1), (cr.ones(3), 0)])
    >>> x.shape, y.tolist()
    ((2, 3), [1, 0])
    """
    if not samples:
        raise ValueError("default_collate: a batch needs at least one sample")
    first = samples[0]
    if isinstance(first, (Tensor, np.ndarray, np.generic)):
        return Tensor._wrap(np.stack([_as_array(s) for s in samples]))
    if isinstance(first, bool):
        return Tensor._wrap(np.array(samples, dtype=np.bool_))
    if isinstance(first, int):
        return Tensor._wrap(np.array(samples, dtype=np.int64))
    if isinstance(first, float):
        return Tensor._wrap(np.array(samples, dtype=np.float64))
    if isinstance(first, (str, bytes)):
        return list(samples)
    if isinstance(first, Mapping):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    if isinstance(first, tuple) and hasattr(first, "_fields"):  # named tuple
        return type(first)(*(default_collate(list(f)) for f in zip(*samples, strict=True)))
    if isinstance(first, (tuple, list)):
        sizes = {len(s) for s in samples}
        if len(sizes) != 1:
            raise ValueError(f"default_collate: samples in a batch have different lengths {sizes}")
        fields = [default_collate(list(f)) for f in zip(*samples, strict=True)]
        return tuple(fields) if isinstance(first, tuple) else fields
    raise TypeError(
        f"default_collate: don't know how to batch samples of type "
        f"{type(first).__name__}; pass collate_fn="
    )


class DataLoader:
    """Iterate over a dataset in batches, optionally reshuffled each epoch.

    As ``torch.utils.data.DataLoader`` with ``batch_size``, ``shuffle``, ``drop_last`` and
    ``collate_fn``. Loading runs in this process (``num_workers`` is accepted and ignored).
    The shuffle order comes from ``seed`` (a fresh NumPy generator made once, so epochs differ
    from each other but a new loader with the same seed repeats them), else ``generator`` (a
    ``numpy.random.Generator`` or an int), else chainrule's global generator (``manual_seed``).
    ``batch_size=None`` yields single samples, uncollated.

    A TensorDataset (or a Subset of one) is batched by indexing its arrays once per batch, with
    no per-sample Python loop, when ``collate_fn`` is not given.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.utils.data import DataLoader, TensorDataset
    >>> loader = DataLoader(TensorDataset(cr.zeros(10, 2), cr.arange(10)), batch_size=4,
    ...                     shuffle=True, seed=0)
    >>> len(loader), [tuple(x.shape) for x, y in loader]
    (3, [(4, 2), (4, 2), (2, 2)])
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int | None = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        generator: np.random.Generator | int | None = None,
        seed: int | None = None,
        num_workers: int = 0,
    ) -> None:
        if batch_size is not None and (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or batch_size < 1
        ):
            # (PyTorch: ValueError; 2.5 used to make batches of 2 here)
            raise ValueError(
                f"DataLoader: batch_size must be a positive int or None, got {batch_size!r}"
            )
        if seed is not None and generator is not None:
            raise ValueError("DataLoader: pass seed= or generator=, not both")
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.num_workers = num_workers
        self._generator = (
            None
            if seed is None and generator is None
            else _rng(seed if seed is not None else generator)
        )

    def __len__(self) -> int:
        n = len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self) -> np.ndarray:
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        rng = self._generator if self._generator is not None else _random.generator()
        return rng.permutation(n)

    def __iter__(self) -> Iterator[Any]:
        order = self._order()
        if self.batch_size is None:
            for i in order:
                yield self.dataset[int(i)]
            return
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield self._batch(order[start : start + self.batch_size])

    def _batch(self, index: np.ndarray) -> Any:
        if self.collate_fn is None:
            batch = _fetch_batch(self.dataset, index)
            if batch is not None:
                return batch
        samples = [self.dataset[int(i)] for i in index]
        return (self.collate_fn or default_collate)(samples)
