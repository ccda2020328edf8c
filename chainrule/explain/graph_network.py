"""The seed network's picture: its neurons, errors and weights as a :class:`Graph`."""

from __future__ import annotations

from collections.abc import Mapping

from chainrule.explain.graph_records import Graph, GraphEdge, GraphNode, number

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
