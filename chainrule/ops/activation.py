"""Activations with a parameter or a composition (silu, gelu, leaky_relu, elu, softplus); the
one-line ones (relu, sigmoid, tanh) are entries of the unary table in ops/elementwise.py."""

from __future__ import annotations

import math

import numpy as np

from chainrule._checks import number
from chainrule.autograd.node import Primitive
from chainrule.errors import BadInputError
from chainrule.ops.selection import clamp_max, where
from chainrule.ops.unary import erf, exp, sigmoid, tanh
from chainrule.tensor import Tensor


def silu(input: Tensor) -> Tensor:  # noqa: A002
    """x σ(x), composed from sigmoid."""
    return input * sigmoid(input)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:  # noqa: A002
    """Gaussian error linear unit: x Φ(x) exactly, or PyTorch's tanh approximation."""
    if approximate == "tanh":
        inner = math.sqrt(2.0 / math.pi) * (input + 0.044715 * input * input * input)
        return 0.5 * input * (1 + tanh(inner))
    if approximate != "none":
        raise BadInputError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    # x Φ(x) → 0 as x → -inf, but -inf · 0 is NaN: -inf goes in as 0 (which also keeps the
    # gradient there 0, not 0 · NaN) and comes out as 0
    at_minus_inf = input == -math.inf
    x = where(at_minus_inf, 0.0, input)
    return where(at_minus_inf, 0.0, 0.5 * x * (1 + erf(x * (1.0 / math.sqrt(2.0)))))


def _leaky_relu_forward(x: np.ndarray, negative_slope: float) -> np.ndarray:
    return np.where(x > 0, x, x * negative_slope).astype(x.dtype, copy=False)


_leaky_relu = Primitive(
    "leaky_relu",
    _leaky_relu_forward,
    grads=[lambda grad, out, x, negative_slope: where(x > 0, grad, grad * negative_slope)],
    tex=(r"\max(0, x) + s \min(0, x)", [r"[x > 0] + s\,[x \le 0]"]),
    kind="elementwise",
    params=("negative_slope",),
    symbols={"negative_slope": "s"},
)


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:  # noqa: A002
    return _leaky_relu(input, negative_slope=number(negative_slope, "leaky_relu: negative_slope"))


def _elu_forward(x: np.ndarray, alpha: float) -> np.ndarray:
    # min(0, x) with the 0 first keeps elu(-0) = -0 (NumPy returns the second of equal values)
    negative = np.minimum(x.dtype.type(0), x)
    return np.where(x > 0, x, alpha * np.expm1(negative)).astype(x.dtype, copy=False)


# the rule reads x, not the output, as PyTorch's does (so an in-place change of the output after
# it raises nothing in either)
_elu = Primitive(
    "elu",
    _elu_forward,
    # (e^x of the clamped x: the branch not taken must not overflow for large x)
    grads=[lambda grad, out, x, alpha: where(x > 0, grad, grad * (exp(clamp_max(x, 0.0)) * alpha))],
    tex=(
        r"x \text{ if } x > 0 \text{ else } \alpha(e^{x} - 1)",
        [r"1 \text{ if } x > 0 \text{ else } \alpha e^{x}"],
    ),
    kind="elementwise",
    params=("alpha",),
    symbols={"alpha": r"\alpha"},
)


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:  # noqa: A002
    return _elu(input, alpha=number(alpha, "elu: alpha"))


def _softplus_forward(x: np.ndarray, beta: float, threshold: float) -> np.ndarray:
    scaled = x * beta
    # log(1 + e^z) = max(z, 0) + log1p(e^{-|z|}) never overflows; above threshold PyTorch returns x
    soft = (np.maximum(scaled, 0) + np.log1p(np.exp(-np.abs(scaled)))) / beta
    return np.where(scaled > threshold, x, soft).astype(x.dtype, copy=False)


_softplus = Primitive(
    "softplus",
    _softplus_forward,
    grads=[
        lambda grad, out, x, beta, threshold: where(
            x * beta > threshold, grad, grad * sigmoid(x * beta)
        )
    ],
    tex=(r"\frac{1}{\beta}\ln(1 + e^{\beta x})", [r"\sigma(\beta x)"]),
    kind="elementwise",
    params=("beta", "threshold"),
    symbols={"beta": r"\beta"},
    why="stable: the composite ln(1 + e^x) overflows for large x",
)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:  # noqa: A002
    return _softplus(input, beta=beta, threshold=threshold)
