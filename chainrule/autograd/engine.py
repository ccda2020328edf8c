"""The backward pass: an iterative walk of the recorded graph that applies each op's rules."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from heapq import heapify, heappop, heappush
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule.autograd.grad_mode import AnomalyError, state, thread_state
from chainrule.autograd.node import Node, _user_frame
from chainrule.autograd.versions import SavedTensorChangedError, as_saved

if TYPE_CHECKING:
    from chainrule.autograd.tracer import Tracer
    from chainrule.tensor import Tensor as Tensor  # `as`: exported, chainrule.ops rebinds it


def _not_bound(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("chainrule.ops has not been imported")


# Bound by chainrule.ops once the ops exist (the engine is imported before them).
sum_to: Callable[..., Tensor] = _not_bound
cast: Callable[..., Tensor] = _not_bound
if not TYPE_CHECKING:
    Tensor: Any = None  # noqa: F811 - the class itself, at run time


def run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[Tensor],
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence[Tensor] | None = None,
    accumulate: bool = True,
) -> list[Tensor | None]:
    """Propagate ``root_grads`` from ``roots`` back to the leaves.

    With ``accumulate`` the leaves' ``.grad`` (and retained grads) are updated, as
    ``Tensor.backward`` does; otherwise the gradients for ``inputs`` are returned, as
    ``autograd.grad`` does, and no ``.grad`` is touched.
    """
    wanted = {id(t): i for i, t in enumerate(inputs)} if inputs is not None else None
    results: list[Tensor | None] = [None] * (len(inputs) if inputs is not None else 0)
    # Leaf gradients are summed over all paths before hooks run and .grad is touched, as in
    # PyTorch: id -> [leaf, summed grad, whether that grad's array is ours to keep].
    leaf_grads: dict[int, list[Any]] = {}
    root_nodes: list[Node] = []
    pending: dict[Node, list[Any]] = {}  # node -> [summed grad, its output (kept alive)]
    # Anomaly mode checks each rule's result as a whole, naming the op whose backward it is, so
    # the ops a rule runs inside (the div in sqrt's rule) must not report themselves.
    anomaly, grad_mode, writes = state.anomaly, thread_state.grad_enabled, state.writes
    tracing = thread_state._tracing if state.tracers else None
    if tracing is not None and (retain_graph or create_graph):
        tracing.refuse("its backward keeps the graph (retain_graph or create_graph)")
    # Without create_graph (and outside a trace, which records every sum as an op) two paths'
    # gradients are summed as arrays: the sum needs no node, only a Tensor around it
    sum_arrays = not create_graph and tracing is None
    state.anomaly = False
    thread_state.grad_enabled = create_graph  # step 5: rules record a graph only for create_graph
    try:
        for root, grad in zip(roots, root_grads, strict=True):
            node = root.grad_fn
            if node is None:
                _deliver(leaf_grads, root, grad, False)
            elif node in pending:
                pending[node][0] = pending[node][0] + grad
            else:
                pending[node] = [grad, root]
                root_nodes.append(node)
        # Steps 1-2: a node's consumers were all made after it, so taking nodes latest-made
        # first (a heap on the creation number) reaches each one after all of its consumers,
        # with its gradient complete; no counting walk is needed.
        ready = [(-node.seq, node) for node in root_nodes]
        heapify(ready)
        if tracing is not None:
            _check_traced(tracing, root_nodes)
        pop_pending = pending.pop
        # Step 3, inlined (this loop is the engine's hot path): send a gradient to each input
        # that needs one.
        while ready:
            node = heappop(ready)[1]
            grad, out = pop_pending(node)
            inputs = node.inputs
            if inputs is None:
                raise _freed_error(node)
            if wanted is not None or out._hooks or out._retains_grad:
                grad = _output_extras(grad, out, wanted, results)
            op = node.op
            if node.stamp == writes:
                rule_inputs, rule_out = inputs, out
            else:
                # something was written in place since this node was made: its edges lead to
                # its inputs' histories as they were, and a rule that reads a changed value raises
                inputs, rule_inputs, rule_out = as_saved(node, inputs, out)
            rules = op.grads
            params = node.params
            input_arrays: set[int] | None = None
            variadic = op.variadic
            for i, tensor in enumerate(inputs):
                if not tensor.requires_grad:
                    continue
                rule = rules[i]
                if rule is None:
                    continue
                try:
                    if variadic:
                        input_grad = rule(grad, rule_out, **params)
                    else:
                        input_grad = rule(grad, rule_out, *rule_inputs, **params)
                except SavedTensorChangedError as exc:
                    raise SavedTensorChangedError(str(exc)) from None
                data, target = input_grad._data, tensor._data
                if data.shape != target.shape:
                    input_grad = sum_to(input_grad, target.shape)
                dtype = input_grad._data.dtype
                if dtype is not target.dtype and dtype != target.dtype:  # `is` first: cheaper
                    input_grad = cast(input_grad, target.dtype)
                if anomaly:
                    _check_backward(node, i, grad, input_grad)
                child = tensor.grad_fn
                if child is None:
                    # A rule may hand back the incoming gradient itself or a view of it (add,
                    # reshape): such an array is not ours to keep as .grad; a computed one is.
                    entry = leaf_grads.get(id(tensor))
                    if entry is not None:
                        # (a sum is always a fresh array)
                        if sum_arrays:
                            entry[1] = Tensor._wrap(entry[1]._data + input_grad._data, True)
                        else:
                            entry[1] = entry[1] + input_grad
                        entry[2] = True
                        continue
                    data = input_grad._data
                    fresh = data.base is None and data is not grad._data and data.flags.writeable
                    if fresh:
                        if len(inputs) <= 8:
                            for t in inputs:
                                if data is t._data:
                                    fresh = False
                        else:  # cat of many: one set per node, not a scan per input (n²)
                            if input_arrays is None:
                                input_arrays = {id(t._data) for t in inputs}
                            fresh = id(data) not in input_arrays
                    leaf_grads[id(tensor)] = [tensor, input_grad, fresh]
                    continue
                entry = pending.get(child)
                if entry is None:
                    pending[child] = [input_grad, tensor]
                    heappush(ready, (-child.seq, child))
                    if tracing is not None:
                        _check_traced(tracing, (child,))
                elif sum_arrays:
                    entry[0] = Tensor._wrap(entry[0]._data + input_grad._data, True)
                else:
                    entry[0] = entry[0] + input_grad
            if not retain_graph:
                node.inputs = None  # step 4: release what the rules needed
                node.params = _RELEASED
                node.saved = None
        _finish_leaves(leaf_grads, wanted, results, accumulate, create_graph)
    finally:
        state.anomaly, thread_state.grad_enabled = anomaly, grad_mode
    return results


_RELEASED: dict[str, Any] = {}


def _check_traced(tracing: Tracer, nodes: Sequence[Node]) -> None:
    """A step traced for replay must make its whole graph: a node from before the trace (an
    argument's history) would be replayed with the arrays it saved back then."""
    for node in nodes:
        if node.seq < tracing.first_seq:
            tracing.refuse("its backward reaches a graph built before the step (detach it)")


def _deliver(leaf_grads: dict[int, list[Any]], leaf: Tensor, grad: Tensor, fresh: bool) -> None:
    entry = leaf_grads.get(id(leaf))
    if entry is None:
        leaf_grads[id(leaf)] = [leaf, grad, fresh]
    else:
        entry[1] = entry[1] + grad
        entry[2] = True


def _freed_error(node: Node) -> RuntimeError:
    return RuntimeError(
        f"backward through '{node.op.name}' a second time: its saved values were freed by the "
        "first backward; pass retain_graph=True to the first backward() if you need to go "
        "through the graph again"
    )


def _output_extras(
    grad: Tensor, out: Tensor, wanted: dict[int, int] | None, results: list[Tensor | None]
) -> Tensor:
    """The rarer duties at a node's output: its hooks, grad()'s capture, retain_grad."""
    if thread_state.tracing is not None and (out._hooks or out._retains_grad):
        thread_state.tracing.refuse("a hook or retain_grad runs in its backward")
    if out._hooks:
        for hook in out._hooks:
            replaced = hook(grad)
            if replaced is not None:
                grad = replaced
    if wanted is not None:
        index = wanted.get(id(out))
        if index is not None:
            results[index] = grad
    elif out._retains_grad:
        _accumulate(out, grad, thread_state.grad_enabled, False)
    return grad


def _finish_leaves(
    leaf_grads: dict[int, list[Any]],
    wanted: dict[int, int] | None,
    results: list[Tensor | None],
    accumulate: bool,
    create_graph: bool,
) -> None:
    """Step 3 at the leaves: run hooks on each leaf's total gradient, then store it."""
    for tensor, grad, fresh in leaf_grads.values():
        index = wanted.get(id(tensor)) if wanted is not None else None
        if wanted is not None and index is None:
            continue  # a leaf grad() wasn't asked for: no hooks, as in PyTorch
        if tensor._hooks:
            if thread_state.tracing is not None:
                thread_state.tracing.refuse("a hook runs in its backward")
            for hook in tensor._hooks:
                replaced = hook(grad)
                if replaced is not None:
                    grad, fresh = replaced, False
        if index is not None:
            results[index] = grad
        elif accumulate:
            _accumulate(tensor, grad, create_graph, fresh)


def _accumulate(tensor: Tensor, grad: Tensor, create_graph: bool, fresh: bool = False) -> None:
    """Add into ``tensor.grad``; the first time, keep ``grad``'s array only if it is ``fresh``
    (computed for this purpose, shared with nothing), else a copy of it."""
    if create_graph:
        tensor.grad = grad if tensor.grad is None else tensor.grad + grad
        return
    fresh = fresh and grad.grad_fn is None
    tracing = thread_state._tracing if state.tracers else None
    if tracing is not None:
        tracing.on_accumulate(tensor, grad, fresh)
    accumulate_array(tensor, grad._data, fresh)
    if tracing is not None:
        tracing.on_grad_stored(tensor)


def accumulate_array(tensor: Tensor, grad: np.ndarray, fresh: bool) -> None:
    """``_accumulate`` without a graph, on the array (a replayed step calls this too)."""
    if tensor.grad is None:
        tensor.grad = Tensor._wrap(grad if fresh else np.array(grad, copy=True))
    elif tensor.grad.requires_grad:
        tensor.grad = Tensor._wrap(tensor.grad._data + grad)
    else:
        tensor.grad._data += grad


def _check_backward(node: Node, index: int, grad: Tensor, input_grad: Tensor) -> None:
    bad_in = np.isfinite(grad._data).all()
    if bad_in and not np.isfinite(input_grad._data).all():
        kind = "nan" if np.isnan(input_grad._data).any() else "inf"
        where = node.created_at or _user_frame()
        raise AnomalyError(
            f"anomaly: the backward of '{node.op.name}' produced {kind} for input {index} from a "
            f"finite incoming gradient; the op was created at {where}"
        )
