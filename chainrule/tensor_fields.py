"""The fields every Tensor has, declared once with their types, and the reads of its array's shape:
the base of Tensor's mixins (chainrule/tensor_*.py), so that each type-checks on its own. The slots
themselves are on one class, Tensor (chainrule/tensor.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from chainrule.autograd.node import Node
    from chainrule.tensor import Tensor


class TensorFields:
    """Annotations only: Tensor.__init__, Tensor._wrap and Primitive.__call__ set them."""

    if not TYPE_CHECKING:
        # no slots of its own as mypy sees it, so that it doesn't check the mixins' writes
        # against their empty __slots__ (the real ones are Tensor's)
        __slots__ = ()

    _data: np.ndarray
    requires_grad: bool
    grad: Tensor | None
    grad_fn: Node | None
    # [version, the in-place write (state.writes) that made it, views], shared by views;
    # made on first need (most tensors are never written or viewed); see autograd/versions
    _vbox: list[Any] | None
    _base: Tensor | None  # the tensor this one is a view of, if any
    # (view op, params, the split/chunk/unbind that made it or None), from _base
    _view_fn: tuple[Any, dict[str, Any], str | None] | None
    # (write number, stand-in) for each history a recorded in-place write superseded
    _history: list[tuple[int, Tensor]] | None
    _hooks: list[Callable] | None
    _retains_grad: bool
    name: str | None
    element_names: np.ndarray | None

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim
