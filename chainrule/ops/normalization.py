"""Normalisation: layer_norm composed, batch_norm with its affine training case fused."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule._checks import number
from chainrule.autograd.buffer_updates import update_buffers
from chainrule.autograd.grad_mode import thread_state
from chainrule.autograd.node import Primitive, saved_of
from chainrule.errors import BadInputError
from chainrule.ops._coerce import promote
from chainrule.ops.reduce import _centre, mean, sum
from chainrule.ops.shape import _reshape, reshape
from chainrule.tensor import Tensor


# ---- normalisation ---------------------------------------------------------------------------
def layer_norm(
    input: Tensor,
    normalized_shape: Any,
    weight: Tensor | None = None,  # noqa: A002
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over the last ``len(normalized_shape)`` dims with the biased variance."""
    eps = number(eps, "layer_norm: eps")
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[-len(shape) :]) != shape:
        raise BadInputError(
            f"layer_norm: input shape {tuple(input.shape)} doesn't end with "
            f"normalized_shape {shape}"
        )
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    centred = _centre(input, dims)
    variance = mean(centred * centred, dim=dims, keepdim=True)
    out = centred * (variance + eps) ** -0.5
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


# ---- batch normalisation in training mode, fused ---------------------------------------------
def _channel(t: Tensor, ndim: int) -> Tensor:
    """A (C,) parameter shaped (1, C, 1, ...) to broadcast against (B, C, ...)."""
    return _reshape(t, shape=(1, t._data.shape[0]) + (1,) * (ndim - 2))


def _batch_statistics(x: np.ndarray, dims: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """The batch's mean and biased variance, and x centred, each channel over ``dims``."""
    # centred from x − x₀ (one element per channel): a constant channel gives exact zeros, as
    # reduce._centre explains
    origin = x[tuple(slice(0, 1) if i in dims else slice(None) for i in range(x.ndim))]
    centred = x - origin
    shifted_mean = centred.mean(axis=dims, keepdims=True)
    centred -= shifted_mean  # in place: one temporary the size of x, not two
    batch_mean = shifted_mean + origin
    batch_var = _mean_square(centred, dims)
    return batch_mean, batch_var, centred


def _sum_product(a: np.ndarray, b: np.ndarray, dims: tuple[int, ...]) -> np.ndarray:
    """sum(a b) over ``dims``, keepdims (for images one einsum, without a temporary)."""
    result: np.ndarray
    if a.ndim == 4 and dims == (0, 2, 3):
        result = np.einsum("bchw,bchw->c", a, b).reshape(1, -1, 1, 1)
    else:
        result = np.sum(a * b, axis=dims, keepdims=True)
    return result


def _mean_square(centred: np.ndarray, dims: tuple[int, ...]) -> np.ndarray:
    """mean(c²) over ``dims``, keepdims; for images one einsum, with no temporary the size of c
    (a sum of squares cancels nothing: relative error ~1e-6 in float32, measured)."""
    result: np.ndarray = _sum_product(centred, centred, dims) / (centred.size // centred.shape[1])
    return result


def _batch_norm_train_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, *, dims: tuple[int, ...], eps: float
) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    batch_mean, batch_var, x_hat = _batch_statistics(x, dims)
    inv_std = 1.0 / np.sqrt(batch_var + eps)
    x_hat *= inv_std  # the centred temporary becomes x̂ in place
    out: np.ndarray = x_hat * w.reshape(shape)
    out += b.reshape(shape)
    # saved for the rules and the running statistics (x is version-checked)
    return out, (batch_mean, batch_var, inv_std, x_hat)


def _normalised(x: Tensor, out: Tensor, dims: tuple[int, ...], eps: float) -> tuple[Tensor, Tensor]:
    """x̂ and 1/σ: the arrays the forward saved, as constants for a first derivative; computed
    again from x as Tensors when a graph of the derivative is being built (create_graph)."""
    saved = saved_of(out, _batch_norm_train)
    if saved is not None and not thread_state.grad_enabled:
        return Tensor._wrap(saved[3]), Tensor._wrap(saved[2])
    centred = _centre(x, dims)
    inv_std = (mean(centred * centred, dim=dims, keepdim=True) + eps) ** -0.5
    return centred * inv_std, inv_std


def _batch_norm_rule_x(
    grad: Tensor, out: Tensor, x: Tensor, w: Tensor, b: Tensor, **p: Any
) -> Tensor:
    x_hat, inv_std = _normalised(x, out, p["dims"], p["eps"])
    return _batch_norm_input_grad(grad, x_hat, inv_std, w, dims=p["dims"])


# ---- the input gradient as a primitive of its own ------------------------------------------------
# dL/dx = s (g − mean(g) − x̂ mean(g x̂)), s = w/σ per channel, means over the batch dims: one
# node in backward instead of ten, four passes over the batch instead of seven (benchmark-driven:
# the course CNN's BatchNorm backward), and its own rules keep second derivatives right (x̂ and
# 1/σ are constants for a first derivative, Tensors of x when a graph of it is built).
def _batch_norm_input_grad_forward(
    g: np.ndarray, x_hat: np.ndarray, inv_std: np.ndarray, w: np.ndarray, *, dims: tuple[int, ...]
) -> np.ndarray:
    scale = inv_std * w.reshape(inv_std.shape)  # (1, C, 1, …)
    count = g.size // g.shape[1]
    out: np.ndarray = x_hat * (scale * (_sum_product(g, x_hat, dims) / count))
    out += scale * np.mean(g, axis=dims, keepdims=True)
    result: np.ndarray = g * scale
    result -= out
    return result


def _centred_grad(g: Tensor, x_hat: Tensor, dims: tuple[int, ...]) -> Tensor:
    """g − mean(g) − x̂ mean(g x̂): the input gradient before its per-channel scale."""
    return g - mean(g, dim=dims, keepdim=True) - x_hat * mean(g * x_hat, dim=dims, keepdim=True)


def _input_grad_rule_x_hat(
    grad: Tensor, out: Tensor, g: Tensor, x_hat: Tensor, inv_std: Tensor, w: Tensor, **p: Any
) -> Tensor:
    # out = −s x̂ mean(g x̂) + …: the product rule, through x̂ and through the mean
    dims = p["dims"]
    scale = inv_std * _channel(w, g._data.ndim)
    return -(
        grad * (scale * mean(g * x_hat, dim=dims, keepdim=True))
        + g * mean(grad * scale * x_hat, dim=dims, keepdim=True)
    )


def _input_grad_rule_inv_std(
    grad: Tensor, out: Tensor, g: Tensor, x_hat: Tensor, inv_std: Tensor, w: Tensor, **p: Any
) -> Tensor:
    centred = _centred_grad(g, x_hat, p["dims"])
    return sum(grad * centred, dim=p["dims"], keepdim=True) * _channel(w, g._data.ndim)


def _input_grad_rule_w(
    grad: Tensor, out: Tensor, g: Tensor, x_hat: Tensor, inv_std: Tensor, w: Tensor, **p: Any
) -> Tensor:
    centred = _centred_grad(g, x_hat, p["dims"])
    return reshape(sum(grad * centred * inv_std, dim=p["dims"]), tuple(w.shape))


def _batch_norm_weight_grad_forward(
    g: np.ndarray, x_hat: np.ndarray, *, dims: tuple[int, ...]
) -> np.ndarray:
    per_channel: np.ndarray = _sum_product(g, x_hat, dims).reshape(g.shape[1])
    return per_channel


# dL/dw = Σ g x̂ over the batch dims: bilinear, so each input's rule is the other input times the
# incoming gradient spread over the batch (benchmark-driven: one einsum, no temporary)
_batch_norm_weight_grad: Primitive = Primitive(
    "batch_norm_weight_grad",
    _batch_norm_weight_grad_forward,
    grads=[
        lambda grad, out, g, x_hat, **p: _channel(grad, g._data.ndim) * x_hat,
        lambda grad, out, g, x_hat, **p: _channel(grad, g._data.ndim) * g,
    ],
    tex=(r"\sum g\,\hat x", [r"\hat x", "g"]),
    params=("dims",),
    why="faster: one einsum instead of a product and a sum",
    inputs=("g", "x"),
)


_batch_norm_input_grad: Primitive = Primitive(
    "batch_norm_input_grad",
    _batch_norm_input_grad_forward,
    grads=[
        # the map g ↦ out is symmetric (per channel s(I − 11ᵀ/N − x̂x̂ᵀ/N)): its own adjoint
        lambda grad, out, g, x_hat, inv_std, w, **p: _batch_norm_input_grad(
            grad, x_hat, inv_std, w, **p
        ),
        _input_grad_rule_x_hat,
        _input_grad_rule_inv_std,
        _input_grad_rule_w,
    ],
    tex=(
        r"\tfrac{w}{\sigma}(g - \overline{g} - \hat x\,\overline{g \hat x})",
        [
            r"\tfrac{w}{\sigma}(1 - \tfrac{1}{N} - \tfrac{\hat x^{2}}{N})",
            r"-\tfrac{w}{\sigma}(\overline{g \hat x} + \tfrac{g\,\hat x}{N})",
            r"w(g - \overline{g} - \hat x\,\overline{g \hat x})",
            r"\tfrac{1}{\sigma}(g - \overline{g} - \hat x\,\overline{g \hat x})",
        ],
    ),
    params=("dims",),
    why="faster: one node in backward instead of ten, four passes over the batch",
    inputs=("g", "x", "r", "w"),
)


def _batch_norm_rule_w(
    grad: Tensor, out: Tensor, x: Tensor, w: Tensor, b: Tensor, **p: Any
) -> Tensor:
    x_hat, _ = _normalised(x, out, p["dims"], p["eps"])
    return _batch_norm_weight_grad(grad, x_hat, dims=p["dims"])


_batch_norm_train: Primitive = Primitive(
    "batch_norm",
    _batch_norm_train_forward,
    saves=(0, 1),
    grads=[
        _batch_norm_rule_x,
        _batch_norm_rule_w,
        lambda grad, out, x, w, b, **p: sum(grad, dim=p["dims"]),
    ],
    tex=(
        r"\hat{x}\,w + b",
        [
            r"\tfrac{1}{\sigma}(\hat g - \overline{\hat g} - \hat x\,\overline{\hat g \hat x})",
            r"\sum \hat x\,g",
            r"\sum g",
        ],
    ),
    returns_saved=True,
    params=("dims", "eps"),
    why="faster: one node with the batch statistics computed once",
    inputs=("x", "w", "b"),
)


def _update_running_stats(
    running_mean: np.ndarray,
    running_var: np.ndarray,
    batch_mean: np.ndarray,
    batch_var: np.ndarray,
    *,
    momentum: float,
    count: int,
) -> None:
    """running = (1 − m) running + m batch, in place, with the batch's unbiased variance."""
    channels = running_mean.shape[0]
    np.multiply(running_mean, 1 - momentum, out=running_mean)
    running_mean += momentum * batch_mean.reshape(channels)
    unbiased = batch_var.reshape(channels) * (count / (count - 1))
    np.multiply(running_var, 1 - momentum, out=running_var)
    running_var += momentum * unbiased


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,  # noqa: A002
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over every dim but the channel dim (1); in training, batch statistics are used
    and the running ones updated with the unbiased variance, as in PyTorch."""
    if input.ndim < 2:
        raise BadInputError(
            f"batch_norm: expects (B, C, ...) input, got shape {tuple(input.shape)}"
        )
    C = input.shape[1]
    dims = (0,) + tuple(range(2, input.ndim))
    stat_shape = (1, C) + (1,) * (input.ndim - 2)
    if C == 0:
        raise BadInputError(f"batch_norm: input of shape {tuple(input.shape)} has no channels")
    eps = number(eps, "batch_norm: eps")
    if eps < 0 or (training and eps == 0):  # PyTorch's rule: positive to train, never negative
        need = "positive during training" if training else "non-negative"
        raise BadInputError(f"batch_norm: eps must be {need}, got {eps}")
    momentum = number(momentum, "batch_norm: momentum")
    if training:
        count = input.numel() // C
        if count <= 1:
            raise BadInputError(
                f"batch_norm: expected more than 1 value per channel when training, "
                f"got input shape {tuple(input.shape)}"
            )
        if weight is not None and bias is not None and input.dtype.kind == "f":
            # the affine training case as one node (benchmark-driven: ~12 composite ops)
            x, w, b = promote(input, weight, bias)
            out = _batch_norm_train(x, w, b, dims=dims, eps=eps)
            stats = saved_of(out, _batch_norm_train)  # what its forward saved, if it has a node
        else:
            batch_mean = mean(input, dim=dims, keepdim=True)
            centred = input - batch_mean
            batch_var = mean(centred * centred, dim=dims, keepdim=True)
            out = centred * (batch_var + eps) ** -0.5
            stats = (batch_mean._data, batch_var._data)
        if running_mean is not None and running_var is not None:
            if stats is None:  # no graph was recorded: the fused forward's statistics, again
                stats = _batch_statistics(x._data, dims)
            # (through update_buffers: a replayed step updates them too)
            update_buffers(
                _update_running_stats,
                (running_mean, running_var),
                stats[0],
                stats[1],
                momentum=momentum,
                count=count,
            )
        if weight is not None and bias is not None and input.dtype.kind == "f":
            return out
    else:
        if running_mean is None or running_var is None:
            raise BadInputError("batch_norm: running_mean and running_var are needed in eval mode")
        scale = (reshape(running_var, stat_shape) + eps) ** -0.5
        out = (input - reshape(running_mean, stat_shape)) * scale
    if weight is not None:
        out = out * reshape(weight, stat_shape)
    if bias is not None:
        out = out + reshape(bias, stat_shape)
    return out
