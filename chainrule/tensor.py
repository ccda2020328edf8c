"""Tensor: a NumPy array plus the autograd fields. Its methods delegate to ``chainrule.ops``, which
chainrule/ops/methods.py binds here (this module imports no op: the ops import Tensor)."""

from __future__ import annotations

import builtins
import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule import _dtype
from chainrule.autograd import engine as _engine
from chainrule.autograd import node as _node
from chainrule.autograd import versions
from chainrule.autograd.engine import run_backward
from chainrule.autograd.grad_mode import reads_data, thread_state
from chainrule.errors import BadDataError, BadInputError, IndexOutOfRangeError

if TYPE_CHECKING:
    from chainrule import ops as _ops
    from chainrule.autograd.node import Node
else:
    _ops = None  # chainrule.ops, bound by chainrule/ops/methods.py (the ops import Tensor)


def _in_place(method: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """Give an in-place method's NumPy shape errors the method's name and the shapes involved
    (the try costs nothing until something fails)."""
    name = method.__name__

    @functools.wraps(method)
    def wrapper(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        try:
            return method(self, *args, **kwargs)
        except ValueError as exc:
            if str(exc).startswith(name):
                raise
            raise _in_place_error(name, self, args, exc) from None

    return wrapper


def _read_only_error(what: str) -> RuntimeError:
    # a RuntimeError, as PyTorch's refusal to write where elements share memory
    return RuntimeError(
        f"{what}: this tensor is a broadcast view (from expand) or read-only, and can't be "
        "written in place; .clone() it first"
    )


def _in_place_error(name: str, tensor: Tensor, args: tuple, exc: ValueError) -> Exception:
    if "read-only" in str(exc):
        return _read_only_error(name)
    shapes = [tuple(tensor.shape)] + [np.shape(_raw(a)) for a in args if a is not None]
    listed = ", ".join(str(s) for s in shapes[:-1]) + " and " + str(shapes[-1])
    return BadInputError(
        f"{name}: shapes {listed} can't be broadcast into the tensor's own shape "
        f"{tuple(tensor.shape)}"
    )


class Tensor:
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
        array = _as_array(data, dtype)
        self._data = array
        self.requires_grad = False
        self.grad: Tensor | None = None
        self.grad_fn: Node | None = None
        # [version, the in-place write (state.writes) that made it, views], shared by views;
        # made on first need (most tensors are never written or viewed); see autograd/versions
        self._vbox: list[Any] | None = None
        self._base: Tensor | None = None  # the tensor this one is a view of, if any
        # (view op, params, the split/chunk/unbind that made it or None), from _base
        self._view_fn: tuple[Any, dict[str, Any], str | None] | None = None
        # (write number, stand-in) for each history a recorded in-place write superseded
        self._history: list[tuple[int, Tensor]] | None = None
        self._hooks: list[Callable] | None = None
        self._retains_grad = False
        self.name: str | None = None
        self.element_names: np.ndarray | None = None
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
        tracer = thread_state.tracing
        if tracer is not None and not constant:  # a step traced for replay (autograd/tracer.py)
            tracer.on_wrap(array)
        return t

    # ---- properties ---------------------------------------------------------------------------
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
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def _version(self) -> int:
        return 0 if self._vbox is None else self._vbox[0]

    def _version_box(self) -> list[Any]:
        """The version box, made now if this tensor had none (to be shared with a view)."""
        if self._vbox is None:
            self._vbox = versions.new_box()
        return self._vbox

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
            seed = Tensor._wrap(_ones_like_one(self._data), constant=True)
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

    # ---- conversion ---------------------------------------------------------------------------
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

    def cpu(self) -> Tensor:
        return self

    def clone(self) -> Tensor:
        return _ops.clone(self)

    def contiguous(self) -> Tensor:
        return self

    def is_contiguous(self) -> builtins.bool:
        return bool(self._data.flags.c_contiguous)

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

    # ---- in-place: recorded in grad mode (_records), else a versioned write ----------------
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

    def _made_by_split(self) -> str | None:
        """The function (split, chunk, unbind) whose several views this one is or views."""
        view = self
        while view._base is not None:
            if view._view_fn is not None and view._view_fn[2] is not None:
                return view._view_fn[2]  # type: ignore[no-any-return]
            view = view._base
        return None

    def _root(self) -> Tensor:
        """The tensor whose storage this one views (itself if it is not a view)."""
        root = self
        while root._base is not None:
            root = root._base
        return root

    def _rebase(self, compute: Callable[[Tensor], Tensor]) -> Tensor:
        """Record an in-place op as PyTorch does: the old value and history move to a snapshot,
        ``compute(snapshot)`` builds the new value out of place, and this tensor takes it over —
        its storage (aliases see the change), a bumped version and the new graph node. Nodes made
        before keep their edges to the old history (autograd/versions.py)."""
        self._check_writable("in-place op")
        if self._base is not None:
            return self._rebase_view(compute)
        write = versions.next_write()  # taken first: the nodes compute() makes come after it
        first = next(_node._creation_order)
        snapshot = self._snapshot(write)
        result = compute(snapshot)
        if result._data.dtype != self._data.dtype:
            result = _ops.cast(result, self._data.dtype)
        self._take_over(result, write, first)
        return self

    def _rebase_view(self, compute: Callable[[Tensor], Tensor]) -> Tensor:
        """An in-place op on a view, recorded as PyTorch's CopySlices: the base takes the new
        history ``view_put(old base, compute(the view of the old base))`` and each of its views
        (this one too) a fresh view node over it."""
        chain: list[tuple[Any, dict[str, Any]]] = []
        view = self
        while view._base is not None:
            if view._view_fn is None:  # pragma: no cover - every view op records its fn
                raise RuntimeError("in-place op on a view whose view op is unknown")
            chain.append(view._view_fn[:2])
            view = view._base
        root = view
        chain.reverse()
        write = versions.next_write()
        first = next(_node._creation_order)
        snapshot = root._snapshot(write)
        old_view = snapshot
        for op, params in chain:
            old_view = op(old_view, **params)
        new_view = compute(old_view)
        if new_view._data.dtype != self._data.dtype:
            new_view = _ops.cast(new_view, self._data.dtype)
        root._take_over(_ops.view_put(snapshot, new_view, tuple(chain)), write, first)
        return self

    def _snapshot(self, write: builtins.int) -> Tensor:
        """A copy of this tensor's values and history, as the input of the node that ``write``
        records. Its box says it was written at ``write``: that node (made at ``write``) reads it,
        while an older node that reaches it (exp, whose output this was) raises, as PyTorch."""
        snapshot = Tensor._wrap(self._data.copy(order="K"))
        snapshot.requires_grad = self.requires_grad
        snapshot.grad_fn = self.grad_fn
        snapshot._vbox = versions.new_box(self._version, write)
        snapshot._hooks = self._hooks  # hooks registered before the write see the old value's
        return snapshot

    def _take_over(self, result: Tensor, write: builtins.int, first: builtins.int) -> None:
        versions.freeze_aliases(result, self._data, first, write)
        versions.supersede(self, write)
        self._data[...] = result._data
        box = self._version_box()
        box[0] += 1
        box[1] = write
        self.requires_grad = result.requires_grad
        self.grad_fn = result.grad_fn
        versions.regenerate_views(box, write, _node.make_node)

    def _bump_version(self) -> None:
        """Count an in-place write: this storage's version, and the global write number that
        nodes compare against to see whether a saved tensor changed after they were made."""
        box = self._version_box()
        box[0] += 1
        box[1] = write = versions.next_write()
        if box[3]:
            versions.invalidate_split_views(box, write, _node.make_node)

    def _check_writable(self, what: str) -> None:
        if not self._data.flags.writeable:
            raise _read_only_error(what)

    def _set_data(self, what: str, array: np.ndarray) -> Tensor:
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

    def _ufunc_(self, what: str, ufunc: np.ufunc, other: Any) -> Tensor:
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
    ) -> Tensor:
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
    def add_(self, other: Any, alpha: builtins.float = 1.0) -> Tensor:
        return self._add_or_sub_("add_", np.add, _ops.add, other, alpha)

    @_in_place
    def sub_(self, other: Any, alpha: builtins.float = 1.0) -> Tensor:
        return self._add_or_sub_("sub_", np.subtract, _ops.sub, other, alpha)

    @_in_place
    def mul_(self, other: Any) -> Tensor:
        if self._records("mul_", other):
            return self._rebase(lambda old: _ops.mul(old, other))
        return self._ufunc_("mul_", np.multiply, _raw(other))

    @_in_place
    def div_(self, other: Any) -> Tensor:
        if self._records("div_", other):
            return self._rebase(lambda old: _ops.div(old, other))
        return self._ufunc_("div_", np.true_divide, _raw(other))

    @_in_place
    def addcmul_(self, a: Any, b: Any, value: builtins.float = 1.0) -> Tensor:
        if self._records("addcmul_", a, b):
            return self._rebase(lambda old: old + value * _ops.mul(a, b))
        return self._set_data("addcmul_", self._data + value * _raw(a) * _raw(b))

    @_in_place
    def addcdiv_(self, a: Any, b: Any, value: builtins.float = 1.0) -> Tensor:
        if self._records("addcdiv_", a, b):
            return self._rebase(lambda old: old + value * _ops.div(a, b))
        return self._set_data("addcdiv_", self._data + value * _raw(a) / _raw(b))

    @_in_place
    def pow_(self, exponent: Any) -> Tensor:
        if self._records("pow_", exponent):
            return self._rebase(lambda old: _ops.pow(old, exponent))
        return self._set_data("pow_", self._data ** _raw(exponent))

    def sqrt_(self) -> Tensor:
        if self._records("sqrt_"):
            return self._rebase(_ops.sqrt)
        return self._set_data("sqrt_", np.sqrt(self._data))

    @_in_place
    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        if self._records("clamp_", min, max):
            return self._rebase(lambda old: _ops.clamp(old, min, max))
        return self._set_data("clamp_", np.clip(self._data, _raw(min), _raw(max)))

    @_in_place
    def copy_(self, src: Any) -> Tensor:
        if self._records("copy_", src):
            # the old value is overwritten entirely: only src carries on
            return self._rebase(lambda old: _ops.add(old * 0.0, src))
        return self._set_data("copy_", np.asarray(_raw(src)))

    def zero_(self) -> Tensor:
        if self._records("zero_"):
            return self._rebase(lambda old: old * 0.0)
        return self._set_data("zero_", np.zeros((), self._data.dtype))

    @_in_place
    def fill_(self, value: Any) -> Tensor:
        if self._records("fill_", value):
            return self._rebase(lambda old: _ops.add(old * 0.0, value))
        return self._set_data("fill_", np.asarray(_raw(value)))

    def uniform_(self, a: builtins.float = 0.0, b: builtins.float = 1.0) -> Tensor:
        from chainrule.random import generator

        return self._fill_random("uniform_", generator().uniform(a, b, self.shape))

    def normal_(self, mean: builtins.float = 0.0, std: builtins.float = 1.0) -> Tensor:
        from chainrule.random import generator

        return self._fill_random("normal_", generator().normal(mean, std, self.shape))

    def _fill_random(self, what: str, draw: np.ndarray) -> Tensor:
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

    # ---- operators (recorded) -----------------------------------------------------------------
    # chainrule/ops/methods.py rebinds +, -, *, /, **, @, unary - and [] to the op itself (one
    # Python call less per operator; add, sub and mul go straight to the primitive for two
    # tensors of one dtype); the bodies here say what each one is.
    def __add__(self, other: Any) -> Tensor:
        return _ops.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _ops.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _ops.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _ops.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _ops.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _ops.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ops.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        if (
            isinstance(other, (builtins.int, builtins.float, np.number))
            and self.is_floating_point()
        ):
            return _ops.rdiv(self, other)  # as PyTorch: reciprocal(self) * other
        return _ops.div(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return _ops.pow(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _ops.pow(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.matmul(other, self)

    def __neg__(self) -> Tensor:
        return _ops.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ops.abs(self)

    def __getitem__(self, key: Any) -> Tensor:
        return _ops.index(self, key)

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


_ONE_SEEDS: dict[tuple[tuple[int, ...], np.dtype], np.ndarray] = {}


def _ones_like_one(array: np.ndarray) -> np.ndarray:
    """A read-only 1 of a one-element array's shape and dtype, made once: backward's usual seed.
    (Read-only, so a leaf that receives it as its gradient stores a copy.)"""
    key = (array.shape, array.dtype)
    seed = _ONE_SEEDS.get(key)
    if seed is None:
        seed = _ONE_SEEDS[key] = np.ones(array.shape, array.dtype)
        seed.flags.writeable = False
    return seed


def _raw(value: Any) -> Any:
    """The array behind a Tensor, or the value itself."""
    return value._data if isinstance(value, Tensor) else value


def _as_array(data: Any, dtype: Any) -> np.ndarray:
    """Build the array for a new tensor with PyTorch's dtype inference (floats become float32)."""
    if isinstance(data, Tensor):
        data = data._data
    try:
        array = _infer_array(data, dtype)
    except ValueError as exc:
        if "inhomogeneous" in str(exc) or "sequence" in str(exc):
            raise BadInputError(
                "tensor: the nested lists have different lengths; every row must "
                "have the same number of elements"
            ) from None
        raise
    if array.dtype.kind not in "biuf":
        raise BadDataError(
            f"can't build a tensor from {type(data).__name__} data (dtype "
            f"{array.dtype}): the data must be numbers, nested lists of numbers, or "
            "an array of them"
        )
    return array


def _infer_array(data: Any, dtype: Any) -> np.ndarray:
    if dtype is not None:
        return np.array(data, dtype=_dtype.as_dtype(dtype))
    if isinstance(data, np.ndarray):
        return data.copy()
    if isinstance(data, np.generic):
        return np.array(data)
    array = np.array(data)
    if array.dtype.kind == "f":
        return array.astype(_dtype.get_default_dtype(), copy=False)
    if array.dtype.kind in "iu":
        return array.astype(np.int64, copy=False)
    return array


_node._wrap = Tensor._wrap  # every op result is made by this, without an import per call
_node._tensor_class = Tensor
# ignore: engine.Tensor is a late-bound global (None until here); mypy only sees the class
_engine.Tensor = Tensor  # type: ignore[misc]
# chainrule/ops/methods.py binds the op methods (exp, sum, ...), the operators and _ops above
# once every op exists.
