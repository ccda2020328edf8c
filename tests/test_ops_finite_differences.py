"""Every differentiable catalog case against central finite differences in float64: first order
(``gradcheck``) and second order (``gradgradcheck``); plus Hessians of exp, sigmoid, tanh and
sqrt against ``torch.autograd.functional.hessian`` (the node's weak reference to its output
must still give right second derivatives)."""

from __future__ import annotations

import numpy as np
import pytest
from op_catalog import CATALOG, OpCase, R, make_inputs, outputs_of

import chainrule as cr
from chainrule.autograd import gradcheck, gradgradcheck

DIFFERENTIABLE = [c for c in CATALOG if c.differentiable and c.finite_differences is None]
SECOND_ORDER = [c for c in DIFFERENTIABLE if c.second_order is None]


def _function_of_differentiable_inputs(case: OpCase) -> tuple:
    """``f(*differentiable inputs) -> float outputs`` with the other inputs held fixed, and the
    differentiable inputs (float64 leaves) to check it at."""
    inputs = make_inputs(cr, case, case.sample())
    slots = [i for i, a in enumerate(case.args) if a.requires_grad]

    def f(*xs):
        full = list(inputs)
        for slot, x in zip(slots, xs, strict=True):
            full[slot] = x
        outs = outputs_of(case.call(cr, *full))
        return tuple(o for o in outs if o.dtype.kind == "f")

    return f, tuple(inputs[i] for i in slots)


@pytest.mark.parametrize("case", DIFFERENTIABLE, ids=lambda c: c.name)
def test_gradcheck(case):
    f, xs = _function_of_differentiable_inputs(case)
    assert gradcheck(f, xs, eps=1e-6, atol=1e-6, rtol=1e-4), case.name


@pytest.mark.parametrize("case", SECOND_ORDER, ids=lambda c: c.name)
def test_gradgradcheck(case):
    f, xs = _function_of_differentiable_inputs(case)
    assert gradgradcheck(f, xs, eps=1e-6, atol=1e-5, rtol=1e-3), case.name


BIG = [
    OpCase(
        "conv2d, big",
        lambda m, x, w, b: m.conv2d(x, w, b, stride=2, padding=1, groups=2),
        (R(4, 6, 12, 12), R(8, 3, 3, 3), R(8)),
    ),
    OpCase("matmul, big batched", lambda m, a, b: a @ b, (R(4, 16, 24), R(24, 20))),
    OpCase("log_softmax, big", lambda m, x: m.log_softmax(x, dim=1), (R(32, 50),)),
    OpCase(
        "layer_norm, big",
        lambda m, x, w, b: m.layer_norm(x, (40,), w, b),
        (R(16, 10, 40), R(40), R(40)),
    ),
    OpCase(
        "batch_norm train, big",
        lambda m, x: m.batch_norm(x, None, None, training=True),
        (R(16, 8, 6, 6),),
    ),
    OpCase(
        "max_pool2d, big", lambda m, x: m.max_pool2d(x, 3, stride=2, padding=1), (R(4, 4, 16, 16),)
    ),
    OpCase("gelu * tanh chain, big", lambda m, x: m.gelu(x) * m.tanh(x).sum(dim=0), (R(64, 64),)),
]


@pytest.mark.parametrize("case", BIG, ids=lambda c: c.name)
def test_random_direction_gradcheck_on_big_inputs(case):
    """⟨v, J u⟩ from backward against a central difference along random u (STYLE.md)."""
    f, xs = _function_of_differentiable_inputs(case)
    assert gradcheck(f, xs, eps=1e-6, atol=1e-5, rtol=1e-4, fast_mode=True), case.name


def test_second_order_skips_say_why():
    for case in CATALOG:
        for reason in (case.second_order, case.finite_differences, case.vs_torch):
            assert reason is None or reason.strip(), f"{case.name}: skipped without a reason"
    assert len(SECOND_ORDER) > 0.8 * len(DIFFERENTIABLE)


def test_gradcheck_catches_a_wrong_rule():
    """The check can fail: a rule that drops a factor is caught, naming the input."""
    from chainrule.autograd.gradcheck import GradcheckError
    from chainrule.autograd.node import Primitive

    wrong = Primitive("wrong_square", np.square, grads=[lambda grad, out, x: grad * x])
    x = cr.tensor(np.array([0.5, -1.5, 2.0]), requires_grad=True)
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(lambda t: wrong(t), (x,))


# ---- Hessians against PyTorch -----------------------------------------------------------------

torch_only = pytest.mark.torch


def _hessian_cases():
    return {
        "exp": lambda m, x: m.exp(x),
        "sigmoid": lambda m, x: m.sigmoid(x),
        "tanh": lambda m, x: m.tanh(x),
        "sqrt": lambda m, x: m.sqrt(x),
    }


@torch_only
@pytest.mark.parametrize("name", list(_hessian_cases()))
def test_hessian_matches_torch(name):
    """H of f(x) = w · op(A x): off-diagonal terms come from A, the diagonal of op'' from w."""
    torch = pytest.importorskip("torch")
    from op_catalog import torch_namespace

    rng = np.random.default_rng(7)
    x0 = rng.uniform(0.5, 1.5, 4)
    A = rng.uniform(0.2, 1.0, (3, 4))  # positive, so sqrt sees a positive A x
    w = rng.standard_normal(3)
    op = _hessian_cases()[name]

    def f_cr(x):
        return (cr.tensor(w) * op(cr, cr.tensor(A) @ x)).sum()

    def f_torch(x):
        return (torch.tensor(w) * op(torch_namespace(), torch.tensor(A) @ x)).sum()

    got = cr.autograd.functional.hessian(f_cr, cr.tensor(x0)).numpy()
    expected = torch.autograd.functional.hessian(f_torch, torch.tensor(x0)).numpy()
    np.testing.assert_allclose(
        got,
        expected,
        rtol=1e-10,
        atol=1e-12,
        err_msg=f"Hessian of w·{name}(A x) differs from PyTorch's",
    )


@torch_only
@pytest.mark.parametrize("name", list(_hessian_cases()))
def test_elementwise_second_derivative_matches_torch(name):
    """d²/dx² op(x) elementwise through backward(create_graph=True) twice, no other op in
    between: the rule's ``out`` must be the live output, not a stale copy."""
    pytest.importorskip("torch")
    from op_catalog import torch_namespace

    x0 = np.array([0.3, 0.9, 1.7, 2.5])
    op = _hessian_cases()[name]
    results = []
    for m in (torch_namespace(), cr):
        x = m.tensor(x0, requires_grad=True)
        total = op(m, x).sum()
        (first,) = m.autograd.grad(total, x, create_graph=True)
        (second,) = m.autograd.grad(first.sum(), x)
        results.append((first.detach().numpy(), second.numpy()))
    (e1, e2), (g1, g2) = results
    np.testing.assert_allclose(g1, e1, rtol=1e-12, err_msg=f"{name}': first derivative")
    np.testing.assert_allclose(g2, e2, rtol=1e-10, err_msg=f"{name}'': second derivative")
