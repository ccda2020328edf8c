"""How a tensor's history changes when it is written in place: its version, and (in grad mode) the
new graph node it takes over, for itself and for each of its views, as PyTorch's CopySlices. The
engine's side of it (which saved tensors changed since) is autograd/versions.py."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self

from chainrule.autograd import node as _node
from chainrule.autograd import versions
from chainrule.tensor_fields import TensorFields

if TYPE_CHECKING:
    from chainrule import ops as _ops
    from chainrule.tensor import Tensor
else:
    _ops = None  # chainrule.ops, bound by chainrule/ops/methods.py (the ops import Tensor)
    Tensor = None  # the class, bound by chainrule/tensor.py (which imports this module)


def read_only_error(what: str) -> RuntimeError:
    # a RuntimeError, as PyTorch's refusal to write where elements share memory
    return RuntimeError(
        f"{what}: this tensor is a broadcast view (from expand) or read-only, and can't be "
        "written in place; .clone() it first"
    )


class TensorHistory(TensorFields):
    """Versions, views and the rebase an in-place write recorded in grad mode goes through."""

    __slots__ = ()

    @property
    def _version(self) -> int:
        return 0 if self._vbox is None else self._vbox[0]

    def _version_box(self) -> list[Any]:
        """The version box, made now if this tensor had none (to be shared with a view)."""
        if self._vbox is None:
            self._vbox = versions.new_box()
        return self._vbox

    def _made_by_split(self) -> str | None:
        """The function (split, chunk, unbind) whose several views this one is or views."""
        view = self
        while view._base is not None:
            if view._view_fn is not None and view._view_fn[2] is not None:
                return view._view_fn[2]  # type: ignore[no-any-return]
            view = view._base
        return None

    def _root(self) -> TensorHistory:
        """The tensor whose storage this one views (itself if it is not a view)."""
        root: TensorHistory = self
        while root._base is not None:
            root = root._base
        return root

    def _rebase(self, compute: Callable[[Tensor], Tensor]) -> Self:
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

    def _rebase_view(self, compute: Callable[[Tensor], Tensor]) -> Self:
        """An in-place op on a view, recorded as PyTorch's CopySlices: the base takes the new
        history ``view_put(old base, compute(the view of the old base))`` and each of its views
        (this one too) a fresh view node over it."""
        chain: list[tuple[Any, dict[str, Any]]] = []
        view: TensorHistory = self
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
        if TYPE_CHECKING:  # (only Tensor has these methods)
            assert isinstance(self, Tensor)
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
            raise read_only_error(what)
