"""Tensor factories, as in PyTorch (float32 unless a dtype is given)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import _dtype
from chainrule._checks import integer, number
from chainrule.errors import BadInputError
from chainrule.random import generator
from chainrule.tensor import Tensor


def _sizes(size: tuple[Any, ...]) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s < 0:
            raise BadInputError(f"negative dimension in size {tuple(size)}")
    return tuple(integer(s, f"size {tuple(size)!r}: each size") for s in size)


def _finish(array: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor._wrap(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _float(dtype: Any) -> np.dtype:
    return _dtype.get_default_dtype() if dtype is None else _dtype.as_dtype(dtype)


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A new tensor holding a copy of ``data`` (floats default to float32, ints to int64).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.tensor([1.0, 2.0]).dtype
    dtype('float32')
    """
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def as_tensor(data: Any, dtype: Any = None) -> Tensor:
    if isinstance(data, Tensor) and (dtype is None or data.dtype == _dtype.as_dtype(dtype)):
        return data
    if isinstance(data, np.ndarray) and dtype is None:
        return Tensor._wrap(data)
    return Tensor(data, dtype=dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array``."""
    return Tensor._wrap(array)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(np.zeros(_sizes(size), _float(dtype)), requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(np.ones(_sizes(size), _float(dtype)), requires_grad)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(np.empty(_sizes(size), _float(dtype)), requires_grad)


def full(
    size: Sequence[int], fill_value: Any, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    if dtype is None:
        dtype = _dtype.scalar_dtype(fill_value)
    return _finish(np.full(_sizes((size,)), fill_value, _dtype.as_dtype(dtype)), requires_grad)


def zeros_like(input: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    return _finish(np.zeros(input.shape, dtype or input.dtype), requires_grad)


def ones_like(input: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    return _finish(np.ones(input.shape, dtype or input.dtype), requires_grad)


def full_like(
    input: Tensor,
    fill_value: Any,
    dtype: Any = None,  # noqa: A002
    requires_grad: bool = False,
) -> Tensor:
    return _finish(np.full(input.shape, fill_value, dtype or input.dtype), requires_grad)


def empty_like(input: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    return zeros_like(input, dtype, requires_grad)


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from chainrule's seeded generator."""
    dtype = _float(dtype)
    return _finish(generator().standard_normal(_sizes(size)).astype(dtype), requires_grad)


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1) from chainrule's seeded generator."""
    dtype = _float(dtype)
    return _finish(generator().random(_sizes(size)).astype(dtype), requires_grad)


def randn_like(input: Tensor, dtype: Any = None) -> Tensor:  # noqa: A002
    return randn(input.shape, dtype=dtype or input.dtype)


def rand_like(input: Tensor, dtype: Any = None) -> Tensor:  # noqa: A002
    return rand(input.shape, dtype=dtype or input.dtype)


def randint(
    low: int, high: int | None = None, size: Sequence[int] = (), dtype: Any = None
) -> Tensor:
    if high is None:
        low, high = 0, low
    return Tensor._wrap(
        generator()
        .integers(low, high, size=tuple(size))
        .astype(_dtype.as_dtype(dtype or _dtype.int64))
    )


def randperm(n: int, dtype: Any = None) -> Tensor:
    return Tensor._wrap(generator().permutation(n).astype(_dtype.as_dtype(dtype or _dtype.int64)))


def arange(
    start: float,
    end: float | None = None,
    step: float = 1,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    if end is None:
        start, end = 0, start
    for name, value in (("start", start), ("end", end), ("step", step)):
        number(value, f"arange: {name}")
    if step == 0:
        raise BadInputError("arange: step must be nonzero")
    if (end - start) / step < 0:
        raise BadInputError(
            f"arange: end {end} can't be reached from start {start} with step {step}"
        )
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = _dtype.int64 if is_int else _dtype.get_default_dtype()
    return _finish(np.arange(start, end, step).astype(_dtype.as_dtype(dtype)), requires_grad)


def linspace(
    start: float, end: float, steps: int, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    return _finish(np.linspace(start, end, steps).astype(_float(dtype)), requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _finish(np.eye(n, m, dtype=_float(dtype)), requires_grad)
