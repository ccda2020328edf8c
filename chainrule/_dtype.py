"""Dtypes and PyTorch's type-promotion rules (float32 by default, float64 kept)."""

from __future__ import annotations

import builtins

import numpy as np

float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)

_TORCH_NAMES = {
    "float": "float32",
    "double": "float64",
    "long": "int64",
    "int": "int32",
    "half": "float16",
    "bool": "bool",
}
_state = {"default_float": float32}


def get_default_dtype() -> np.dtype:
    return _state["default_float"]


def set_default_dtype(dtype: object) -> None:
    d = as_dtype(dtype)
    if d.kind != "f":
        raise TypeError(f"set_default_dtype: only floating-point dtypes are allowed, got {d}")
    _state["default_float"] = d


def as_dtype(dtype: object) -> np.dtype:
    """Turn a dtype spelling (chainrule.float64, 'float32', np.float32, a torch dtype) into an
    np.dtype."""
    if isinstance(dtype, np.dtype):
        return dtype
    if dtype is builtins.float:
        return get_default_dtype()
    if dtype is builtins.int:
        return int64
    if dtype is builtins.bool:
        return bool_
    text = str(dtype)
    if text.startswith("torch."):
        text = text[len("torch.") :]
        dtype = _TORCH_NAMES.get(text, text)
    elif isinstance(dtype, str):
        dtype = _TORCH_NAMES.get(dtype, dtype)
    try:
        return np.dtype(dtype)  # type: ignore[call-overload]  # any spelling NumPy accepts
    except TypeError as exc:
        raise TypeError(f"unknown dtype {dtype!r}") from exc


def category(dtype: np.dtype) -> int:
    """0 bool, 1 integer, 2 floating point: the order in which PyTorch promotes."""
    kind = dtype.kind
    if kind == "b":
        return 0
    if kind in "iu":
        return 1
    return 2


def promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """torch.promote_types: the higher category wins as it is (int64 + float32 -> float32)."""
    if a == b:
        return a
    ca, cb = category(a), category(b)
    if ca != cb:
        return a if ca > cb else b
    return np.result_type(a, b)


def scalar_dtype(value: object) -> np.dtype:
    """The dtype a Python/NumPy scalar takes when it is turned into a tensor on its own."""
    if isinstance(value, (builtins.bool, np.bool_)):
        return bool_
    if isinstance(value, (builtins.int, np.integer)):
        return int64
    return get_default_dtype()


def result_dtype(
    dim_dtypes: list[np.dtype], zero_dim_dtypes: list[np.dtype], scalars: list[object]
) -> np.dtype:
    """PyTorch's result_type: dimensioned tensors first, then 0-d tensors, then Python scalars.

    A lower group only raises the result when it is of a higher category (bool < int < float),
    so ``float32 tensor * 2.0`` stays float32 and ``int tensor * 0.5`` becomes the default float.
    """
    result: np.dtype | None = None
    for group in (dim_dtypes, zero_dim_dtypes):
        if not group:
            continue
        group_dtype = group[0]
        for d in group[1:]:
            group_dtype = promote_types(group_dtype, d)
        if result is None or category(group_dtype) > category(result):
            result = group_dtype
    for value in scalars:
        d = scalar_dtype(value)
        if result is None:
            result = d
        elif category(d) > category(result):
            result = d if category(d) == 1 else get_default_dtype()
    assert result is not None, "result_dtype needs at least one operand"
    return result
