"""``explain(loss)``: the chain-rule derivation of each parameter's gradient as plain records —
every path from the loss to it, each edge's local derivative (formula and number), the product
along each path, the sum over paths — checked against the engine's own gradient.

The numbers come from the ops' own gradient rules, applied exactly as ``backward()`` applies
them, so a derivation and the engine cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from chainrule.autograd.functional_api import grad as autograd_grad
from chainrule.explain import backprop, records
from chainrule.explain.element_paths import derive_element, reaches
from chainrule.explain.records import (
    Derivation,
    Explanation,
    Quantity,
    TensorDerivation,
    _abbreviated,
    _split_element,
)
from chainrule.explain.tensor_paths import derive_tensor
from chainrule.explain.trace import Graph, Traced
from chainrule.tensor import Tensor

__all__ = ["explain"]


def __getattr__(name: str) -> Any:
    """The records were defined here once: ``from chainrule.explain.derive import Derivation``
    still works (they live in chainrule.explain.records)."""
    if name in records.__all__:
        return getattr(records, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
            derivations.append(derive_tensor(graph, item, gradient, max_paths))
            continue
        for index in indices:
            derivations.append(derive_element(graph, item, index, gradient, element_limit))
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
    reach = reaches(graph, item.position)
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


# ---- tensor level ------------------------------------------------------------------------------
