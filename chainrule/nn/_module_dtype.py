"""Converting a module's floating-point parameters and buffers to another dtype, in place
(``Module.to``, ``float`` and ``double`` delegate here)."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule import _dtype
from chainrule.tensor import Tensor

if TYPE_CHECKING:
    from chainrule.nn.module import Module


def to(root: Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Module:
    """``Module.to(*args, **kwargs)``: the dtype among the arguments (a dtype, a Tensor's
    dtype, ``dtype=``; device names ignored), which must be a floating-point one."""
    dtype = kwargs.get("dtype")
    for arg in args:
        if isinstance(arg, Tensor):
            dtype = arg.dtype
        elif not (isinstance(arg, str) and arg.split(":")[0] in ("cpu", "cuda")):
            dtype = arg
    if dtype is None:
        return root
    dtype = _dtype.as_dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"nn.Module.to only accepts floating point dtypes, got {dtype}")
    return apply_dtype(root, dtype)


def apply_dtype(root: Module, dtype: np.dtype) -> Module:
    """Every floating-point parameter, buffer and gradient of the tree in ``dtype``."""
    for module in root.modules():
        for tensor in itertools.chain(module._parameters.values(), module._buffers.values()):
            if tensor is None or tensor.dtype.kind != "f" or tensor.dtype == dtype:
                continue
            # keep the same Parameter objects (optimizers hold them), swap their storage
            tensor._data = tensor._data.astype(dtype)
            tensor._bump_version()
            if tensor.grad is not None:
                tensor.grad._data = tensor.grad._data.astype(dtype)
    return root
