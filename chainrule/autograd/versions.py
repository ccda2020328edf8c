"""What an in-place write does to the graph, so that no gradient is ever silently wrong after one.

Three things, as PyTorch does them:

1. **Version boxes.** Tensors that share storage (views, ``detach()``, ``.data``) share one box
   ``[version, last write, views]``; every in-place write bumps it with a process-wide write
   number. A node made before that number saw the old values.
2. **History as it was.** A recorded in-place write (grad mode, a value that needs a gradient)
   gives the tensor a new ``grad_fn``; nodes that used the tensor before keep their edge to the
   old one. The tensor keeps a stand-in for each superseded history (``_history``), which the
   engine looks up by the node's write number. Views of the written storage get a fresh
   ``grad_fn`` over their base's new history, as PyTorch regenerates a view's ``grad_fn``.
3. **Saved values that changed.** A rule that reads a tensor written after its node was made is
   handed an :class:`_Overwritten` stand-in: any use of its values raises a RuntimeError naming
   the op and the tensor, while reading only its shape or dtype (sum's rule, a view's rule) works,
   so the error comes exactly where the gradient would need the old values.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule.autograd.grad_mode import state

if TYPE_CHECKING:
    from chainrule.autograd.node import Node
    from chainrule.tensor import Tensor

# [version, the write number of the last write, weakrefs to its views | None, whether one of
# them came from split/chunk/unbind]
Box = list[Any]


def new_box(version: int = 0, write: int = 0) -> Box:
    return [version, write, None, False]


def next_write() -> int:
    """Reserve the next write number (every in-place write takes one)."""
    state.writes += 1
    return state.writes


# ---- views: kept (weakly) on the storage's box, so a rebase can regenerate their histories ------
_PRUNE_AT = 64


def register_view(box: Box, view: Tensor) -> None:
    views = box[2]
    if views is None:
        box[2] = [weakref.ref(view)]
        return
    views.append(weakref.ref(view))
    if len(views) >= _PRUNE_AT and len(views) & (len(views) - 1) == 0:
        # at each power of two from 64 on: drop the dead ones (a parameter's w.T every step)
        views[:] = [ref for ref in views if ref() is not None]


def live_views(box: Box) -> list[Tensor]:
    """The views of this storage that still exist, oldest first (a view of a view after its
    base, so regenerating them in this order makes each one's node after its base's)."""
    views = box[2]
    if not views:
        return []
    alive = [view for view in (ref() for ref in views) if view is not None]
    box[2] = [weakref.ref(view) for view in alive]
    return alive


# ---- history: the tensor as a node made before a write saw it ----------------------------------
def supersede(tensor: Tensor, write: int) -> None:
    """Before ``tensor`` takes a new ``grad_fn`` at ``write``: keep a stand-in for its current
    history, for the nodes made before (their edges lead to the old history, as in PyTorch)."""
    from chainrule.tensor import Tensor

    standin = Tensor._wrap(tensor._data)  # values never read: the write changed them
    standin.requires_grad = tensor.requires_grad
    standin.grad_fn = tensor.grad_fn
    box = tensor._vbox
    standin._vbox = new_box(box[0] if box is not None else 0, write)
    standin.name = tensor.name
    # hooks registered before the write belong to the old value, as PyTorch's do
    standin._hooks, tensor._hooks = tensor._hooks, None
    history = tensor._history
    if history is None:
        tensor._history = [(write, standin)]
        return
    # an entry whose node a backward has already released only leads to a "second backward"
    # error; drop such entries (a buffer written every step would keep them all) but remember
    # how far, so a node from before them still gets that error
    kept = [entry for entry in history if not _released(entry[1])]
    if len(kept) != len(history):
        dropped = max(entry[0] for entry in history if _released(entry[1]))
        kept.insert(0, (dropped, _FREED))
    if kept and _no_history(kept[-1][1]) and _no_history(standin):
        kept.pop()  # two "no gradient here" stand-ins in a row answer every lookup alike
    kept.append((write, standin))
    tensor._history = kept


def _no_history(standin: Any) -> bool:
    return standin is not _FREED and standin.grad_fn is None and not standin.requires_grad


def _released(standin: Any) -> bool:
    return standin is _FREED or (standin.grad_fn is not None and standin.grad_fn.inputs is None)


_FREED: Any = object()  # a stand-in dropped after its history was freed by a backward


def as_of(tensor: Tensor, stamp: int, node: Node) -> Tensor:
    """``tensor`` as a node made at write number ``stamp`` saw it: the stand-in of the first
    history it had after then, or itself if it has had no other since."""
    history = tensor._history
    if history is None or history[-1][0] <= stamp:
        return tensor
    for write, standin in history:
        if write > stamp:
            if standin is _FREED:
                raise RuntimeError(
                    f"backward through '{node.op.name}' reaches a history of its input (shape "
                    f"{tuple(tensor.shape)}) that an earlier backward freed; pass "
                    "retain_graph=True to that backward if you need the graph again"
                )
            return standin  # type: ignore[no-any-return]
    return tensor


def freeze_aliases(result: Tensor, storage: np.ndarray, first: int, write: int) -> None:
    """Before a recorded write puts ``result`` into ``storage``: an input of the nodes the write
    made (creation number ``first`` on) that shares that storage (``y.mul_(y.detach())``,
    ``y.add_(y)``, ``y[:2] = y[2:]``) is replaced by a copy of its values now, with its history
    now, so the rules read the values the write used and the edge leads to the old history (not
    to the node being made, a cycle). Like the write's snapshot, the copy counts as written at
    ``write``: an older node that reaches it and reads it raises, as PyTorch does."""
    from chainrule.tensor import Tensor

    pending = [result.grad_fn]
    seen: set[int] = set()
    while pending:
        node = pending.pop()
        if node is None or node.seq < first or id(node) in seen or node.inputs is None:
            continue
        seen.add(id(node))
        inputs = list(node.inputs)
        for i, t in enumerate(inputs):
            if np.may_share_memory(t._data, storage):
                frozen = Tensor._wrap(t._data.copy())
                frozen.requires_grad = t.requires_grad
                frozen.grad_fn = t.grad_fn
                frozen._vbox = new_box(t._version, write)
                inputs[i] = frozen
            else:
                pending.append(t.grad_fn)
        node.inputs = tuple(inputs)


def regenerate_views(box: Box, write: int, made: Any) -> None:
    """After the storage behind ``box`` took a new history at ``write``: each of its views gets
    a fresh ``grad_fn`` over its base's current history (``made(op, inputs, params)`` builds the
    node), keeping its old one for the nodes that used it before."""
    for view in live_views(box):
        base = view._base
        view_fn = view._view_fn
        if base is None or view_fn is None:
            continue
        supersede(view, write)
        op, params, several = view_fn
        view.requires_grad = base.requires_grad
        if not base.requires_grad:
            view.grad_fn = None
        elif several is not None:
            view.grad_fn = made(_invalidated(), (base,), {"made_by": several}, write)
        else:
            view.grad_fn = made(op, (base,), params, write)


def invalidate_split_views(box: Box, write: int, made: Any) -> None:
    """After a write (in any mode) to storage that a split/chunk/unbind view shares: those views
    can't have their history regenerated (PyTorch refuses too); a backward through one of them
    from a node made after the write raises."""
    for view in live_views(box):
        view_fn = view._view_fn
        if view_fn is not None and view_fn[2] is not None and view.requires_grad:
            supersede(view, write)
            view.grad_fn = made(_invalidated(), (view._base,), {"made_by": view_fn[2]}, write)


def several_views_error(made_by: str, what: str) -> RuntimeError:
    return RuntimeError(
        f"{what}: this tensor is one of the views that {made_by}() returns (or a view of one), "
        "and it or the tensor it views was modified in place; functions that return several "
        f"views don't allow that, as in PyTorch: use the out-of-place form, or clone the "
        f"{made_by}() results first"
    )


def _refuse_invalidated(grad: Tensor, out: Tensor, x: Tensor, made_by: str) -> Tensor:
    raise several_views_error(made_by, "backward")


_INVALIDATED: list[Any] = []  # the primitive, made on first need (node.py imports this module)


def _invalidated() -> Any:
    if not _INVALIDATED:
        from chainrule.autograd.node import Primitive

        _INVALIDATED.append(
            Primitive("invalidated_view", lambda x, made_by: x, grads=[_refuse_invalidated])
        )
    return _INVALIDATED[0]


# ---- saved values that changed: any use of them raises ------------------------------------------
class SavedTensorChangedError(RuntimeError):
    """Raised when a rule reads a value that was changed in place after its node saved it."""


class _Overwritten:
    """Stands in for the array of a tensor that was written after a node saved it: its shape and
    dtype are there (rules may need them), any use of its values raises."""

    __array_priority__ = 1e6

    def __init__(self, array: np.ndarray, what: str) -> None:
        self.shape = array.shape
        self.dtype = array.dtype
        self.ndim = array.ndim
        self.size = array.size
        self.what = what

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise SavedTensorChangedError(self.what)

    __array_ufunc__ = __array_function__ = __array__ = __getitem__ = __iter__ = _refuse
    __float__ = __int__ = __bool__ = __len__ = _refuse

    def __getattr__(self, name: str) -> Any:
        raise SavedTensorChangedError(self.what)


def _binary_refusal(self: _Overwritten, other: Any) -> Any:
    raise SavedTensorChangedError(self.what)


for _name in (
    "add sub mul truediv floordiv pow matmul mod radd rsub rmul rtruediv rpow rmatmul "
    "lt le gt ge eq ne and or xor neg pos abs invert"
).split():
    setattr(_Overwritten, f"__{_name}__", _binary_refusal)
_Overwritten.__hash__ = None  # type: ignore[assignment]


def overwritten(tensor: Tensor) -> bool:
    """Whether a rule was handed the stand-in of a value changed in place since it was saved
    (for a rule that can compute the value again from what it still has)."""
    return isinstance(tensor._data, _Overwritten)


def _overwritten(tensor: Tensor, what: str) -> Tensor:
    from chainrule.tensor import Tensor

    standin = Tensor._wrap(tensor._data)
    standin._data = _Overwritten(tensor._data, what)  # type: ignore[assignment]
    standin.requires_grad = tensor.requires_grad
    return standin


def _describe(node: Node, tensor: Tensor, role: str) -> str:
    name = f" '{tensor.name}'" if tensor.name else ""
    return (
        f"{node.op.name}: {role}{name} (shape {tuple(tensor.shape)}, dtype {tensor.dtype}) was "
        f"modified in place after {node.op.name} saved it, and its backward needs the old "
        "values; clone it before changing it, or change a copy"
    )


def as_saved(
    node: Node, inputs: tuple[Tensor, ...], out: Tensor
) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...], Tensor]:
    """For a node made before some in-place write: (its inputs as it saw them, for the edges;
    the same with every written one replaced by an _Overwritten stand-in, for the rules; its
    output, likewise, for the rules)."""
    stamp = node.stamp
    for t in inputs:
        if _written_since(t, stamp):
            break
    else:
        if not _written_since(out, stamp):
            return inputs, inputs, out  # the writes since were to other tensors
    edges = tuple(as_of(t, stamp, node) for t in inputs)
    rule_inputs = tuple(
        _overwritten(t, _describe(node, t, f"input {i}")) if _written_since(t, stamp) else t
        for i, t in enumerate(edges)
    )
    seen_out = as_of(out, stamp, node)
    if _written_since(seen_out, stamp):
        seen_out = _overwritten(seen_out, _describe(node, seen_out, "its output"))
        seen_out.grad_fn = node  # what the forward saved stays within reach (saved_of)
    return edges, rule_inputs, seen_out


def _written_since(tensor: Tensor, stamp: int) -> bool:
    box = tensor._vbox
    return box is not None and box[1] > stamp
