"""Elementwise binary cross-entropy primitives, each with PyTorch's derivative formulas.

Both are primitives for stability and exactness (STYLE principle 1b): composed from ``log``,
the probability form turns log(0) into nan gradients, and composed from ``softplus``, the
logit form's gradient σ(x) − t loses every digit to cancellation for large |x|.
Reductions and the ``weight`` factor are applied outside, by ``chainrule.nn.functional``.
"""

from __future__ import annotations

import numpy as np

from chainrule.autograd.grad_mode import thread_state
from chainrule.autograd.node import Primitive, take_saved
from chainrule.ops.activation import softplus
from chainrule.ops.selection import clamp
from chainrule.ops.unary import log, log1p, sigmoid
from chainrule.tensor import Tensor

# PyTorch clamps each log term at -100, so a probability of exactly 0 or 1 gives a finite loss
_LOG_FLOOR = -100.0
# PyTorch's floor for x(1 - x) in the gradient's denominator
_EPSILON = 1e-12


def _bce_forward(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        log_x = np.maximum(np.log(x), _LOG_FLOOR)
        log_1mx = np.maximum(np.log1p(-x), _LOG_FLOOR)
    out: np.ndarray = ((t - 1) * log_1mx - t * log_x).astype(x.dtype, copy=False)
    return out


def _bce_grad_input(grad: Tensor, out: Tensor, x: Tensor, t: Tensor) -> Tensor:
    return grad * (x - t) / clamp((1 - x) * x, min=_EPSILON)


def _bce_grad_target(grad: Tensor, out: Tensor, x: Tensor, t: Tensor) -> Tensor:
    # -logit(x), unclamped, as PyTorch's binary_cross_entropy_target_backward
    result: Tensor = grad * (log1p(-x) - log(x))
    return result


binary_cross_entropy = Primitive(
    "binary_cross_entropy",
    _bce_forward,
    grads=[_bce_grad_input, _bce_grad_target],
    tex=(r"-[t \ln x + (1 - t)\ln(1 - x)]", [r"\frac{x - t}{x(1 - x)}", r"\ln(1 - x) - \ln x"]),
    kind="elementwise",
    inputs=("x", "t"),
    why="stable: composed from log, log(0) turns into nan gradients",
)


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    # min(x, 0) − log(1 + e^{−|x|}): no exp of a large positive number, for any x
    out: np.ndarray = np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))
    return out


def _bce_logits_forward(x: np.ndarray, t: np.ndarray, pos_weight: np.ndarray) -> np.ndarray:
    # (1 − t) x − (1 + (p − 1) t) log σ(x), PyTorch's formula
    log_weight = (pos_weight - 1) * t + 1
    out: np.ndarray = ((1 - t) * x - log_weight * _log_sigmoid(x)).astype(x.dtype, copy=False)
    return out


def _bce_logits_grad_input(
    grad: Tensor, out: Tensor, x: Tensor, t: Tensor, pos_weight: Tensor
) -> Tensor:
    # (1 + (p − 1) t) σ(x) − p t: exactly σ(x) − t for p = 1, with no cancellation of large
    # terms (the composite's 1 − σ(−x) − t loses every digit for large |x|)
    result: Tensor = grad * ((1 + (pos_weight - 1) * t) * sigmoid(x) - pos_weight * t)
    return result


def _bce_logits_grad_target(
    grad: Tensor, out: Tensor, x: Tensor, t: Tensor, pos_weight: Tensor
) -> Tensor:
    # log σ(−x) − p log σ(x) = p softplus(−x) − softplus(x); no threshold, so it is exact
    result: Tensor = grad * (
        pos_weight * softplus(-x, threshold=np.inf) - softplus(x, threshold=np.inf)
    )
    return result


binary_cross_entropy_with_logits = Primitive(
    "binary_cross_entropy_with_logits",
    _bce_logits_forward,
    grads=[_bce_logits_grad_input, _bce_logits_grad_target, None],
    tex=(
        r"(1 - t)x - (1 + (p - 1)t)\ln\sigma(x)",
        [r"(1 + (p - 1)t)\sigma(x) - p t", r"p\ln(1 + e^{-x}) - \ln(1 + e^{x})", "0"],
    ),
    kind="elementwise",
    inputs=("x", "t", "p"),
    why="stable: composed from softplus, σ(x) − t loses every digit for large |x|",
)


# ---- cross-entropy from logits, fused ----------------------------------------------------------
# A benchmark-driven primitive (STYLE principle 1c): log_softmax, pick, negate and mean are one
# forward node and one backward node instead of about fifteen. It covers the common case only —
# (N, C) logits, class-index targets, no weight, no ignored target, no smoothing; everything else
# goes through the composed form in chainrule.nn.functional.
def _cross_entropy_forward(
    x: np.ndarray, labels: np.ndarray, mean: bool, save_softmax: bool = False
) -> tuple[np.ndarray, tuple[np.ndarray] | None]:
    # ufunc reductions rather than the ndarray methods: a quarter of the time at small N
    shifted = x - np.maximum.reduce(x, axis=1, keepdims=True)  # (N, C)
    exps = np.exp(shifted)
    norms = np.add.reduce(exps, axis=1, keepdims=True)  # (N, 1)
    rows = np.arange(x.shape[0])
    losses = np.log(norms[:, 0]) - shifted[rows, labels]  # (N,)
    total = np.add.reduce(losses)
    # softmax for the backward, which would otherwise compute the same four arrays again
    saved = (np.divide(exps, norms, out=exps),) if save_softmax else None
    return np.asarray(total / x.shape[0] if mean else total, dtype=x.dtype), saved


def _cross_entropy_backward_forward(
    g: np.ndarray,
    x: np.ndarray,
    labels: np.ndarray,
    probs: np.ndarray | None = None,
    *,
    mean: bool,
) -> np.ndarray:
    # probs: the forward's softmax, handed over by its node (this writes into it)
    if probs is None:
        exps = np.exp(x - np.maximum.reduce(x, axis=1, keepdims=True))
        probs = np.divide(exps, np.add.reduce(exps, axis=1, keepdims=True), out=exps)
    probs[np.arange(x.shape[0]), labels] -= 1.0  # p - onehot(y), (N, C)
    scale = g / x.shape[0] if mean else g
    out: np.ndarray = np.multiply(probs, scale, out=probs)
    return out


def _ce_backward_grad_g(
    grad: Tensor, out: Tensor, g: Tensor, x: Tensor, labels: Tensor, *saved: Tensor, mean: bool
) -> Tensor:
    # out is linear in g: d out / d g · G = Σ (p − y) G (scaled like the forward)
    one = Tensor._wrap(np.ones((), g.dtype), constant=True)
    unit = _cross_entropy_backward(one, x, labels, mean=mean)
    from chainrule.ops.reduce import sum as sum_

    return sum_(unit * grad)


def _ce_backward_grad_x(
    grad: Tensor, out: Tensor, g: Tensor, x: Tensor, labels: Tensor, *saved: Tensor, mean: bool
) -> Tensor:
    # d/dx of s·(softmax(x) − y): s · p ⊙ (G − Σ_c G p), the softmax Jacobian applied to G
    from chainrule.ops.categorical import softmax
    from chainrule.ops.reduce import sum as sum_

    probs = softmax(x, dim=1)
    scale = g / x.shape[0] if mean else g
    return probs * (grad - sum_(grad * probs, dim=1, keepdim=True)) * scale


_cross_entropy_backward = Primitive(
    "cross_entropy_backward",
    _cross_entropy_backward_forward,
    saves=(1,),
    grads=[_ce_backward_grad_g, _ce_backward_grad_x, None, None],
    tex=(r"s\,(\operatorname{softmax}(x) - y)", ["s (p - y)", r"s\,p(\delta - p)"]),
    params=("mean",),
    inputs=("s", "x", "y", "p"),  # p: the forward's softmax, when it saved it
)


def _cross_entropy_rule(
    grad: Tensor, out: Tensor, x: Tensor, labels: Tensor, mean: bool, save_softmax: bool
) -> Tensor:
    saved = take_saved(out, _cross_entropy)
    if saved is None:
        return _cross_entropy_backward(grad, x, labels, mean=mean)
    return _cross_entropy_backward(grad, x, labels, Tensor._wrap(saved[0]), mean=mean)


_cross_entropy: Primitive = Primitive(
    "cross_entropy",
    _cross_entropy_forward,
    saves=(0,),
    grads=[_cross_entropy_rule, None],
    tex=(
        r"-\frac{1}{N}\sum_i \ln \operatorname{softmax}(x_i)_{y_i}",
        [r"\frac{1}{N}(\operatorname{softmax}(x) - y)", "0"],
    ),
    returns_saved=True,
    params=("mean", "save_softmax"),
    why="faster and stable: one fused log-softmax and pick, gradient (softmax − y)/N",
    inputs=("x", "y"),
)


def fused_cross_entropy(logits: Tensor, labels: Tensor, mean: bool = True) -> Tensor:
    """Cross-entropy of (N, C) logits against int64 class indices, mean or sum over N."""
    # the forward saves softmax for the backward when one can follow
    save_softmax = logits.requires_grad and thread_state.grad_enabled
    return _cross_entropy(logits, labels, mean=mean, save_softmax=save_softmax)
