"""The op table's declarations: every primitive has a unique name, declares the parameters its
forward takes and gets, a kind the explainer can trust, and is reached by the op catalog; the
explainer reads what it writes about an op from the op's Primitive, not from lists of names."""

from __future__ import annotations

import inspect
from collections import defaultdict

import numpy as np
import pytest
from op_catalog import CATALOG, run_case

import chainrule as cr
from chainrule.autograd.node import KINDS, Primitive
from chainrule.explain.formatting import tex_to_text
from chainrule.ops import registry
from chainrule.ops.registry import declared_in, lookup, primitives

PRIMITIVES = primitives()


def _forward_parameters(op: Primitive) -> tuple[str, ...] | None:
    """The keyword parameters ``op.forward`` takes after its inputs (None for a ufunc)."""
    if isinstance(op.forward, np.ufunc):
        return None
    parameters = list(inspect.signature(op.forward).parameters.values())
    if any(p.kind == p.VAR_POSITIONAL for p in parameters):
        return tuple(p.name for p in parameters if p.kind == p.KEYWORD_ONLY)
    return tuple(p.name for p in parameters[len(op.grads) :] if p.kind != p.VAR_KEYWORD)


def test_every_primitive_has_its_own_name():
    every = {}
    for module_name in {declared_in(name) for name in PRIMITIVES}:
        module = __import__(f"chainrule.ops.{module_name}", fromlist=["_"])
        for value in vars(module).values():
            op = value if isinstance(value, Primitive) else getattr(value, "primitive", None)
            if isinstance(op, Primitive):
                every.setdefault(id(op), op)
    names = [op.name for op in every.values()]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    assert set(names) == set(PRIMITIVES)
    assert PRIMITIVES["pow"].params == ("exponent",) and len(PRIMITIVES["pow_tensor"].grads) == 2


def test_two_primitives_with_one_name_are_refused(monkeypatch):
    import chainrule.ops.unary as unary

    twin = Primitive("exp", np.exp, grads=[lambda grad, out, x: grad * out])
    monkeypatch.setattr(unary, "_twin_of_exp", twin, raising=False)
    registry._scan.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="two primitives are named 'exp'"):
            registry.primitives()
    finally:
        monkeypatch.undo()
        registry._scan.cache_clear()
    assert lookup("exp") is cr.exp.primitive


@pytest.mark.parametrize("name", list(PRIMITIVES))
def test_declared_parameters_are_the_forwards(name):
    op = PRIMITIVES[name]
    taken = _forward_parameters(op)
    if taken is not None:
        assert op.params == taken, f"{name} declares {op.params}, its forward takes {taken}"
    else:
        assert op.params == ()
    assert op.kind in KINDS
    assert set(op.symbols) <= set(op.params)
    if op.elementwise and op.tex is not None:
        assert len(op.inputs) == len(op.grads) == len(op.tex[1]), name
        assert set(op.bare) <= set(op.inputs)


def _grad_of_grad(loss: cr.Tensor, *leaves: cr.Tensor) -> None:
    """Backward through the backward, so the primitives only rules use are met too."""
    grads = cr.autograd.grad(loss, list(leaves), create_graph=True)
    sum((g * g).sum() for g in grads).backward()


def _beyond_the_catalog() -> None:
    """The losses, scans and in-place writes the op catalog leaves to other tests."""
    F = cr.nn.functional

    def leaf(*shape: int, positive: bool = False) -> cr.Tensor:
        data = (
            cr.rand(*shape, dtype=cr.float64) * 0.8 + 0.1
            if positive
            else cr.randn(*shape, dtype=cr.float64)
        )
        return data.requires_grad_()

    x, w = leaf(2, 3, 6, 6), leaf(4, 3, 3, 3)
    _grad_of_grad((F.max_pool2d(F.conv2d(x, w), 2) ** 2).sum(), x, w)
    a, weight = leaf(5, 4), leaf(3, 4)
    h = F.linear(a, weight)
    _grad_of_grad((h.tanh() + h.sigmoid() + h.relu()).sum(), a, weight)
    logits, labels = leaf(5, 3), cr.tensor([0, 2, 1, 1, 0])
    _grad_of_grad(F.cross_entropy(logits, labels), logits)
    p, t = leaf(4, positive=True), cr.rand(4, dtype=cr.float64)
    _grad_of_grad(F.binary_cross_entropy(p, t) + F.binary_cross_entropy_with_logits(a[0], t), p)
    _grad_of_grad((a.cumsum(1) * a.flip(0) * a.clone()).sum(), a)
    y = a * 1.0
    y[0] = a[1] * 2.0  # an in-place write on a recorded tensor
    view = y[1:3]
    view[0, 0] = 5.0  # and into a view of it
    _grad_of_grad((y * y).sum(), a)


def test_the_catalog_reaches_every_differentiable_primitive_with_its_declared_parameters():
    """Run every catalog case, recording each primitive call: each differentiable primitive is
    met, and the parameters each call passes are exactly the ones its Primitive declares."""
    calls: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    plain_call = Primitive.__call__

    def recording(op: Primitive, *inputs, **params):
        calls[op.name].add(tuple(sorted(params)))
        return plain_call(op, *inputs, **params)

    Primitive.__call__ = recording  # type: ignore[method-assign]
    try:
        with np.errstate(all="ignore"):
            for case in CATALOG:
                run_case(cr, case, case.sample())
            _beyond_the_catalog()
    finally:
        Primitive.__call__ = plain_call  # type: ignore[method-assign]
    differentiable = {
        n for n, op in PRIMITIVES.items() if any(rule is not None for rule in op.grads)
    }
    missed = sorted(differentiable - set(calls) - {"cat"})  # cat's rules are made per call
    assert not missed, f"no catalog case reaches {missed}"
    for name, keys in calls.items():
        op = lookup(name)
        if op is None or op.variadic or name == "cat":
            continue
        for passed in keys:
            assert set(passed) <= set(op.params), f"{name} got {passed}, declares {op.params}"


def test_every_local_derivative_reads_as_text():
    for name, op in PRIMITIVES.items():
        if op.tex is None:
            continue
        for tex in (op.tex[0], *op.tex[1]):
            text = tex_to_text(tex)
            assert "\\" not in text, f"{name}: {tex!r} reads {text!r}"


def test_the_explainer_reads_an_ops_kind_and_letters_from_its_primitive():
    """A primitive declared outside the op table, elementwise with its own letters and a
    symbol, gets its forward formula and local derivative written out like exp's."""
    scaled = Primitive(
        "scaled_square",
        lambda x, k: k * x * x,
        grads=[lambda grad, out, u, k: grad * 2 * k * u],
        tex=(r"k\,u^{2}", [r"2\,k\,u"]),
        kind="elementwise",
        inputs=("u",),
        params=("k",),
        symbols={"k": "k"},
    )
    w = cr.tensor([3.0], dtype=cr.float64, requires_grad=True)
    w.name = "w"
    loss = scaled(w, k=0.5).sum()
    ex = cr.explain.explain(loss, params={"w": w})
    text = cr.explain.render_text(ex, color=False)
    assert "L  =  0.5·w0²  =  4.5" in text, text
    assert ex["w"].total == ex["w"].engine == 3.0  # dL/dw = 2·k·w
    opaque = Primitive("scaled_square_2", scaled.forward, grads=scaled.grads, tex=scaled.tex)
    loss2 = opaque(w, k=0.5).sum()
    assert "0.5·w0²" not in cr.explain.render_text(
        cr.explain.explain(loss2, params={"w": w}), color=False
    )


# ---- the handout: every derivative on one page ---------------------------------------------
def test_the_handout_lists_every_primitive_once_with_its_derivatives():
    from chainrule.explain.handout import handout_rows, render_handout

    rows = handout_rows()
    assert sorted(row.name for row in rows) == sorted(PRIMITIVES)
    by_name = {row.name: row for row in rows}
    assert by_name["div"].forward == "x/y"
    assert by_name["div"].derivatives == (("x", "1/y"), ("y", "−x/y²"))
    assert by_name["relu_backward"].derivatives[1] == ("x", "no gradient")
    assert by_name["pow"].parameters == ("exponent",)
    text = render_handout()
    assert "div(x, y) = x/y\n    ∂/∂x: 1/y; ∂/∂y: −x/y²\n" in text
    assert "why a primitive: stable — the composite 1/(1 + e^−x) overflows" in text
    assert "\\" not in text
    markdown = render_handout(markdown=True)
    assert "| div(x, y) = x/y | ∂/∂x: 1/y; ∂/∂y: −x/y² | — | — |" in markdown
    assert markdown.count("\n## ") == len({row.section for row in rows})


def test_docs_derivatives_md_is_the_generated_handout():
    from pathlib import Path

    from chainrule.explain.handout import render_handout

    committed = (Path(__file__).parents[1] / "docs" / "derivatives.md").read_text("utf-8")
    assert committed == render_handout(markdown=True), (
        "docs/derivatives.md is out of date: python -m chainrule derivatives --markdown "
        "> docs/derivatives.md"
    )


def test_the_derivatives_command(capsys):
    import json

    from chainrule.cli import main
    from chainrule.explain.handout import handout_rows

    assert main(["derivatives", "--op", "div", "--op", "sigmoid"]) == 0
    out = capsys.readouterr().out
    assert "div(x, y) = x/y" in out and "sigmoid(x) = σ(x)" in out and "mul(" not in out
    assert main(["derivatives", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in records] == [row.name for row in handout_rows()]
    assert main(["derivatives", "--op", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no primitive named 'nope'" in err and "div" in err


def test_reciprocal_and_rsqrt_are_written_out_as_elementwise_ops():
    w = cr.tensor([2.0], dtype=cr.float64, requires_grad=True)
    ex = cr.explain.explain((3.0 / w + w.rsqrt()).sum(), params={"w": w})
    text = cr.explain.render_text(ex, color=False)
    assert "1/w0²" in text and "−1/(2 w0^(3/2))" in text and "reciprocal'" not in text
    assert ex["w"].total == ex["w"].engine == pytest.approx(-0.75 - 0.5 * 2.0**-1.5, rel=1e-15)
