"""Backpropagation as it is computed, beside the path-by-path derivation: each tensor's δ
(= ∂loss/∂tensor) computed once from the δs just above it and reused below, what that reuse
saves, diagnostics a teacher points at (saturated units, vanishing or exploding gradients), and
the gradient-descent step w ← w − η · ∂loss/∂w.

The δ values are the engine's own gradients; the formulas come from the same tensor-level
expressions the tensor derivations print, so the two views cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from chainrule.explain.records import Array, Delta, Diagnostic, Reuse, Update
from chainrule.explain.tensor_paths import render_expression, tensor_edge
from chainrule.explain.trace import Graph, Traced

__all__ = ["deltas", "diagnostics", "reuse", "updates"]

# ops whose output is a layer's pre-activation (z = W a + b): a δ is shown for them even when
# unnamed, so an nn.Sequential reads δ_z per layer as in the seeds
SATURATED = 1e-3  # a sigmoid/tanh whose local derivative is below this passes almost nothing
EXPLODING = 1e3  # a gradient norm above this
VANISHING = 1e-3  # a gradient norm below this fraction of the largest one
MAX_ROUTES = 8  # routes between two δs written out; more are summarised


# ---- δ form ------------------------------------------------------------------------------------
def deltas(
    graph: Graph, named: Sequence[Traced], engine: Mapping[int, Any], max_elements: int
) -> tuple[Delta, ...]:
    """The δ of every stop (a named tensor, a layer's pre-activation, a parameter) from the loss
    down, each written in the δs of the stops just above it."""
    stops = _stops(graph, named)
    consumers = _consumers(graph)
    loss = graph.items[-1]
    one = Array.from_numpy(np.ones(loss.tensor.shape, loss.tensor.dtype))
    out = [Delta(loss.name, loss.tex, tuple(loss.tensor.shape), "1", (), 1.0, one, "loss")]
    order = [
        graph.items[p]
        for p in sorted(stops, reverse=True)
        if graph.items[p] is not loss and graph.items[p].tensor.requires_grad
    ]
    # the stops explain() did not ask the engine about (unnamed layer outputs): one pass for all
    missing = _gradients(graph, [item for item in order if id(item.tensor) not in engine])
    for item in order:
        position = item.position
        gradient = engine.get(id(item.tensor), missing.get(id(item.tensor)))
        if gradient is None:
            continue
        routes = _routes_up(position, stops, consumers)
        expressions = [
            render_expression(_route_expression(graph, route)) for route in routes[:MAX_ROUTES]
        ]
        if len(routes) > MAX_ROUTES:
            expressions.append(rf"\ldots\ ({len(routes) - MAX_ROUTES}\ \text{{more}})")
        above = tuple(dict.fromkeys(graph.items[route[0][0]].name for route in routes))
        norm = float(np.sqrt(np.sum(np.square(gradient, dtype=np.float64))))
        value = Array.from_numpy(gradient) if gradient.size <= max_elements else None
        out.append(
            Delta(
                item.name,
                item.tex,
                tuple(item.tensor.shape),
                " + ".join(expressions) if expressions else "0",
                above,
                norm,
                value,
                "parameter" if item.kind == "parameter" else "intermediate",
            )
        )
    return tuple(out)


def _gradients(graph: Graph, items: Sequence[Traced]) -> dict[int, np.ndarray | None]:
    """The engine's ∂loss/∂item for each item, in one backward pass that keeps the graph."""
    from chainrule.autograd.functional_api import grad
    from chainrule.tensor import Tensor

    if not items:
        return {}
    loss = graph.loss
    ones = Tensor._wrap(np.ones(loss.shape, dtype=loss.dtype))
    tensors = [item.tensor for item in items]
    grads = grad(loss, tensors, grad_outputs=ones, retain_graph=True, allow_unused=True)
    return {
        id(t): None if g is None else np.asarray(g._data)
        for t, g in zip(tensors, grads, strict=True)
    }


def _stops(graph: Graph, named: Sequence[Traced]) -> set[int]:
    stops = {item.position for item in named}
    for item in graph.items:
        if item.node is not None and item.node.op.kind == "layer":
            stops.add(item.position)
    stops.add(len(graph.items) - 1)
    return stops


def _consumers(graph: Graph) -> dict[int, list[tuple[int, int]]]:
    """For each position: (consumer position, input slot) of every op that reads it."""
    consumers: dict[int, list[tuple[int, int]]] = {}
    for position in range(len(graph.items)):
        for slot, child in graph.edges(position):
            consumers.setdefault(child, []).append((position, slot))
    return consumers


def _routes_up(
    position: int, stops: set[int], consumers: Mapping[int, list[tuple[int, int]]]
) -> list[list[tuple[int, int]]]:
    """Every route from ``position`` up to the nearest stops, as (consumer, slot) edges from the
    stop down (the order the backward pass applies them)."""
    routes: list[list[tuple[int, int]]] = []
    stack: list[tuple[int, list[tuple[int, int]]]] = [(position, [])]
    while stack and len(routes) <= 4 * MAX_ROUTES:
        current, below = stack.pop()
        for consumer, slot in reversed(consumers.get(current, [])):
            route = [(consumer, slot)] + below
            if consumer in stops:
                routes.append(route)
            else:
                stack.append((consumer, route))
    return routes


def _route_expression(graph: Graph, route: list[tuple[int, int]]) -> Any:
    expression: Any = ("delta", graph.items[route[0][0]].tex)
    for consumer, slot in route:
        expression = tensor_edge(graph, consumer, slot, expression)
    return expression


# ---- what the reuse saves ----------------------------------------------------------------------
def reuse(derivations: Sequence[Any]) -> Reuse:
    """Operations path by path against the δ form, over the element-level derivations."""
    path_multiplications = sum(max(len(p.steps) - 1, 0) for d in derivations for p in d.paths)
    path_additions = sum(max(len(d.paths) - 1, 0) for d in derivations)
    steps: dict[tuple[str, str, str], Any] = {}
    for d in derivations:
        for path in d.paths:
            for step in path.steps:
                steps.setdefault((step.upper, step.lower, step.via), step)
    loss = derivations[0].loss
    # δ_loss = 1: a step from the loss is a factor, not a multiplication (as a path's first)
    multiplications = sum(1 for upper, _, _ in steps if upper != loss)
    into: dict[str, int] = {}
    for _, lower, _ in steps:
        into[lower] = into.get(lower, 0) + 1
    additions = sum(count - 1 for count in into.values())
    paths = sum(len(d.paths) for d in derivations)
    return Reuse(paths, path_multiplications, path_additions, multiplications, additions)


# ---- diagnostics -------------------------------------------------------------------------------
def diagnostics(
    graph: Graph, parameters: Sequence[Traced], engine: Mapping[int, Any]
) -> tuple[Diagnostic, ...]:
    """Saturated sigmoid/tanh units, then each parameter's gradient norm with a warning where
    it vanishes against the largest or explodes."""
    found = []
    for item in graph.items:
        node = item.node
        if node is None or node.op.name not in ("sigmoid", "tanh") or not item.differentiable:
            continue
        out = np.asarray(item.tensor._data, dtype=np.float64)
        local = out * (1 - out) if node.op.name == "sigmoid" else 1 - out * out
        saturated = local < SATURATED
        if saturated.any():
            symbol = "σ'" if node.op.name == "sigmoid" else "tanh'"
            found.append(
                Diagnostic(
                    "saturated",
                    item.name,
                    f"{int(saturated.sum())} of {local.size} {node.op.name} outputs in "
                    f"{item.name} are saturated ({symbol} < {SATURATED:g}, smallest "
                    f"{float(local.min()):.2g}): the gradient through them almost vanishes",
                    float(saturated.mean()),
                )
            )
    norms = []
    for item in parameters:
        gradient = engine.get(id(item.tensor))
        if gradient is None:
            continue
        norm = float(np.sqrt(np.sum(np.square(gradient, dtype=np.float64))))
        norms.append((item.name, norm))
        found.append(Diagnostic("norm", item.name, f"‖∂L/∂{item.name}‖ = {norm:.3g}", norm))
    finite = [norm for _, norm in norms if np.isfinite(norm)]
    largest = max(finite, default=0.0)
    for subject, norm in norms:
        if not np.isfinite(norm):
            found.append(
                Diagnostic(
                    "not finite",
                    subject,
                    f"the gradient of {subject} is not finite ({norm}): training would diverge",
                    norm,
                )
            )
        elif norm > EXPLODING:
            found.append(
                Diagnostic(
                    "exploding",
                    subject,
                    f"the gradient of {subject} explodes (norm {norm:.3g} > {EXPLODING:g}): "
                    "lower the learning rate, clip gradients or rescale the inputs",
                    norm,
                )
            )
        elif largest > 0 and norm < VANISHING * largest:
            found.append(
                Diagnostic(
                    "vanishing",
                    subject,
                    f"the gradient of {subject} vanishes (norm {norm:.3g}, under "
                    f"{VANISHING:g} × the largest, {largest:.3g}): it will barely learn",
                    norm,
                )
            )
    return tuple(found)


# ---- the update --------------------------------------------------------------------------------
def updates(
    derivations: Sequence[Any], tensors: Mapping[str, Any], lr: float
) -> tuple[Update, ...]:
    """w ← w − lr · ∂loss/∂w for each derivation (an element or a whole tensor), with the
    engine's gradient and the parameter's dtype, as ``optim.SGD`` computes it."""
    out = []
    for d in derivations:
        data = np.asarray(tensors[d.tensor if hasattr(d, "index") else d.parameter]._data)
        if hasattr(d, "index"):  # one element
            value = data[d.index] if d.index else data.reshape(())
            gradient = data.dtype.type(d.engine)
            new = value - data.dtype.type(lr) * gradient
            out.append(Update(d.parameter, float(value), float(gradient), lr, float(new)))
        else:
            gradient = d.engine.numpy()
            new = data - data.dtype.type(lr) * gradient
            out.append(
                Update(
                    d.parameter,
                    Array.from_numpy(data),
                    Array.from_numpy(gradient),
                    lr,
                    Array.from_numpy(new),
                )
            )
    return tuple(out)
