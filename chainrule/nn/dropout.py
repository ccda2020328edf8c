"""Dropout: zero activations at random in training, the identity in eval mode."""

from __future__ import annotations

from chainrule.nn.module import Module
from chainrule.ops import dropout
from chainrule.tensor import Tensor


class Dropout(Module):
    """Inverted dropout, as ``torch.nn.Dropout``: in training each element is zeroed with
    probability ``p`` and the rest are scaled by 1/(1 − p); in eval mode the input is
    returned unchanged. The mask comes from chainrule's generator (``manual_seed``).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> drop = nn.Dropout(0.5).eval()
    >>> drop(cr.ones(3)).tolist()
    [1.0, 1.0, 1.0]
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
