"""utils.data: Dataset, TensorDataset, Subset, random_split, default_collate and DataLoader."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

import chainrule as cr
from chainrule.utils.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
)


def _numbered(n: int = 10, features: int = 3) -> TensorDataset:
    """Row i of x is i repeated, so every batch tells which samples it holds."""
    x = np.repeat(np.arange(n, dtype=np.float32)[:, None], features, axis=1)
    return TensorDataset(cr.tensor(x), cr.arange(n))


class ListDataset(Dataset):
    """A plain Python dataset (no batch hook): takes the per-sample path."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return np.full(2, index, dtype=np.float32), index


def _epoch_ids(loader: DataLoader) -> list[int]:
    return [int(i) for _, y in loader for i in y.tolist()]


# ---- TensorDataset / Subset / ConcatDataset ---------------------------------------------------
def test_tensor_dataset_rows_and_length() -> None:
    ds = _numbered(5)
    assert len(ds) == 5
    x, y = ds[3]
    assert x.tolist() == [3.0, 3.0, 3.0] and y.item() == 3
    assert ds[-1][1].item() == 4


def test_tensor_dataset_rejects_unequal_lengths_and_bad_index() -> None:
    with pytest.raises(ValueError, match=r"same size in dimension 0, got \[3, 4\]"):
        TensorDataset(cr.zeros(3, 2), cr.zeros(4))
    with pytest.raises(IndexError, match="index 5 is out of range for 5"):
        _numbered(5)[5]


def test_tensor_dataset_samples_are_detached_copies() -> None:
    x = cr.zeros(4, 2, requires_grad=True)
    (sample,) = TensorDataset(x)[1]
    assert not sample.requires_grad and sample.grad_fn is None
    sample._data[0] = 7.0
    assert x._data[1, 0] == 0.0


def test_subset_and_concat() -> None:
    ds = _numbered(6)
    sub = Subset(ds, [4, 0, -1])
    assert [sub[i][1].item() for i in range(3)] == [4, 0, 5]
    both = ds + ListDataset(3)
    assert isinstance(both, ConcatDataset) and len(both) == 9
    assert both[5][1].item() == 5 and both[6][1] == 0 and both[8][1] == 2
    with pytest.raises(IndexError):
        Subset(ds, [6])


# ---- random_split -----------------------------------------------------------------------------
def test_random_split_partitions_and_is_seeded() -> None:
    ds = _numbered(20)
    a, b, c = random_split(ds, [10, 6, 4], seed=3)
    assert (len(a), len(b), len(c)) == (10, 6, 4)
    everything = np.concatenate([a.indices, b.indices, c.indices])
    assert sorted(everything.tolist()) == list(range(20))
    again = random_split(ds, [10, 6, 4], seed=3)
    assert np.array_equal(again[0].indices, a.indices)
    other = random_split(ds, [10, 6, 4], seed=4)
    assert not np.array_equal(other[0].indices, a.indices)


def test_random_split_fractions_and_errors() -> None:
    parts = random_split(_numbered(10), [0.5, 0.3, 0.2], seed=0)
    assert [len(p) for p in parts] == [5, 3, 2]
    parts = random_split(_numbered(11), [0.5, 0.5], seed=0)  # remainder goes to the first
    assert [len(p) for p in parts] == [6, 5]
    with pytest.raises(ValueError, match="sum to the dataset's 10 samples"):
        random_split(_numbered(10), [5, 4])
    with pytest.raises(ValueError, match="sum to 1"):
        random_split(_numbered(10), [0.5, 0.4])


def test_random_split_default_uses_manual_seed() -> None:
    cr.manual_seed(11)
    first = random_split(_numbered(12), [6, 6])[0].indices
    cr.manual_seed(11)
    assert np.array_equal(random_split(_numbered(12), [6, 6])[0].indices, first)


# ---- DataLoader ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dataset", [_numbered(10), ListDataset(10)], ids=["tensors", "python"])
def test_batch_shapes_and_len(dataset: Dataset) -> None:
    loader = DataLoader(dataset, batch_size=4)
    shapes = [tuple(x.shape) for x, _ in loader]
    assert len(loader) == 3 and len(shapes) == 3
    features = dataset[0][0].shape[0]
    assert shapes == [(4, features), (4, features), (2, features)]
    assert _epoch_ids(loader) == list(range(10))  # unshuffled keeps the order


@pytest.mark.parametrize("dataset", [_numbered(10), ListDataset(10)], ids=["tensors", "python"])
def test_drop_last(dataset: Dataset) -> None:
    loader = DataLoader(dataset, batch_size=4, drop_last=True)
    assert len(loader) == 2
    batches = [y.tolist() for _, y in loader]
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(DataLoader(dataset, batch_size=5, drop_last=True)) == 2
    assert len(DataLoader(dataset, batch_size=11, drop_last=True)) == 0


@pytest.mark.parametrize("dataset", [_numbered(23), ListDataset(23)], ids=["tensors", "python"])
def test_each_sample_once_per_epoch_and_epochs_differ(dataset: Dataset) -> None:
    loader = DataLoader(dataset, batch_size=5, shuffle=True, seed=0)
    first, second = _epoch_ids(loader), _epoch_ids(loader)
    assert sorted(first) == list(range(23)) and sorted(second) == list(range(23))
    assert first != list(range(23)) and first != second


def test_batch_contents_match_their_labels() -> None:
    for x, y in DataLoader(_numbered(17), batch_size=4, shuffle=True, seed=1):
        assert np.array_equal(x._data[:, 0], y._data.astype(np.float32))


def test_seeded_shuffle_is_deterministic_and_differs_between_seeds() -> None:
    def run(seed: int) -> list[int]:
        loader = DataLoader(_numbered(30), batch_size=7, shuffle=True, seed=seed)
        return _epoch_ids(loader) + _epoch_ids(loader)

    assert run(5) == run(5)
    assert run(5) != run(6)
    gen_a = DataLoader(
        _numbered(30), batch_size=7, shuffle=True, generator=np.random.default_rng(5)
    )
    assert _epoch_ids(gen_a) == run(5)[:30]


def test_shuffle_without_seed_follows_manual_seed() -> None:
    loader = DataLoader(_numbered(30), batch_size=8, shuffle=True)
    cr.manual_seed(2)
    first = _epoch_ids(loader)
    cr.manual_seed(2)
    assert _epoch_ids(loader) == first


def test_fast_path_does_not_call_getitem(monkeypatch: pytest.MonkeyPatch) -> None:
    ds = _numbered(50)

    def refuse(self: TensorDataset, index: int) -> None:
        raise AssertionError("per-sample __getitem__ used for a TensorDataset")

    monkeypatch.setattr(TensorDataset, "__getitem__", refuse)
    train, _ = random_split(ds, [40, 10], seed=0)
    for loader in (
        DataLoader(ds, batch_size=16, shuffle=True, seed=0),
        DataLoader(train, batch_size=16, shuffle=True, seed=0),
    ):
        assert sum(x.shape[0] for x, _ in loader) == len(loader.dataset)


def test_subset_batches_through_fast_path_hold_the_right_rows() -> None:
    train, _ = random_split(_numbered(40), [30, 10], seed=0)
    seen = _epoch_ids(DataLoader(train, batch_size=8, shuffle=True, seed=0))
    assert sorted(seen) == sorted(train.indices.tolist())


def test_batches_are_copies() -> None:
    ds = _numbered(6)
    for loader in (DataLoader(ds, batch_size=3), DataLoader(ds, batch_size=3, shuffle=True)):
        x, _ = next(iter(loader))
        x._data[...] = -1.0
        assert ds.tensors[0]._data.min() == 0.0


def test_collate_of_tuples_dicts_and_scalars() -> None:
    Pair = namedtuple("Pair", ["image", "label"])
    samples = [
        (
            cr.full((2, 2), float(i)),
            i,
            float(i) / 2,
            {"id": i, "name": f"s{i}"},
            Pair(np.zeros(3), True),
        )
        for i in range(3)
    ]
    x, labels, halves, info, pair = default_collate(samples)
    assert x.shape == (3, 2, 2) and x.dtype == cr.float32
    assert labels.dtype == cr.int64 and labels.tolist() == [0, 1, 2]
    assert halves.dtype == cr.float64 and halves.tolist() == [0.0, 0.5, 1.0]
    assert info["id"].tolist() == [0, 1, 2] and info["name"] == ["s0", "s1", "s2"]
    assert isinstance(pair, Pair) and pair.image.shape == (3, 3)
    assert pair.label.tolist() == [True, True, True]


def test_custom_collate_fn_gets_the_samples() -> None:
    loader = DataLoader(_numbered(5), batch_size=2, collate_fn=lambda samples: len(samples))
    assert list(loader) == [2, 2, 1]


def test_batch_size_none_yields_samples() -> None:
    loader = DataLoader(ListDataset(3), batch_size=None)
    assert [y for _, y in loader] == [0, 1, 2] and len(loader) == 3


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        DataLoader(_numbered(3), batch_size=0)
    with pytest.raises(ValueError, match="not both"):
        DataLoader(_numbered(3), seed=1, generator=np.random.default_rng(1))
    with pytest.raises(TypeError, match="don't know how to batch"):
        default_collate([object(), object()])
