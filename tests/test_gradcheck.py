"""``gradcheck`` and ``gradgradcheck``: they pass on right rules and catch wrong ones, naming the
input and the element, in full-Jacobian and random-direction modes; float32 is refused."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import GradcheckError, Primitive, gradcheck, gradgradcheck
from chainrule.tensor import Tensor


def randn(*shape: int, seed: int = 0, requires_grad: bool = True) -> cr.Tensor:
    data = np.random.default_rng(seed).standard_normal(shape)
    return cr.tensor(data, dtype=cr.float64, requires_grad=requires_grad)


# Deliberately wrong primitives. The forward is right; the rule is not.
bad_square = Primitive(
    "bad_square", lambda x: x * x, grads=[lambda grad, out, x: grad * x]
)  # forgot the factor 2
bad_mul = Primitive(
    "bad_mul",
    np.multiply,
    grads=[lambda grad, out, x, y: grad * y, lambda grad, out, x, y: grad * y],
)  # d/dy should be grad * x


def _bad_sin_rule(grad: Tensor, out: Tensor, x: Tensor) -> Tensor:
    # wrong only at index 2, so the error must name that element
    wrong = np.cos(x._data).copy()
    wrong.reshape(-1)[2] += 0.5
    return grad * Tensor._wrap(wrong)


bad_sin = Primitive("bad_sin", np.sin, grads=[_bad_sin_rule])
# First derivative right, but computed on raw arrays: invisible to create_graph, so the second
# derivative it reports is zero instead of 6x.
flat_cube = Primitive(
    "flat_cube", lambda x: x**3, grads=[lambda grad, out, x: grad * Tensor._wrap(3 * x._data**2)]
)


# ---- passes on correct functions ----------------------------------------------------------------
@pytest.mark.parametrize(
    "func, shapes",
    [
        (lambda x: (x.sin() * x).sum(), [(3,)]),
        (lambda x: x.exp() * x.tanh(), [(2, 3)]),
        (lambda a, b: (a @ b).sigmoid(), [(2, 3), (3, 4)]),
        (lambda x, y: x * y + x / (y * y + 1.0), [(3, 1), (1, 4)]),
        (lambda x: x.log_softmax(dim=1), [(2, 5)]),
        (lambda x: (x.sum(dim=0), x.amax(dim=1)), [(3, 4)]),
    ],
    ids=["sin_x", "exp_tanh", "matmul_sigmoid", "broadcast", "log_softmax", "two_outputs"],
)
def test_gradcheck_and_gradgradcheck_pass(func, shapes):
    inputs = tuple(randn(*shape, seed=i) for i, shape in enumerate(shapes))
    assert gradcheck(func, inputs)
    assert gradgradcheck(func, inputs)


def test_gradcheck_with_a_non_differentiable_input():
    x = randn(3, 2)
    index = cr.tensor([[1], [0], [1]])
    assert gradcheck(lambda t, i: cr.gather(t, 1, i), (x, index))


def test_gradcheck_does_not_change_inputs_or_their_grad():
    x = randn(4)
    before = x.detach().numpy().copy()
    gradcheck(lambda t: t.exp(), (x,))
    np.testing.assert_array_equal(x.detach().numpy(), before)
    assert x.grad is None


# ---- fails on wrong rules, naming input and element ---------------------------------------------
def test_gradcheck_catches_wrong_rule():
    x = randn(3)
    named = r"input 0, output element \d+, input element \(\d+,\)"
    with pytest.raises(GradcheckError, match=named):
        gradcheck(lambda t: bad_square(t), (x,))
    assert gradcheck(lambda t: bad_square(t), (x,), raise_exception=False) is False


def test_gradcheck_names_the_wrong_input():
    x, y = randn(2, seed=1), randn(2, seed=2)
    with pytest.raises(GradcheckError, match="input 1") as info:
        gradcheck(lambda a, b: bad_mul(a, b), (x, y))
    assert "input 0" not in str(info.value)


def test_gradcheck_names_the_wrong_element():
    x = randn(2, 3)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda t: bad_sin(t), (x,))
    message = str(info.value)
    assert "input element (0, 2)" in message and "output element 2" in message
    assert "analytic" in message and "numeric" in message
    analytic = float(message.split("analytic ")[1].split(",")[0])
    numeric = float(message.split("numeric ")[1].split(" ")[0])
    true = np.cos(x.detach().numpy()[0, 2])
    assert analytic == pytest.approx(true + 0.5, rel=1e-12)
    assert numeric == pytest.approx(true, rel=1e-6)


def test_gradgradcheck_catches_wrong_second_derivative():
    x = randn(3)
    assert gradcheck(lambda t: flat_cube(t), (x,))  # first order is right
    with pytest.raises(GradcheckError, match="input 0"):
        gradgradcheck(lambda t: flat_cube(t), (x,))
    assert gradgradcheck(lambda t: t**3, (x,))  # the composed version is right


def test_gradgradcheck_catches_wrong_first_derivative_too():
    with pytest.raises(GradcheckError):
        gradgradcheck(lambda t: bad_square(t).sum() * t, (randn(2),))


# ---- the random-direction mode ------------------------------------------------------------------
def test_large_inputs_use_random_directions(monkeypatch):
    gradcheck_module = importlib.import_module("chainrule.autograd.gradcheck")

    def no_full_jacobian(*args, **kwargs):
        raise AssertionError("the full Jacobian was built for a large input")

    monkeypatch.setattr(gradcheck_module, "_check_full", no_full_jacobian)
    a, b = randn(40, 30, seed=1), randn(30, 20, seed=2)
    assert gradcheck(lambda p, q: (p @ q).tanh(), (a, b))


def test_random_directions_catch_a_wrong_rule_in_a_large_input():
    x = randn(60, 50)
    with pytest.raises(GradcheckError, match="random direction"):
        gradcheck(lambda t: bad_square(t), (x,))
    # one wrong element among 3000: the failure is narrowed down to it
    with pytest.raises(GradcheckError, match=r"random direction.*input 0, input element \(0, 2\)"):
        gradcheck(lambda t: bad_sin(t), (x,))


def test_random_directions_name_the_wrong_input():
    x, y = randn(40, 30, seed=1), randn(40, 30, seed=2)
    named = r"narrowed down to input 1, input element \(\d+, \d+\)"
    with pytest.raises(GradcheckError, match=named):
        gradcheck(lambda a, b: bad_mul(a, b) * a, (x, y))


def test_fast_mode_can_be_forced_on_small_inputs():
    x = randn(3)
    assert gradcheck(lambda t: t.sin(), (x,), fast_mode=True)
    with pytest.raises(GradcheckError, match="random direction"):
        gradcheck(lambda t: bad_square(t), (x,), fast_mode=True)


def test_random_direction_gradgradcheck_on_a_large_input():
    x = randn(50, 50)
    assert gradgradcheck(lambda t: (t.sin() * t).sum(dim=1), (x,), fast_mode=True)
    with pytest.raises(GradcheckError, match="random direction"):
        gradgradcheck(lambda t: flat_cube(t), (x,), fast_mode=True)


# ---- refusals -----------------------------------------------------------------------------------
def test_float32_inputs_are_refused():
    x = cr.randn(3, requires_grad=True)  # float32
    with pytest.raises(TypeError, match=r"input 0 is float32.*float64.*\.double\(\)"):
        gradcheck(lambda t: t.exp(), (x,))
    with pytest.raises(TypeError, match="float64"):
        gradgradcheck(lambda t: t.exp(), (x,))


def test_no_input_requiring_grad_is_refused():
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda t: t.exp(), (randn(3, requires_grad=False),))
