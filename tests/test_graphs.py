"""Graph pictures: the seed network in the seeds' wiring, the computation graph of any recorded
loss with the engine's values and gradients, deterministic DOT, Graphviz rendering, and a clear
message when Graphviz is missing."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import CLI, cli_json

import chainrule as cr
from chainrule.explain import graphs
from chainrule.explain.graphs import (
    GraphvizMissingError,
    computation_graph,
    network_graph,
    number,
    render,
    to_dot,
)
from chainrule.nn.init import assign_

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot is not installed (apt-get install graphviz)"
)

EDGE = re.compile(r'^  "([^"]+)" -> "([^"]+)"(?: \[label="([^"]*)")?', re.M)
NODE = re.compile(r'^  "([^"]+)" \[label=(?:"((?:[^"\\]|\\.)*)"|<<TABLE[^>]*>(.*?)</TABLE>>)', re.M)


def node_labels(dot: str) -> dict[str, list[str]]:
    """Each DOT node's label as lines, from a quoted label or an HTML-like table's rows."""
    labels = {}
    for node, quoted, table in NODE.findall(dot):
        lines = (
            quoted.split("\\n")
            if not table
            else [html.unescape(row) for row in re.findall(r"<TD>(.*?)</TD>", table)]
        )
        labels[node] = lines
    return labels


def weight_edges(dot: str) -> dict[str, tuple[str, str]]:
    """``{"w1": ("i1", "h1"), ...}``: a weight's label is a node on its own edge."""
    labels = node_labels(dot)
    edges = {(tail, head) for tail, head, _ in EDGE.findall(dot)}
    found = {}
    for stop, lines in labels.items():
        if "->" in stop:
            tail, head = stop.split("->")
            assert (tail, stop) in edges and (stop, head) in edges, stop
            found[lines[0].split(" = ")[0]] = (tail, head)
    return found


def seed_loss() -> tuple[cr.Tensor, dict[str, cr.Tensor]]:
    """The seed network as named scalars (so every neuron is one tensor node)."""
    named: dict[str, cr.Tensor] = {}
    for name, value in zip(("i1", "i2", "t1", "t2"), (0.05, 0.10, 0.5, 0.5), strict=True):
        named[name] = cr.tensor(value, dtype=cr.float64)
    for k, value in enumerate((0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55), start=1):
        named[f"w{k}"] = cr.tensor(value, dtype=cr.float64, requires_grad=True)
    n = named
    n["h1"] = n["w1"] * n["i1"] + n["w2"] * n["i2"]
    n["h2"] = n["w3"] * n["i1"] + n["w4"] * n["i2"]
    n["a_h1"], n["a_h2"] = n["h1"].sigmoid(), n["h2"].sigmoid()
    n["o1"] = n["w5"] * n["a_h1"] + n["w6"] * n["a_h2"]
    n["o2"] = n["w7"] * n["a_h1"] + n["w8"] * n["a_h2"]
    n["a_o1"], n["a_o2"] = n["o1"].sigmoid(), n["o2"].sigmoid()
    n["E1"] = 0.5 * (n["t1"] - n["a_o1"]) ** 2
    n["E2"] = 0.5 * (n["t2"] - n["a_o2"]) ** 2
    n["E_total"] = n["E1"] + n["E2"]
    for name, tensor in n.items():
        tensor.name = name
    return n["E_total"], n


def test_network_picture_has_the_seeds_wiring() -> None:
    dot = to_dot(network_graph())
    edges = {(tail, head): label for tail, head, label in EDGE.findall(dot)}
    assert weight_edges(dot) == {
        "w1": ("i1", "h1"),
        "w2": ("i2", "h1"),
        "w3": ("i1", "h2"),
        "w4": ("i2", "h2"),
        "w5": ("a_h1", "o1"),
        "w6": ("a_h2", "o1"),
        "w7": ("a_h1", "o2"),
        "w8": ("a_h2", "o2"),
    }
    for neuron in ("i1", "i2", "h1", "a_h1", "h2", "a_h2", "o1", "a_o1", "o2", "a_o2", "E_total"):
        assert f'"{neuron}" [label="{neuron}' in dot
    assert edges[("E1", "E_total")] == "+" and edges[("E2", "E_total")] == "+"


def test_network_picture_prints_values_and_gradients() -> None:
    dot = to_dot(network_graph({"w5": 0.4, "a_h1": 0.506874566764534}, {"w5": 0.0128808186}))
    labels = node_labels(dot)
    assert labels["a_h2->o1"] == ["w6"]
    assert labels["a_h1->o1"] == ["w5 = 0.4", "∂E/∂w5 = 0.0128808"]
    assert labels["a_h1"] == ["a_h1", "0.506875"]
    identity = to_dot(network_graph(output_activation="identity"))
    assert '"o1" -> "a_o1" [label="identity"]' in identity


def test_network_picture_draws_biases_when_there_are_some() -> None:
    assert "b1" not in to_dot(network_graph({"w1": 0.15}))
    dot = to_dot(network_graph({"b1": 0.35, "b2": 0.6}, {"b2": 0.0948606}))
    edges = {(tail, head) for tail, head, _ in EDGE.findall(dot)}
    assert {("b1", "h1"), ("b1", "h2"), ("b2", "o1"), ("b2", "o2")} <= edges
    assert node_labels(dot)["b2"] == ["b2", "0.6", "∂E/∂b2 = 0.0948606"]


def test_same_program_same_dot() -> None:
    first = to_dot(computation_graph(seed_loss()[0]))
    second = to_dot(computation_graph(seed_loss()[0]))
    assert first == second
    assert to_dot(network_graph()) == to_dot(network_graph())


def test_computation_graph_shows_the_engines_values_and_gradients() -> None:
    loss, named = seed_loss()
    picture = computation_graph(loss)
    labels = {
        node.lines[0].split(" = ")[0]: node.lines for node in picture.nodes if node.kind != "op"
    }
    loss.backward(retain_graph=True)
    for k in range(1, 9):
        w = named[f"w{k}"]
        expected = (f"w{k} = {number(w.item())}", f"∂E_total/∂w{k} = {number(w.grad.item())}")
        assert labels[f"w{k}"] == expected
    assert labels["a_h1"][0] == f"a_h1 = {number(named['a_h1'].item())}"
    assert labels["E_total"] == ("E_total = 0.0141814", "∂E_total/∂E_total = 1")
    assert labels["i1"] == ("i1 = 0.05",)  # a constant: no gradient
    ops = [node.lines[0] for node in picture.nodes if node.kind == "op"]
    assert ops.count("sigmoid") == 4 and "pow" in ops
    # every op node has an edge out to its result and in from each input
    ids = {node.id for node in picture.nodes}
    assert all(edge.tail in ids and edge.head in ids for edge in picture.edges)


def seed_network_loss() -> cr.Tensor:
    from chainrule.explain.seeds import SEED_WEIGHTS, WEIGHT_NAMES, SeedConfig, build_seed_network

    return build_seed_network(SeedConfig(), dict(zip(WEIGHT_NAMES, SEED_WEIGHTS, strict=True))).loss


def test_every_tensor_node_uses_one_notation() -> None:
    """Named or not, every tensor reads ``name (shape)`` (non-scalars), ``label = value``,
    ``∂loss/∂label = gradient``: no "grad …" beside "∂/∂…", no shape on only some nodes."""
    loss = seed_network_loss()
    picture = computation_graph(loss)
    by_name = {node.lines[0]: node.lines for node in picture.nodes if node.kind != "op"}
    assert by_name["W1 (2, 2)"][1:3] == ("w1 = 0.15   w2 = 0.2", "w3 = 0.25   w4 = 0.3")
    assert by_name["u1 (1, 2)"][2] == (
        "∂E_total/∂(t1 − a_o1) = -0.106478   ∂E_total/∂(t2 − a_o2) = -0.130481"
    )
    assert by_name["a_h (1, 2)"][2].startswith("∂E_total/∂a_h1 = ")
    assert by_name["E_total = 0.0141814"] == ("E_total = 0.0141814", "∂E_total/∂E_total = 1")
    for node in picture.nodes:
        if node.kind in ("op", "constant"):
            continue
        text = "\n".join(node.lines)
        assert "grad" not in text and "∂/∂" not in text, node.lines
        assert " = " in node.lines[-1] and node.lines[-1].startswith("∂E_total/∂"), node.lines
        if " = " not in node.lines[0]:  # a non-scalar's heading: its name and shape
            assert re.fullmatch(r"\S+ \(\d+(, \d+)*\)", node.lines[0]), node.lines


@pytest.mark.parametrize("x_shape", [(2, 1), (2,)])
def test_element_names_label_a_small_weight_matrix(x_shape: tuple[int, ...]) -> None:
    hidden = cr.zeros(2, 2, requires_grad=True)
    assign_(hidden, [[0.15, 0.20], [0.25, 0.30]], names=[["w1", "w2"], ["w3", "w4"]], name="W1")
    x = cr.tensor([0.05, 0.10]).reshape(x_shape)
    loss = (hidden @ x).sigmoid().sum()
    picture = computation_graph(loss)
    node = next(n for n in picture.nodes if n.lines[0] == "W1 (2, 2)")
    assert node.kind == "parameter"
    assert node.lines[1] == "w1 = 0.15   w2 = 0.2"
    loss.backward()
    grads = hidden.grad.numpy()
    row = f"∂L/∂w1 = {number(float(grads[0, 0]))}   ∂L/∂w2 = {number(float(grads[0, 1]))}"
    assert node.lines[3] == row


def test_big_tensors_print_their_shape() -> None:
    w = cr.ones(3, 4, requires_grad=True)
    w.name = "W"
    loss = (w * 2.0).sum()
    node = next(n for n in computation_graph(loss).nodes if n.lines[0] == "W (3, 4)")
    assert node.lines[1] == "mean W = 1"
    assert node.lines[2] == "mean ∂L/∂W = 2"


@needs_dot
@pytest.mark.parametrize("which", ["network", "computation"])
def test_label_lines_never_overlap(which: str) -> None:
    """Lines of a label are at least 1.4 font sizes apart, so the ``_`` of ``a_h1`` or
    ``E_total`` stays clear of the next line's digits (13 pt apart for 12 pt text did not)."""
    values = {name: 0.5 for layer in graphs.SEED_LAYERS for name in layer} | {"w1": 0.15}
    picture = (
        network_graph(values, {"w1": 0.0003, "a_h1": 0.02})
        if which == "network"
        else computation_graph(seed_network_loss())
    )
    svg = graphs.svg_text(picture)
    checked = 0
    for group in re.findall(r'<g id="(?:node|edge)\d+" class="(?:node|edge)">(.*?)</g>', svg, re.S):
        texts = re.findall(r'<text[^>]* y="([-\d.]+)"[^>]*font-size="([\d.]+)"', group)
        ys = sorted(float(y) for y, _ in texts)
        for above, below in zip(ys, ys[1:], strict=False):
            size = max(float(size) for _, size in texts)
            assert below - above >= 1.4 * size, (group, above, below)
            checked += 1
    assert checked > 10


def test_a_freed_graph_says_what_to_do() -> None:
    loss, _ = seed_loss()
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        computation_graph(loss)


@needs_dot
def test_render_writes_dot_svg_and_png(tmp_path: Path) -> None:
    loss, _ = seed_loss()
    written = render(computation_graph(loss), tmp_path / "graph", formats=("svg", "png"))
    assert [p.name for p in written] == ["graph.dot", "graph.svg", "graph.png"]
    svg = written[1].read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "E_total" in svg
    assert written[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    network_svg = graphs.svg_text(network_graph())
    assert all(f">w{k}<" in network_svg for k in range(1, 9))


def test_without_graphviz_the_dot_text_is_written_and_the_message_says_how(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graphs.shutil, "which", lambda name: None)
    with pytest.raises(GraphvizMissingError, match="apt-get install graphviz") as caught:
        render(network_graph(), tmp_path / "network.svg")
    dot_file = tmp_path / "network.dot"
    assert dot_file.read_text() == to_dot(network_graph())
    assert str(dot_file) in str(caught.value)
    assert not (tmp_path / "network.svg").exists()
    with pytest.raises(GraphvizMissingError):
        graphs.svg_text(network_graph())


def test_number_format() -> None:
    assert [number(v) for v in (0.0275, 1.0, -3.1699339591029e-4, 2.5468e-8, 1234567.0)] == [
        "0.0275",
        "1",
        "-0.000316993",
        "2.5468e-08",
        "1.23457e+06",
    ]
    assert np.isclose(float(number(0.506874566764534)), 0.506875)


# ---- the command line ------------------------------------------------------------------------
@needs_dot
def test_cli_graph_with_no_arguments(tmp_path: Path, run_in_tmp: CLI) -> None:
    out = run_in_tmp(["graph"]).out
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(
        f"chainrule-{kind}.{ext}" for kind in ("network", "graph") for ext in ("dot", "svg", "png")
    )
    assert "wrote chainrule-network.svg" in out
    network = (tmp_path / "chainrule-network.svg").read_text()
    assert "w5 = 0.4" in network and "∂E/∂w5 = 0.0128808" in network
    graph = (tmp_path / "chainrule-graph.dot").read_text()
    assert "E_total" in graph and "sigmoid" in graph


@needs_dot
def test_cli_graph_one_weight_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prefix = tmp_path / "one"
    argv = "graph --example one-weight --format svg --json -o"
    data = cli_json([*argv.split(), str(prefix)], capsys)
    assert data == {"written": [f"{prefix}-graph.dot", f"{prefix}-graph.svg"], "error": None}
    dot = Path(data["written"][0]).read_text()
    labels = node_labels(dot)
    assert ["W = 0.5", "∂L/∂W = 1"] in labels.values()
    assert ["L = 0.25", "∂L/∂L = 1"] in labels.values()


def test_cli_graph_without_graphviz(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from chainrule.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(graphs.shutil, "which", lambda name: None)
    assert main(["graph", "--json"]) == 1
    out = capsys.readouterr()
    assert json.loads(out.out)["written"] == ["chainrule-network.dot", "chainrule-graph.dot"]
    assert "apt-get install graphviz" in out.err and out.err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "chainrule-graph.dot",
        "chainrule-network.dot",
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["--format", "gif"],
        ["--which", "tree"],
        ["--example", "one-weight", "--which", "network"],
        ["-o", "no/such/dir/x"],
        ["--weights", "0.1"],
        ["--inputs", "nan", "1"],
    ],
)
def test_cli_graph_bad_arguments(argv: list[str], refuse: CLI) -> None:
    refuse(["graph", *argv])
