"""Loss modules: each holds its options and calls the function of the same name in
``chainrule.nn.functional``. Class weights are buffers, as in PyTorch."""

from __future__ import annotations

from typing import Any

from chainrule.nn import functional as F
from chainrule.nn.module import Module
from chainrule.ops._coerce import to_tensor
from chainrule.tensor import Tensor

_REDUCTIONS = ("none", "mean", "sum")


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(
                f"{type(self).__name__}: reduction must be 'none', 'mean' or "
                f"'sum', got {reduction!r}"
            )
        self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.register_buffer("weight", None if weight is None else to_tensor(weight))


class MSELoss(_Loss):
    """Mean squared error (x − y)², reduced (default: mean).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.MSELoss(reduction="sum")(cr.tensor([1.0, 2.0]), cr.tensor([0.0, 0.0])).item()
    5.0
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.mse_loss(input, target, reduction=self.reduction)


class HalfSquaredError(_Loss):
    """The seeds' error E = ½ Σ (t − a)²; with the default ``reduction='sum'`` this is
    E_total = E1 + E2 + …, so that ∂E/∂a = a − t.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.HalfSquaredError()(cr.tensor([0.5, 1.0]), cr.tensor([0.0, 0.0])).item()
    0.625
    """

    def __init__(self, reduction: str = "sum") -> None:
        super().__init__(reduction)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.half_squared_error(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error |x − y|, reduced."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.l1_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    """½(x − y)² inside |x − y| < delta, linear with slope delta outside."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class SmoothL1Loss(_Loss):
    """Huber loss divided by ``beta``."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy on probabilities, logs clamped at −100 as in PyTorch."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy in one stable step; ``pos_weight`` weighs positives.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> loss = nn.BCEWithLogitsLoss()(cr.tensor([1000.0, -1000.0]), cr.tensor([1.0, 0.0]))
    >>> loss.item()
    0.0
    """

    def __init__(self, weight: Any = None, reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__(reduction)
        self.register_buffer("weight", None if weight is None else to_tensor(weight))
        self.register_buffer("pos_weight", None if pos_weight is None else to_tensor(pos_weight))

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class indices given log-probabilities (PyTorch's weighted
    mean, ``ignore_index`` skipped)."""

    def __init__(
        self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean"
    ) -> None:
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.nll_loss(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
        )


class CrossEntropyLoss(_WeightedLoss):
    """log_softmax + NLL over logits; class-index or probability targets, optional class
    ``weight``, ``ignore_index`` and ``label_smoothing``, as ``torch.nn.CrossEntropyLoss``.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> loss = nn.CrossEntropyLoss()(cr.tensor([[2.0, 0.0, 0.0]]), cr.tensor([0]))
    >>> round(loss.item(), 4)
    0.2395
    """

    def __init__(
        self,
        weight: Any = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.cross_entropy(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )
