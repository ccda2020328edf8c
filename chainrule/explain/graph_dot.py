"""Drawing a :class:`Graph`: DOT text, and Graphviz's ``dot`` for SVG, PNG or PDF."""

from __future__ import annotations

import html
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from chainrule.explain.graph_records import Graph

GRAPHVIZ_MISSING = (
    "Graphviz's 'dot' is not installed, so only the DOT text was written; "
    "install it (Debian/Ubuntu: apt-get install graphviz, macOS: brew install "
    "graphviz) or paste the .dot file into any Graphviz viewer"
)


ROW_PADDING = 3  # points above and below each line of a multi-line label


class GraphvizMissingError(RuntimeError):
    """Raised by :func:`render` when ``dot`` is not on PATH; the DOT text is written anyway."""


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
    >>> from chainrule.explain.graph_records import GraphNode
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
