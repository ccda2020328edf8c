"""The pictures as data: :class:`Graph`, its nodes and edges, and how the pictures print a
number. What a picture shows is built in graph_network and graph_computation; graph_dot draws it.
"""

from __future__ import annotations

from dataclasses import dataclass


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
