"""Parameter: a Tensor that a Module registers as trainable when it is assigned as an attribute."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import _dtype
from chainrule.tensor import Tensor


class Parameter(Tensor):
    """A leaf Tensor that requires grad and that ``Module`` registers as a parameter.

    As ``torch.nn.Parameter``: built from a Tensor it shares that tensor's storage (no copy).

    Parameters
    ----------
    data : Tensor or array_like, optional
        The values; an empty float tensor by default.
    requires_grad : bool
        Whether the parameter is trainable (default True).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> w = nn.Parameter(cr.tensor([0.15, 0.2]))
    >>> w.requires_grad, w.is_leaf
    (True, True)
    >>> print(repr(w))
    Parameter containing:
    tensor([0.15, 0.2 ], requires_grad=True)
    """

    # no instance __dict__: a Parameter is as small and fast as a Tensor
    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = Tensor._wrap(np.empty((0,), _dtype.get_default_dtype()))
        source = data if isinstance(data, Tensor) else Tensor(data)
        self._data = source._data
        self._vbox = source._version_box()  # the same storage, so the same version counter
        self.requires_grad = False
        self.grad = None
        self.grad_fn = None
        self._base = self._view_fn = self._history = None
        self._hooks = None
        self._retains_grad = False
        self.name = source.name
        self.element_names = source.element_names
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo: dict[int, Any]) -> Parameter:
        if id(self) in memo:
            return memo[id(self)]
        copied = Parameter(Tensor._wrap(self._data.copy()), self.requires_grad)
        copied.name = self.name
        copied.element_names = self.element_names
        if self.grad is not None:
            copied.grad = Tensor._wrap(self.grad._data.copy())
        memo[id(self)] = copied
        return copied

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (_rebuild_parameter, (self._data, self.requires_grad))


def _rebuild_parameter(data: np.ndarray, requires_grad: bool) -> Parameter:
    return Parameter(Tensor._wrap(data), requires_grad)
