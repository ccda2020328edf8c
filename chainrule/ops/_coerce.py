"""Turning op arguments into Tensors of one dtype, with PyTorch's promotion rules."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import _dtype
from chainrule.tensor import Tensor


def to_tensor(value: Any, dtype: np.dtype | None = None) -> Tensor:
    """A Tensor for ``value`` (returned as is when it already is one of the right dtype)."""
    if isinstance(value, Tensor):
        if dtype is None or value.dtype == dtype:
            return value
        from chainrule.ops.elementwise import cast

        return cast(value, dtype)
    if dtype is None:
        dtype = _dtype.scalar_dtype(value) if np.ndim(value) == 0 and not isinstance(
            value, np.ndarray) else None
    return Tensor._wrap(np.asarray(value, dtype=dtype))


def promote(*values: Any) -> list[Tensor]:
    """Tensors for ``values`` in their common dtype (torch.result_type)."""
    first = values[0]
    if isinstance(first, Tensor) and all(
            isinstance(v, Tensor) and v._data.dtype == first._data.dtype for v in values[1:]):
        return list(values)  # the common case: nothing to convert
    dims: list[np.dtype] = []
    zero_dims: list[np.dtype] = []
    scalars: list[Any] = []
    for v in values:
        if isinstance(v, (Tensor, np.ndarray)):
            (dims if v.ndim else zero_dims).append(v.dtype)
        else:
            scalars.append(v)
    dtype = _dtype.result_dtype(dims, zero_dims, scalars)
    return [to_tensor(v, dtype) for v in values]


def promote_float(*values: Any) -> list[Tensor]:
    """As ``promote``, then integers and bools become the default float (exp of an int tensor)."""
    tensors = promote(*values)
    if tensors[0]._data.dtype.kind != "f":
        dtype = _dtype.get_default_dtype()
        return [to_tensor(t, dtype) for t in tensors]
    return tensors
