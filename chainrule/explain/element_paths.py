"""Element level: every path from the loss to one parameter element, each step a local
derivative between two named quantities (its formula and its number), each path's product
pushed through the ops' own rules with the engine's arithmetic, and the check of their sum
against the engine's gradient."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from chainrule.explain.latex import product_tex
from chainrule.explain.records import Derivation, Path, Step
from chainrule.explain.trace import Graph, Traced

__all__ = ["check_against_engine", "derive_element", "reaches"]


def reaches(graph: Graph, target: int) -> list[bool]:
    """Which tensors have a differentiable path down to position ``target``."""
    reach = [False] * len(graph.items)
    reach[target] = True
    for position in range(target + 1, len(graph.items)):
        reach[position] = any(reach[child] for _, child in graph.edges(position))
    return reach


def derive_element(
    graph: Graph, item: Traced, index: tuple[int, ...], gradient: np.ndarray | None, max_paths: int
) -> Derivation:
    target = (item.position, int(np.ravel_multi_index(index, item.tensor.shape)) if index else 0)
    reach = reaches(graph, item.position)
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
    difference, ulps, agrees = check_against_engine(
        total, engine, [p.product for p in found], dtype, depth
    )
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


def check_against_engine(
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
