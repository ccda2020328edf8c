"""The numerics cases the edge-value probe found, one by one, with the number each must give
(the generated comparison with PyTorch is test_numerics_vs_torch.py); and gradcheck and anomaly
mode on such inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

F = nn.functional
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def leaf(values, dtype=cr.float64) -> cr.Tensor:
    return cr.tensor(np.asarray(values, dtype=np.float64), dtype=dtype, requires_grad=True)


def grad_of(f, x: cr.Tensor) -> np.ndarray:
    f(x).sum().backward()
    return x.grad.numpy()


def test_norm_minus_inf_is_the_smallest_magnitude():
    assert cr.tensor([-1.0, 0.0, 3.0]).norm(p=float("-inf")).item() == 0.0  # was 1.0
    assert cr.tensor([-1.0, -2.0, 3.0]).norm(p=float("-inf")).item() == 1.0


def test_norm_zero_counts_the_non_zeros_with_a_zero_gradient():
    x = leaf([[0.0, 2.0, -1.0], [0.0, 0.0, 5.0]])
    assert x.norm(p=0, dim=1).tolist() == [2.0, 1.0]  # was ZeroDivisionError
    assert grad_of(lambda t: t.norm(p=0), x).tolist() == [[0.0] * 3] * 2


@pytest.mark.parametrize(
    "f",
    [lambda t: t.norm(), lambda t: t.norm(p=2, dim=1), lambda t: t.norm(p=3, dim=1)],
    ids=["fro", "p2_dim", "p3_dim"],
)
def test_norm_gradient_at_the_zero_vector_is_zero(f):
    x = leaf([[0.0, 0.0], [3.0, 4.0]])
    g = grad_of(f, x)
    assert g[0].tolist() == [0.0, 0.0]  # was NaN
    assert np.all(np.isfinite(g))


def test_normalize_gradient_at_the_zero_vector_is_one_over_eps():
    x = leaf([[0.0, 0.0], [3.0, 4.0]])
    g = grad_of(lambda t: F.normalize(t, dim=1, eps=1e-12), x)
    np.testing.assert_array_equal(g[0], [1e12, 1e12])  # PyTorch's 1/eps


def test_norms_neither_overflow_nor_underflow():
    big = cr.full((4,), 1e30, dtype=cr.float32)
    assert big.norm().item() == pytest.approx(2e30, rel=1e-6)  # x² overflows float32
    tiny = cr.full((4,), 1e-200, dtype=cr.float64)
    assert tiny.norm().item() == pytest.approx(2e-200, rel=1e-12)  # x² underflows to 0
    assert tiny.norm(p=3).item() == pytest.approx(4 ** (1 / 3) * 1e-200, rel=1e-12)


def test_a_constant_row_normalises_to_zero_however_large():
    x = cr.full((2, 3), 1e30, dtype=cr.float64)
    assert F.layer_norm(x, (3,)).tolist() == [[0.0] * 3] * 2  # was -1
    b = cr.full((4, 3), 1e30, dtype=cr.float64)
    assert F.batch_norm(b, None, None, training=True).tolist() == [[0.0] * 3] * 4


def test_std_of_equal_large_float32_values_is_zero():
    x = leaf(np.full(24, 1e30), dtype=cr.float32)
    y = x.std()
    assert y.item() == 0.0  # was inf (PyTorch: 9.25e22, the rounding error of its mean)
    y.backward()
    assert np.all(x.grad.numpy() == 0.0)  # std's zero-variance gradient: 0, as PyTorch


def test_huber_gradient_at_an_infinite_difference_is_delta():
    x = leaf([np.inf, -np.inf, 0.2])
    g = grad_of(lambda t: F.huber_loss(t, cr.zeros(3, dtype=cr.float64), delta=0.5), x)
    np.testing.assert_allclose(g, [0.5 / 3, -0.5 / 3, 0.2 / 3], rtol=1e-15)  # was NaN


def test_signs_of_zero_and_inf_as_pytorch():
    x = leaf([-0.0, 0.0, -np.inf])
    assert x.rsqrt().tolist()[:2] == [-math.inf, math.inf]  # 1/√-0 = 1/-0
    assert math.isnan(x.rsqrt().tolist()[2])
    assert np.signbit(cr.relu(cr.tensor([-0.0])).item())  # relu(-0) = -0
    g = grad_of(lambda t: t**0.5, x)
    assert g[0] == -math.inf and g[1] == math.inf and math.isnan(g[2])


def test_gelu_takes_its_limits_at_infinity():
    x = leaf([-np.inf, np.inf])
    assert F.gelu(x).tolist() == [0.0, math.inf]
    assert grad_of(F.gelu, x)[0] == 0.0


def test_max_pool_padding_never_takes_the_gradient():
    # a window of -inf and padding: the gradient goes to the real element, as in PyTorch
    x = leaf(np.full((1, 1, 2, 2), -np.inf))
    g = grad_of(lambda t: F.max_pool2d(t, 2, stride=2, padding=1), x)
    assert g.sum() == 4.0  # every output window reaches an input element


def test_gradcheck_holds_on_edge_inputs():
    rows = cr.tensor(
        [[1e8, 1e8 + 1.0, 1e8 - 2.0], [0.0, 0.0, 1.0]], dtype=cr.float64, requires_grad=True
    )
    assert cr.autograd.gradcheck(lambda t: F.layer_norm(t, (3,)), (rows,), eps=1e-4)
    assert cr.autograd.gradcheck(lambda t: t.var(dim=1), (rows,), eps=1e-4)
    sparse = cr.tensor([[0.0, 3.0, -4.0], [0.5, 0.0, 0.0]], dtype=cr.float64, requires_grad=True)
    assert cr.autograd.gradcheck(lambda t: t.norm(dim=1), (sparse,))
    assert cr.autograd.gradcheck(lambda t: F.normalize(t, dim=1), (sparse,))
    wide = cr.tensor([3.0, -2.5, 0.1], dtype=cr.float64, requires_grad=True)
    zero = cr.zeros(3, dtype=cr.float64)
    assert cr.autograd.gradcheck(lambda t: F.huber_loss(t, zero, delta=1.0), (wide,))


def test_anomaly_mode_stays_quiet_where_the_math_is_finite_and_names_the_op_where_not():
    with cr.autograd.detect_anomaly():
        big = leaf(np.full(4, 1e200))
        big.norm().backward()  # no x² overflow any more: nothing to report
        np.testing.assert_allclose(big.grad.numpy(), [0.5] * 4, rtol=1e-12)
        zero = leaf([0.0, 0.0])
        zero.norm().backward()  # the zero vector's gradient is 0, not inf
        assert zero.grad.tolist() == [0.0, 0.0]
        x = leaf([1e200, 1.0])
        with pytest.raises(RuntimeError, match="'mul' produced inf"):
            (x * x).sum()  # a genuine overflow is still named
