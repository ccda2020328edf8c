"""Pictures as data: the computation graph of a recorded loss and the seed network's neurons
and weights, as plain :class:`Graph` records; DOT text and Graphviz's SVG/PNG are views of them.

``from chainrule.explain.graphs import ...`` keeps working for all of it; each part lives in
the module of its concept:

- ``chainrule.explain.graph_records``: Graph, GraphNode, GraphEdge, number
- ``chainrule.explain.graph_network``: network_graph (the seed network), SEED_WIRING, SEED_LAYERS
- ``chainrule.explain.graph_computation``: computation_graph (a recorded loss), SMALL
- ``chainrule.explain.graph_dot``: to_dot, render, svg_text (DOT text and Graphviz)
"""

from __future__ import annotations

import shutil  # noqa: F401 - tests patch graphs.shutil.which to act as if dot were missing

from chainrule.explain.graph_computation import SMALL, computation_graph
from chainrule.explain.graph_dot import (
    GRAPHVIZ_MISSING,
    ROW_PADDING,
    GraphvizMissingError,
    render,
    svg_text,
    to_dot,
)
from chainrule.explain.graph_network import SEED_LAYERS, SEED_WIRING, network_graph
from chainrule.explain.graph_records import Graph, GraphEdge, GraphNode, number

__all__ = [
    "GRAPHVIZ_MISSING",
    "ROW_PADDING",
    "SEED_LAYERS",
    "SEED_WIRING",
    "SMALL",
    "Graph",
    "GraphEdge",
    "GraphNode",
    "GraphvizMissingError",
    "computation_graph",
    "network_graph",
    "number",
    "render",
    "svg_text",
    "to_dot",
]
