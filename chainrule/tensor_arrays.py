"""The arrays behind tensors: PyTorch's dtype inference for a new tensor, the array behind a Tensor
operand, and backward's usual seed."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import _dtype
from chainrule.errors import BadDataError, BadInputError
from chainrule.tensor_fields import TensorFields

_ONE_SEEDS: dict[tuple[tuple[int, ...], np.dtype], np.ndarray] = {}


def ones_like_one(array: np.ndarray) -> np.ndarray:
    """A read-only 1 of a one-element array's shape and dtype, made once: backward's usual seed.
    (Read-only, so a leaf that receives it as its gradient stores a copy.)"""
    key = (array.shape, array.dtype)
    seed = _ONE_SEEDS.get(key)
    if seed is None:
        seed = _ONE_SEEDS[key] = np.ones(array.shape, array.dtype)
        seed.flags.writeable = False
    return seed


def raw(value: Any) -> Any:
    """The array behind a Tensor, or the value itself."""
    return value._data if isinstance(value, TensorFields) else value


def as_array(data: Any, dtype: Any) -> np.ndarray:
    """Build the array for a new tensor with PyTorch's dtype inference (floats become float32)."""
    if isinstance(data, TensorFields):
        data = data._data
    try:
        array = _infer_array(data, dtype)
    except ValueError as exc:
        if "inhomogeneous" in str(exc) or "sequence" in str(exc):
            raise BadInputError(
                "tensor: the nested lists have different lengths; every row must "
                "have the same number of elements"
            ) from None
        raise
    if array.dtype.kind not in "biuf":
        raise BadDataError(
            f"can't build a tensor from {type(data).__name__} data (dtype "
            f"{array.dtype}): the data must be numbers, nested lists of numbers, or "
            "an array of them"
        )
    return array


def _infer_array(data: Any, dtype: Any) -> np.ndarray:
    if dtype is not None:
        return np.array(data, dtype=_dtype.as_dtype(dtype))
    if isinstance(data, np.ndarray):
        return data.copy()
    if isinstance(data, np.generic):
        return np.array(data)
    array = np.array(data)
    if array.dtype.kind == "f":
        return array.astype(_dtype.get_default_dtype(), copy=False)
    if array.dtype.kind in "iu":
        return array.astype(np.int64, copy=False)
    return array
