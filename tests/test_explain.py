"""explain(): paths, local derivatives and their sum against the engine's own gradient, on the
seed network, on random graphs with reused nodes, and at tensor level on a bigger MLP; and the
renderers as views of the JSON record."""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
import chainrule.explain as explain_module
from chainrule.explain import (
    Derivation,
    Explanation,
    TensorDerivation,
    explain,
    from_json,
    render_html,
    render_json,
    render_markdown,
    render_text,
    to_dict,
)
from chainrule.explain.render_text import format_value, tex_to_text
from chainrule.explain.seeds import SEED_WEIGHTS, WEIGHT_NAMES, SeedConfig, build_seed_network
from chainrule.names import name, name_elements

SNAPSHOTS = Path(__file__).parent / "snapshots"


def seed_network(**options):
    config = SeedConfig(**options)
    weights = dict(zip(WEIGHT_NAMES, SEED_WEIGHTS, strict=True))
    if config.biases is not None:
        weights.update(b1=config.biases[0], b2=config.biases[1])
    return build_seed_network(config, weights)


@pytest.fixture(scope="module")
def seed_explanation() -> Explanation:
    net = seed_network()
    return explain(net.loss, net.parameters)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# ---- the seed network ----------------------------------------------------------------------------
def test_seed_paths_and_counts(seed_explanation):
    derivations = {d.parameter: d for d in seed_explanation.derivations}
    assert list(derivations) == list(WEIGHT_NAMES)
    for key in ("w1", "w2", "w3", "w4"):  # through o1 and through o2
        d = derivations[key]
        assert len(d.paths) == 2, key
        assert [p.nodes[2:4] for p in d.paths] == [("a_o1", "o1"), ("a_o2", "o2")]
    for key, via in (("w5", "o1"), ("w6", "o1"), ("w7", "o2"), ("w8", "o2")):
        d = derivations[key]
        assert len(d.paths) == 1
        assert d.paths[0].nodes[-2:] == (via, key)
    assert derivations["w1"].paths[0].nodes == ("E_total", "E1", "a_o1", "o1", "a_h1", "h1", "w1")


def test_seed_sum_of_paths_equals_engine_grad(seed_explanation):
    net = seed_network()
    net.loss.backward()
    flat = np.concatenate([net.parameters[k].grad.numpy().reshape(-1) for k in ("W1", "W2")])
    grads = dict(zip(WEIGHT_NAMES, flat.tolist(), strict=True))
    for d in seed_explanation.derivations:
        assert d.engine == grads[d.parameter], d.parameter  # the engine's .grad, bit for bit
        assert d.agrees
        assert abs(d.ulps) <= 1, (d.parameter, d.total, d.engine, d.ulps)
        if len(d.paths) == 1:  # one path: the same arithmetic
            assert d.total == d.engine and d.difference == 0.0
        assert d.total == pytest.approx(math.fsum(p.product for p in d.paths), abs=0)


def test_seed_local_derivatives_formulas_and_numbers(seed_explanation):
    q = {x.name: x.value for x in seed_explanation.quantities}
    steps = {
        (s.upper, s.lower): s
        for d in seed_explanation.derivations
        for p in d.paths
        for s in p.steps
    }
    expected = {
        ("E_total", "E1"): ("1", 1.0),
        ("E1", "a_o1"): ("-(t_{1} - a_{o1})", -(q["t1"] - q["a_o1"])),
        ("a_o1", "o1"): (r"a_{o1}\,(1 - a_{o1})", q["a_o1"] * (1 - q["a_o1"])),
        ("o1", "w5"): ("a_{h1}", q["a_h1"]),
        ("o1", "a_h1"): ("w_{5}", 0.40),
        ("o2", "a_h1"): ("w_{7}", 0.50),
        ("a_h1", "h1"): (r"a_{h1}\,(1 - a_{h1})", q["a_h1"] * (1 - q["a_h1"])),
        ("h1", "w1"): ("i_{1}", 0.05),
        ("h2", "w4"): ("i_{2}", 0.10),
    }
    for key, (formula, value) in expected.items():
        assert steps[key].formula == formula, key
        assert steps[key].value == pytest.approx(value, abs=1e-15), key
    assert steps[("E1", "a_o1")].ops == ("mul", "pow", "sub")


def test_seed_forward_quantities_independent(seed_explanation):
    q = {x.name: x for x in seed_explanation.quantities}
    h1 = 0.15 * 0.05 + 0.20 * 0.10
    a_h1 = sigmoid(h1)
    a_h2 = sigmoid(0.25 * 0.05 + 0.30 * 0.10)
    a_o1 = sigmoid(0.40 * a_h1 + 0.45 * a_h2)
    assert q["h1"].value == pytest.approx(h1, abs=1e-15)
    assert q["a_o1"].value == pytest.approx(a_o1, abs=1e-15)
    assert q["h1"].formula == r"w_{1}\,i_{1} + w_{2}\,i_{2}"
    assert q["a_h1"].formula == r"\sigma(h_{1})"
    assert q["E1"].formula == r"0.5 \cdot (t_{1} - a_{o1})^{2}"
    assert q["E_total"].formula == "E_{1} + E_{2}"
    assert q["E_total"].kind == "loss" and q["w1"].kind == "parameter" and q["i1"].kind == "input"
    # ∂E_total/∂a_o1 = −(t1 − a_o1), the engine's gradient at the named quantity
    assert q["a_o1"].grad == pytest.approx(-(0.5 - a_o1), abs=1e-15)
    names = [x.name for x in seed_explanation.quantities]
    assert names[:4] == ["i1", "i2", "t1", "t2"] and names[-1] == "E_total"


def test_explain_leaves_grad_and_graph_alone():
    net = seed_network()
    W1 = net.parameters["W1"]
    explain(net.loss, net.parameters)
    assert W1.grad is None
    net.loss.backward()  # the graph is still there
    assert W1.grad is not None
    with pytest.raises(ValueError, match="freed by backward"):
        explain(net.loss, net.parameters)


def test_explain_with_biases_has_four_paths_to_b1():
    net = seed_network(biases=(0.35, 0.6), train_biases=True)
    e = explain(net.loss, net.parameters)
    assert len(e["b1"].paths) == 4 and len(e["b2"].paths) == 2
    assert all(d.agrees for d in e.derivations)


def test_identity_output_shows_unit_derivative():
    net = seed_network(output_activation="identity")
    e = explain(net.loss, net.parameters)
    step = e["w5"].paths[0].steps[2]
    assert (step.upper, step.lower, step.formula, step.value) == ("a_o1", "o1", "1", 1.0)


def test_bad_calls():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="one element"):
        explain(x * 2)
    y = cr.tensor(1.0, requires_grad=True)
    with pytest.raises(ValueError, match="not used by the loss"):
        explain((x * 2).sum(), [y])
    with pytest.raises(ValueError, match="level"):
        explain((x * 2).sum(), level="scalar")
    with pytest.raises(TypeError):
        explain(3.0)


def test_explain_module_is_callable():
    W = name(cr.tensor(0.5, dtype=cr.float64, requires_grad=True), "W")
    L = name((W * 1.0) ** 2, "L")
    assert explain_module(L)["W"].total == 1.0
    assert explain_module.explain is explain


# ---- random graphs with reused nodes (diamonds) --------------------------------------------------
_UNARY = [
    ("sin", cr.sin),
    ("tanh", cr.tanh),
    ("sigmoid", cr.sigmoid),
    ("exp", lambda v: cr.exp(v * 0.3)),
]
_BINARY = [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / (b * b + 1.0)),
]


def random_graph(rng: np.random.Generator, count: int, shape=()):
    """A random DAG of smooth ops that reuses earlier nodes; also counts, independently, the
    paths from the last node to each parameter (a node used twice by one op counts twice)."""
    params = [
        cr.tensor(rng.uniform(-1, 1, shape), dtype=cr.float64, requires_grad=True) for _ in range(3)
    ]
    for k, p in enumerate(params):
        name(p, f"p{k + 1}")
    nodes = list(params)
    paths = [[1 if j == k else 0 for j in range(3)] for k in range(3)]
    for _ in range(count):
        if rng.random() < 0.35:
            a = int(rng.integers(len(nodes)))
            _, op = _UNARY[int(rng.integers(len(_UNARY)))]
            nodes.append(op(nodes[a]))
            paths.append(list(paths[a]))
        else:
            a, b = (int(i) for i in rng.integers(len(nodes), size=2))
            label, op = _BINARY[int(rng.integers(len(_BINARY)))]
            nodes.append(op(nodes[a], nodes[b]))
            # div's denominator b*b + 1 reaches b twice; sub/add/mul once per operand
            count_b = 2 if label == "div" else 1
            paths.append([paths[a][j] + count_b * paths[b][j] for j in range(3)])
    loss = nodes[-1].sum() if shape else nodes[-1]
    return loss, params, paths[-1]


@pytest.mark.parametrize("trial", range(12))
def test_random_scalar_graphs_paths_and_sums(trial, rng):
    loss, params, expected_paths = random_graph(rng, count=9)
    unused = [p for p, count in zip(params, expected_paths, strict=True) if count == 0]
    for p in unused:
        with pytest.raises(ValueError, match="not used by the loss"):
            explain(loss, [p])
    expected_paths = [count for count in expected_paths if count]
    params = [p for p in params if not any(p is u for u in unused)]
    e = explain(loss, params, max_paths=100_000)
    grads = cr.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    for d, g, count in zip(e.derivations, grads, expected_paths, strict=True):
        engine = 0.0 if g is None else g.item()
        assert len(d.paths) == count, (d.parameter, len(d.paths), count)
        assert d.engine == engine
        assert d.agrees, (d.parameter, d.total, engine, d.ulps)
        assert d.total == pytest.approx(engine, rel=1e-12, abs=1e-300)
        assert len(d.paths) != 1 or d.total == engine  # one path: bit for bit


@pytest.mark.parametrize("trial", range(4))
def test_random_vector_graphs_element_level(trial, rng):
    loss, params, counts = random_graph(rng, count=6, shape=(2,))
    params = [p for p, count in zip(params, counts, strict=True) if count]
    e = explain(loss, params, max_paths=100_000)
    grads = cr.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    by_name = {d.parameter: d for d in e.derivations}
    for p, g in zip(params, grads, strict=True):
        for k in range(2):
            d = by_name[f"{p.name}[{k}]"]
            engine = 0.0 if g is None else float(g.numpy()[k])
            assert d.level == "element" and d.engine == engine
            assert d.agrees and d.total == pytest.approx(engine, rel=1e-12, abs=1e-300)


def test_diamond_path_count_and_exactness():
    x = name(cr.tensor(0.7, dtype=cr.float64, requires_grad=True), "x")
    u = name(cr.sin(x), "u")
    v = name(u * u, "v")  # two paths u -> v
    w = name(cr.exp(u), "w")
    L = name(v + w * u, "L")  # u reached directly, through v (twice) and through w
    d = explain(L)["x"]
    assert len(d.paths) == 4
    assert d.agrees and abs(d.ulps) <= 2
    expected = (2 * math.sin(0.7) + math.exp(math.sin(0.7)) * (1 + math.sin(0.7))) * math.cos(0.7)
    assert d.total == pytest.approx(expected, rel=1e-14)


# ---- tensor level --------------------------------------------------------------------------------
def test_tensor_level_mlp_shapes_and_engine(rng):
    B, D, H, O = 8, 5, 16, 3
    f32 = cr.float32
    x = name(cr.tensor(rng.normal(size=(B, D)), dtype=f32), "x")
    y = name(cr.tensor(rng.normal(size=(B, O)), dtype=f32), "y")
    W1 = name(cr.tensor(rng.normal(size=(H, D)) * 0.3, dtype=f32, requires_grad=True), "W1")
    b1 = name(cr.tensor(rng.normal(size=H) * 0.1, dtype=f32, requires_grad=True), "b1")
    W2 = name(cr.tensor(rng.normal(size=(O, H)) * 0.3, dtype=f32, requires_grad=True), "W2")
    z = name(cr.linear(x, W1, b1), "z")
    a = name(cr.tanh(z), "a")
    out = name(cr.linear(a, W2), "out")
    loss = name(((out - y) ** 2).mean(), "L")
    auto = explain(loss, {"W1": W1, "b1": b1, "W2": W2})
    # 80 and 48 elements: tensor level; b1's 16 elements have 24 paths each, 384 in all, more
    # than max_paths=64: tensor level too, with a note on how to ask for one element
    assert [d.level for d in auto.derivations] == ["tensor"] * 3
    assert "384 paths" in auto.notes[1] and "only=['b1[0]']" in auto.notes[1]
    biases = explain(loss, {"W1": W1, "b1": b1, "W2": W2}, max_paths=400)
    assert [d.level for d in biases.derivations] == ["tensor"] + ["element"] * H + ["tensor"]
    assert all(len(d.paths) == B * O and d.agrees for d in biases.derivations[1:-1])
    e = explain(loss, {"W1": W1, "b1": b1, "W2": W2}, level="tensor")
    loss.backward()
    assert np.allclose([d.total for d in biases.derivations[1:-1]], b1.grad.numpy(), rtol=1e-5)
    for d, p in zip(e.derivations, (W1, b1, W2), strict=True):
        assert isinstance(d, TensorDerivation)
        assert d.shape == tuple(p.shape) and d.total.shape == tuple(p.shape)
        assert len(d.paths) == 1 and d.paths[0].steps[-1].shape == tuple(p.shape)
        assert np.array_equal(d.engine.numpy(), p.grad.numpy())
        assert np.array_equal(d.total.numpy(), p.grad.numpy())  # one path: bit for bit
        assert d.agrees and d.total.dtype == "float32"
    W2d = e["W2"]
    assert W2d.paths[0].steps[-1].formula == r"\delta_{\mathrm{out}}^{T}\,a"  # ∂L/∂W = δᵀa
    assert [s.shape for s in e["W1"].paths[0].steps][-3:] == [(B, H), (B, H), (H, D)]
    assert "δ_out" in tex_to_text(W2d.paths[0].steps[-1].formula)
    text = render_text(e, color=False)
    assert "shape (16, 5)" in text and "tensor level" in text and "δ_outᵀ·a" in text


def test_level_can_be_forced():
    net = seed_network()
    e = explain(net.loss, net.parameters, level="tensor")
    assert [d.parameter for d in e.derivations] == ["W1", "W2"]
    net.loss.backward(retain_graph=True)
    assert np.array_equal(e["W1"].total.numpy(), net.parameters["W1"].grad.numpy())
    assert e["W2"].paths[0].formula.endswith(r"^{T}\,a_{h}")


# ---- renderers: views of the JSON record ---------------------------------------------------------
def _floats(data) -> list[float]:
    if isinstance(data, dict):
        return [v for value in data.values() for v in _floats(value)]
    if isinstance(data, list):
        return [v for value in data for v in _floats(value)]
    return [float(data)] if isinstance(data, float) else []


def test_json_round_trip_is_lossless(seed_explanation):
    text = render_json(seed_explanation)
    assert from_json(text) == seed_explanation
    assert json.loads(text)["type"] == "Explanation"


def _compare_snapshot(got, want, where="$"):
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), where
        for key in want:
            _compare_snapshot(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for k, (g, w) in enumerate(zip(got, want, strict=True)):
            _compare_snapshot(g, w, f"{where}[{k}]")
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-12, abs=1e-15), where
    else:
        assert got == want, where


def test_json_snapshot_of_the_seed_network(seed_explanation):
    path = SNAPSHOTS / "seed_explanation.json"
    got = to_dict(seed_explanation)
    if os.environ.get("CHAINRULE_UPDATE_SNAPSHOTS"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert path.exists(), f"no snapshot {path}: run with CHAINRULE_UPDATE_SNAPSHOTS=1 once"
    _compare_snapshot(got, json.loads(path.read_text(encoding="utf-8")))


def test_text_markdown_html_show_the_json_numbers(seed_explanation):
    data = to_dict(seed_explanation)
    text = render_text(seed_explanation, color=False)
    markdown = render_markdown(seed_explanation)
    page = render_html(seed_explanation)
    for d in data["derivations"]:
        for rendered in (text, markdown, page):
            assert format_value(d["total"]) in rendered
            for path in d["paths"]:
                assert format_value(path["product"]) in rendered
                for step in path["steps"]:
                    assert format_value(step["value"]) in rendered
    for q in data["quantities"]:
        for rendered in (text, markdown, page):
            assert format_value(q["value"]) in rendered


def test_markdown_has_latex_fractions(seed_explanation):
    markdown = render_markdown(seed_explanation)
    assert r"\frac{\partial E_{total}}{\partial w_{5}}" in markdown
    assert r"\frac{\partial E_{1}}{\partial a_{o1}}" in markdown
    assert "$$" in markdown and r"\begin{aligned}" in markdown
    assert "-(t_{1} - a_{o1})" in markdown
    assert markdown.count("✓ equals the engine's `.grad`") == 8


def test_markdown_is_compact_and_breaks_per_path(seed_explanation):
    markdown = render_markdown(seed_explanation)
    forward = markdown.split("## Forward pass")[1].split("##")[0]
    # inputs and weights: one "given" line, not rows with an empty definition cell
    assert "**Given:** $i_{1} = 0.05$, $i_{2} = 0.1$" in forward
    assert "$w_{8} = 0.55$" in forward
    rows = [line for line in forward.splitlines() if line.startswith("| $")]
    assert len(rows) == 11 and all("|  |" not in row for row in rows), rows
    # a two-path derivation puts each path on its own line
    lines = markdown.splitlines()
    assert all(line.count(r"\underbrace") <= 1 for line in lines)
    assert sum(line.startswith(r"&\quad + \underbrace") for line in lines) == 4  # w1..w4
    assert max(len(line) for line in lines) < 400


def test_tensor_level_notation_is_explained_once():
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.normal(size=(4, 3)))
    weight = name(cr.tensor(rng.normal(size=(3, 2)), requires_grad=True), "W")
    loss = (cr.nn.functional.softmax(x @ weight, dim=1) * cr.tensor([[1.0, 2.0]])).sum()
    text = render_text(explain(loss, level="tensor"), color=False)
    assert "softmax^(*)(δ_L" in text
    legend = "f^(*)(g): the vector-Jacobian product of f applied to g"
    assert text.count(legend) == 1
    assert text.index(legend) < text.index("softmax^(*)")


def test_no_doubled_parentheses_with_unnamed_intermediates():
    t = cr.tensor([0.5, 0.5])
    a = cr.tensor([[0.1, 0.2], [0.3, 0.4]], requires_grad=True)
    loss = ((t - (a @ cr.tensor([1.0, 2.0])).sigmoid()) ** 2).sum()
    text = render_text(explain(loss), color=False)
    assert "((" not in text, text
    assert "−2·(0.5 − σ(p1[0,0]·1 + p1[0,1]·2))·σ(p1[0,0]·1 + p1[0,1]·2)·(1 − σ(" in text
    assert "f^(*)" not in text


def test_text_is_aligned_and_colour_is_optional(seed_explanation):
    text = render_text(seed_explanation, color=False)
    assert "\x1b[" not in text
    section = text.split("Backward pass: local derivatives")[1].split("\n\n")[0]
    rows = [line for line in section.splitlines()[1:] if line.strip()]
    assert len(rows) == 20
    firsts = {line.index(" = ") for line in rows}
    values = {line.index("=", line.index(" = ") + 3) for line in rows}
    assert len(firsts) == 1 and len(values) == 1, "columns are not aligned"
    coloured = render_text(seed_explanation, color=True)
    assert "\x1b[" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == text


def test_tex_to_text():
    assert tex_to_text(r"a_{o1}\,(1 - a_{o1})") == "a_o1·(1 − a_o1)"
    assert tex_to_text(r"w_{5}\,a_{h1} + w_{6}\,a_{h2}") == "w5·a_h1 + w6·a_h2"
    assert tex_to_text(r"-(t_{1} - a_{o1})") == "−(t1 − a_o1)"
    assert tex_to_text(r"\frac{1}{x}") == "1/x"
    assert tex_to_text(r"0.5 \cdot (t_{1} - a_{o1})^{2}") == "0.5 · (t1 − a_o1)²"
    assert tex_to_text(r"\delta_{o}^{T}\,a_{h}") == "δ_oᵀ·a_h"


def test_jupyter_reprs(seed_explanation):
    assert seed_explanation._repr_markdown_().startswith("## Forward pass")
    html = seed_explanation._repr_html_()
    assert html.startswith('<div class="chainrule">') and "✓ equals the engine" in html
    assert str(seed_explanation) == render_text(seed_explanation, color=False)
    d = seed_explanation["w1"]
    assert isinstance(d, Derivation) and "sum over 2 paths" in render_text(d, color=False)
    assert "<html" in render_html(seed_explanation, full_page=True)


# ---- names ---------------------------------------------------------------------------------------
def test_naming_api():
    from chainrule.names import element_name, get_named, named_elements, set_named, tex_name

    W = name_elements(
        cr.zeros(2, 2, dtype=cr.float64, requires_grad=True), [["w1", "w2"], ["w3", "w4"]]
    )
    b = name(cr.tensor(0.0, dtype=cr.float64, requires_grad=True), "b1")
    set_named({"w1": 0.15, "w2": 0.2, "w3": 0.25, "w4": 0.3, "b1": 0.35}, {"W": W, "b": b})
    assert W.tolist() == [[0.15, 0.2], [0.25, 0.3]] and b.item() == 0.35
    assert get_named([W, b]) == {"w1": 0.15, "w2": 0.2, "w3": 0.25, "w4": 0.3, "b1": 0.35}
    assert list(named_elements([W])) == ["w1", "w2", "w3", "w4"]
    assert element_name(W, (1, 0)) == "w3"
    assert element_name(name(cr.zeros(2, 3), "A"), (1, 2)) == "A[1,2]"
    assert tex_name("E_total") == "E_{total}" and tex_name("a_h1") == "a_{h1}"
    with pytest.raises(ValueError, match="no element named 'w9'"):
        set_named({"w9": 1.0}, [W])
    with pytest.raises(ValueError, match="shape"):
        name_elements(cr.zeros(2, 2), ["a", "b"])
    with pytest.raises(ValueError, match="distinct"):
        name_elements(cr.zeros(2), ["a", "a"])
    with pytest.raises(ValueError, match="identifier"):
        name(cr.zeros(2), "not a name")
    with pytest.raises(ValueError, match="number"):
        set_named({"w1": "x"}, [W])


def test_set_named_bumps_the_version_so_stale_graphs_fail():
    from chainrule.names import set_named

    W = name_elements(cr.ones(2, dtype=cr.float64, requires_grad=True), ["w1", "w2"])
    loss = (W * W).sum()
    set_named({"w1": 3.0}, [W])
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_names_of_nn_modules():
    nn = pytest.importorskip("chainrule.nn")
    from chainrule.names import set_named

    model = nn.Sequential(
        nn.Linear(2, 2, bias=False), nn.Sigmoid(), nn.Linear(2, 2, bias=False), nn.Sigmoid()
    ).double()
    name_elements(model[0].weight, [["w1", "w2"], ["w3", "w4"]])
    name_elements(model[2].weight, [["w5", "w6"], ["w7", "w8"]])
    set_named(dict(zip(WEIGHT_NAMES, SEED_WEIGHTS, strict=True)), model)
    x = cr.tensor([[0.05, 0.10]], dtype=cr.float64)
    t = cr.tensor([[0.5, 0.5]], dtype=cr.float64)
    loss = (0.5 * (t - model(x)) ** 2).sum()
    e = explain(loss, model)
    net = seed_network()
    reference = explain(net.loss, net.parameters)
    for d in reference.derivations:
        assert e[d.parameter].total == d.total and len(e[d.parameter].paths) == len(d.paths)


@pytest.mark.parametrize(
    "shape_a, shape_b",
    [((3,), (3, 2)), ((2, 3), (3,)), ((3,), (3,)), ((2, 3), (3, 2)), ((2, 2, 3), (3, 2))],
)
def test_matmul_of_every_rank_element_by_element(shape_a, shape_b, rng):
    A = name(cr.tensor(rng.normal(size=shape_a), requires_grad=True), "A")
    B = name(cr.tensor(rng.normal(size=shape_b), requires_grad=True), "B")
    L = name(cr.sin(cr.matmul(A, B)).sum(), "L")
    e = explain(L, level="element", max_paths=10_000)
    gA, gB = cr.autograd.grad(L, [A, B], retain_graph=True)
    flat = np.concatenate([gA.numpy().reshape(-1), gB.numpy().reshape(-1)])
    assert [d.engine for d in e.derivations] == flat.tolist()
    assert all(d.agrees and d.total == pytest.approx(d.engine, rel=1e-13) for d in e.derivations)
    # ∂(AB)/∂A_{0..} is an element of B and ∂(AB)/∂B_{0..} an element of A
    assert (
        e.derivations[0]
        .paths[0]
        .steps[-1]
        .formula.endswith("B_{0}" if len(shape_b) == 1 else "B_{0,0}")
    )
    last = e.derivations[-1].paths[0].steps[-1].formula
    assert "A_{" in last and last.rsplit(r"\,", 1)[-1].startswith("A_{")


def test_tutorial_json_round_trip():
    from chainrule.explain.seeds import seed_tutorial

    run = seed_tutorial(steps=3, biases=(0.35, 0.6), train_biases=True)
    back = from_json(render_json(run))
    assert back == run and back.explanation == run.explanation
    assert back.final == run.final and back.values["E_total"] == run.values["E_total"]


_OP_CASES = {
    "relu (a dead unit)": lambda a, b: cr.relu(a - 0.8).sum(),
    "mean": lambda a, b: (a * b).mean(),
    "log_softmax": lambda a, b: cr.log_softmax(a, dim=-1)[0],
    "softmax": lambda a, b: (cr.softmax(a, dim=-1) * b).sum(),
    "max": lambda a, b: a.max(),
    "clamp": lambda a, b: cr.clamp(a, 0.5, 1.0).sum(),
    "leaky_relu": lambda a, b: cr.leaky_relu(a - 1, 0.1).sum(),
    "sqrt and log": lambda a, b: (cr.sqrt(a) * cr.log(b)).sum(),
    "where": lambda a, b: cr.where(a > 1, a, b).sum(),
    "cat": lambda a, b: cr.cat([a, b]).prod(),
    "index": lambda a, b: a[1] * b[0],
    "broadcast": lambda a, b: (a.reshape(3, 1) * b.reshape(1, 3)).sum(),
    "pow": lambda a, b: (a**b).sum(),
    "var": lambda a, b: cr.var(a * b),
    "logsumexp": lambda a, b: cr.logsumexp(a, dim=0),
    "gelu": lambda a, b: cr.gelu(a).sum(),
}


@pytest.mark.parametrize("case", list(_OP_CASES))
def test_every_kind_of_op_agrees_and_renders(case, rng):
    a = name(cr.tensor(rng.uniform(0.2, 1.5, 3), requires_grad=True), "a")
    b = name(cr.tensor(rng.uniform(0.2, 1.5, 3), requires_grad=True), "b")
    loss = _OP_CASES[case](a, b)
    e = explain(loss, max_paths=10_000)
    grads = cr.autograd.grad(loss, [a, b], retain_graph=True, allow_unused=True)
    engine = {
        f"{p.name}[{k}]": 0.0 if g is None else float(g.numpy()[k])
        for p, g in zip((a, b), grads, strict=True)
        for k in range(3)
    }
    assert e.derivations and all(d.engine == engine[d.parameter] for d in e.derivations)
    assert all(d.agrees for d in e.derivations), [(d.parameter, d.ulps) for d in e.derivations]
    for render in (render_text, render_markdown, render_html):
        assert "✗" not in render(e)
    assert from_json(render_json(e)) == e


def _tanh_square_explanation():
    x = cr.name(cr.tensor([0.5, -1.0], dtype=cr.float64), "x")
    w = cr.name(cr.tensor([[0.2, 0.4], [0.1, -0.3]], requires_grad=True, dtype=cr.float64), "W")
    cr.name_elements(w, [["w1", "w2"], ["w3", "w4"]])
    h = (w @ x).tanh()
    return cr.explain((h * h).sum()), np.tanh(w.detach().numpy() @ x.detach().numpy())


def test_folded_step_through_both_inputs_of_mul_says_which_route_it_is():
    explanation, h = _tanh_square_explanation()
    derivation = explanation["w2"]
    share = h[0] * (1 - h[0] ** 2) * -1.0  # one factor h, times tanh', times x1
    steps = [path.steps[-1] for path in derivation.paths]
    assert [(s.upper, s.lower, s.via) for s in steps] == [
        ("u3[0]", "w2", "input 1 of mul"),
        ("u3[0]", "w2", "input 2 of mul"),
    ]
    assert [s.value for s in steps] == pytest.approx([share, share], rel=1e-12)
    assert derivation.total == pytest.approx(2 * share, rel=1e-12)
    text = render_text(explanation, color=False)
    assert "∂u3[0]/∂w2 (via input 1 of mul)" in text
    assert "∂u3[0]/∂w2 (via input 2 of mul)" in text
    assert "∂L/∂u3[0] · ∂u3[0]/∂w2 (via input 2 of mul)" in text
    assert not re.search(r"∂u3\[0\]/∂w2 +=", text)  # no unqualified ∂u3[0]/∂w2
    assert "= -0.298315153761 − 0.298315153761" in text
    assert "+ -" not in text
    data = json.loads(render_json(explanation))
    w2 = next(d for d in data["derivations"] if d["parameter"] == "w2")
    assert [p["steps"][-1]["via"] for p in w2["paths"]] == ["input 1 of mul", "input 2 of mul"]
    assert [p["steps"][-1]["value"] for p in w2["paths"]] == pytest.approx([share, share])
    assert "\\,\\big|_{\\text{via input 1 of mul}}" in render_markdown(explanation)


def test_a_step_with_one_route_has_no_via(seed_explanation):
    data = json.loads(render_json(seed_explanation))
    steps = [s for d in data["derivations"] for p in d["paths"] for s in p["steps"]]
    assert steps and all("via" not in s for s in steps)
