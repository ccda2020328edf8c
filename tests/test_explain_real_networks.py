"""The explainer beyond the seeds' network: automatic level and caps on a 4-16-16-1 MLP, every
``named_parameters()`` name, losses and softmax written out as the math (checked against the
engine's numbers), the δ form with what it saves, diagnostics and the update step."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.explain import explain, render_html, render_json, render_markdown, render_text
from chainrule.explain.derive import Derivation, TensorDerivation
from chainrule.explain.render_text import tex_to_text
from chainrule.explain.seeds import build_seed_network, seed_tutorial
from chainrule.names import name
from chainrule.nn import functional as F


def _mlp(seed: int = 0, scale: float = 1.0):
    cr.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(4, 16, dtype=cr.float64),
        nn.Tanh(),
        nn.Linear(16, 16, dtype=cr.float64),
        nn.Tanh(),
        nn.Linear(16, 1, dtype=cr.float64),
    )
    if scale != 1.0:
        with cr.no_grad():
            for p in model.parameters():
                p.mul_(scale)
    X = cr.randn(8, 4, dtype=cr.float64)
    y = cr.randn(8, 1, dtype=cr.float64)
    return model, F.mse_loss(model(X), y)


# ---- 1. size -------------------------------------------------------------------------------------
def test_a_real_mlp_gets_a_readable_explanation():
    model, loss = _mlp()
    e = explain(loss, model)
    levels = {d.parameter: d.level for d in e}
    # everything with more than 64 element paths is one tensor; 4.bias (8 paths) by element
    assert levels == {
        "0.weight": "tensor",
        "0.bias": "tensor",
        "2.weight": "tensor",
        "2.bias": "tensor",
        "4.weight": "tensor",
        "4.bias[0]": "element",
    }
    assert len(e.notes) == 5 and all("only=[" in note for note in e.notes)
    assert "0.bias (16) is derived as one tensor: its elements have 2,048 paths" in e.notes[1]
    text, page, data = render_text(e, color=False), render_html(e), render_json(e)
    assert text.count("\n") < 400 and len(page) < 200_000 and len(data) < 600_000
    assert e.agrees
    grads = dict(
        zip(
            [k for k, _ in model.named_parameters()],
            cr.autograd.grad(loss, list(model.parameters()), retain_graph=True),
            strict=True,
        )
    )
    for key, g in grads.items():  # every name named_parameters() yields
        d = e[key]
        total = d.total.numpy() if isinstance(d, TensorDerivation) else np.array([d.total])
        assert np.allclose(total.reshape(g.shape), g.detach().numpy(), rtol=1e-12, atol=1e-15), key


def test_one_element_on_request_and_names_as_params():
    model, loss = _mlp()
    e = explain(loss, model, only=["0.weight[1,2]", "4.bias"])
    assert [d.parameter for d in e] == ["0.weight[1,2]", "4.bias[0]"]
    d = e["0.weight[1,2]"]
    assert isinstance(d, Derivation) and len(d.paths) == 8 * 16 and d.agrees
    (g,) = cr.autograd.grad(loss, [model[0].weight], retain_graph=True)
    assert d.engine == g.detach().numpy()[1, 2]
    text = render_text(e, color=False)
    assert "… 120 more paths" in text and "sum of the 128 products" in text
    assert "… 120 more paths" in render_html(e) and "120 more paths" in render_markdown(e)
    # a list of names is the same as only=
    W = name(cr.tensor([[0.5, -1.0]], dtype=cr.float64, requires_grad=True), "W")
    L = name((W * W).sum(), "L")
    assert [d.parameter for d in explain(L, ["W[0,1]"])] == ["W[0,1]"]
    with pytest.raises(ValueError, match=r"no parameter named 'W\[0\]x'.*name\[i,j\]"):
        explain(L, ["W[0]x"])
    with pytest.raises(ValueError, match=r"W\[0,5\] is outside W, whose shape is \(1, 2\)"):
        explain(L, ["W[0,5]"])
    with pytest.raises(KeyError, match=r"derived as a whole tensor.*only=\['0.weight\[0,0\]'\]"):
        explain(loss, model)["0.weight[0,0]"]


def test_one_element_of_a_tensor_too_big_to_label():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    X, y = cr.randn(8, 64), cr.tensor([0, 1, 2, 3, 4, 5, 6, 7])
    loss = F.cross_entropy(model(X), y)
    e = explain(loss, model, only=["0.weight[1,2]"])
    d = e["0.weight[1,2]"]  # 2,048 elements: no labels, yet the name is the one asked for
    (g,) = cr.autograd.grad(loss, [model[0].weight], retain_graph=True)
    assert d.parameter == "0.weight[1,2]" and d.agrees
    assert d.engine == g.detach().numpy()[1, 2]
    assert "∂L/∂0.weight[1,2]" in render_text(e, color=False)


def test_short_repr_iteration_and_multi_element_lookup():
    net = build_seed_network(*_seed_args())
    e = explain(net.loss, net.parameters)
    assert len(repr(e)) < 200 and repr(e).startswith("Explanation(E_total = 0.0141813779")
    assert "W1[4 elements]" not in repr(e) and "w1" in repr(e)
    assert list(e) == list(e.derivations) and len(e) == 8
    assert repr(e["w5"]).startswith("Derivation(∂E_total/∂w5 = 0.01288081863162825, 1 path")
    model, loss = _mlp()
    big = explain(loss, model, level="element", max_paths=4096)
    assert isinstance(big["4.bias"], Derivation)
    assert len(big["0.bias"]) == 16 and len(repr(big)) < 300


def _seed_args():
    from chainrule.explain.seeds import SEED_WEIGHTS, WEIGHT_NAMES, SeedConfig

    return SeedConfig(), dict(zip(WEIGHT_NAMES, SEED_WEIGHTS, strict=True))


# ---- 2. losses and softmax written out ------------------------------------------------------
def _logits_model():
    W = name(cr.tensor([[0.3, -0.2], [0.1, 0.4], [-0.5, 0.2]], cr.float64, True), "W")
    x = name(cr.tensor([[1.0, 2.0], [-1.0, 0.5]], cr.float64), "x")
    z = name(x @ W.T, "z")
    return W, x, z


def _first_steps(e):
    """Each derivation's first step (the loss's local derivative), by its lower element."""
    return {p.steps[0].lower: p.steps[0] for d in e for p in d.paths}


def test_cross_entropy_is_softmax_minus_one_hot_over_n():
    W, x, z = _logits_model()
    labels = cr.tensor([2, 0])
    L = name(F.cross_entropy(z, labels), "L")
    steps = _first_steps(explain(L, level="element"))
    p = np.exp(z.detach().numpy()) / np.exp(z.detach().numpy()).sum(1, keepdims=True)
    expected = (p - np.eye(3)[[2, 0]]) / 2
    for (i, c), want in np.ndenumerate(expected):
        step = steps[f"z[{i},{c}]"]
        assert (
            step.formula
            == rf"\tfrac{{1}}{{2}}\,(\operatorname{{softmax}}(z)[{i},{c}] - {int(c == [2, 0][i])})"
        )
        assert step.value == pytest.approx(want, rel=1e-14)
    text = render_text(explain(L, level="element"), color=False)
    assert "∂L/∂z[0,2]" in text and "½·(softmax(z)[0,2] − 1)" in text
    assert "cross_entropy'" not in text and "\\" not in text
    tensor = explain(L, level="tensor")
    assert r"(\operatorname{softmax}(z) - \operatorname{onehot}(" in tensor["W"].paths[0].formula


def test_mse_is_one_step_two_over_n():
    W, x, z = _logits_model()
    y = name(cr.tensor([[0.1, 0.2, 0.3], [0.0, -0.1, 0.5]], cr.float64), "y")
    L = name(F.mse_loss(z, y), "L")
    e = explain(L)
    # one path per (weight, row), not two half-paths through diff · diff
    assert all(len(d.paths) == 2 for d in e)
    steps = _first_steps(e)
    for (i, c), want in np.ndenumerate(2 / 6 * (z.detach().numpy() - y.detach().numpy())):
        step = steps[f"z[{i},{c}]"]
        assert (
            step.formula == rf"\tfrac{{2}}{{6}}\,(z_{{{i},{c}}} - y_{{{i},{c}}})"
            or step.formula.startswith(r"\tfrac{2}{6}")
        )
        assert step.value == pytest.approx(want, rel=1e-14) and step.ops == ("mse_loss",)
    text = render_text(e, color=False)
    assert "2/6·(z[0,0] − y[0,0])" in text and "via input" not in text
    summed = explain(name(F.mse_loss(z, y, reduction="sum"), "S"))
    assert _first_steps(summed)["z[1,2]"].formula.startswith(r"2\,(")


def test_bce_softmax_and_log_softmax_formulas_match_the_engine():
    W, x, z = _logits_model()
    t = name(cr.tensor([[0.0, 1.0, 1.0], [1.0, 0.0, 0.5]], cr.float64), "t")
    logits = explain(name(F.binary_cross_entropy_with_logits(z, t, reduction="sum"), "L"))
    sig = 1 / (1 + np.exp(-z.detach().numpy()))
    for (i, c), want in np.ndenumerate(sig - t.detach().numpy()):
        step = _first_steps(logits)[f"z[{i},{c}]"]
        assert step.formula == rf"\sigma(z_{{{i},{c}}}) - t_{{{i},{c}}}"
        assert step.value == pytest.approx(want, rel=1e-13)
    a = name(z.sigmoid(), "a")
    probs = explain(name(F.binary_cross_entropy(a, t, reduction="sum"), "L"))
    for (i, c), want in np.ndenumerate(
        (a.detach().numpy() - t.detach().numpy()) / (a.detach().numpy() * (1 - a.detach().numpy()))
    ):
        step = _first_steps(probs)[f"a[{i},{c}]"]
        assert (
            step.formula
            == rf"\frac{{a_{{{i},{c}}} - t_{{{i},{c}}}}}{{a_{{{i},{c}}}(1 - a_{{{i},{c}}})}}"
        )
        assert step.value == pytest.approx(want, rel=1e-13)
    s = name(F.softmax(z, dim=1), "s")
    weights = cr.tensor([[1.0, 2.0, 3.0]], cr.float64)
    soft = explain(name((s * weights).sum(), "L"), level="element")
    jac = {}
    for d in soft:
        for p in d.paths:
            for step in p.steps:
                if step.ops == ("softmax",):
                    jac[(step.upper, step.lower)] = step
    S = s.detach().numpy()
    for i in range(2):
        for a_ in range(3):
            for b in range(3):
                step = jac[(f"s[{i},{a_}]", f"z[{i},{b}]")]
                want = S[i, a_] * ((a_ == b) - S[i, b])
                assert step.value == pytest.approx(want, rel=1e-13)
                if a_ == b:
                    assert step.formula == rf"s_{{{i},{a_}}}\,(1 - s_{{{i},{a_}}})"
                else:
                    assert step.formula == rf"-s_{{{i},{a_}}}\,s_{{{i},{b}}}"
    ls = name(F.log_softmax(z, dim=1), "l")
    logs = explain(name((ls * weights).sum(), "L"), level="element")
    for d in logs:
        for p in d.paths:
            step = p.steps[1]
            (i, row), (_, col) = (
                tuple(int(k) for k in label[2:-1].split(",")) for label in (step.upper, step.lower)
            )
            want = (row == col) - S[i, col]
            assert step.value == pytest.approx(want, rel=1e-13, abs=1e-15)
            assert step.formula == (
                rf"1 - e^{{l_{{{i},{col}}}}}" if row == col else rf"-(e^{{l_{{{i},{col}}}}})"
            )
    for e in (logits, probs, soft, logs):
        assert "\\" not in render_text(e, color=False)


# ---- 3. the δ form -------------------------------------------------------------------------------
def test_delta_form_of_the_seed_network():
    net = build_seed_network(*_seed_args())
    e = explain(net.loss, net.parameters, lr=0.5)
    formulas = {d.name: tex_to_text(d.formula) for d in e.deltas}
    assert formulas["o"] == "δ_a_o ⊙ a_o ⊙ (1 − a_o)"
    assert formulas["a_h"] == "δ_o·W2"
    assert formulas["h"] == "δ_a_h ⊙ a_h ⊙ (1 − a_h)"
    assert formulas["W1"] == "δ_hᵀ·i" and formulas["W2"] == "δ_oᵀ·a_h"
    a_o = net.tensors["a_o"].detach().numpy()[0]
    a_h = net.tensors["a_h"].detach().numpy()[0]
    t = net.tensors["t"].detach().numpy()[0]
    W2 = net.tensors["W2"].detach().numpy()
    delta_o = -(t - a_o) * a_o * (1 - a_o)
    delta_h = (delta_o @ W2) * a_h * (1 - a_h)
    assert np.allclose(e.delta("o").value.numpy()[0], delta_o, rtol=1e-15, atol=0)
    assert np.allclose(e.delta("h").value.numpy()[0], delta_h, rtol=1e-15, atol=0)
    # path by path: w5..w8 one path of 4 factors, w1..w4 two paths of 6; each δ once
    reuse = e.reuse
    assert (reuse.paths, reuse.path_multiplications, reuse.path_additions) == (12, 52, 4)
    assert (reuse.delta_multiplications, reuse.delta_additions, reuse.saved) == (18, 2, 36)
    # the update: what optim.SGD does to the same weights
    net.loss.backward()
    optim.SGD(net.parameters.values(), lr=0.5).step()
    stepped = np.concatenate([net.parameters[k].detach().numpy().reshape(-1) for k in ("W1", "W2")])
    assert [u.parameter for u in e.updates] == [f"w{k}" for k in (1, 2, 3, 4, 5, 6, 7, 8)]
    assert [u.updated for u in e.updates] == stepped.tolist()
    assert all(u.lr == 0.5 for u in e.updates)
    text = render_text(e, color=False)
    assert "Backpropagation as computed" in text and "36 operations fewer" in text
    assert "w5 = 0.4 − 0.5 × 0.0128808186316 = 0.393559590684" in " ".join(text.split())


def test_the_tutorial_shows_the_delta_form():
    text = render_text(seed_tutorial(), color=False)
    assert "δ_h           =  δ_a_h ⊙ a_h ⊙ (1 − a_h)" in text
    assert "52 multiplications and 4 additions" in text


# ---- 4. diagnostics ------------------------------------------------------------------------------
def test_saturated_units_and_exploding_or_vanishing_gradients_are_flagged():
    model, loss = _mlp(scale=30.0)  # tanh units pinned at ±1
    e = explain(loss, model)
    saturated = {d.subject: d for d in e.diagnostics if d.kind == "saturated"}
    assert set(saturated) == {"u2", "u4"}  # the two tanh layers' outputs
    assert "are saturated (tanh' < 0.001" in render_text(e, color=False)
    # a deep linear chain of big weights: the first layer's gradient explodes
    cr.manual_seed(2)
    chain = nn.Sequential(*[nn.Linear(4, 4, dtype=cr.float64) for _ in range(6)])
    with cr.no_grad():
        for p in chain.parameters():
            p.mul_(6.0)
    X = cr.randn(2, 4, dtype=cr.float64)
    e = explain(F.mse_loss(chain(X), cr.zeros(2, 4, dtype=cr.float64)), chain)
    exploding = {d.subject for d in e.diagnostics if d.kind == "exploding"}
    norms = {d.subject: d.value for d in e.diagnostics if d.kind == "norm"}
    assert exploding == {k for k, v in norms.items() if v > 1e3} and "0.weight" in exploding
    assert "explodes" in render_text(e, color=False)
    model, loss = _mlp()
    calm = explain(loss, model)
    assert not [d for d in calm.diagnostics if d.kind != "norm"]
    assert "no saturated units" in render_text(calm, color=False)
    # a deep chain of small weights: the first layer's gradient vanishes against the last
    cr.manual_seed(1)
    layers = [nn.Linear(4, 4, dtype=cr.float64) for _ in range(8)]
    with cr.no_grad():
        for layer in layers:
            layer.weight.mul_(0.05)
    deep = nn.Sequential(*[m for layer in layers for m in (layer, nn.Sigmoid())])
    X = cr.randn(2, 4, dtype=cr.float64)
    e = explain(F.mse_loss(deep(X), cr.zeros(2, 4, dtype=cr.float64)), deep)
    vanishing = {d.subject for d in e.diagnostics if d.kind == "vanishing"}
    assert "0.weight" in vanishing and "14.weight" not in vanishing
    norms = {d.subject: d.value for d in e.diagnostics if d.kind == "norm"}
    assert 0 < norms["0.weight"] < 1e-3 * max(norms.values())
