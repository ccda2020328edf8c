"""Elementwise primitives, each with its derivative rule next to its forward.

Rules see Tensors (so create_graph=True differentiates them) and may return a gradient of the
broadcast shape: the engine sums it back to the input's shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import _dtype
from chainrule.autograd.node import Primitive
from chainrule.ops._coerce import promote, promote_float
from chainrule.ops.selection import _zero, where
from chainrule.ops.unary import log
from chainrule.tensor import Tensor

# ---- arithmetic -------------------------------------------------------------------------------
_add = Primitive(
    "add",
    np.add,
    saves=(),
    grads=[lambda grad, out, x, y: grad, lambda grad, out, x, y: grad],
    tex=("x + y", ["1", "1"]),
    kind="elementwise",
    bare=("x", "y"),
)
_sub = Primitive(
    "sub",
    np.subtract,
    saves=(),
    grads=[lambda grad, out, x, y: grad, lambda grad, out, x, y: -grad],
    tex=("x - y", ["1", "-1"]),
    kind="elementwise",
    bare=("x",),
)
_mul: Primitive  # declared: its rules refer to it
_mul = Primitive(
    "mul",
    np.multiply,
    # the product primitive itself, not the operator: grad has the inputs' dtype, so the
    # operator's promotion would only cost a call (every product's backward runs these)
    grads=[lambda grad, out, x, y: _mul(grad, y), lambda grad, out, x, y: _mul(grad, x)],
    tex=(r"x \cdot y", ["y", "x"]),
    kind="elementwise",
)
_div = Primitive(
    "div",
    np.true_divide,
    # -g·(x/y)/y, not -g·x/y²: y² overflows for |y| > 1.8e19 in float32 (a norm of 1e30 values)
    grads=[lambda grad, out, x, y: grad / y, lambda grad, out, x, y: -grad * (x / y) / y],
    tex=(r"\frac{x}{y}", [r"\frac{1}{y}", r"-\frac{x}{y^{2}}"]),
    kind="elementwise",
)
_neg = Primitive(
    "neg",
    np.negative,
    saves=(),
    grads=[lambda grad, out, x: -grad],
    tex=("-x", ["-1"]),
    kind="elementwise",
)


def _pow_grad_base(grad: Tensor, out: Tensor, x: Tensor, y: Tensor) -> Tensor:
    # d/dx x^y = y x^(y-1); PyTorch defines it as 0 where y == 0 (even at x == 0)
    return where(y == 0, _zero(grad), grad * y * x ** (y - 1))


def _pow_grad_exponent(grad: Tensor, out: Tensor, x: Tensor, y: Tensor) -> Tensor:
    # d/dy x^y = x^y ln x; PyTorch masks x == 0, y >= 0 to 0 instead of 0 * -inf
    return where((x == 0) & (y >= 0), _zero(grad), grad * out * log(x))


_pow = Primitive(
    "pow_tensor",  # x ** y with a tensor exponent; "pow" is the scalar exponent's
    np.power,
    grads=[_pow_grad_base, _pow_grad_exponent],
    saves_out=True,
    tex=("x^{y}", [r"y\,x^{y-1}", r"x^{y}\ln x"]),
    kind="elementwise",
)


# The operators' common case is decided inline, without calling promote: two plain tensors of
# one dtype (the test is spelled out in each function because a helper call costs as much).
def add(input: Any, other: Any, alpha: float = 1) -> Tensor:  # noqa: A002
    """``input + alpha * other`` with broadcasting and type promotion."""
    if alpha != 1:
        other = mul(other, alpha)
    elif type(input) is Tensor and type(other) is Tensor and input._data.dtype is other._data.dtype:
        return _add(input, other)
    return _add(*promote(input, other))


def sub(input: Any, other: Any, alpha: float = 1) -> Tensor:  # noqa: A002
    if alpha != 1:
        other = mul(other, alpha)
    elif type(input) is Tensor and type(other) is Tensor and input._data.dtype is other._data.dtype:
        return _sub(input, other)
    return _sub(*promote(input, other))


def mul(input: Any, other: Any) -> Tensor:  # noqa: A002
    if type(input) is Tensor and type(other) is Tensor and input._data.dtype is other._data.dtype:
        return _mul(input, other)
    return _mul(*promote(input, other))


def div(input: Any, other: Any) -> Tensor:  # noqa: A002
    """True division; integer inputs give the default float dtype, as in PyTorch."""
    return _div(*promote_float(input, other))


def neg(input: Tensor) -> Tensor:  # noqa: A002
    return _neg(input)


def _pow_scalar_forward(x: np.ndarray, exponent: float) -> np.ndarray:
    out: np.ndarray
    if exponent == 2:
        out = x * x
    elif exponent == -0.5:
        # as PyTorch (rsqrt): -0 gives -inf and -inf gives NaN, where C's pow gives +inf and 0
        out = np.reciprocal(np.sqrt(x))
    else:
        out = np.power(x, exponent)
    return out


def _pow_scalar_grad(grad: Tensor, out: Tensor, x: Tensor, exponent: float) -> Tensor:
    # n x^(n-1), spelled out for the common exponents so backward runs one or two ops, not six;
    # 0 for n == 0 even at x == 0, as in PyTorch
    if exponent == 0:
        return grad * 0.0
    if exponent == 2:
        return grad * (x * 2.0)
    return grad * (x ** (exponent - 1) * exponent)


# A tensor to a fixed Python power (x ** 2): the exponent is a parameter, not an input, so it
# needs neither promotion nor the exponent's derivative — a benchmark-driven special case of pow.
_pow_scalar = Primitive(
    "pow",
    _pow_scalar_forward,
    grads=[_pow_scalar_grad],
    tex=("x^{n}", [r"n\,x^{n-1}"]),
    kind="elementwise",
    params=("exponent",),
    symbols={"exponent": "n"},
    why="faster: a fixed exponent needs no promotion and no derivative of its own",
)


def pow(input: Any, exponent: Any) -> Tensor:  # noqa: A001, A002
    if (
        type(exponent) in (int, float)
        and isinstance(input, Tensor)
        and input._data.dtype.kind == "f"
    ):
        return _pow_scalar(input, exponent=exponent)
    return _pow(*promote(input, exponent))


def square(input: Tensor) -> Tensor:  # noqa: A002
    return mul(input, input)


# 1/x as PyTorch computes it: a primitive whose rule reads only its output (-1/x² = -out²), so
# an in-place change of x after it raises nothing, as in PyTorch
_reciprocal = Primitive(
    "reciprocal",
    np.reciprocal,
    saves=(),
    saves_out=True,
    grads=[lambda grad, out, x: -grad * (out * out)],
    tex=(r"\frac{1}{x}", [r"-\frac{1}{x^{2}}"]),
    why="its rule reads only its output (−out²), as PyTorch's does",
    kind="elementwise",
)


def reciprocal(input: Tensor) -> Tensor:  # noqa: A002
    return _reciprocal(*promote_float(input))


def rdiv(input: Tensor, number: Any) -> Tensor:  # noqa: A002
    """``number / input`` for a Python or NumPy number, as PyTorch computes it:
    ``reciprocal(input) * number``."""
    inverse = reciprocal(input)
    return inverse if number == 1 else mul(inverse, number)


# ---- dtype changes ----------------------------------------------------------------------------
_cast = Primitive(
    "cast",
    lambda x, dtype: x.astype(dtype, copy=False),
    saves=(),
    grads=[lambda grad, out, x, dtype: cast(grad, x.dtype)],
    tex=("x", ["1"]),
    kind="copy",
    params=("dtype",),
)
_clone = Primitive(
    "clone",
    lambda x: x.copy(),
    saves=(),
    grads=[lambda grad, out, x: grad],
    tex=("x", ["1"]),
    kind="copy",
)


def cast(input: Tensor, dtype: Any) -> Tensor:  # noqa: A002
    dtype = _dtype.as_dtype(dtype)
    if input.dtype == dtype:
        return input
    return _cast(input, dtype=dtype)


def clone(input: Tensor) -> Tensor:  # noqa: A002
    return _clone(input)
