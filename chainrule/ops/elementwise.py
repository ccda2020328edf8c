"""Elementwise primitives, each with its derivative rule next to its forward.

Rules see Tensors (so create_graph=True differentiates them) and may return a gradient of the
broadcast shape: the engine sums it back to the input's shape.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule import _dtype
from chainrule.autograd.node import Primitive
from chainrule.errors import BadInputError
from chainrule.ops._coerce import promote, promote_float, to_tensor
from chainrule.tensor import Tensor


def _zero(grad: Tensor) -> Tensor:
    return Tensor._wrap(np.zeros((), grad.dtype))


# ---- arithmetic -------------------------------------------------------------------------------
_add = Primitive(
    "add",
    np.add,
    saves=(),
    grads=[lambda grad, out, x, y: grad, lambda grad, out, x, y: grad],
    tex=("x + y", ["1", "1"]),
)
_sub = Primitive(
    "sub",
    np.subtract,
    saves=(),
    grads=[lambda grad, out, x, y: grad, lambda grad, out, x, y: -grad],
    tex=("x - y", ["1", "-1"]),
)
_mul = Primitive(
    "mul",
    np.multiply,
    grads=[lambda grad, out, x, y: grad * y, lambda grad, out, x, y: grad * x],
    tex=(r"x \cdot y", ["y", "x"]),
)
_div = Primitive(
    "div",
    np.true_divide,
    # -g·(x/y)/y, not -g·x/y²: y² overflows for |y| > 1.8e19 in float32 (a norm of 1e30 values)
    grads=[lambda grad, out, x, y: grad / y, lambda grad, out, x, y: -grad * (x / y) / y],
    tex=(r"\frac{x}{y}", [r"\frac{1}{y}", r"-\frac{x}{y^{2}}"]),
)
_neg = Primitive(
    "neg", np.negative, saves=(), grads=[lambda grad, out, x: -grad], tex=("-x", ["-1"])
)


def _pow_grad_base(grad: Tensor, out: Tensor, x: Tensor, y: Tensor) -> Tensor:
    # d/dx x^y = y x^(y-1); PyTorch defines it as 0 where y == 0 (even at x == 0)
    return where(y == 0, _zero(grad), grad * y * x ** (y - 1))


def _pow_grad_exponent(grad: Tensor, out: Tensor, x: Tensor, y: Tensor) -> Tensor:
    # d/dy x^y = x^y ln x; PyTorch masks x == 0, y >= 0 to 0 instead of 0 * -inf
    return where((x == 0) & (y >= 0), _zero(grad), grad * out * log(x))


_pow = Primitive(
    "pow",
    np.power,
    grads=[_pow_grad_base, _pow_grad_exponent],
    saves_out=True,
    tex=("x^{y}", [r"y\,x^{y-1}", r"x^{y}\ln x"]),
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
    "pow", _pow_scalar_forward, grads=[_pow_scalar_grad], tex=("x^{n}", [r"n\,x^{n-1}"])
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
)


def reciprocal(input: Tensor) -> Tensor:  # noqa: A002
    return _reciprocal(*promote_float(input))


def rdiv(input: Tensor, number: Any) -> Tensor:  # noqa: A002
    """``number / input`` for a Python or NumPy number, as PyTorch computes it:
    ``reciprocal(input) * number``."""
    inverse = reciprocal(input)
    return inverse if number == 1 else mul(inverse, number)


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
) -> _UnaryOp:
    op = Primitive(
        name, forward, grads=[rule], tex=tex, saves_out=saves_out, saves=(0,) if saves_x else ()
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
)
_sigmoid_backward: Primitive = Primitive(
    "sigmoid_backward",
    lambda g, y: g * (y * (1 - y)),
    grads=[
        lambda grad, out, g, y: _sigmoid_backward(grad, y),
        lambda grad, out, g, y: grad * g * (1 - y * 2.0),
    ],
    tex=(r"g\,y(1 - y)", [r"y(1 - y)", r"g(1 - 2y)"]),
)
# the mask's own derivative is zero almost everywhere, so only g gets a rule
_relu_backward: Primitive = Primitive(
    "relu_backward",
    lambda g, x: g * (x > 0),
    grads=[lambda grad, out, g, x: _relu_backward(grad, x), None],
    tex=(r"g\,[x > 0]", [r"[x > 0]", "0"]),
)

tanh = _unary(
    "tanh",
    np.tanh,
    lambda grad, out, x: _tanh_backward(grad, out),
    (r"\tanh x", [r"1 - \tanh^{2} x"]),
    saves_out=True,
    saves_x=False,
)
# a primitive because the composite 1 / (1 + e^{-x}) overflows for x << 0
sigmoid = _unary(
    "sigmoid",
    _sigmoid_array,
    lambda grad, out, x: _sigmoid_backward(grad, out),
    (r"\sigma(x)", [r"\sigma(x)\,(1 - \sigma(x))"]),
    saves_out=True,
    saves_x=False,
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
)


def rsqrt(input: Tensor) -> Tensor:  # noqa: A002
    return _rsqrt(*promote_float(input))


def _clamp_forward(x: np.ndarray, min: Any, max: Any) -> np.ndarray:  # noqa: A002
    out = x
    if min is not None:
        out = np.maximum(out, min)
    if max is not None:
        out = np.minimum(out, max)
    return out.astype(x.dtype, copy=False)


def _clamp_mask_forward(x: np.ndarray, min: Any, max: Any) -> np.ndarray:  # noqa: A002
    # the gradient passes at the bounds themselves (min <= x <= max), as in PyTorch
    mask = np.ones(x.shape, dtype=bool)
    if min is not None:
        mask &= x >= min
    if max is not None:
        mask &= x <= max
    return mask


_clamp_mask = Primitive("clamp_mask", _clamp_mask_forward, grads=[None], saves=())


def _clamp_grad(grad: Tensor, out: Tensor, x: Tensor, min: Any, max: Any) -> Tensor:  # noqa: A002
    return grad * _clamp_mask(x, min=min, max=max)


_clamp = Primitive(
    "clamp", _clamp_forward, grads=[_clamp_grad], tex=(r"\min(\max(x, a), b)", [r"[a \le x \le b]"])
)


def clamp(input: Tensor, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
    if min is None and max is None:
        raise BadInputError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        result = input
        if min is not None:
            result = maximum(result, min)
        if max is not None:
            result = minimum(result, max)
        return result
    return _clamp(input, min=min, max=max)


clip = clamp


def clamp_min(input: Tensor, min: float) -> Tensor:  # noqa: A002
    return clamp(input, min=min)


def clamp_max(input: Tensor, max: float) -> Tensor:  # noqa: A002
    return clamp(input, max=max)


# ---- binary selections ------------------------------------------------------------------------
def _pick_grad(grad: Tensor, mine_wins: Tensor, tie: Tensor) -> Tensor:
    # ties share the gradient equally between both inputs, as in PyTorch
    return where(mine_wins, grad, where(tie, grad * 0.5, _zero(grad)))


_maximum = Primitive(
    "maximum",
    np.maximum,
    grads=[
        lambda grad, out, x, y: _pick_grad(grad, x > y, x == y),
        lambda grad, out, x, y: _pick_grad(grad, y > x, x == y),
    ],
    tex=(r"\max(x, y)", [r"[x > y]", r"[y > x]"]),
)
_minimum = Primitive(
    "minimum",
    np.minimum,
    grads=[
        lambda grad, out, x, y: _pick_grad(grad, x < y, x == y),
        lambda grad, out, x, y: _pick_grad(grad, y < x, x == y),
    ],
    tex=(r"\min(x, y)", [r"[x < y]", r"[y < x]"]),
)


def maximum(input: Any, other: Any) -> Tensor:  # noqa: A002
    return _maximum(*promote(input, other))


def minimum(input: Any, other: Any) -> Tensor:  # noqa: A002
    return _minimum(*promote(input, other))


_where = Primitive(
    "where",
    np.where,
    saves=(0,),
    grads=[
        None,
        lambda grad, out, cond, x, y: where(cond, grad, _zero(grad)),
        lambda grad, out, cond, x, y: where(cond, _zero(grad), grad),
    ],
    tex=(r"c\,?\,x : y", ["0", "[c]", "[\\lnot c]"]),
)


def where(condition: Any, input: Any, other: Any) -> Tensor:  # noqa: A002
    """``input`` where ``condition`` holds, else ``other`` (broadcast together)."""
    condition = to_tensor(condition)
    if condition.dtype != _dtype.bool_:
        condition = Tensor._wrap(condition._data.astype(bool))
    x, y = promote(input, other)
    return _where(condition, x, y)


# ---- dtype changes ----------------------------------------------------------------------------
_cast = Primitive(
    "cast",
    lambda x, dtype: x.astype(dtype, copy=False),
    saves=(),
    grads=[lambda grad, out, x, dtype: cast(grad, x.dtype)],
    tex=("x", ["1"]),
)
_clone = Primitive(
    "clone", lambda x: x.copy(), saves=(), grads=[lambda grad, out, x: grad], tex=("x", ["1"])
)


def cast(input: Tensor, dtype: Any) -> Tensor:  # noqa: A002
    dtype = _dtype.as_dtype(dtype)
    if input.dtype == dtype:
        return input
    return _cast(input, dtype=dtype)


def clone(input: Tensor) -> Tensor:  # noqa: A002
    return _clone(input)
