"""The activations of ``chainrule.nn.functional`` (and softmax, dropout, normalize) with
PyTorch's signatures, over the primitives in ``chainrule.ops``."""

from __future__ import annotations

import warnings
from typing import Any

from chainrule.ops import clamp, norm
from chainrule.ops import dropout as _dropout
from chainrule.ops import elu as _elu
from chainrule.ops import gelu as _gelu
from chainrule.ops import leaky_relu as _leaky_relu
from chainrule.ops import log_softmax as _log_softmax
from chainrule.ops import relu as _relu
from chainrule.ops import silu as _silu
from chainrule.ops import softmax as _softmax
from chainrule.tensor import Tensor


# ``inplace`` is accepted, as in PyTorch; the result is a new tensor
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
