"""Local derivatives written out as the math for the ops whose derivative is not one formula per
element: losses and softmax. A learner reads ∂L/∂z_{i,c} = (softmax(z)[i,c] − y_{i,c})/N, not
``cross_entropy'``; the numbers beside these formulas still come from the ops' own rules.

Each function takes the trace (``graph``), the op's position and input slot and, for element
formulas, the output and input element; it returns LaTeX, or None where the generic formulas
of :mod:`chainrule.explain.trace` apply.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.explain.latex import is_atomic, number_tex, paren, substitute

__all__ = ["element", "tensor"]


def element(
    graph: Any, position: int, slot: int, out_index: tuple[int, ...], in_index: tuple[int, ...]
) -> str | None:
    """∂out[out_index]/∂input_slot[in_index] for an op listed here, else None."""
    item = graph.items[position]
    rule = _ELEMENT.get(item.node.op.name)
    return None if rule is None else rule(graph, item, slot, out_index, in_index)


def tensor(graph: Any, position: int, slot: int) -> str | None:
    """The same for whole tensors (a factor of δ_input = δ_out ⊙ …), else None."""
    item = graph.items[position]
    rule = _TENSOR.get(item.node.op.name)
    return None if rule is None else rule(graph, item, slot)


# ---- mean squared error: ∂L/∂ŷ = 2/N (ŷ − y) ---------------------------------------------------
def _difference(x: str, y: str) -> str:
    return "(" + substitute("x - y", {"x": x, "y": y}, ("x",)) + ")"


def _same_shapes(graph: Any, item: Any) -> bool:
    shapes = {tuple(graph.items[p].tensor.shape) for p in item.inputs[:2]}
    return len(shapes) == 1


def _mse_element(
    graph: Any, item: Any, slot: int, out_index: tuple[int, ...], in_index: tuple[int, ...]
) -> str | None:
    if not _same_shapes(graph, item):  # a broadcast target: one formula per pair won't do
        return None
    source, target = item.inputs
    x, y = graph.element_tex(source, in_index), graph.element_tex(target, in_index)
    count = item.node.params["count"]
    scale = rf"\tfrac{{2}}{{{count}}}" if item.node.params["reduction"] == "mean" else "2"
    if scale == r"\tfrac{2}{1}":
        scale = "2"
    return ("" if slot == 0 else "-") + rf"{scale}\,{_difference(x, y)}"


def _mse_tensor(graph: Any, item: Any, slot: int) -> str | None:
    if not _same_shapes(graph, item):
        return None
    source, target = item.inputs
    count = item.node.params["count"]
    scale = 2 / count if item.node.params["reduction"] == "mean" else 2
    scale = scale if slot == 0 else -scale
    difference = _difference(graph.tensor_tex(source), graph.tensor_tex(target))
    return rf"{number_tex(scale)}\,{difference}"


# ---- cross-entropy of logits (the fused primitive): ∂L/∂z = (softmax(z) − y)/N ---------------
def _cross_entropy_element(
    graph: Any, item: Any, slot: int, out_index: tuple[int, ...], in_index: tuple[int, ...]
) -> str | None:
    if slot != 0:
        return None
    logits, labels = item.inputs
    row, column = in_index
    label = int(np.asarray(graph.items[labels].tensor._data).reshape(-1)[row])
    rows = graph.items[logits].tensor.shape[0]
    z = graph.tensor_tex(logits)
    difference = rf"(\operatorname{{softmax}}({z})[{row},{column}] - {int(label == column)})"
    if item.node.params.get("mean", True) and rows > 1:
        return rf"\tfrac{{1}}{{{rows}}}\,{difference}"
    return difference


def _cross_entropy_tensor(graph: Any, item: Any, slot: int) -> str | None:
    if slot != 0:
        return None
    logits, labels = item.inputs
    rows = graph.items[logits].tensor.shape[0]
    z, y = graph.tensor_tex(logits), graph.tensor_tex(labels)
    difference = rf"(\operatorname{{softmax}}({z}) - \operatorname{{onehot}}({y}))"
    if item.node.params.get("mean", True) and rows > 1:
        return rf"{number_tex(1 / rows)}\,{difference}"
    return difference


# ---- softmax and log-softmax: s_i (δ_ij − s_j) and δ_ij − e^{out_j} ----------------------------
def _softmax_element(
    graph: Any, item: Any, slot: int, out_index: tuple[int, ...], in_index: tuple[int, ...]
) -> str:
    s_i = paren(graph.element_tex(item.position, out_index))
    s_j = paren(graph.element_tex(item.position, in_index))
    if out_index == in_index:
        return rf"{s_i}\,(1 - {s_i})"
    return rf"-{s_i}\,{s_j}"


def _log_softmax_element(
    graph: Any, item: Any, slot: int, out_index: tuple[int, ...], in_index: tuple[int, ...]
) -> str:
    out_j = graph.element_tex(item.position, in_index)
    return rf"1 - e^{{{out_j}}}" if out_index == in_index else rf"-e^{{{out_j}}}"


# ---- BCE on logits without a pos_weight: σ(x) − t -----------------------------------------------
def _unweighted(graph: Any, item: Any) -> bool:
    weight = graph.items[item.inputs[2]].tensor
    return bool(np.all(np.asarray(weight._data) == 1))


def _bce_logits_element(
    graph: Any, item: Any, slot: int, out_index: tuple[int, ...], in_index: tuple[int, ...]
) -> str | None:
    if slot != 0 or not _unweighted(graph, item):
        return None
    x = graph.element_tex(item.inputs[0], in_index)
    t = graph.element_tex(item.inputs[1], in_index)
    return rf"\sigma({x}) - " + (t if _atomic(t) else f"({t})")


def _bce_logits_tensor(graph: Any, item: Any, slot: int) -> str | None:
    if slot != 0 or not _unweighted(graph, item):
        return None
    x, t = graph.tensor_tex(item.inputs[0]), graph.tensor_tex(item.inputs[1])
    return rf"(\sigma({x}) - " + (t if _atomic(t) else f"({t})") + ")"


def _atomic(tex: str) -> bool:
    return is_atomic(tex, weak=True)


_ELEMENT = {
    "mse_loss": _mse_element,
    "cross_entropy": _cross_entropy_element,
    "softmax": _softmax_element,
    "log_softmax": _log_softmax_element,
    "binary_cross_entropy_with_logits": _bce_logits_element,
}
_TENSOR = {
    "mse_loss": _mse_tensor,
    "cross_entropy": _cross_entropy_tensor,
    "binary_cross_entropy_with_logits": _bce_logits_tensor,
}
