"""The unary functions (exp, log, sqrt, trig, tanh, sigmoid, relu, abs, sign, erf, rsqrt), each
with its derivative next to its forward."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule.autograd.node import Primitive
from chainrule.ops._coerce import promote, promote_float
from chainrule.tensor import Tensor

# ---- unary functions --------------------------------------------------------------------------
# An op made by _unary (it also carries its Primitive as ``.primitive``).
_UnaryOp = Callable[[Any], Tensor]


def _unary(
    name: str,
    forward: Any,
    rule: Any,
    tex: tuple[str, list[str]],
    saves_out: bool = False,
    saves_x: bool = True,
    keeps_int: bool = False,
    why: str | None = None,
) -> _UnaryOp:
    op = Primitive(
        name,
        forward,
        grads=[rule],
        tex=tex,
        saves_out=saves_out,
        saves=(0,) if saves_x else (),
        kind="elementwise",
        why=why,
    )

    def function(input: Tensor) -> Tensor:  # noqa: A002
        if not isinstance(input, Tensor) or input._data.dtype.kind != "f":
            # integer inputs stay integer where PyTorch keeps them (abs, relu, sign)
            (input,) = promote(input) if keeps_int else promote_float(input)
        return op(input)

    function.__name__ = name
    function.__doc__ = (
        f"Elementwise {name}, as ``torch.{name}``: ${tex[0]}$, derivative ${tex[1][0]}$."
    )
    function.primitive = op  # type: ignore[attr-defined]
    return function


def _sigmoid_array(x: np.ndarray) -> np.ndarray:
    # 1/(1 + e^{-x}) = exp(-log(1 + e^{-x})), with log(1 + e^{-x}) as logaddexp(0, -x): it never
    # overflows, so ±1000 give 0 and 1 exactly, without a warning — in four ufunc calls
    out: np.ndarray = np.exp(-np.logaddexp(0.0, -x))
    return out


exp = _unary(
    "exp",
    np.exp,
    lambda grad, out, x: grad * out,
    ("e^{x}", ["e^{x}"]),
    saves_out=True,
    saves_x=False,
)
log = _unary("log", np.log, lambda grad, out, x: grad / x, (r"\ln x", [r"\frac{1}{x}"]))
log1p = _unary(
    "log1p", np.log1p, lambda grad, out, x: grad / (x + 1), (r"\ln(1 + x)", [r"\frac{1}{1 + x}"])
)
sqrt = _unary(
    "sqrt",
    np.sqrt,
    lambda grad, out, x: grad / (out * 2),
    (r"\sqrt{x}", [r"\frac{1}{2\sqrt{x}}"]),
    saves_out=True,
    saves_x=False,
)
sin = _unary("sin", np.sin, lambda grad, out, x: grad * cos(x), (r"\sin x", [r"\cos x"]))
# annotated: sin's rule above refers to cos before it exists
cos: _UnaryOp = _unary(
    "cos", np.cos, lambda grad, out, x: -grad * sin(x), (r"\cos x", [r"-\sin x"])
)
# The derivatives of tanh, sigmoid and relu are themselves primitives (as in PyTorch's
# derivatives.yaml): one node in backward instead of three, and their own rules keep second
# derivatives right. g is the incoming gradient, y the activation's output.
_tanh_backward: Primitive = Primitive(
    "tanh_backward",
    lambda g, y: g * (1 - y * y),
    grads=[
        lambda grad, out, g, y: _tanh_backward(grad, y),
        lambda grad, out, g, y: grad * g * y * -2.0,
    ],
    tex=(r"g\,(1 - y^{2})", [r"1 - y^{2}", r"-2 g y"]),
    why="faster: one node in backward instead of three",
    inputs=("g", "y"),
)
_sigmoid_backward: Primitive = Primitive(
    "sigmoid_backward",
    lambda g, y: g * (y * (1 - y)),
    grads=[
        lambda grad, out, g, y: _sigmoid_backward(grad, y),
        lambda grad, out, g, y: grad * g * (1 - y * 2.0),
    ],
    tex=(r"g\,y(1 - y)", [r"y(1 - y)", r"g(1 - 2y)"]),
    why="faster: one node in backward instead of three",
    inputs=("g", "y"),
)
# the mask's own derivative is zero almost everywhere, so only g gets a rule
_relu_backward: Primitive = Primitive(
    "relu_backward",
    lambda g, x: g * (x > 0),
    grads=[lambda grad, out, g, x: _relu_backward(grad, x), None],
    tex=(r"g\,[x > 0]", [r"[x > 0]", "0"]),
    why="faster: one node in backward instead of three",
    inputs=("g", "x"),
)

tanh = _unary(
    "tanh",
    np.tanh,
    lambda grad, out, x: _tanh_backward(grad, out),
    (r"\tanh x", [r"1 - \tanh^{2} x"]),
    saves_out=True,
    saves_x=False,
)
sigmoid = _unary(
    "sigmoid",
    _sigmoid_array,
    lambda grad, out, x: _sigmoid_backward(grad, out),
    (r"\sigma(x)", [r"\sigma(x)\,(1 - \sigma(x))"]),
    saves_out=True,
    saves_x=False,
    why="stable: the composite 1/(1 + e^−x) overflows for x ≪ 0",
)
# relu'(0) = 0, as in PyTorch
relu = _unary(
    "relu",
    # max(0, x) with the 0 first: NumPy returns the second of two equal values, so relu(-0) = -0
    # as PyTorch's (and np.where would cost six times as much)
    lambda x: np.maximum(x.dtype.type(0), x),
    # out > 0 exactly where x > 0; reading out (as PyTorch does) leaves x free to change in place
    lambda grad, out, x: _relu_backward(grad, out),
    (r"\max(0, x)", [r"[x > 0]"]),
    keeps_int=True,
)
# abs'(0) = sign(0) = 0, as in PyTorch
abs = _unary(
    "abs",
    np.abs,
    lambda grad, out, x: grad * sign(x),  # noqa: A001
    (r"|x|", [r"\operatorname{sign}(x)"]),
    keeps_int=True,
)
# annotated: abs's rule above refers to sign before it exists
sign: _UnaryOp = _unary(
    "sign",
    np.sign,
    lambda grad, out, x: grad * 0,
    (r"\operatorname{sign}(x)", ["0"]),
    saves_x=False,
    keeps_int=True,
)


def _erf_array(x: np.ndarray) -> np.ndarray:
    # NumPy has no erf; math.erf is exact to the last bit, which the PyTorch comparison needs
    # asarray: on a 0-d input frompyfunc returns a bare Python float
    return np.asarray(np.frompyfunc(math.erf, 1, 1)(x), dtype=x.dtype)


erf = _unary(
    "erf",
    _erf_array,
    lambda grad, out, x: grad * (2.0 / math.sqrt(math.pi)) * exp(-(x * x)),
    (r"\operatorname{erf}(x)", [r"\frac{2}{\sqrt{\pi}} e^{-x^{2}}"]),
)


# 1/√x as PyTorch computes it: rsqrt(-0) = -inf (1/√-0 = 1/-0), and the rule reads only the
# output, d/dx x^(-1/2) = -out³/2
_rsqrt = Primitive(
    "rsqrt",
    lambda x: np.reciprocal(np.sqrt(x)),
    saves=(),
    saves_out=True,
    grads=[lambda grad, out, x: grad * (out * out * out) * -0.5],
    tex=(r"\frac{1}{\sqrt{x}}", [r"-\frac{1}{2 x^{3/2}}"]),
    why="its rule reads only its output (−out³/2), and rsqrt(−0) = −inf, as in PyTorch",
    kind="elementwise",
)


def rsqrt(input: Tensor) -> Tensor:  # noqa: A002
    return _rsqrt(*promote_float(input))
