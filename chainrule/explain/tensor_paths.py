"""Tensor level, for parameters too big to list element by element: each path from the loss
to a parameter tensor as δ-steps with shapes (δ_a = δ_z W, ∂L/∂W = δᵀa), written with a tiny
expression tree so that (aᵀδ)ᵀ prints as δᵀa, and checked element-wise against the engine."""

from __future__ import annotations

import numpy as np

from chainrule.explain.element_paths import check_against_engine, reaches
from chainrule.explain.latex import format_number, paren, split_factors
from chainrule.explain.records import Array, TensorDerivation, TensorPath, TensorStep
from chainrule.explain.trace import Graph, Traced

__all__ = ["derive_tensor", "render_expression", "tensor_edge"]


def derive_tensor(
    graph: Graph, item: Traced, gradient: np.ndarray | None, max_paths: int
) -> TensorDerivation:
    reach = reaches(graph, item.position)
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
    difference, ulps, agrees = check_against_engine(
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
        expression = tensor_edge(graph, position, slot, expression)
        path_expression = tensor_edge(graph, position, slot, path_expression)
        ops.append(graph.items[position].node.op.name)
        child_item = graph.items[child]
        if child_item.named or number == len(edges) - 1:
            steps.append(
                TensorStep(
                    graph.items[upper].name,
                    child_item.name,
                    graph.items[upper].tex,
                    child_item.tex,
                    render_expression(expression),
                    tuple(ops),
                    tuple(child_item.tensor.shape),
                    norm,
                )
            )
            upper, ops = child, []
            expression = ("delta", child_item.tex)
    nodes = (loss.name,) + tuple(s.lower for s in steps)
    return TensorPath(
        nodes, tuple(steps), render_expression(path_expression), Array.from_numpy(carried)
    )


# A tiny expression tree for tensor-level formulas, so that (aᵀδ)ᵀ prints as δᵀa:
# ("delta", tex) | ("leaf", tex) | ("T", e) | ("mm", e, e) | ("had", e, tex) | ("scale", c, e)
# | ("op", name, e)
_Expr = tuple


def tensor_edge(graph: Graph, position: int, slot: int, upstream: _Expr) -> _Expr:
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


def render_expression(expression: _Expr) -> str:
    kind = expression[0]
    if kind == "delta":
        return rf"\delta_{{{expression[1]}}}"
    if kind == "leaf":
        return expression[1]
    if kind == "T":
        inner = render_expression(expression[1])
        return f"{inner}^{{T}}" if expression[1][0] in ("leaf", "delta") else f"({inner})^{{T}}"
    if kind == "mm":
        left, right = (
            render_expression(e)
            if e[0] in ("leaf", "delta", "T", "mm")
            else f"({render_expression(e)})"
            for e in expression[1:]
        )
        return rf"{left}\,{right}"
    if kind == "had":
        return rf"{render_expression(expression[1])} \odot {_wrap(expression[2])}"
    if kind == "scale":
        coefficient = expression[1]
        inner = render_expression(expression[2])
        if coefficient == -1:
            return f"-{inner}"
        return rf"{format_number(coefficient)}\,{inner}"
    return rf"{expression[1]}({render_expression(expression[2])})"


def _wrap(tex: str) -> str:
    return paren(tex)
