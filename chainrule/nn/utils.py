"""Gradient clipping and flattening parameters into one vector (``torch.nn.utils``)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from chainrule.autograd.grad_mode import no_grad
from chainrule.tensor import Tensor


def _as_list(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    As ``torch.nn.utils.clip_grad_norm_``: the total norm is the ``norm_type``-norm of the
    per-parameter norms; every gradient is multiplied in place by
    min(1, max_norm / (total + 1e-6)). Returns the total norm (before clipping).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> w = cr.tensor([3.0, 4.0], requires_grad=True)
    >>> (w * w / 2).sum().backward()
    >>> nn.utils.clip_grad_norm_([w], max_norm=1.0).item()
    5.0
    >>> [round(g, 4) for g in w.grad.tolist()]
    [0.6, 0.8]
    """
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not grads:
        return Tensor._wrap(np.zeros((), np.float32))
    if math.isinf(norm_type):
        norms = [np.abs(g._data).max(initial=0.0) for g in grads]
        total = np.max(norms)
    else:
        norms = [np.sum(np.abs(g._data) ** norm_type) ** (1.0 / norm_type) for g in grads]
        total = np.sum(np.asarray(norms) ** norm_type) ** (1.0 / norm_type)
    total = np.asarray(total, dtype=grads[0].dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from "
            "`parameters` is non-finite, so it cannot be clipped. To disable this "
            "error and scale the gradients by the non-finite norm anyway, set "
            "`error_if_nonfinite=False`"
        )
    coefficient = min(max_norm / (float(total) + 1e-6), 1.0)
    with no_grad():
        for g in grads:
            g.mul_(np.asarray(coefficient, g.dtype))
    return Tensor._wrap(total)


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient element to [−clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    with no_grad():
        for p in _as_list(parameters):
            if p.grad is not None:
                p.grad.clamp_(-clip_value, clip_value)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor (differentiable)."""
    from chainrule.ops import cat, reshape

    return cat([reshape(p, (-1,)) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vec`` into the parameters, in place."""
    if vec.ndim != 1:
        raise ValueError(f"expected a 1-D vector, got shape {tuple(vec.shape)}")
    params = list(parameters)
    total = sum(p.numel() for p in params)
    if total != vec.numel():
        raise ValueError(f"the vector has {vec.numel()} elements but the parameters have {total}")
    offset = 0
    with no_grad():
        for p in params:
            n = p.numel()
            p.copy_(vec._data[offset : offset + n].reshape(p.shape))
            offset += n
