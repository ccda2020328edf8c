"""``chainrule.autograd.functional`` (jacobian, hessian, vjp, jvp, hvp) and second-order uses
(an MLP's Hessian-vector product, a gradient penalty), all against PyTorch in float64."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import functional as F

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

RTOL = 1e-7
ATOL = 1e-10


def arrays(*shapes: tuple[int, ...], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shapes]


def ours(*values: np.ndarray) -> tuple[cr.Tensor, ...]:
    return tuple(cr.tensor(v, dtype=cr.float64) for v in values)


def theirs(*values: np.ndarray) -> tuple:
    return tuple(torch.tensor(v, dtype=torch.float64) for v in values)


def assert_same_as_torch(name: str, func, *arguments: list[np.ndarray]) -> None:
    """``F.name(func, ...)`` equals ``torch.autograd.functional.name(func, ...)``; each argument
    (the inputs, then any vector) is one tensor when it has one array, else a tuple."""

    def api_form(convert, values):
        tensors = convert(*values)
        return tensors[0] if len(tensors) == 1 else tensors

    mine = getattr(F, name)(func, *(api_form(ours, values) for values in arguments))
    reference = getattr(torch.autograd.functional, name)(
        func, *(api_form(theirs, values) for values in arguments)
    )
    assert_same(mine, reference)


def assert_same(mine, reference) -> None:
    """Equal nested structure (tensor, tuple, tuple of tuples) and equal values."""
    if isinstance(reference, (tuple, list)):
        assert isinstance(mine, (tuple, list)) and len(mine) == len(reference)
        for m, r in zip(mine, reference, strict=True):
            assert_same(m, r)
        return
    assert isinstance(mine, cr.Tensor), type(mine)
    expected = reference.detach().numpy()
    assert tuple(mine.shape) == expected.shape
    np.testing.assert_allclose(mine.detach().numpy(), expected, rtol=RTOL, atol=ATOL)


# Each works unchanged on chainrule and PyTorch tensors.
def elementwise(x):
    return x.sin() * x.exp() + x * x


def two_in_one_out(a, b):
    return (a @ b).tanh()


def two_in_two_out(x, y):
    return x * y.sin(), (x.exp() + y * y).sum()


def scalar_of_one(x):
    return (x.sin() * x * x).sum() + (x[0] * x[1]).exp()


def scalar_of_two(x, y):
    return (x.exp() * y).sum() + (x * x * y * y * y).sum()


JACOBIAN_CASES = [
    (elementwise, [(4,)]),
    (two_in_one_out, [(2, 3), (3, 2)]),
    (two_in_two_out, [(3,), (3,)]),
]


@pytest.mark.parametrize("func, shapes", JACOBIAN_CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_jacobian_matches_torch(func, shapes):
    assert_same_as_torch("jacobian", func, arrays(*shapes))


def test_jacobian_of_elementwise_is_diagonal():
    (x,) = ours(*arrays((5,)))
    jac = F.jacobian(lambda t: t.exp(), x).numpy()
    np.testing.assert_allclose(jac, np.diag(np.exp(x.numpy())), rtol=1e-15)


def test_jacobian_does_not_touch_inputs():
    (x,) = ours(*arrays((3,)))
    F.jacobian(elementwise, x)
    assert not x.requires_grad and x.grad is None


def test_jacobian_with_create_graph_is_differentiable():
    (value,) = arrays((3,))
    x = cr.tensor(value, dtype=cr.float64, requires_grad=True)
    jac = F.jacobian(elementwise, x, create_graph=True)
    (jac * jac).sum().backward()
    tx = torch.tensor(value, dtype=torch.float64, requires_grad=True)
    tjac = torch.autograd.functional.jacobian(elementwise, tx, create_graph=True)
    (tjac * tjac).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=RTOL)


@pytest.mark.parametrize(
    "func, shapes",
    [(scalar_of_one, [(4,)]), (scalar_of_two, [(3,), (3,)])],
    ids=["one_input", "two_inputs"],
)
def test_hessian_matches_torch(func, shapes):
    assert_same_as_torch("hessian", func, arrays(*shapes, seed=3))


def test_hessian_is_symmetric():
    (x,) = ours(*arrays((4,), seed=5))
    h = F.hessian(scalar_of_one, x).numpy()
    np.testing.assert_allclose(h, h.T, rtol=1e-12)


@pytest.mark.parametrize("func, shapes", JACOBIAN_CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_vjp_matches_torch(func, shapes):
    values = arrays(*shapes, seed=7)
    out_shapes = [
        tuple(o.shape)
        for o in (lambda r: r if isinstance(r, tuple) else (r,))(func(*theirs(*values)))
    ]
    assert_same_as_torch("vjp", func, values, arrays(*out_shapes, seed=8))


@pytest.mark.parametrize("func, shapes", JACOBIAN_CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_jvp_matches_torch(func, shapes):
    assert_same_as_torch("jvp", func, arrays(*shapes, seed=9), arrays(*shapes, seed=10))


def test_jvp_equals_jacobian_times_v():
    a, b = arrays((2, 3), (3, 2), seed=11)
    va, vb = arrays((2, 3), (3, 2), seed=12)
    _, out = F.jvp(two_in_one_out, ours(a, b), ours(va, vb))
    ja, jb = F.jacobian(two_in_one_out, ours(a, b))
    expected = np.tensordot(ja.numpy(), va, axes=2) + np.tensordot(jb.numpy(), vb, axes=2)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize(
    "func, shapes",
    [(scalar_of_one, [(4,)]), (scalar_of_two, [(3,), (3,)])],
    ids=["one_input", "two_inputs"],
)
def test_hvp_matches_torch(func, shapes):
    assert_same_as_torch("hvp", func, arrays(*shapes, seed=13), arrays(*shapes, seed=14))


# ---- a small MLP: Hessian-vector product of its cross-entropy loss ------------------------------
def _mlp_data():
    rng = np.random.default_rng(21)
    x = rng.standard_normal((10, 5))
    labels = rng.integers(0, 3, size=10)
    params = [
        rng.standard_normal((8, 5)) * 0.5,
        rng.standard_normal(8) * 0.1,
        rng.standard_normal((3, 8)) * 0.5,
        rng.standard_normal(3) * 0.1,
    ]
    directions = [rng.standard_normal(p.shape) for p in params]
    return x, labels, params, directions


def _mlp_loss(lib, x, labels):
    def loss(w1, b1, w2, b2):
        hidden = (x @ w1.T + b1).tanh()
        logits = hidden @ w2.T + b2
        picked = lib.gather(logits.log_softmax(dim=1), 1, labels.reshape(-1, 1))
        return -picked.mean()

    return loss


def test_mlp_cross_entropy_hvp_matches_torch():
    x, labels, params, directions = _mlp_data()
    mine_loss = _mlp_loss(cr, cr.tensor(x, dtype=cr.float64), cr.tensor(labels))
    ref_loss = _mlp_loss(torch, torch.tensor(x), torch.tensor(labels))
    value, hv = F.hvp(mine_loss, ours(*params), ours(*directions))
    ref_value, ref_hv = torch.autograd.functional.hvp(
        ref_loss, theirs(*params), theirs(*directions)
    )
    assert_same(value, ref_value)
    assert_same(hv, ref_hv)


def test_mlp_hvp_by_hand_with_create_graph():
    x, labels, params, directions = _mlp_data()
    loss_fn = _mlp_loss(cr, cr.tensor(x, dtype=cr.float64), cr.tensor(labels))
    ps = [cr.tensor(p, dtype=cr.float64, requires_grad=True) for p in params]
    grads = cr.autograd.grad(loss_fn(*ps), ps, create_graph=True)
    inner = sum((g * v).sum() for g, v in zip(grads, ours(*directions), strict=True))
    inner.backward()

    tps = [torch.tensor(p, requires_grad=True) for p in params]
    tloss = _mlp_loss(torch, torch.tensor(x), torch.tensor(labels))(*tps)
    tgrads = torch.autograd.grad(tloss, tps, create_graph=True)
    sum((g * v).sum() for g, v in zip(tgrads, theirs(*directions), strict=True)).backward()
    for p, tp in zip(ps, tps, strict=True):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=RTOL, atol=ATOL)


def test_mlp_mse_hessian_matches_torch():
    rng = np.random.default_rng(4)
    x, target = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    w = rng.standard_normal((2, 3))

    def loss(lib_x, lib_t):
        return lambda weight: ((lib_x @ weight.T).sigmoid() - lib_t).pow(2).mean()

    mine = F.hessian(loss(*ours(x, target)), ours(w)[0])
    reference = torch.autograd.functional.hessian(loss(*theirs(x, target)), theirs(w)[0])
    assert_same(mine, reference)


# ---- gradient penalty: the gradient of a gradient's norm ---------------------------------------
def _penalty(lib, grad_fn, w1, w2, x):
    x = x.detach().requires_grad_(True)
    score = ((x @ w1).tanh() @ w2).sum()
    (gx,) = grad_fn(score, x)
    norms = (gx * gx).sum(dim=1).sqrt()
    return ((norms - 1.0) ** 2).mean()


def test_gradient_penalty_matches_torch():
    rng = np.random.default_rng(31)
    w1, w2, x = (rng.standard_normal(shape) for shape in [(4, 6), (6, 1), (5, 4)])
    cw1, cw2 = (cr.tensor(v, dtype=cr.float64, requires_grad=True) for v in (w1, w2))
    tw1, tw2 = (torch.tensor(v, requires_grad=True) for v in (w1, w2))
    mine = _penalty(
        cr,
        lambda o, i: cr.autograd.grad(o, i, create_graph=True),
        cw1,
        cw2,
        cr.tensor(x, dtype=cr.float64),
    )
    ref = _penalty(
        torch, lambda o, i: torch.autograd.grad(o, i, create_graph=True), tw1, tw2, torch.tensor(x)
    )
    assert mine.item() == pytest.approx(ref.item(), rel=RTOL)
    mine.backward()
    ref.backward()
    np.testing.assert_allclose(cw1.grad.numpy(), tw1.grad.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(cw2.grad.numpy(), tw2.grad.numpy(), rtol=RTOL, atol=ATOL)


# ---- second derivatives of ops whose rules read their output (the weakly held out) -------------
@pytest.mark.parametrize("name", ["exp", "sigmoid", "tanh", "sqrt"])
def test_hessian_of_output_reading_rules(name):
    (value,) = arrays((4,), seed=41)
    value = np.abs(value) + 0.5

    def func(t):
        return getattr(t, name)().pow(3).sum()

    assert_same(
        F.hessian(func, ours(value)[0]), torch.autograd.functional.hessian(func, theirs(value)[0])
    )


# ---- outputs that don't depend on the inputs: zeros, as PyTorch's helpers give ----------------
def constant(x):
    return x.detach() * 0.0 + 1.0


def linear(x):
    return (x * 2.0).sum()


def identity(x):
    return x


@pytest.mark.parametrize(
    "helper, func, needs_v",
    [
        ("jacobian", constant, False),
        ("jacobian", identity, False),
        ("hessian", linear, False),
        ("vjp", constant, True),
        ("jvp", constant, True),
        ("jvp", identity, True),
        ("hvp", linear, True),
    ],
    ids=[
        "jacobian_constant",
        "jacobian_identity",
        "hessian_linear",
        "vjp_constant",
        "jvp_constant",
        "jvp_identity",
        "hvp_linear",
    ],
)
def test_disconnected_and_trivial_functions_match_torch(helper, func, needs_v):
    (value,) = arrays((3,), seed=51)
    (v,) = arrays((3,), seed=52)
    mine_args = (func, ours(value)[0]) + ((ours(v)[0],) if needs_v else ())
    ref_args = (func, theirs(value)[0]) + ((theirs(v)[0],) if needs_v else ())
    assert_same(
        getattr(F, helper)(*mine_args), getattr(torch.autograd.functional, helper)(*ref_args)
    )
