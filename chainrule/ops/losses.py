"""Elementwise binary cross-entropy primitives, each with PyTorch's derivative formulas.

Both are primitives for stability and exactness (STYLE principle 1b): composed from ``log``,
the probability form turns log(0) into nan gradients, and composed from ``softplus``, the
logit form's gradient σ(x) − t loses every digit to cancellation for large |x|.
Reductions and the ``weight`` factor are applied outside, by ``chainrule.nn.functional``.
"""

from __future__ import annotations

import numpy as np

from chainrule.autograd.node import Primitive
from chainrule.ops.elementwise import clamp, log, log1p, sigmoid, softplus
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
    "binary_cross_entropy", _bce_forward, grads=[_bce_grad_input, _bce_grad_target],
    tex=(r"-[t \ln x + (1 - t)\ln(1 - x)]",
         [r"\frac{x - t}{x(1 - x)}", r"\ln(1 - x) - \ln x"]))


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    # min(x, 0) − log(1 + e^{−|x|}): no exp of a large positive number, for any x
    out: np.ndarray = np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))
    return out


def _bce_logits_forward(x: np.ndarray, t: np.ndarray, pos_weight: np.ndarray) -> np.ndarray:
    # (1 − t) x − (1 + (p − 1) t) log σ(x), PyTorch's formula
    log_weight = (pos_weight - 1) * t + 1
    out: np.ndarray = ((1 - t) * x - log_weight * _log_sigmoid(x)).astype(x.dtype, copy=False)
    return out


def _bce_logits_grad_input(grad: Tensor, out: Tensor, x: Tensor, t: Tensor,
                           pos_weight: Tensor) -> Tensor:
    # (1 + (p − 1) t) σ(x) − p t: exactly σ(x) − t for p = 1, with no cancellation of large
    # terms (the composite's 1 − σ(−x) − t loses every digit for large |x|)
    result: Tensor = grad * ((1 + (pos_weight - 1) * t) * sigmoid(x) - pos_weight * t)
    return result


def _bce_logits_grad_target(grad: Tensor, out: Tensor, x: Tensor, t: Tensor,
                            pos_weight: Tensor) -> Tensor:
    # log σ(−x) − p log σ(x) = p softplus(−x) − softplus(x); no threshold, so it is exact
    result: Tensor = grad * (pos_weight * softplus(-x, threshold=np.inf)
                             - softplus(x, threshold=np.inf))
    return result


binary_cross_entropy_with_logits = Primitive(
    "binary_cross_entropy_with_logits", _bce_logits_forward,
    grads=[_bce_logits_grad_input, _bce_logits_grad_target, None],
    tex=(r"(1 - t)x - (1 + (p - 1)t)\ln\sigma(x)",
         [r"(1 + (p - 1)t)\sigma(x) - p t", r"p\ln(1 + e^{-x}) - \ln(1 + e^{x})", "0"]))
