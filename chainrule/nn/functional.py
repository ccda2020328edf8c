"""``chainrule.nn.functional``: the layer ops as functions (re-exported from ``chainrule.ops``)
and the loss functions, with PyTorch's names, arguments and reduction conventions.

Each loss is composed from differentiable ops (so second derivatives work), except binary
cross-entropy, whose two forms are primitives in ``chainrule.ops.losses`` for stability.

The binary and class-target losses live here; the activations come from ``_activations`` and
the elementwise losses (mse, l1, huber, ...) from ``_regression_losses``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd.grad_mode import reads_data, thread_state
from chainrule.errors import BadInputError, IndexOutOfRangeError
from chainrule.nn._activations import (
    dropout,
    elu,
    gelu,
    leaky_relu,
    log_softmax,
    normalize,
    relu,
    silu,
    softmax,
)
from chainrule.nn._reduction import _reduce
from chainrule.nn._regression_losses import (
    half_squared_error,
    huber_loss,
    l1_loss,
    mse_loss,
    smooth_l1_loss,
)
from chainrule.ops import (
    adaptive_avg_pool2d,
    avg_pool2d,
    batch_norm,
    conv1d,
    conv2d,
    embedding,
    gather,
    layer_norm,
    linear,
    max_pool2d,
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
from chainrule.ops import log_softmax as _log_softmax
from chainrule.ops import losses as _losses
from chainrule.ops._coerce import to_tensor
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


# ---- losses ------------------------------------------------------------------------------------
def _probabilities(x: np.ndarray) -> bool:
    """Whether every element is in [0, 1] (NaN is not)."""
    return bool(x.size == 0 or (np.all(x >= 0) and np.all(x <= 1)))


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
    if thread_state.tracing is not None:  # a replayed step checks the ranges again
        thread_state.tracing.guard(_probabilities, input)
        thread_state.tracing.guard(_probabilities, target)
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
        positive = Tensor._wrap(np.ones((), input.dtype), constant=True)
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
            if thread_state.tracing is not None:  # a replayed step checks this again each time
                thread_state.tracing.guard(_PlainLabels(num_classes, ignore_index), target_tensor)
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
