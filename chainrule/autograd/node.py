"""Primitives (an op with its derivative rules) and the graph nodes that applying one records."""

from __future__ import annotations

import itertools
import operator
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from chainrule._source import in_package
from chainrule.autograd.grad_mode import AnomalyError, state, thread_state
from chainrule.autograd.versions import register_view
from chainrule.errors import BadInputError, IndexOutOfRangeError

if TYPE_CHECKING:
    from chainrule.tensor import Tensor

# A rule maps (grad, out, *inputs, **params) -> the gradient for one input, as Tensors, so that
# create_graph=True differentiates the rule itself.
Rule = Callable[..., "Tensor"]

# What a primitive's kind may be (see Primitive)
KINDS = ("elementwise", "move", "copy", "sum", "layer", "other")


class Primitive:
    """An op that carries its own derivative: a NumPy forward and one rule per input.

    Parameters
    ----------
    name : str
        The op's name, used in errors, anomaly reports and the explainer.
    forward : callable
        ``forward(*arrays, **params) -> ndarray`` (``-> (ndarray, saved)`` with ``returns_saved``).
    grads : sequence of rules
        ``grads[i](grad, out, *inputs, **params)`` returns dL/d(input i) as a Tensor; ``None``
        for an input that is never differentiable (an index, a mask).
    tex : (str, sequence of str), optional
        The op as LaTeX and each input's local derivative as LaTeX, for the explainer.
    saves : sequence of int, optional
        The inputs the rules read; default all. (Documentation: the engine finds out itself
        when a rule reads a value changed in place since, see ``autograd/versions.py``.)
    saves_out : bool
        Whether the rules read ``out`` (documentation, likewise).
    view : bool
        The forward may return a view of input 0, so both share one version counter.
    variadic : bool
        Any number of inputs (cat): the rules take ``(grad, out, **params)`` only, so that a
        backward through n inputs doesn't pass all n to each of the n rules (n² work).
    returns_saved : bool
        The forward returns ``(out, saved)``: ``saved`` a tuple of arrays it made that the
        rules reuse (conv2d's im2col columns), or None. The node owns them (``Node.saved``) and
        drops them with its inputs; a rule reaches them with ``saved_of(out, op)``. Parameters
        stay static values.
    kind : str
        How output elements depend on input elements, for the explainer: ``"elementwise"``
        (element k reads each input at k's broadcast position), ``"move"`` (each element is a
        copy of one input element: reshape, permute, index), ``"copy"`` (both: clone, cast),
        ``"sum"`` (sums of input elements), ``"layer"`` (a weighted sum, δᵀa at tensor level:
        matmul, linear, conv), ``"other"``.
    inputs : sequence of str, optional
        The letters that stand for the inputs in ``tex`` (default x, y, z).
    params : sequence of str
        The names of the static parameters the forward takes by keyword (``dim``, ``stride``).
    symbols : mapping of str to str, optional
        The letter in ``tex`` of each parameter that appears there (``{"exponent": "n"}``).
    bare : sequence of str
        The input letters that need no parentheses where they stand in ``tex`` (x in x + y).
    why : str, optional
        Why this is a primitive and not composed from others: the composite would be
        unstable or slow (STYLE.md, principle 1); None where it can't be composed.
    """

    __slots__ = (
        "name",
        "forward",
        "grads",
        "tex",
        "saves",
        "saves_out",
        "view",
        "variadic",
        "returns_saved",
        "kind",
        "inputs",
        "params",
        "symbols",
        "bare",
        "why",
        "module",
    )

    def __init__(
        self,
        name: str,
        forward: Callable[..., np.ndarray] | Callable[..., tuple[np.ndarray, Any]],
        grads: Sequence[Rule | None],
        tex: tuple[str, Sequence[str]] | None = None,
        saves: Sequence[int] | None = None,
        saves_out: bool = False,
        view: bool = False,
        variadic: bool = False,
        returns_saved: bool = False,
        kind: str = "other",
        inputs: Sequence[str] | None = None,
        params: Sequence[str] = (),
        symbols: Mapping[str, str] | None = None,
        bare: Sequence[str] = (),
        why: str | None = None,
    ) -> None:
        self.name = name
        self.forward = forward
        self.grads = tuple(grads)
        self.tex = tex
        self.saves = tuple(range(len(self.grads))) if saves is None else tuple(saves)
        self.saves_out = saves_out
        self.view = view
        self.variadic = variadic
        self.returns_saved = returns_saved
        if kind not in KINDS:
            raise ValueError(f"primitive {name!r}: kind {kind!r} is not one of {', '.join(KINDS)}")
        self.kind = kind
        self.inputs = tuple("xyz"[: len(self.grads)] if inputs is None else inputs)
        self.params = tuple(params)
        self.symbols = dict(symbols or {})
        unknown = set(self.symbols) - set(self.params)
        if unknown:
            raise ValueError(f"primitive {name!r}: symbols for undeclared params {sorted(unknown)}")
        self.bare = tuple(bare)
        self.why = why
        # the module that declared it (for the handout; a factory's caller is the factory)
        self.module: str = sys._getframe(1).f_globals.get("__name__", "")

    @property
    def elementwise(self) -> bool:
        """Each output element reads the inputs at its broadcast position only."""
        return self.kind in ("elementwise", "copy")

    @property
    def moves(self) -> bool:
        """Each output element is a copy of one element of input 0."""
        return self.kind in ("move", "copy")

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"

    def __call__(self, *inputs: Tensor, **params: Any) -> Tensor:
        """Run the forward on the inputs' arrays and, in grad mode, record a Node."""
        try:
            n = len(inputs)
            if params:
                if n == 1:
                    out_data = self.forward(inputs[0]._data, **params)
                else:
                    out_data = self.forward(*map(_data_of, inputs), **params)
            elif n == 2:  # (an empty **params still costs a dict: the common ops take none)
                out_data = self.forward(inputs[0]._data, inputs[1]._data)
            elif n == 1:
                out_data = self.forward(inputs[0]._data)
            else:
                out_data = self.forward(*map(_data_of, inputs), **params)
        except (ValueError, IndexError) as exc:
            # NumPy's message names neither the op nor which operands; ours names both. The try
            # costs nothing until something fails.
            raise _forward_error(self, inputs, exc) from None
        saved = None
        if type(out_data) is not np.ndarray:
            if self.returns_saved:
                out_data, saved = out_data
            if type(out_data) is not np.ndarray:
                # NumPy's full reductions give scalars; a tensor holds an array (in-place
                # writes, views and .data share it)
                out_data = np.asarray(out_data)
        # Tensor._wrap and Node.__init__ spelled out: this is every op's path, and the two
        # calls cost as much as one small NumPy op
        out: Tensor = _new_tensor(_tensor_class)
        out._data = out_data
        out.requires_grad = False
        out.grad = out.grad_fn = out._base = out._hooks = out.name = out.element_names = None
        out._history = out._view_fn = None
        out._retains_grad = False
        if self.view and out_data.base is not None and _shares(out_data, inputs[0]._data):
            # a real view: one version box, and a way to regenerate its history if the storage
            # takes a new one (an in-place write recorded on it or on its base)
            box = out._vbox = inputs[0]._version_box()
            out._base = inputs[0]
            out._view_fn = (self, params, None)
            register_view(box, out)
        else:
            out._vbox = None  # made on first need (Tensor._version_box)
        if thread_state.grad_enabled:
            for t in inputs:
                if t.requires_grad:
                    if out_data.dtype.kind == "f":
                        out.requires_grad = True
                        node = _new_node(Node)
                        node.op = self
                        node.inputs = inputs
                        node.params = params
                        node.saved = saved
                        node.stamp = state.writes
                        node.seq = next(_creation_order)
                        node.created_at = _user_frame() if state.anomaly else None
                        out.grad_fn = node
                    break
        if state.anomaly:
            _check_forward(self, inputs, out_data)
        if state.tracers:
            tracer = thread_state._tracing
            if tracer is not None:  # a step traced for replay (autograd/tracer.py)
                tracer.on_call(self, inputs, params, out, saved)
        return out


_data_of = operator.attrgetter("_data")
_new_tensor = _new_node = object.__new__
_tensor_class: Any = None  # chainrule.tensor.Tensor, set with _wrap below
# Tensor._wrap, set by chainrule.tensor once the class exists (node.py is imported before it).
# (the cast is a placeholder's type, run once at import, not on the call path)
_wrap: Callable[[np.ndarray], Tensor] = cast(  # replaced by Tensor._wrap on import
    "Callable[[np.ndarray], Tensor]", np.asarray
)


_creation_order = itertools.count()


class Node:
    """One recorded application of a primitive: the backward graph's vertex.

    Holds its inputs strongly and not its output at all, so no reference cycle keeps a graph
    alive; the engine reaches a node through its output tensor (a root, or the input whose
    ``grad_fn`` it is) and hands that tensor to the rules, so ``grad * out`` sees the real
    output and second derivatives stay right.
    """

    __slots__ = (
        "op",
        "inputs",
        "params",
        "saved",
        "stamp",
        "seq",
        "created_at",
        "__weakref__",
    )

    # Made only by Primitive.__call__ (inline, on every op's path):
    op: Primitive
    inputs: tuple[Tensor, ...] | None  # None once backward released them
    params: dict[str, Any]  # static values only
    saved: tuple[np.ndarray, ...] | None  # what the forward saved for the rules (returns_saved)
    # the in-place writes so far (state.writes): a saved tensor written later has a larger
    # number in its version box, which backward checks (only if anything was written since)
    stamp: int
    seq: int  # creation order: the engine takes nodes latest-made first
    created_at: str | None  # where the op was called, in anomaly mode

    @property
    def name(self) -> str:
        return self.op.name

    @property
    def released(self) -> bool:
        return self.inputs is None

    def release(self) -> None:
        """Drop what backward needed; a later backward through this node fails clearly."""
        self.inputs = None
        self.params = {}
        self.saved = None

    def __repr__(self) -> str:
        return f"<{self.op.name}Backward>"


def make_node(
    op: Primitive, inputs: tuple[Tensor, ...], params: dict[str, Any], stamp: int
) -> Node:
    """A node made outside a forward call (a view's history regenerated after a write)."""
    node: Node = _new_node(Node)
    node.op = op
    node.inputs = inputs
    node.params = params
    node.saved = None
    node.stamp = stamp
    node.seq = next(_creation_order)
    node.created_at = _user_frame() if state.anomaly else None
    return node


def saved_of(out: Tensor, op: Primitive) -> tuple[np.ndarray, ...] | None:
    """What ``op``'s forward saved for its rules (``returns_saved``), reached from its output
    ``out`` (a rule's second argument); None where there is nothing (a rule called outside
    backward, a node already released), so the rule computes it again."""
    node = out.grad_fn
    if node is None or node.op is not op:
        return None
    return node.saved


def take_saved(out: Tensor, op: Primitive) -> tuple[np.ndarray, ...] | None:
    """``saved_of``, handed over: the node forgets it, for a rule whose op writes into the
    arrays (a second backward through the node computes them again)."""
    node = out.grad_fn
    if node is None or node.op is not op:
        return None
    saved, node.saved = node.saved, None
    return saved


def _shares(out: np.ndarray, source: np.ndarray) -> bool:
    """Whether a view op's result is a real view (one version counter) and not a copy, as a
    reshape of a transposed array is. Identity checks first; the memory-range test is rarer."""
    base = out.base
    return base is source or base is source.base or np.may_share_memory(out, source)


def _forward_error(op: Primitive, inputs: tuple[Tensor, ...], exc: Exception) -> Exception:
    """The error a failed forward raises: the op's name, its inputs' shapes, NumPy's reason."""
    message = str(exc).strip()
    if message.startswith(f"{op.name}:"):
        return exc  # already ours
    shapes = [str(tuple(t.shape)) for t in inputs]
    listed = shapes[0] if len(shapes) == 1 else ", ".join(shapes[:-1]) + " and " + shapes[-1]
    kind = IndexOutOfRangeError if isinstance(exc, IndexError) else BadInputError
    if "broadcast" in message:
        return kind(f"{op.name}: shapes {listed} can't be broadcast together")
    dtypes = ", ".join(str(t.dtype) for t in inputs)
    return kind(f"{op.name}: {message} (inputs of shape {listed}, dtype {dtypes})")


def _user_frame() -> str:
    """The innermost stack frame outside chainrule, for anomaly reports."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        if not in_package(frame.filename):
            return f"{frame.filename}:{frame.lineno} in {frame.name}: {frame.line}"
    return "<unknown>"


def _nonfinite(array: np.ndarray) -> bool:
    return array.dtype.kind == "f" and not np.isfinite(array).all()


def _check_forward(op: Primitive, inputs: tuple[Tensor, ...], out_data: np.ndarray) -> None:
    if _nonfinite(out_data) and not any(_nonfinite(t._data) for t in inputs):
        bad = "nan" if np.isnan(out_data).any() else "inf"
        raise AnomalyError(
            f"anomaly: '{op.name}' produced {bad} in the forward pass from finite inputs "
            f"(input shapes {[tuple(t.shape) for t in inputs]}) at {_user_frame()}"
        )
