"""Tensor: a NumPy array plus the autograd fields, with its properties, autograd methods, casts and
reflected operators. The rest comes from one module each: the op methods (tensor_methods.py, the
ops themselves, bound by chainrule/ops/methods.py), the in-place methods (tensor_in_place.py, over
tensor_history.py), the values out and new_* (tensor_conversion.py); the fields' types are in
tensor_fields.py. None of these imports an op: the ops import Tensor."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule import _dtype, tensor_conversion, tensor_history, tensor_in_place
from chainrule.autograd import engine as _engine
from chainrule.autograd import node as _node
from chainrule.autograd import versions
from chainrule.autograd.engine import run_backward
from chainrule.autograd.grad_mode import state, thread_state
from chainrule.tensor_arrays import as_array, ones_like_one
from chainrule.tensor_conversion import ConversionMethods
from chainrule.tensor_in_place import InPlaceMethods
from chainrule.tensor_methods import OpMethods

if TYPE_CHECKING:
    from chainrule import ops as _ops
else:
    _ops = None  # chainrule.ops, bound by chainrule/ops/methods.py (the ops import Tensor)


class Tensor(OpMethods, InPlaceMethods, ConversionMethods):
    """An n-dimensional array that records the ops applied to it, as ``torch.Tensor``.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([0.5], requires_grad=True)
    >>> loss = ((w * 1.0 - 0.0) ** 2).sum()
    >>> loss.backward()
    >>> w.grad.tolist()
    [1.0]
    """

    __slots__ = (
        "_data",
        "requires_grad",
        "grad",
        "grad_fn",
        "_vbox",
        "_base",
        "_view_fn",
        "_history",
        "_hooks",
        "_retains_grad",
        "name",
        "element_names",
        "__weakref__",
    )
    # NumPy hands binary operators with a Tensor on the right back to us (np.float64(2) * t).
    __array_ufunc__ = None

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> None:
        array = as_array(data, dtype)
        self._data = array
        self.requires_grad = False
        self.grad = None
        self.grad_fn = None
        self._vbox = None  # the fields' types and meaning: chainrule/tensor_fields.py
        self._base = None
        self._view_fn = None
        self._history = None
        self._hooks = None
        self._retains_grad = False
        self.name = None
        self.element_names = None
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, array: np.ndarray, constant: bool = False) -> Tensor:
        """Fast constructor for op results: no conversion, no checks. ``constant=True`` marks an
        array made here from no data (a seed of ones, a zero), which a step traced for replay
        may keep as it is; any other array made outside a primitive stops the replay."""
        t = object.__new__(cls)
        t._data = array
        t.requires_grad = False
        t.grad = None
        t.grad_fn = None
        t._vbox = None
        t._base = None
        t._view_fn = None
        t._history = None
        t._hooks = None
        t._retains_grad = False
        t.name = None
        t.element_names = None
        if state.tracers and not constant:
            tracer = thread_state._tracing
            if tracer is not None:  # a step traced for replay (autograd/tracer.py)
                tracer.on_wrap(array)
        return t

    # ---- properties (shape, dtype, ndim: tensor_fields.py) ---------------------------------------
    @property
    def data(self) -> Tensor:
        """The same storage, detached from the graph (as ``torch.Tensor.data``)."""
        t = Tensor._wrap(self._data)
        t._vbox = self._version_box()
        return t

    @data.setter
    def data(self, value: Tensor | np.ndarray) -> None:
        # new storage: a fresh version box, one write later, so a node that saved the old
        # values raises instead of reading these (views of the old storage keep the old box)
        self._data = value._data if isinstance(value, Tensor) else np.asarray(value)
        self._vbox = versions.new_box(self._version + 1, versions.next_write())

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def T(self) -> Tensor:  # noqa: N802 - PyTorch's name
        return _ops.permute(self, tuple(range(self.ndim - 1, -1, -1)))

    @property
    def mT(self) -> Tensor:  # noqa: N802 - PyTorch's name
        return _ops.transpose(self, -2, -1)

    @property
    def is_floating_point_(self) -> bool:
        return self._data.dtype.kind == "f"

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        return self._data.shape if dim is None else self._data.shape[dim]

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return self._data.size

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    # ---- autograd -----------------------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self._data.dtype.kind != "f":
            raise RuntimeError(
                f"requires_grad=True needs a floating-point tensor; this one is {self.dtype} "
                "(only float tensors can have gradients; convert with .float() or .double())"
            )
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use .detach() instead")
        self.requires_grad = bool(requires_grad)
        return self

    def backward(
        self,
        gradient: Tensor | None = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        inputs: Sequence[Tensor] | None = None,
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (as ``torch.Tensor.backward``)."""
        if (
            gradient is None
            and inputs is None
            and self.grad_fn is not None
            and self._data.size == 1
        ):
            # the usual loss.backward(): seed with 1 and go, without the general argument checks
            seed = Tensor._wrap(ones_like_one(self._data), constant=True)
            run_backward((self,), (seed,), bool(retain_graph or create_graph), create_graph)
            return
        from chainrule.autograd.functional_api import backward

        backward(
            [self], None if gradient is None else [gradient], retain_graph, create_graph, inputs
        )

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> Callable[[], None]:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor
        replaces it.

        Returns a function that removes the hook.
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook on a tensor that doesn't require grad")
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        hooks = self._hooks

        def remove() -> None:
            if hook in hooks:
                hooks.remove(hook)

        return remove

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad on a tensor that doesn't require grad")
        if self.grad_fn is not None:
            self._retains_grad = True

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def detach(self) -> Tensor:
        """The same storage, cut from the graph."""
        t = Tensor._wrap(self._data)
        t._vbox = self._version_box()
        return t

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self.requires_grad = False
        return self

    # ---- casts (ops on this tensor; its values out and new_*: tensor_conversion.py) ------------
    def to(self, dtype: Any = None, *args: Any, **kwargs: Any) -> Tensor:
        """Convert dtype (differentiable); device strings such as 'cpu' are accepted and ignored."""
        dtype = kwargs.get("dtype", dtype)
        if isinstance(dtype, str) and dtype.split(":")[0] in ("cpu", "cuda"):
            dtype = args[0] if args else None
        if dtype is None:
            return self
        return _ops.cast(self, _dtype.as_dtype(dtype))

    def type(self, dtype: Any) -> Tensor:
        return self.to(dtype)

    def float(self) -> Tensor:
        return _ops.cast(self, _dtype.float32)

    def double(self) -> Tensor:
        return _ops.cast(self, _dtype.float64)

    def long(self) -> Tensor:
        return _ops.cast(self, _dtype.int64)

    def int(self) -> Tensor:
        return _ops.cast(self, _dtype.int32)

    def bool(self) -> Tensor:
        return _ops.cast(self, _dtype.bool_)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def reshape_as(self, other: Tensor) -> Tensor:
        return _ops.reshape(self, other.shape)

    def cpu(self) -> Tensor:
        return self

    def clone(self) -> Tensor:
        return _ops.clone(self)

    def contiguous(self) -> Tensor:
        return self

    # ---- printing -----------------------------------------------------------------------------
    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", precision=4, prefix="tensor(")
        extras = []
        if self._data.dtype not in (_dtype.float32, _dtype.int64, _dtype.bool_):
            extras.append(f"dtype=chainrule.{self._data.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.op.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        if self.name:
            extras.append(f"name={self.name!r}")
        return "tensor(" + ", ".join([body, *extras]) + ")"

    # ---- operators (recorded) -----------------------------------------------------------------
    # +, -, *, /, **, @, unary - and [] are the ops themselves, declared in tensor_methods.py and
    # bound by chainrule/ops/methods.py; the reflected ones swap the operands here.
    def __radd__(self, other: Any) -> Tensor:
        return _ops.add(other, self)

    def __rsub__(self, other: Any) -> Tensor:
        return _ops.sub(other, self)

    def __rmul__(self, other: Any) -> Tensor:
        return _ops.mul(other, self)

    def __rtruediv__(self, other: Any) -> Tensor:
        if (
            isinstance(other, (builtins.int, builtins.float, np.number))
            and self.is_floating_point()
        ):
            return _ops.rdiv(self, other)  # as PyTorch: reciprocal(self) * other
        return _ops.div(other, self)

    def __rpow__(self, other: Any) -> Tensor:
        return _ops.pow(other, self)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.matmul(other, self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ops.abs(self)

    def __iter__(self):  # type: ignore[no-untyped-def]
        for i in range(len(self)):
            yield self[i]

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ops.eq(self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ops.ne(self, other)

    def __lt__(self, other: Any) -> Tensor:
        return _ops.lt(self, other)

    def __le__(self, other: Any) -> Tensor:
        return _ops.le(self, other)

    def __gt__(self, other: Any) -> Tensor:
        return _ops.gt(self, other)

    def __ge__(self, other: Any) -> Tensor:
        return _ops.ge(self, other)

    def __invert__(self) -> Tensor:
        return _ops.logical_not(self)

    def __and__(self, other: Any) -> Tensor:
        return _ops.logical_and(self, other)

    def __or__(self, other: Any) -> Tensor:
        return _ops.logical_or(self, other)

    __hash__ = object.__hash__


_node._wrap = Tensor._wrap  # every op result is made by this, without an import per call
_node._tensor_class = Tensor
# ignore: engine.Tensor and the mixins' Tensor are late-bound globals (None until here); mypy only
# sees the class
_engine.Tensor = Tensor  # type: ignore[misc]
tensor_history.Tensor = Tensor  # type: ignore[misc]
tensor_in_place.Tensor = Tensor  # type: ignore[misc]
tensor_conversion.Tensor = Tensor  # type: ignore[misc]
# chainrule/ops/methods.py binds the op methods (exp, sum, ...), the operators and the ops the
# Tensor modules call once every op exists.
