"""``chainrule.nn.functional``: the layer ops as functions (re-exported from ``chainrule.ops``)
and the loss functions, with PyTorch's names, arguments and reduction conventions.

Each loss is composed from differentiable ops (so second derivatives work), except binary
cross-entropy, whose two forms are primitives in ``chainrule.ops.losses`` for stability.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from chainrule import composites
from chainrule.autograd.grad_mode import reads_data, state
from chainrule.errors import BadInputError, IndexOutOfRangeError
from chainrule.ops import (
    adaptive_avg_pool2d,
    avg_pool2d,
    batch_norm,
    clamp,
    conv1d,
    conv2d,
    embedding,
    gather,
    layer_norm,
    linear,
    max_pool2d,
    mean,
    norm,
    one_hot,
    pad,
    reshape,
    sigmoid,
    softplus,
    squeeze,
    sum,
    tanh,
    where,
)
from chainrule.ops import dropout as _dropout
from chainrule.ops import elu as _elu
from chainrule.ops import gelu as _gelu
from chainrule.ops import leaky_relu as _leaky_relu
from chainrule.ops import log_softmax as _log_softmax
from chainrule.ops import losses as _losses
from chainrule.ops import relu as _relu
from chainrule.ops import silu as _silu
from chainrule.ops import softmax as _softmax
from chainrule.ops._coerce import to_tensor
from chainrule.ops.elementwise import abs
from chainrule.tensor import Tensor

__all__ = [
    "adaptive_avg_pool2d",
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv1d",
    "conv2d",
    "cross_entropy",
    "dropout",
    "elu",
    "embedding",
    "gelu",
    "half_squared_error",
    "huber_loss",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "normalize",
    "one_hot",
    "pad",
    "relu",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "softmax",
    "softplus",
    "tanh",
]


# ---- activations: PyTorch's signatures (``inplace`` is accepted; the result is a new tensor) ---
def relu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    return _relu(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:  # noqa: A002
    return _leaky_relu(input, negative_slope)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    return _elu(input, alpha)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:  # noqa: A002
    return _gelu(input, approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    return _silu(input)


def _softmax_dim(name: str, ndim: int) -> int:
    # PyTorch's legacy choice when dim is omitted, with its deprecation warning
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call "
        "to include dim=X as an argument.",
        UserWarning,
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:  # noqa: A002
    """exp(x_i) / Σ_j exp(x_j) along ``dim`` (stable: the max is subtracted first)."""
    return _softmax(input, _softmax_dim("softmax", input.ndim) if dim is None else dim, dtype)


def log_softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:  # noqa: A002
    """x_i − log Σ_j exp(x_j) along ``dim``: finite for logits of ±1000."""
    return _log_softmax(
        input, _softmax_dim("log_softmax", input.ndim) if dim is None else dim, dtype
    )


def dropout(
    input: Tensor,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,  # noqa: A002
) -> Tensor:
    """Inverted dropout when ``training``; the identity otherwise."""
    return _dropout(input, p, training)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:  # noqa: A002
    """x / max(‖x‖_p, eps) along ``dim``."""
    return input / clamp(norm(input, p, dim=dim, keepdim=True), min=eps)


# ---- losses ------------------------------------------------------------------------------------
def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return sum(loss)
    if reduction == "none":
        return loss
    raise BadInputError(f"{op}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


def _pair(input: Any, target: Any, op: str) -> tuple[Tensor, Tensor]:  # noqa: A002
    """Input and target as tensors of the input's float dtype; PyTorch's warning on a target
    that only broadcasts (a classic bug: target (N,) against input (N, 1))."""
    input = to_tensor(input)
    target = to_tensor(target, input.dtype)
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(
            f"{op}: using a target size {tuple(target.shape)} that is different to "
            f"the input size {tuple(input.shape)}; this will likely lead to incorrect "
            "results due to broadcasting",
            UserWarning,
            stacklevel=3,
        )
    return input, target


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:  # noqa: A002
    """(x − y)², reduced.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.mse_loss(cr.tensor([1.0, 2.0]), cr.tensor([0.0, 0.0])).item()
    2.5
    """
    input, target = _pair(input, target, "mse_loss")
    diff = input - target
    loss = _reduce(diff * diff, reduction, "mse_loss")
    # one step to the explainer, ∂L/∂ŷ = 2/N (ŷ − y), not the two halves of diff · diff
    return composites.mark(
        loss, "mse_loss", (input, target), reduction=reduction, count=diff.numel()
    )


def half_squared_error(input: Tensor, target: Tensor, reduction: str = "sum") -> Tensor:  # noqa: A002
    """The seeds' error E = ½ Σ (t − a)²: with the default ``reduction='sum'``,
    E_total = E1 + E2 + …, one ½(t − a)² per output.

    Its gradient is simply a − t, which is why the seeds use it. ``'mean'`` divides by the
    number of elements and ``'none'`` keeps each ½(t − a)².

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> out = cr.tensor([0.75136507, 0.772928465], dtype=cr.float64)
    >>> round(F.half_squared_error(out, cr.tensor([0.01, 0.99], dtype=cr.float64)).item(), 9)
    0.298371109
    """
    input, target = _pair(input, target, "half_squared_error")
    diff = target - input
    return _reduce(0.5 * (diff * diff), reduction, "half_squared_error")


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:  # noqa: A002
    """|x − y|, reduced (gradient sign(x − y), 0 at a tie)."""
    input, target = _pair(input, target, "l1_loss")
    return _reduce(abs(input - target), reduction, "l1_loss")


def huber_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",  # noqa: A002
    delta: float = 1.0,
) -> Tensor:
    """½(x − y)² where |x − y| < delta, else delta (|x − y| − ½ delta)."""
    if delta <= 0:
        raise BadInputError(f"huber_loss: delta must be positive, got {delta}")
    input, target = _pair(input, target, "huber_loss")
    diff = input - target
    size = abs(diff)
    # the quadratic branch on the clamped difference: where(...) sends a zero gradient into the
    # branch it doesn't take, and 0 · inf (a difference of inf) would be NaN
    near = clamp(diff, -delta, delta)
    loss = where(size < delta, 0.5 * (near * near), delta * (size - 0.5 * delta))
    return _reduce(loss, reduction, "huber_loss")


def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",  # noqa: A002
    beta: float = 1.0,
) -> Tensor:
    """½(x − y)²/beta where |x − y| < beta, else |x − y| − ½ beta (Huber divided by beta)."""
    input, target = _pair(input, target, "smooth_l1_loss")
    diff = input - target
    size = abs(diff)
    if beta == 0:
        return _reduce(size, reduction, "smooth_l1_loss")
    near = clamp(diff, -beta, beta)  # as in huber_loss: no 0 · inf in the branch not taken
    loss = where(size < beta, (0.5 / beta) * (near * near), size - 0.5 * beta)
    return _reduce(loss, reduction, "smooth_l1_loss")


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,  # noqa: A002
    reduction: str = "mean",
) -> Tensor:
    """−w [t log x + (1 − t) log(1 − x)] on probabilities x, each log clamped at −100 as in
    PyTorch (so x = 0 or 1 gives a finite loss and gradient)."""
    input = to_tensor(input)
    target = to_tensor(target, input.dtype)
    if tuple(target.shape) != tuple(input.shape):
        raise BadInputError(
            f"binary_cross_entropy: target size {tuple(target.shape)} differs from "
            f"input size {tuple(input.shape)}; please ensure they have the same size"
        )
    if state.tracing is not None:  # a replayed step checks the ranges again
        state.tracing.guard(_probabilities, input)
        state.tracing.guard(_probabilities, target)
    if not _probabilities(input._data):
        raise BadInputError(
            "binary_cross_entropy: all elements of input should be between 0 and 1 "
            "(pass logits to binary_cross_entropy_with_logits instead)"
        )
    if not _probabilities(target._data):  # as PyTorch: a target of 2 is no probability
        raise BadInputError(
            "binary_cross_entropy: all elements of target should be between 0 and 1, got "
            f"values from {target._data.min()} to {target._data.max()}"
        )
    loss = _losses.binary_cross_entropy(input, target)
    if weight is not None:
        loss = loss * to_tensor(weight, input.dtype)
    return _reduce(loss, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,  # noqa: A002
    weight: Tensor | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """Binary cross-entropy on logits x: (1 − t) x − (1 + (p − 1) t) log σ(x), times ``weight``.

    Computed without ever exponentiating a large number, so logits of ±1000 give finite
    values and gradients. ``pos_weight`` (p, broadcast along the last, class dimension)
    weighs the positive term; like PyTorch, no gradient flows into ``pos_weight``.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> x = cr.tensor([1000.0, -1000.0], requires_grad=True)
    >>> loss = F.binary_cross_entropy_with_logits(x, cr.tensor([0.0, 1.0]))
    >>> loss.item()
    1000.0
    >>> loss.backward(); x.grad.tolist()
    [0.5, -0.5]
    """
    input = to_tensor(input)
    target = to_tensor(target, input.dtype)
    if tuple(target.shape) != tuple(input.shape):
        raise BadInputError(
            f"binary_cross_entropy_with_logits: target size "
            f"{tuple(target.shape)} must be the same as input size "
            f"{tuple(input.shape)}"
        )
    if pos_weight is None:
        positive = Tensor._wrap(np.ones((), input.dtype))
    else:
        positive = to_tensor(pos_weight, input.dtype).detach()
    loss = _losses.binary_cross_entropy_with_logits(input, target, positive)
    if weight is not None:
        loss = loss * to_tensor(weight, input.dtype)
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def _class_targets(
    input: Tensor, target: Any, ignore_index: int, op: str
) -> tuple[np.ndarray, np.ndarray, int]:
    """Checked class indices (ignored ones replaced by 0), the ignore mask, and C."""
    labels = to_tensor(target)._data
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{op}: class-index targets must be integers, got {labels.dtype}")
    if input.ndim < 1 or input.ndim == 1 and labels.ndim != 0:
        raise BadInputError(
            f"{op}: expected input (N, C), (N, C, d1, ...) or (C,), got "
            f"{tuple(input.shape)} with target {labels.shape}"
        )
    class_dim = 0 if input.ndim == 1 else 1
    expected = input.shape[:class_dim] + input.shape[class_dim + 1 :]
    if labels.shape != expected:
        raise BadInputError(
            f"{op}: input of shape {tuple(input.shape)} needs a target of shape "
            f"{expected}, got {labels.shape}"
        )
    C = input.shape[class_dim]
    ignored = labels == ignore_index
    bad = (~ignored) & ((labels < 0) | (labels >= C))
    if bad.any():
        raise IndexOutOfRangeError(
            f"{op}: target {labels[bad].flat[0]} is out of bounds for {C} classes "
            f"(ignore_index={ignore_index})"
        )
    return np.where(ignored, 0, labels), ignored, C


def _probabilities(x: np.ndarray) -> bool:
    """Whether every element is in [0, 1] (NaN is not)."""
    return bool(x.size == 0 or (np.all(x >= 0) and np.all(x <= 1)))


def _plain_labels(labels: np.ndarray, num_classes: int, ignore_index: int) -> bool:
    """No class index is negative or ``ignore_index`` (with the caller's upper-bound check,
    the fused cross-entropy's condition). An index >= C needs no check in a replayed step: the
    forward's indexing raises, and the step then runs eagerly, which reports it."""
    if labels.size == 0:
        return False  # an empty batch: the general path's mean (nan, as PyTorch)
    if np.minimum.reduce(labels, axis=None) < 0:
        return False
    ignorable = 0 <= ignore_index < num_classes
    return not (ignorable and (labels == ignore_index).any())


class _PlainLabels:
    """_plain_labels as a guard a replayed step repeats."""

    def __init__(self, num_classes: int, ignore_index: int) -> None:
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    def __call__(self, labels: np.ndarray) -> bool:
        return _plain_labels(labels, self.num_classes, self.ignore_index)


def _class_weights(
    weight: Tensor | None,
    labels: np.ndarray,
    ignored: np.ndarray,
    dtype: np.dtype,
    num_classes: int,
    op: str,
) -> np.ndarray:
    """Each target's class weight (0 where ignored): PyTorch's w[y_i]."""
    if weight is None:
        return (~ignored).astype(dtype)
    w = to_tensor(weight)._data.astype(dtype, copy=False)
    if w.shape != (num_classes,):
        raise BadInputError(
            f"{op}: weight must have shape ({num_classes},), one per class, got {w.shape}"
        )
    return np.where(ignored, 0, w[labels]).astype(dtype, copy=False)


def _pick(log_probs: Tensor, labels: np.ndarray) -> Tensor:
    """log_probs[i, y_i, ...] along the class dimension."""
    if log_probs.ndim == 1:
        reads_data("a single sample's class index")
        return log_probs[int(labels)]
    index = Tensor._wrap(labels[:, None].astype(np.int64))
    return squeeze(gather(log_probs, 1, index), 1)


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,  # noqa: A002
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of class-index targets given log-probabilities.

    loss_i = −w[y_i] · input[i, y_i]; targets equal to ``ignore_index`` contribute 0.
    ``'mean'`` is PyTorch's weighted mean Σ loss_i / Σ w[y_i] over the targets not ignored
    (nan when every target is ignored).
    """
    input = to_tensor(input)
    labels, ignored, C = _class_targets(input, target, ignore_index, "nll_loss")
    if weight is None and not ignored.any():  # the common case: a plain mean, no masks
        return _reduce(-_pick(input, labels), reduction, "nll_loss")
    weights = _class_weights(weight, labels, ignored, input.dtype, C, "nll_loss")
    loss = -_pick(input, labels) * Tensor._wrap(weights)
    if reduction == "mean":
        return _weighted_mean(loss, weights.sum())
    return _reduce(loss, reduction, "nll_loss")


def _weighted_mean(loss: Tensor, total_weight: float) -> Tensor:
    """Σ loss / Σ w; nan, quietly, when every target is ignored (as in PyTorch)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return sum(loss) / Tensor._wrap(np.asarray(total_weight, loss.dtype))


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,  # noqa: A002
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """log_softmax over the class dimension (1, or 0 for a single sample) followed by the
    negative log-likelihood, as ``torch.nn.functional.cross_entropy``.

    ``target`` holds class indices (integers, shape of input without the class dim) or class
    probabilities (floats, the input's shape). ``label_smoothing`` ε mixes the target with
    the uniform distribution: (1 − ε) nll + ε/C · Σ_c −w_c log p_c, with PyTorch's weighted
    mean for index targets and a plain mean over samples for probability targets.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> logits = cr.tensor([[1000.0, -1000.0], [0.0, 0.0]])
    >>> round(F.cross_entropy(logits, cr.tensor([1, 0])).item(), 4)
    1000.3466
    """
    input = to_tensor(input)
    if not 0.0 <= label_smoothing <= 1.0:
        raise BadInputError(
            f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}"
        )
    if (
        input.ndim == 2
        and weight is None
        and label_smoothing == 0.0
        and reduction in ("mean", "sum")
        and input.dtype.kind == "f"
    ):
        target_tensor = to_tensor(target)
        labels = target_tensor._data
        num_classes = input.shape[1]
        if (
            labels.dtype.kind in "iu"
            and labels.shape == input.shape[:1]
            and _plain_labels(labels, num_classes, ignore_index)
            and np.maximum.reduce(labels, axis=None) < num_classes
        ):
            # the common case, as one fused primitive (ops/losses.py): every target a class in
            # range, none ignored (anything else takes the checked general path below)
            if state.tracing is not None:  # a replayed step checks this again each time
                state.tracing.guard(_PlainLabels(num_classes, ignore_index), target_tensor)
            return _losses.fused_cross_entropy(input, target_tensor, mean=reduction == "mean")
        if labels.dtype.kind in "iu":
            _class_targets(input, target_tensor, ignore_index, "cross_entropy")  # errors by name
    class_dim = 0 if input.ndim == 1 else 1
    log_probs = _log_softmax(input, class_dim)
    target_tensor = to_tensor(target)
    if target_tensor.dtype.kind == "f":
        return _cross_entropy_probabilities(
            log_probs, target_tensor, weight, reduction, label_smoothing, class_dim
        )
    if label_smoothing == 0.0:
        return nll_loss(log_probs, target_tensor, weight, ignore_index, reduction)
    labels, ignored, C = _class_targets(input, target_tensor, ignore_index, "cross_entropy")
    nll = nll_loss(log_probs, target_tensor, weight, ignore_index, reduction)
    weighted = log_probs if weight is None else log_probs * _along(weight, input, class_dim)
    smooth = where(Tensor._wrap(ignored), 0.0, -sum(weighted, dim=class_dim))
    if reduction == "mean":
        total = _class_weights(weight, labels, ignored, input.dtype, C, "cross_entropy").sum()
        smooth = _weighted_mean(smooth, total)
    else:
        smooth = _reduce(smooth, reduction, "cross_entropy")
    return (1 - label_smoothing) * nll + smooth * (label_smoothing / C)


def _along(weight: Any, input: Tensor, class_dim: int) -> Tensor:
    """Per-class weights shaped to broadcast along the class dimension of ``input``."""
    w = to_tensor(weight, input.dtype).detach()
    C = input.shape[class_dim]
    if tuple(w.shape) != (C,):
        raise BadInputError(
            f"cross_entropy: weight must have shape ({C},), one per class, got {tuple(w.shape)}"
        )
    return reshape(w, (C,) + (1,) * (input.ndim - class_dim - 1))


def _cross_entropy_probabilities(
    log_probs: Tensor,
    target: Tensor,
    weight: Any,
    reduction: str,
    label_smoothing: float,
    class_dim: int,
) -> Tensor:
    if tuple(target.shape) != tuple(log_probs.shape):
        raise BadInputError(
            f"cross_entropy: probability targets must have the input's shape "
            f"{tuple(log_probs.shape)}, got {tuple(target.shape)}"
        )
    target = target.to(log_probs.dtype)
    C = log_probs.shape[class_dim]
    if label_smoothing > 0.0:
        target = target * (1 - label_smoothing) + label_smoothing / C
    terms = log_probs * target
    if weight is not None:
        terms = terms * _along(weight, log_probs, class_dim)
    if reduction == "mean":
        # a plain mean over samples (not PyTorch's weighted mean of index targets)
        return -sum(terms) / (log_probs.numel() // C if log_probs.numel() else float("nan"))
    if reduction == "sum":
        return -sum(terms)
    if reduction == "none":
        return -sum(terms, dim=class_dim)
    raise BadInputError(
        f"cross_entropy: reduction must be 'none', 'mean' or 'sum', got {reduction!r}"
    )
