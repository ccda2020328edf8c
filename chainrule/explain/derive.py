"""``explain(loss)``: the chain-rule derivation of each parameter's gradient as plain records —
every path from the loss to it, each edge's local derivative (formula and number), the product
along each path, the sum over paths — checked against the engine's own gradient.

The numbers come from the ops' own gradient rules, applied exactly as ``backward()`` applies
them, so a derivation and the engine cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from chainrule.autograd.functional_api import grad as autograd_grad
from chainrule.explain import backprop
from chainrule.explain.records import (  # re-exported: they were defined here once
    Array,
    Delta,
    Derivation,
    Diagnostic,
    Explanation,
    Path,
    Quantity,
    Reuse,
    Step,
    TensorDerivation,
    TensorPath,
    TensorStep,
    Update,
    _abbreviated,
    _split_element,
)
from chainrule.explain.trace import (
    Graph,
    Traced,
    format_number,
    paren,
    product_tex,
    split_factors,
)
from chainrule.tensor import Tensor

__all__ = [
    "Array",
    "Delta",
    "Derivation",
    "Diagnostic",
    "Explanation",
    "Path",
    "Quantity",
    "Reuse",
    "Step",
    "TensorDerivation",
    "TensorPath",
    "TensorStep",
    "Update",
    "explain",
]


# ---- explain -----------------------------------------------------------------------------------
def explain(
    loss: Tensor,
    params: Any = None,
    level: str = "auto",
    max_elements: int = 16,
    max_paths: int = 64,
    only: Iterable[str] | None = None,
    lr: float | None = None,
) -> Explanation:
    """Derive ∂loss/∂parameter by the chain rule, path by path, and check it against the engine.

    Parameters
    ----------
    loss : Tensor
        A one-element tensor whose graph is still recorded (call before ``backward()``, or use
        ``backward(retain_graph=True)``).
    params : Module, mapping name -> Tensor, iterable of Tensors or of names, optional
        The parameters to derive; default every leaf that requires grad. Names come from the
        tensors' ``.name``/element names, else from the mapping's keys or the module's
        ``named_parameters``. A list of names is the same as ``only=``.
    level : {"auto", "element", "tensor"}
        ``auto`` derives a small tensor (at most ``max_elements`` elements whose paths number
        at most ``max_paths`` in all) element by element, as the seeds do, and a bigger one
        as a tensor (∂L/∂W = δᵀa), with a note in ``notes`` saying how to ask for an element.
        ``element`` derives every element (refusing an element with more than
        ``max(max_paths, 256)`` paths).
    max_elements, max_paths : int
        The limits of ``auto``.
    only : iterable of str, optional
        Derive only these: parameter names (``"4.bias"``, ``"w5"``) or single elements
        (``"0.weight[1,2]"``, derived element by element whatever their tensor's size).
    lr : float, optional
        Also record one gradient-descent step, w ← w − lr · ∂loss/∂w (``updates``).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.names import name
    >>> x = name(cr.tensor(1.0, dtype=cr.float64), "x")
    >>> W = name(cr.tensor(0.5, dtype=cr.float64, requires_grad=True), "W")
    >>> z = name(W * x, "z")
    >>> L = name((z - 0.0) ** 2, "L")
    >>> e = explain(L, lr=0.1)
    >>> d = e["W"]
    >>> [(step.upper, step.lower, step.formula, step.value) for step in d.paths[0].steps]
    [('L', 'z', '2\\\\,(z - 0)', 1.0), ('z', 'W', 'x', 1.0)]
    >>> d.total, d.engine, d.agrees
    (1.0, 1.0, True)
    >>> e.updates[0].updated
    0.4
    """
    if not isinstance(loss, Tensor):
        raise TypeError(f"explain: expected the loss as a Tensor, got {type(loss).__name__}")
    if loss._data.size != 1:
        raise ValueError(
            f"explain: the loss must have one element, got shape {tuple(loss.shape)}; "
            "reduce it first (.sum() or .mean())"
        )
    if level not in ("auto", "element", "tensor"):
        raise ValueError(f"explain: level must be 'auto', 'element' or 'tensor', got {level!r}")
    if isinstance(params, str) or (
        isinstance(params, list | tuple) and params and all(isinstance(p, str) for p in params)
    ):
        only, params = ([params] if isinstance(params, str) else list(params)), None
    names = _parameter_names(params)
    graph = Graph(loss, names)
    chosen = _chosen(graph, params, names)
    requests = _requests(chosen, only)
    named = _reading_order(
        graph,
        [
            item
            for item in graph.items
            if (item.named or item.kind in ("loss", "parameter")) and item.kind != "constant"
        ],
    )
    wanted = [item.tensor for item in chosen] + [
        item.tensor for item in named if item.tensor.requires_grad and item not in chosen
    ]
    engine = _engine_gradients(loss, wanted)
    derivations: list[Derivation | TensorDerivation] = []
    notes: list[str] = []
    element_limit = max(max_paths, 256)
    for item, indices in requests:
        gradient = engine[id(item.tensor)]
        if indices is None:
            by_element, note = _element_level(graph, item, level, max_elements, max_paths)
            if note:
                notes.append(note)
            indices = list(np.ndindex(*item.tensor.shape)) if by_element else None
        if indices is None:
            derivations.append(_derive_tensor(graph, item, gradient, max_paths))
            continue
        for index in indices:
            derivations.append(_derive_element(graph, item, index, gradient, element_limit))
    element_derivations = [d for d in derivations if isinstance(d, Derivation)]
    parameters = [item for item, _ in requests]
    tensors = {item.name: item.tensor for item in parameters}
    return Explanation(
        graph.items[-1].name,
        graph.items[-1].tex,
        float(loss._data.item()),
        _quantities(graph, named, engine, max_elements),
        tuple(derivations),
        str(loss.dtype),
        tuple(notes),
        backprop.deltas(graph, named, engine, max_elements),
        backprop.reuse(element_derivations) if element_derivations else None,
        backprop.diagnostics(graph, parameters, engine),
        () if lr is None else backprop.updates(derivations, tensors, float(lr)),
    )


def _requests(
    chosen: list[Traced], only: Iterable[str] | None
) -> list[tuple[Traced, list[tuple[int, ...]] | None]]:
    """(parameter, the elements asked for or None for the whole tensor), in the order given."""
    if only is None:
        return [(item, None) for item in chosen]
    if isinstance(only, str):
        only = [only]
    requests: list[tuple[Traced, list[tuple[int, ...]] | None]] = []
    for label in only:
        if not isinstance(label, str):
            raise TypeError(f"explain: only= takes parameter names, got {type(label).__name__}")
        found = _resolve(chosen, label)
        if found is None:
            known = _abbreviated([item.name for item in chosen], shown=12)
            raise ValueError(
                f"explain: no parameter named {label!r}; the parameters are {known} "
                "(an element as name[i,j], e.g. '0.weight[1,2]')"
            )
        item, index = found
        previous = next((r for r in requests if r[0] is item), None)
        if previous is None:
            requests.append((item, None if index is None else [index]))
        elif index is not None and previous[1] is not None and index not in previous[1]:
            previous[1].append(index)
        elif index is None:
            requests[requests.index(previous)] = (item, None)
    return requests


def _resolve(chosen: list[Traced], label: str) -> tuple[Traced, tuple[int, ...] | None] | None:
    """A parameter tensor by its name, or one element by its own name or as name[i,j]."""
    for item in chosen:
        if item.name == label:
            return item, None
    for item in chosen:
        if item.element_names is not None:
            hits = np.argwhere(item.element_names == label)
            if len(hits):
                return item, tuple(int(i) for i in hits[0])
    stem, index = _split_element(label)
    for item in chosen:
        if item.name == stem and index is not None:
            shape = tuple(item.tensor.shape)
            if len(index) != len(shape) or any(
                not 0 <= i < n for i, n in zip(index, shape, strict=True)
            ):
                raise ValueError(f"explain: {label} is outside {stem}, whose shape is {shape}")
            return item, index
    return None


def _reading_order(graph: Graph, items: list[Traced]) -> list[Traced]:
    """Inputs, then parameters (each group in the order the computation first uses them), then
    the computed quantities in topological order: i1 i2 t1 t2 w1..w8 h1 … E_total."""
    first_use = [len(graph.items)] * len(graph.items)
    for item in graph.items:
        for position in item.inputs:
            first_use[position] = min(first_use[position], item.position)
    rank = {"input": 0, "parameter": 1}
    return sorted(
        items,
        key=lambda item: (
            rank.get(item.kind, 2),
            first_use[item.position] if item.kind in rank else item.position,
        ),
    )


def _parameter_names(params: Any) -> dict[int, str]:
    if params is None or isinstance(params, Tensor):
        return {}
    if hasattr(params, "named_parameters"):
        return {id(t): key for key, t in params.named_parameters()}
    if isinstance(params, Mapping):
        return {id(t): str(key) for key, t in params.items()}
    return {}


def _chosen(graph: Graph, params: Any, names: Mapping[int, str]) -> list[Traced]:
    if params is None:
        return [item for item in graph.items if item.kind == "parameter"]
    if isinstance(params, Tensor):
        tensors = [params]
    elif hasattr(params, "parameters"):
        tensors = list(params.parameters())
    elif isinstance(params, Mapping):
        tensors = list(params.values())
    elif isinstance(params, Iterable):
        tensors = list(params)
    else:
        raise TypeError(
            f"explain: params must be tensors, a mapping or a module, got {type(params).__name__}"
        )
    chosen = []
    for tensor in tensors:
        if not isinstance(tensor, Tensor) or not tensor.requires_grad:
            raise ValueError("explain: every parameter must be a tensor that requires grad")
        position = graph.position.get(id(tensor))
        if position is None:
            label = tensor.name or names.get(id(tensor)) or f"shape {tuple(tensor.shape)}"
            raise ValueError(f"explain: parameter {label} is not used by the loss")
        chosen.append(graph.items[position])
    return chosen


def _engine_gradients(loss: Tensor, tensors: list[Tensor]) -> dict[int, np.ndarray | None]:
    """The engine's ∂loss/∂t for each tensor: the same backward pass as ``.backward()``, that
    leaves every ``.grad`` and the graph as they were."""
    if not tensors:
        return {}
    ones = Tensor._wrap(np.ones(loss.shape, dtype=loss.dtype))
    grads = autograd_grad(loss, tensors, grad_outputs=ones, retain_graph=True, allow_unused=True)
    return {
        id(t): (None if g is None else np.asarray(g._data))
        for t, g in zip(tensors, grads, strict=True)
    }


def _quantities(
    graph: Graph, named: list[Traced], engine: Mapping[int, Any], max_elements: int
) -> tuple[Quantity, ...]:
    """Each element of a small named tensor; a big one as one entry with its shape."""
    out = []
    for item in named:
        gradient = engine.get(id(item.tensor))
        data = item.tensor._data
        if item.element_names is None or data.size > max_elements:
            out.append(Quantity(item.name, item.tex, item.kind, None, shape=tuple(data.shape)))
            continue
        for index in np.ndindex(*data.shape):
            formula = graph.element_expression(item, index) if item.inputs else None
            out.append(
                Quantity(
                    str(item.element_names[index]),
                    str(item.element_tex[index]),
                    item.kind,
                    float(data[index]),
                    formula,
                    None if gradient is None else float(gradient[index]),
                )
            )
    return tuple(out)


# ---- reachability and path counts --------------------------------------------------------------
def _reaches(graph: Graph, target: int) -> list[bool]:
    """Which tensors have a differentiable path down to position ``target``."""
    reach = [False] * len(graph.items)
    reach[target] = True
    for position in range(target + 1, len(graph.items)):
        reach[position] = any(reach[child] for _, child in graph.edges(position))
    return reach


def _element_level(
    graph: Graph, item: Traced, level: str, max_elements: int, max_paths: int
) -> tuple[bool, str | None]:
    """(derive element by element?, a note saying why not and how to ask for one element)."""
    if level != "auto":
        return level == "element", None
    size = item.tensor._data.size
    shape = "×".join(map(str, item.tensor.shape)) or "scalar"
    first = f"{item.name}[{','.join('0' * item.tensor.ndim)}]"
    ask = f"pass only=[{first!r}] for one element, or level='element' for all"
    if size > max_elements:
        return False, (
            f"{item.name} ({shape}, {size} elements) is derived as one tensor, δᵀ·input; {ask}"
        )
    if item.element_tex is None:
        return False, f"{item.name} is derived as one tensor; {ask}"
    reach = _reaches(graph, item.position)
    if any(reach[p] and graph.items[p].element_tex is None for p in range(len(reach))):
        return False, (
            f"{item.name} is derived as one tensor: some tensors between it and the loss are "
            f"too big to label element by element; {ask}"
        )
    paths = _count_paths(graph, item.position, None, reach)
    if paths > max_paths:
        return False, (
            f"{item.name} ({shape}) is derived as one tensor: its elements have {paths:,} "
            f"paths from the loss in all (more than max_paths={max_paths}); {ask}"
        )
    return True, None


def _count_paths(
    graph: Graph, target: int, index: tuple[int, ...] | None, reach: list[bool]
) -> int:
    """The number of element paths from the loss to ``target[index]`` (every element of
    ``target`` when ``index`` is None), by dynamic programming in topological order."""
    counts: dict[int, np.ndarray] = {}
    size = graph.items[target].tensor._data.size
    if index is None:
        start = np.ones(size, dtype=np.int64)
    else:
        start = np.zeros(size, dtype=np.int64)
        start[np.ravel_multi_index(index, graph.items[target].tensor.shape) if index else 0] = 1
    counts[target] = start
    for position in range(target + 1, len(graph.items)):
        if not reach[position]:
            continue
        size = graph.items[position].tensor._data.size
        total = np.zeros(size, dtype=np.int64)
        for slot, child in graph.edges(position):
            if child in counts:
                for k in range(size):
                    structure, _ = graph.jacobian_row(position, slot, k)
                    total[k] += int(counts[child][structure].sum())
        counts[position] = total
    return int(counts[len(graph.items) - 1][0]) if len(graph.items) - 1 in counts else 0


# ---- element level -----------------------------------------------------------------------------
def _derive_element(
    graph: Graph, item: Traced, index: tuple[int, ...], gradient: np.ndarray | None, max_paths: int
) -> Derivation:
    target = (item.position, int(np.ravel_multi_index(index, item.tensor.shape)) if index else 0)
    reach = _reaches(graph, item.position)
    loss = graph.items[-1]
    dtype = item.tensor.dtype
    found: list[Path] = []
    # iterative depth-first search from the loss: (position, flat element, carried gradient,
    # the edges so far); the gradient is pushed through each op's rule as the engine does
    routes: dict[tuple[str, str], list[tuple]] = {}
    stack: list[tuple[int, int, Any, tuple]] = [
        (loss.position, 0, np.ones((), loss.tensor.dtype), ())
    ]
    while stack:
        position, k, carried, edges = stack.pop()
        if (position, k) == target:
            found.append(_element_path(graph, edges, carried, reach, routes))
            if len(found) > max_paths:
                raise ValueError(
                    f"explain: more than {max_paths} paths from the loss to "
                    f"{_element_label(graph, item, index)}; pass level='tensor' "
                    "or a larger max_paths"
                )
            continue
        children = []
        for slot, child in graph.edges(position):
            if not reach[child]:
                continue
            structure, local = graph.jacobian_row(position, slot, k)
            out = graph.items[position].tensor
            upstream = np.zeros(out.shape, dtype=out.dtype)
            upstream.reshape(-1)[k] = carried
            pushed = graph.apply_rule(position, slot, upstream).reshape(-1)
            for j in np.flatnonzero(structure):
                edge = (position, slot, k, child, int(j), float(local[j]))
                children.append((child, int(j), pushed[j], edges + (edge,)))
        stack.extend(reversed(children))  # first input first, as written
    found = [_mark_shares(path, routes) for path in found]
    total = _round_to(math.fsum(float(p.product) for p in found), dtype)
    engine = 0.0 if gradient is None else float(gradient.reshape(-1)[target[1]])
    depth = max((len(p.steps) for p in found), default=0)
    difference, ulps, agrees = _check(total, engine, [p.product for p in found], dtype, depth)
    name = _element_label(graph, item, index)
    return Derivation(
        name,
        graph.element_tex(item.position, index),
        item.name,
        index,
        loss.name,
        loss.tex,
        tuple(found),
        total,
        engine,
        difference,
        ulps,
        agrees,
    )


def _element_label(graph: Graph, item: Traced, index: tuple[int, ...]) -> str:
    return graph.element_label(item.position, index)


def _element_path(
    graph: Graph,
    edges: tuple,
    carried: Any,
    reach: list[bool],
    routes: dict[tuple[str, str], list[tuple]],
) -> Path:
    """Group the primitive edges of a path into steps between named quantities; a step that is
    one of several routes between its two quantities says which (``Step.via``)."""
    steps: list[Step] = []
    loss = graph.items[-1]
    upper = (loss.position, ())
    formulas: list[str | None] = []
    value = 1.0
    ops: list[str] = []
    slots: list[int] = []
    forks: list[str] = []
    route: list[tuple] = []
    for number, (position, slot, k, child, j, local) in enumerate(edges):
        route.append((position, slot, k, child, j))
        out_index = _unflat(graph, position, k)
        in_index = _unflat(graph, child, j)
        formulas.append(graph.local_tex(position, slot, out_index, in_index))
        value *= local
        ops.append(graph.items[position].node.op.name)
        slots.append(slot)
        if _forks(graph, position, reach):
            forks.append(f"input {slot + 1} of {ops[-1]}")
        child_item = graph.items[child]
        if child_item.boundary(in_index) or number == len(edges) - 1:
            key = (graph.element_label(*upper), graph.element_label(child, in_index))
            known = routes.setdefault(key, [])
            if tuple(route) not in known:
                known.append(tuple(route))
            if not forks:
                forks.append(f"route {known.index(tuple(route)) + 1}")
            route = []
            steps.append(
                Step(
                    graph.element_label(*upper),
                    graph.element_label(child, in_index),
                    graph.element_tex(*upper),
                    graph.element_tex(child, in_index),
                    product_tex(formulas),
                    value,
                    tuple(ops),
                    tuple(slots),
                    ", ".join(forks),
                )
            )
            upper, formulas, value, ops, slots, forks = (child, in_index), [], 1.0, [], [], []
    nodes = (steps[0].upper,) + tuple(s.lower for s in steps) if steps else ()
    return Path(nodes, tuple(steps), float(carried))


def _mark_shares(path: Path, routes: Mapping[tuple[str, str], list[tuple]]) -> Path:
    """Keep ``via`` only on steps that are one route of several between their quantities."""
    steps = tuple(
        s if len(routes[(s.upper, s.lower)]) > 1 else dataclasses.replace(s, via="")
        for s in path.steps
    )
    return dataclasses.replace(path, steps=steps)


def _forks(graph: Graph, position: int, reach: list[bool]) -> bool:
    """Whether the op at ``position`` reaches the parameter through more than one of its inputs
    (h·h, or a·b with both computed from w): then a path through it is one route of several."""
    return sum(1 for _, child in graph.edges(position) if reach[child]) > 1


def _unflat(graph: Graph, position: int, k: int) -> tuple[int, ...]:
    shape = graph.items[position].tensor.shape
    return tuple(int(i) for i in np.unravel_index(k, shape)) if shape else ()


def _round_to(value: float, dtype: Any) -> float:
    return float(np.dtype(dtype).type(value))


def _check(
    total: Any, engine: Any, products: list[Any], dtype: Any, depth: int
) -> tuple[float, float, bool]:
    """(largest difference, the same in ulps of the engine's value, whether they agree).

    Each path product rounds once per step and the sums once per term, in a different order
    than the engine's; both stay within (depth + paths) roundings of Σ|product|.
    """
    total = np.asarray(total, dtype=np.float64)
    engine = np.asarray(engine, dtype=np.float64)
    difference = total - engine
    spacing = np.spacing(np.abs(engine).astype(dtype)).astype(np.float64)
    ulps = np.where(difference == 0, 0.0, np.abs(difference) / spacing)
    magnitude = np.zeros_like(engine)
    for product in products:
        magnitude = magnitude + np.abs(np.asarray(product, dtype=np.float64))
    bound = 2 * (depth + len(products) + 1) * float(np.finfo(dtype).eps) * magnitude
    agrees = bool(np.all(np.abs(difference) <= bound + spacing))
    worst = int(np.argmax(np.abs(difference))) if difference.size else 0
    return (
        float(difference.reshape(-1)[worst]) if difference.size else 0.0,
        float(ulps.reshape(-1)[worst]) if ulps.size else 0.0,
        agrees,
    )


# ---- tensor level ------------------------------------------------------------------------------
def _derive_tensor(
    graph: Graph, item: Traced, gradient: np.ndarray | None, max_paths: int
) -> TensorDerivation:
    reach = _reaches(graph, item.position)
    loss = graph.items[-1]
    found: list[TensorPath] = []
    stack: list[tuple[int, np.ndarray, tuple]] = [
        (loss.position, np.ones(loss.tensor.shape, loss.tensor.dtype), ())
    ]
    while stack:
        position, carried, edges = stack.pop()
        if position == item.position:
            found.append(_tensor_path(graph, edges, carried))
            if len(found) > max_paths:
                raise ValueError(
                    f"explain: more than {max_paths} paths from the loss to "
                    f"{item.name}; pass params=[...] to derive fewer parameters "
                    "or a larger max_paths"
                )
            continue
        children = []
        for slot, child in graph.edges(position):
            if reach[child]:
                pushed = graph.apply_rule(position, slot, carried)
                norm = float(np.sqrt(np.sum(np.square(pushed, dtype=np.float64))))
                children.append((child, pushed, edges + ((position, slot, child, norm),)))
        stack.extend(reversed(children))
    dtype = item.tensor.dtype
    shape = item.tensor.shape
    total = np.zeros(shape, dtype=np.float64)
    for path in found:
        total = total + path.product.numpy().astype(np.float64)
    total = total.astype(dtype)
    engine = np.zeros(shape, dtype) if gradient is None else gradient
    depth = max((len(p.steps) for p in found), default=0)
    difference, ulps, agrees = _check(
        total, engine, [p.product.numpy() for p in found], dtype, depth
    )
    return TensorDerivation(
        item.name,
        item.tex,
        tuple(shape),
        loss.name,
        loss.tex,
        tuple(found),
        Array.from_numpy(total),
        Array.from_numpy(engine),
        difference,
        ulps,
        agrees,
    )


def _tensor_path(graph: Graph, edges: tuple, carried: np.ndarray) -> TensorPath:
    steps: list[TensorStep] = []
    loss = graph.items[-1]
    upper = loss.position
    expression: _Expr = ("delta", loss.tex)
    path_expression: _Expr = ("delta", loss.tex)
    ops: list[str] = []
    for number, (position, slot, child, norm) in enumerate(edges):
        expression = _tensor_edge(graph, position, slot, expression)
        path_expression = _tensor_edge(graph, position, slot, path_expression)
        ops.append(graph.items[position].node.op.name)
        child_item = graph.items[child]
        if child_item.named or number == len(edges) - 1:
            steps.append(
                TensorStep(
                    graph.items[upper].name,
                    child_item.name,
                    graph.items[upper].tex,
                    child_item.tex,
                    _render(expression),
                    tuple(ops),
                    tuple(child_item.tensor.shape),
                    norm,
                )
            )
            upper, ops = child, []
            expression = ("delta", child_item.tex)
    nodes = (loss.name,) + tuple(s.lower for s in steps)
    return TensorPath(nodes, tuple(steps), _render(path_expression), Array.from_numpy(carried))


# A tiny expression tree for tensor-level formulas, so that (aᵀδ)ᵀ prints as δᵀa:
# ("delta", tex) | ("leaf", tex) | ("T", e) | ("mm", e, e) | ("had", e, tex) | ("scale", c, e)
# | ("op", name, e)
_Expr = tuple


def _tensor_edge(graph: Graph, position: int, slot: int, upstream: _Expr) -> _Expr:
    item = graph.items[position]
    node = item.node
    op = node.op.name
    if op == "matmul":
        other = graph.tensor_tex(item.inputs[1 - slot])
        if slot == 0:
            return ("mm", upstream, ("T", ("leaf", other)))
        return ("mm", ("T", ("leaf", other)), upstream)
    if op == "linear":  # y = x Wᵀ + b
        if slot == 0:
            return ("mm", upstream, ("leaf", graph.tensor_tex(item.inputs[1])))
        if slot == 1:
            return ("mm", _transpose(upstream), ("leaf", graph.tensor_tex(item.inputs[0])))
        if item.tensor.ndim > 1:
            return ("op", r"\textstyle\sum_{\text{rows}}", upstream)
        return upstream
    if op == "permute":
        dims = tuple(node.params.get("dims", ()))
        if dims == tuple(range(len(dims) - 1, -1, -1)):
            return _transpose(upstream)
        return ("op", "permute^{*}", upstream)
    if op in ("reshape", "expand", "sum", "sum_to", "clone", "cast", "index", "flip"):
        return upstream
    local = graph.local_tex_tensor(position, slot, lambda g, p: g.tensor_tex(p))
    if local is None:
        return ("op", rf"\operatorname{{{op}}}^{{*}}", upstream)
    coefficient, factors = split_factors(local)
    expression = upstream
    for factor in factors:
        expression = ("had", expression, factor)
    return _scale(coefficient, expression)


def _scale(coefficient: float, expression: _Expr) -> _Expr:
    """c·e with the coefficients of nested scalings and Hadamard products gathered in front."""
    if expression[0] == "scale":
        coefficient, expression = coefficient * expression[1], expression[2]
    elif expression[0] == "had" and expression[1][0] == "scale":
        inner = expression[1]
        coefficient *= inner[1]
        expression = ("had", inner[2], expression[2])
    return expression if coefficient == 1 else ("scale", coefficient, expression)


def _transpose(expression: _Expr) -> _Expr:
    kind = expression[0]
    if kind == "T":
        return expression[1]
    if kind == "mm":
        return ("mm", _transpose(expression[2]), _transpose(expression[1]))
    if kind == "scale":
        return ("scale", expression[1], _transpose(expression[2]))
    return ("T", expression)


def _render(expression: _Expr) -> str:
    kind = expression[0]
    if kind == "delta":
        return rf"\delta_{{{expression[1]}}}"
    if kind == "leaf":
        return expression[1]
    if kind == "T":
        inner = _render(expression[1])
        return f"{inner}^{{T}}" if expression[1][0] in ("leaf", "delta") else f"({inner})^{{T}}"
    if kind == "mm":
        left, right = (
            _render(e) if e[0] in ("leaf", "delta", "T", "mm") else f"({_render(e)})"
            for e in expression[1:]
        )
        return rf"{left}\,{right}"
    if kind == "had":
        return rf"{_render(expression[1])} \odot {_wrap(expression[2])}"
    if kind == "scale":
        coefficient = expression[1]
        inner = _render(expression[2])
        if coefficient == -1:
            return f"-{inner}"
        return rf"{format_number(coefficient)}\,{inner}"
    return rf"{expression[1]}({_render(expression[2])})"


def _wrap(tex: str) -> str:
    return paren(tex)
