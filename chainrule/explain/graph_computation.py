"""The computation graph of a recorded loss as a :class:`Graph`: one box per tensor (its
name, value and gradient), one ellipse per op, named as the explainer's trace names them."""

from __future__ import annotations

from typing import Any

from chainrule.explain.graph_records import Graph, GraphEdge, GraphNode, number

SMALL = 6  # tensors with at most this many elements print every value
# the explainer's kinds of traced tensors -> the pictures' looks
_KINDS = {
    "parameter": "parameter",
    "input": "constant",
    "constant": "constant",
    "intermediate": "tensor",
    "loss": "result",
}


def _array_text(array: Any) -> str:
    import numpy as np

    array = np.asarray(array)
    if array.ndim == 0:
        return number(float(array))
    if array.size > SMALL:
        return f"shape {tuple(array.shape)}, mean {number(float(array.mean()))}"
    if array.ndim == 1:
        return "[" + ", ".join(number(float(v)) for v in array) + "]"
    rows = array.reshape(-1, array.shape[-1])
    return "\n".join("[" + ", ".join(number(float(v)) for v in row) + "]" for row in rows)


def _element_labels(item: Any) -> Any:
    """Each element's label from the explainer's trace: its name (w1, a_h1) or, for an
    unnamed intermediate, its formula (t1 − a_o1); None when it has neither."""
    import numpy as np

    from chainrule.explain.formatting import tex_to_text

    if item.tensor._data.size > SMALL or item.tensor.ndim == 0:
        return None
    if item.element_names is not None and not item.expression:
        return np.vectorize(str, otypes=[object])(item.element_names)
    if item.element_tex is not None and item.expression:
        return np.vectorize(tex_to_text, otypes=[object])(item.element_tex)
    return None


def _grad_name(label: str) -> str:
    """``w1`` stays ``w1``; a formula is parenthesised, ``∂L/∂(t1 − a_o1)``."""
    return label if label.replace("_", "").isalnum() else f"({label})"


def _element_lines(labels: Any, array: Any, derivative: str) -> list[str]:
    """``w1 = 0.15   w2 = 0.2``, one line per row: labels next to their numbers; with a
    ``derivative`` (``∂L/∂``) the labels read ``∂L/∂w1``."""
    width = labels.shape[-1] if labels.ndim else 1
    names, values = labels.reshape(-1, width), array.reshape(-1, width)

    def label(n: str) -> str:
        return f"{derivative}{_grad_name(n)}" if derivative else n

    return [
        "   ".join(f"{label(n)} = {number(float(v))}" for n, v in zip(ns, vs, strict=True))
        for ns, vs in zip(names, values, strict=True)
    ]


def _index_labels(name: str, shape: tuple[int, ...]) -> Any:
    import numpy as np

    labels = np.empty(shape, dtype=object)
    for index in np.ndindex(*shape):
        labels[index] = f"{name}[{', '.join(map(str, index))}]"
    return labels


def _tensor_lines(item: Any, grad: Any, loss_name: str) -> list[str]:
    """One notation for every tensor: ``name (shape)`` (shape for non-scalars), then each
    element's ``label = value``, then each element's ``∂loss/∂label = gradient``."""
    import numpy as np

    data = item.tensor._data
    if item.kind == "constant" and not item.named:
        return [_array_text(data)]  # a literal such as 0.5 or 2 speaks for itself
    derivative = f"∂{loss_name}/∂"
    if data.size > SMALL:
        lines = [
            f"{item.name} {tuple(data.shape)}",
            f"mean {item.name} = {number(float(data.mean()))}",
        ]
        if grad is not None:
            lines.append(f"mean {derivative}{item.name} = {number(float(np.mean(grad)))}")
        return lines
    if data.ndim == 0:
        labels = np.array(item.name, dtype=object)
        lines = []
    else:
        labels = _element_labels(item)
        if labels is None:
            labels = _index_labels(item.name, data.shape)
        lines = [f"{item.name} {tuple(data.shape)}"]
    lines += _element_lines(labels, data, "")
    if grad is not None:
        lines += _element_lines(labels, np.asarray(grad), derivative)
    return lines


def computation_graph(loss: Any, title: str | None = None, gradients: bool = True) -> Graph:
    """The recorded graph behind a scalar ``loss``: one box per tensor (its name, value and
    ∂loss/∂tensor) and one ellipse per op, drawn in the direction of the forward pass.

    Tensors, their order and their names (``u1`` for an unnamed intermediate, element names
    and formulas) are the explainer's trace (:class:`chainrule.explain.trace.Graph`), so the
    picture and the derivation say the same; the gradients are the engine's
    (``autograd.grad`` over every tensor that requires one, graph retained).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.names import name
    >>> W = name(cr.tensor(0.5, requires_grad=True), "W")
    >>> z = name(W * 1.0, "z")
    >>> loss = name((z - 0.0) ** 2, "L")
    >>> g = computation_graph(loss)
    >>> [n.lines for n in g.nodes if n.kind in ("parameter", "result")]
    [('W = 0.5', '∂L/∂W = 1'), ('L = 0.25', '∂L/∂L = 1')]
    """
    from chainrule.autograd import grad as autograd_grad
    from chainrule.explain.trace import Graph as Trace

    try:
        trace = Trace(loss, {})
    except ValueError as freed:
        raise RuntimeError(
            "computation_graph: the graph behind this loss was freed by "
            "backward(); draw it before backward(), or call "
            "backward(retain_graph=True)"
        ) from freed
    grads: dict[int, Any] = {}
    if gradients and loss.requires_grad:
        needing = [item.tensor for item in trace.items if item.tensor.requires_grad]
        found = autograd_grad(loss, needing, retain_graph=True, allow_unused=True)
        grads = {id(t): g._data for t, g in zip(needing, found, strict=True) if g is not None}
    nodes: list[GraphNode] = []
    edges: list[GraphEdge] = []
    loss_name = trace.items[-1].name
    for item in trace.items:
        i = item.position
        lines = _tensor_lines(item, grads.get(id(item.tensor)), loss_name)
        nodes.append(GraphNode(f"t{i}", _KINDS[item.kind], tuple(lines)))
        if item.node is not None:
            nodes.append(GraphNode(f"op{i}", "op", (item.node.op.name,)))
            edges += [GraphEdge(f"t{j}", f"op{i}") for j in item.inputs]
            edges.append(GraphEdge(f"op{i}", f"t{i}"))
    name = trace.items[-1].name
    return Graph(
        "computation",
        title or f"Computation graph of {name}",
        tuple(nodes),
        tuple(edges),
        rankdir="TB",
    )
