"""Tensor's in-place methods (add_, mul_, copy_, fill_, ...) and ``t[key] = value``: recorded in
the graph in grad mode (``_records``), else a versioned write straight into the storage."""

from __future__ import annotations

import builtins
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from chainrule.autograd import versions
from chainrule.autograd.grad_mode import thread_state
from chainrule.errors import BadInputError, IndexOutOfRangeError
from chainrule.tensor_arrays import raw as _raw
from chainrule.tensor_history import TensorHistory, read_only_error

if TYPE_CHECKING:
    from chainrule import ops as _ops
    from chainrule.tensor import Tensor
else:
    _ops = None  # chainrule.ops, bound by chainrule/ops/methods.py (the ops import Tensor)
    Tensor = None  # the class, bound by chainrule/tensor.py (which imports this module)


def _in_place(method: Callable[..., Any]) -> Callable[..., Tensor]:
    """Give an in-place method's NumPy shape errors the method's name and the shapes involved
    (the try costs nothing until something fails)."""
    name = method.__name__

    @functools.wraps(method)
    def wrapper(self: InPlaceMethods, *args: Any, **kwargs: Any) -> Tensor:
        try:
            return method(self, *args, **kwargs)
        except ValueError as exc:
            if str(exc).startswith(name):
                raise
            raise _in_place_error(name, self, args, exc) from None

    return wrapper


def _in_place_error(name: str, tensor: InPlaceMethods, args: tuple, exc: ValueError) -> Exception:
    if "read-only" in str(exc):
        return read_only_error(name)
    shapes = [tuple(tensor.shape)] + [np.shape(_raw(a)) for a in args if a is not None]
    listed = ", ".join(str(s) for s in shapes[:-1]) + " and " + str(shapes[-1])
    return BadInputError(
        f"{name}: shapes {listed} can't be broadcast into the tensor's own shape "
        f"{tuple(tensor.shape)}"
    )


class InPlaceMethods(TensorHistory):
    """The in-place methods; ``_records`` decides between a recorded and a plain write."""

    __slots__ = ()

    def _records(self, what: str, *others: Any) -> builtins.bool:
        """Whether this in-place op must be recorded in the graph: grad mode is on and this tensor,
        the tensor it is a view of, or an operand requires grad. Raises where PyTorch does (a
        leaf that requires grad, or a view of one)."""
        if not thread_state.grad_enabled:
            return False
        root = self._root()
        if not (
            self.requires_grad
            or root.requires_grad
            or any(isinstance(o, Tensor) and o.requires_grad for o in others)
        ):
            return False
        several = self._made_by_split()
        if several is not None:
            raise versions.several_views_error(several, what)
        if root.requires_grad and root.grad_fn is None:
            whose = "a leaf tensor" if root is self else "a view of a leaf tensor"
            raise RuntimeError(
                f"{what}: {whose} that requires grad can't be changed in place while grad mode "
                "is on; wrap the update in chainrule.no_grad()"
            )
        if self._data.dtype.kind != "f":
            raise RuntimeError(
                f"{what}: a {self.dtype} tensor can't take a gradient-carrying value"
            )
        return True

    def _set_data(self, what: str, array: np.ndarray) -> Self:
        """Write ``array`` into this tensor's storage, as every in-place op does."""
        self._check_writable(what)
        if (
            array.dtype != self._data.dtype
            and self._data.dtype.kind != "f"
            and array.dtype.kind == "f"
        ):
            raise RuntimeError(
                f"{what}: result type {array.dtype} can't be cast to the "
                f"tensor's dtype {self._data.dtype}"
            )
        self._data[...] = array
        self._bump_version()
        return self

    def _ufunc_(self, what: str, ufunc: np.ufunc, other: Any) -> Self:
        """``self = ufunc(self, other)`` written straight into the storage (no temporaries)."""
        data = self._data
        try:
            ufunc(data, other, out=data, casting="same_kind")
        except TypeError:
            pass  # a float result for an integer tensor: _set_data says so, outside this except
        else:
            self._bump_version()
            return self
        return self._set_data(what, ufunc(data, other))

    def _add_or_sub_(
        self, what: str, ufunc: np.ufunc, op: Callable[..., Tensor], other: Any, alpha: Any
    ) -> Self:
        """``self ±= alpha * other``, the body of add_ and sub_."""
        if (
            not thread_state.grad_enabled
            and type(other) is Tensor
            and other._data.dtype is self._data.dtype
        ):
            # an optimizer's update: straight into the storage, without the general checks
            data = self._data
            ufunc(data, other._data if alpha == 1 else other._data * alpha, out=data)
            self._bump_version()
            return self
        if self._records(what, other):
            return self._rebase(lambda old: op(old, other, alpha=alpha))
        other = _raw(other)
        return self._ufunc_(what, ufunc, other if alpha == 1 else alpha * other)

    @_in_place
    def add_(self, other: Any, alpha: builtins.float = 1.0) -> Self:
        return self._add_or_sub_("add_", np.add, _ops.add, other, alpha)

    @_in_place
    def sub_(self, other: Any, alpha: builtins.float = 1.0) -> Self:
        return self._add_or_sub_("sub_", np.subtract, _ops.sub, other, alpha)

    @_in_place
    def mul_(self, other: Any) -> Self:
        if self._records("mul_", other):
            return self._rebase(lambda old: _ops.mul(old, other))
        return self._ufunc_("mul_", np.multiply, _raw(other))

    @_in_place
    def div_(self, other: Any) -> Self:
        if self._records("div_", other):
            return self._rebase(lambda old: _ops.div(old, other))
        return self._ufunc_("div_", np.true_divide, _raw(other))

    @_in_place
    def addcmul_(self, a: Any, b: Any, value: builtins.float = 1.0) -> Self:
        if self._records("addcmul_", a, b):
            return self._rebase(lambda old: old + value * _ops.mul(a, b))
        return self._set_data("addcmul_", self._data + value * _raw(a) * _raw(b))

    @_in_place
    def addcdiv_(self, a: Any, b: Any, value: builtins.float = 1.0) -> Self:
        if self._records("addcdiv_", a, b):
            return self._rebase(lambda old: old + value * _ops.div(a, b))
        return self._set_data("addcdiv_", self._data + value * _raw(a) / _raw(b))

    @_in_place
    def pow_(self, exponent: Any) -> Self:
        if self._records("pow_", exponent):
            return self._rebase(lambda old: _ops.pow(old, exponent))
        return self._set_data("pow_", self._data ** _raw(exponent))

    def sqrt_(self) -> Self:
        if self._records("sqrt_"):
            return self._rebase(_ops.sqrt)
        return self._set_data("sqrt_", np.sqrt(self._data))

    @_in_place
    def clamp_(self, min: Any = None, max: Any = None) -> Self:  # noqa: A002
        if self._records("clamp_", min, max):
            return self._rebase(lambda old: _ops.clamp(old, min, max))
        return self._set_data("clamp_", np.clip(self._data, _raw(min), _raw(max)))

    @_in_place
    def copy_(self, src: Any) -> Self:
        if self._records("copy_", src):
            # the old value is overwritten entirely: only src carries on
            return self._rebase(lambda old: _ops.add(old * 0.0, src))
        return self._set_data("copy_", np.asarray(_raw(src)))

    def zero_(self) -> Self:
        if self._records("zero_"):
            return self._rebase(lambda old: old * 0.0)
        return self._set_data("zero_", np.zeros((), self._data.dtype))

    @_in_place
    def fill_(self, value: Any) -> Self:
        if self._records("fill_", value):
            return self._rebase(lambda old: _ops.add(old * 0.0, value))
        return self._set_data("fill_", np.asarray(_raw(value)))

    def uniform_(self, a: builtins.float = 0.0, b: builtins.float = 1.0) -> Self:
        from chainrule.random import generator

        return self._fill_random("uniform_", generator().uniform(a, b, self.shape))

    def normal_(self, mean: builtins.float = 0.0, std: builtins.float = 1.0) -> Self:
        from chainrule.random import generator

        return self._fill_random("normal_", generator().normal(mean, std, self.shape))

    def _fill_random(self, what: str, draw: np.ndarray) -> Self:
        if self._records(what):  # new values that depend on nothing: a zero gradient, as PyTorch
            return self._rebase(lambda old: _ops.add(old * 0.0, Tensor(draw, dtype=self.dtype)))
        return self._set_data(what, draw)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._check_writable("__setitem__")
        if self._records("__setitem__", value):
            self._rebase(lambda old: _ops.index_put(old, key, value))
            return
        key = _ops.normalize_key(key)
        try:
            self._data[key] = _raw(value)
        except (ValueError, IndexError) as exc:
            kind = IndexOutOfRangeError if isinstance(exc, IndexError) else BadInputError
            raise kind(
                f"__setitem__: {exc} (tensor shape {tuple(self.shape)}, value shape "
                f"{np.shape(_raw(value))})"
            ) from None
        self._bump_version()

    def __iadd__(self, other: Any) -> Tensor:
        return self.add_(other)

    def __isub__(self, other: Any) -> Tensor:
        return self.sub_(other)

    def __imul__(self, other: Any) -> Tensor:
        return self.mul_(other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self.div_(other)
