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
        dtype = (
            _dtype.scalar_dtype(value)
            if np.ndim(value) == 0 and not isinstance(value, np.ndarray)
            else None
        )
    return Tensor._wrap(np.asarray(value, dtype=dtype), constant=True)


_NUMBERS = (float, int)
_wrap = Tensor._wrap
_CONSTANTS: dict[tuple[Any, ...], Tensor] = {}  # (type, number, dtype) -> a read-only 0-d tensor


def _constant(value: float, dtype: np.dtype) -> Tensor:
    """A Python number as a 0-d tensor of ``dtype``; nonzero, non-NaN ones are made once and
    shared (read-only), since expressions and derivative rules meet the same few (2.0, 1, 0.5)
    over and over. Zeros are not shared: 0.0 == -0.0 as keys, but not as factors."""
    if not value or value != value:
        return _wrap(np.array(value, dtype), constant=True)
    key = (type(value), value, dtype)
    tensor = _CONSTANTS.get(key)
    if tensor is None:
        if len(_CONSTANTS) >= 4096:
            _CONSTANTS.clear()
        array = np.array(value, dtype)
        array.flags.writeable = False
        tensor = _CONSTANTS[key] = _wrap(array, constant=True)
    return tensor


def promote(*values: Any) -> list[Tensor]:
    """Tensors for ``values`` in their common dtype (torch.result_type)."""
    first = values[0]
    if len(values) == 2:
        # The cases every expression hits, decided without building dtype lists: two tensors of
        # one dtype, or a float tensor with a Python number (which never changes its dtype).
        second = values[1]
        if isinstance(first, Tensor):
            if isinstance(second, Tensor):
                dtype = first._data.dtype
                other = second._data.dtype
                if dtype is other or dtype == other:
                    return values  # type: ignore[return-value]
            elif type(second) in _NUMBERS and first._data.dtype.kind == "f":
                return [first, _constant(second, first._data.dtype)]
        elif (
            isinstance(second, Tensor)
            and type(first) in _NUMBERS
            and second._data.dtype.kind == "f"
        ):
            return [_constant(first, second._data.dtype), second]
    elif isinstance(first, Tensor) and all(
        isinstance(v, Tensor) and v._data.dtype == first._data.dtype for v in values[1:]
    ):
        return list(values)
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
