"""Tensor's values out (numpy, item, tolist, float(t), t as an index or a bool) and new tensors of
its dtype (new_zeros, new_tensor, ...); the casts, which are ops on the tensor, are in tensor.py."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule.autograd.grad_mode import reads_data
from chainrule.errors import BadInputError
from chainrule.tensor_fields import TensorFields

if TYPE_CHECKING:
    from chainrule import ops as _ops
    from chainrule.tensor import Tensor
else:
    _ops = None  # chainrule.ops, bound by chainrule/ops/methods.py (the ops import Tensor)
    Tensor = None  # the class, bound by chainrule/tensor.py (which imports this module)


class ConversionMethods(TensorFields):
    """Values out, and new tensors like this one."""

    __slots__ = ()

    def numpy(self) -> np.ndarray:
        reads_data("numpy()")
        if self.requires_grad:
            raise RuntimeError("numpy() on a tensor that requires grad: call .detach().numpy()")
        return self._data

    def item(self) -> Any:
        reads_data("item()")
        if self._data.size != 1:
            raise BadInputError(
                f"item() needs a tensor with one element, this one has "
                f"{self._data.size} (shape {tuple(self.shape)})"
            )
        return self._data.item()

    def tolist(self) -> Any:
        reads_data("tolist()")
        return self._data.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        reads_data("as an index")
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self._data.item())

    def __bool__(self) -> bool:
        reads_data("as a bool, e.g. in an if")
        if self._data.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor with {self._data.size} elements is "
                "ambiguous; use .any() or .all()"
            )
        return bool(self._data.item())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        reads_data("as a NumPy array")
        return self._data if dtype is None else self._data.astype(dtype)

    def new_zeros(
        self, *size: Any, dtype: Any = None, requires_grad: builtins.bool = False
    ) -> Tensor:
        return _ops.zeros(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_ones(
        self, *size: Any, dtype: Any = None, requires_grad: builtins.bool = False
    ) -> Tensor:
        return _ops.ones(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_full(
        self,
        size: Sequence[builtins.int],
        fill_value: Any,
        dtype: Any = None,
        requires_grad: builtins.bool = False,
    ) -> Tensor:
        return _ops.full(size, fill_value, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_tensor(
        self, data: Any, dtype: Any = None, requires_grad: builtins.bool = False
    ) -> Tensor:
        return Tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def is_contiguous(self) -> builtins.bool:
        return bool(self._data.flags.c_contiguous)
