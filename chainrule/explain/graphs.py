"""Pictures as data: the computation graph of a recorded loss and the seed network's neurons
and weights, as plain :class:`Graph` records; DOT text and Graphviz's SVG/PNG are views of them.
"""

from __future__ import annotations

import html
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GRAPHVIZ_MISSING = (
    "Graphviz's 'dot' is not installed, so only the DOT text was written; "
    "install it (Debian/Ubuntu: apt-get install graphviz, macOS: brew install "
    "graphviz) or paste the .dot file into any Graphviz viewer"
)


ROW_PADDING = 3  # points above and below each line of a multi-line label


class GraphvizMissingError(RuntimeError):
    """Raised by :func:`render` when ``dot`` is not on PATH; the DOT text is written anyway."""


@dataclass(frozen=True)
class GraphNode:
    """A vertex: ``kind`` picks its look ("tensor", "parameter", "op", "input", "neuron",
    "target", "loss"); ``lines`` are its label, first line the name."""

    id: str
    kind: str
    lines: tuple[str, ...]
    rank: int | None = None


@dataclass(frozen=True)
class GraphEdge:
    tail: str
    head: str
    label: str = ""
    dashed: bool = False
    # drawn on the edge itself, the line running into and out of the label, so that two
    # crossing edges can never swap labels (else the label floats beside the edge's middle)
    inline: bool = False


@dataclass(frozen=True)
class Graph:
    """A picture as data. ``rank`` groups nodes into columns (left to right)."""

    name: str
    title: str
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    rankdir: str = "LR"  # the direction of the forward pass: LR (left to right) or TB


def number(value: float) -> str:
    """A value as the pictures print it: 6 significant digits, no trailing noise.

    Examples
    --------
    >>> number(0.506874566764534), number(0.15), number(-3.1699e-04)
    ('0.506875', '0.15', '-0.00031699')
    """
    text = f"{value:.6g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        if -6 <= int(exponent) < -3:
            return f"{value:.{5 - int(exponent)}f}".rstrip("0")
    return text


# ---- the seed network ----------------------------------------------------------------------

# The seeds' wiring: (weight, from, to).
SEED_WIRING = (
    ("w1", "i1", "h1"),
    ("w2", "i2", "h1"),
    ("w3", "i1", "h2"),
    ("w4", "i2", "h2"),
    ("w5", "a_h1", "o1"),
    ("w6", "a_h2", "o1"),
    ("w7", "a_h1", "o2"),
    ("w8", "a_h2", "o2"),
)
# Columns of the picture, left to right, as in the seeds' figure.
SEED_LAYERS = (
    ("i1", "i2"),
    ("h1", "h2"),
    ("a_h1", "a_h2"),
    ("o1", "o2"),
    ("a_o1", "a_o2"),
    ("E1", "E2"),
    ("E_total",),
)


def network_graph(
    values: Mapping[str, float] | None = None,
    gradients: Mapping[str, float] | None = None,
    output_activation: str = "sigmoid",
) -> Graph:
    """The seed network's picture: neurons i1, i2, h1 → a_h1, …, a_o2, the errors E1, E2 and
    E_total, edges labelled w1..w8 in the seeds' wiring.

    Parameters
    ----------
    values : mapping, optional
        Numbers to print under the names (``{"h1": 0.0275, "w1": 0.15, ...}``); with
        ``b1``/``b2`` among them, the biases are drawn too.
    gradients : mapping, optional
        ∂E_total/∂name for any name (``{"w5": 0.0129, ...}``), printed under the value.
    output_activation : {"sigmoid", "identity"}
        The label of the o → a_o edges.

    Examples
    --------
    >>> g = network_graph()
    >>> [e.label for e in g.edges if e.label.startswith("w")]
    ['w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7', 'w8']
    """
    values = dict(values or {})
    gradients = dict(gradients or {})

    def lines(name: str, joined: bool = False) -> tuple[str, ...]:
        out = [name]
        if name in values:
            if joined:
                out = [f"{name} = {number(values[name])}"]
            else:
                out.append(number(values[name]))
        if name in gradients:
            out.append(f"∂E/∂{name} = {number(gradients[name])}")
        return tuple(out)

    kinds = {"i": "input", "h": "neuron", "a": "neuron", "o": "neuron", "E": "loss"}
    nodes = [
        GraphNode(name, kinds[name[0]], lines(name), rank)
        for rank, layer in enumerate(SEED_LAYERS)
        for name in layer
    ]
    nodes += [GraphNode(t, "target", lines(t, joined=True)) for t in ("t1", "t2")]
    activation = "σ" if output_activation == "sigmoid" else "identity"
    # weight labels sit on their edges: w2/w3 and w6/w7 label crossing edges
    edges = [
        GraphEdge(tail, head, "\n".join(lines(w, joined=True)), inline=True)
        for w, tail, head in SEED_WIRING
    ]
    edges += [
        GraphEdge(f"{p}{k}", f"a_{p}{k}", "σ" if p == "h" else activation)
        for p in ("h", "o")
        for k in (1, 2)
    ]
    edges += [GraphEdge(f"a_o{k}", f"E{k}", "½(t−a)²") for k in (1, 2)]
    edges += [GraphEdge(f"t{k}", f"E{k}", dashed=True) for k in (1, 2)]
    edges += [GraphEdge(f"E{k}", "E_total", "+") for k in (1, 2)]
    # one bias per layer, shared by its two neurons, when the network has them
    for bias, rank, fed in (("b1", 0, ("h1", "h2")), ("b2", 2, ("o1", "o2"))):
        if bias in values:
            nodes.append(GraphNode(bias, "bias", lines(bias), rank))
            edges += [GraphEdge(bias, neuron) for neuron in fed]
    return Graph("network", "The seed network", tuple(nodes), tuple(edges))


# ---- the computation graph of a recorded loss ----------------------------------------------

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


# ---- DOT -----------------------------------------------------------------------------------

_LOOK = {
    "input": 'shape=circle, width=0.95, style=filled, fillcolor="#dbeafe", color="#1d4ed8"',
    "neuron": 'shape=circle, width=0.95, style=filled, fillcolor="#dcfce7", color="#15803d"',
    "target": 'shape=plaintext, fontcolor="#6b7280"',
    "edge label": "shape=plaintext, fontsize=11, margin=0.02",
    "bias": 'shape=box, style="rounded,filled", fillcolor="#fef3c7", color="#b45309"',
    "loss": 'shape=doublecircle, width=0.95, style=filled, fillcolor="#fee2e2", color="#b91c1c"',
    "op": 'shape=ellipse, style=filled, fillcolor="#f3f4f6", color="#6b7280", fontsize=11',
    "tensor": 'shape=box, style="rounded,filled", fillcolor="#dcfce7", color="#15803d"',
    "parameter": 'shape=box, style="rounded,filled", fillcolor="#fef3c7", color="#b45309"',
    "constant": 'shape=box, style="rounded,filled", fillcolor="#f9fafb", color="#9ca3af"',
    "result": 'shape=box, style="rounded,filled,bold", fillcolor="#fee2e2", color="#b91c1c"',
}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _label(text: str) -> str:
    """A one-line label as a quoted string; several lines as an HTML-like table, one padded
    row per line, so that a descender (the ``_`` of ``a_h1``) never touches the next line."""
    lines = text.split("\n")
    if len(lines) == 1:
        return _quote(text)
    rows = "".join(f"<TR><TD>{html.escape(line, quote=False)}</TD></TR>" for line in lines)
    return (
        f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="{ROW_PADDING}">'
        f"{rows}</TABLE>>"
    )


def to_dot(graph: Graph) -> str:
    """The graph as Graphviz DOT text; the same graph always gives the same text.

    Examples
    --------
    >>> print(to_dot(Graph("g", "tiny", (GraphNode("t", "target", ("t",)),), ())), end="")
    digraph "g" {
      graph [rankdir=LR, fontname="Helvetica", labelloc=t, label="tiny", nodesep=0.35, ranksep=0.9];
      node [fontname="Helvetica", fontsize=12];
      edge [fontname="Helvetica", fontsize=11, color="#4b5563"];
      "t" [label="t", shape=plaintext, fontcolor="#6b7280"];
    }
    """
    out = [
        f"digraph {_quote(graph.name)} {{",
        f'  graph [rankdir={graph.rankdir}, fontname="Helvetica", labelloc=t, '
        f"label={_quote(graph.title)}, nodesep=0.35, "
        f"ranksep={0.9 if graph.rankdir == 'LR' else 0.35}];",
        '  node [fontname="Helvetica", fontsize=12];',
        '  edge [fontname="Helvetica", fontsize=11, color="#4b5563"];',
    ]
    for node in graph.nodes:
        out.append(
            f"  {_quote(node.id)} [label={_label(chr(10).join(node.lines))}, {_LOOK[node.kind]}];"
        )
    ranks: dict[int, list[str]] = {}
    for node in graph.nodes:
        if node.rank is not None:
            ranks.setdefault(node.rank, []).append(node.id)
    for rank in sorted(ranks):
        out.append("  { rank=same; " + " ".join(_quote(i) + ";" for i in ranks[rank]) + " }")
    for edge in graph.edges:
        attrs = []
        if edge.label and edge.inline:
            stop = _quote(f"{edge.tail}->{edge.head}")
            out.append(f"  {stop} [label={_label(edge.label)}, {_LOOK['edge label']}];")
            out.append(f"  {_quote(edge.tail)} -> {stop} [arrowhead=none];")
            out.append(f"  {stop} -> {_quote(edge.head)};")
            continue
        if edge.label:
            attrs.append(f"label={_label(edge.label)}")
        if edge.dashed:
            attrs.append("style=dashed")
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        out.append(f"  {_quote(edge.tail)} -> {_quote(edge.head)}{suffix};")
    out.append("}")
    return "\n".join(out) + "\n"


def render(graph: Graph | str, path: str | Path, formats: Sequence[str] = ("svg",)) -> list[Path]:
    """Write ``path`` with suffix ``.dot`` and, with Graphviz's ``dot``, one file per format.

    Returns the paths written, the ``.dot`` first. Without ``dot`` the DOT text is still
    written and :class:`GraphvizMissingError` says how to install it.
    """
    dot_text = graph if isinstance(graph, str) else to_dot(graph)
    base = Path(path)
    if base.suffix in (".dot", ".svg", ".png", ".pdf"):
        base = base.with_suffix("")
    dot_path = base.with_name(base.name + ".dot")
    dot_path.write_text(dot_text, encoding="utf-8")
    written = [dot_path]
    executable = shutil.which("dot")
    if executable is None:
        raise GraphvizMissingError(f"{GRAPHVIZ_MISSING} ({dot_path})")
    for fmt in formats:
        target = base.with_name(base.name + "." + fmt)
        result = subprocess.run(
            [executable, f"-T{fmt}", "-o", str(target)],
            input=dot_text,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"dot -T{fmt} failed on {dot_path}: {result.stderr.strip()}")
        written.append(target)
    return written


def svg_text(graph: Graph | str) -> str:
    """The picture as SVG markup (for inlining in HTML); needs Graphviz's ``dot``."""
    executable = shutil.which("dot")
    if executable is None:
        raise GraphvizMissingError(GRAPHVIZ_MISSING)
    dot_text = graph if isinstance(graph, str) else to_dot(graph)
    result = subprocess.run(
        [executable, "-Tsvg"], input=dot_text, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise RuntimeError(f"dot -Tsvg failed: {result.stderr.strip()}")
    return result.stdout
