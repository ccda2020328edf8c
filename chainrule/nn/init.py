"""Weight initialisation in place, with PyTorch's formulas (``torch.nn.init``), drawing from
chainrule's generator (``chainrule.manual_seed``); plus ``assign_`` to set weights by hand."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.autograd.grad_mode import no_grad
from chainrule.tensor import Tensor

_LINEAR = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``.

    linear, conv and sigmoid 1; tanh 5/3; relu √2; leaky_relu √(2 / (1 + slope²)) with slope
    ``param`` (default 0.01); selu 3/4.

    Examples
    --------
    >>> from chainrule.nn import init
    >>> round(init.calculate_gain("relu"), 6), round(init.calculate_gain("leaky_relu", 5 ** 0.5), 6)
    (1.414214, 0.57735)
    """
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"Unsupported nonlinearity {nonlinearity!r}; use one of linear, conv1d, "
        "conv2d, sigmoid, tanh, relu, leaky_relu, selu"
    )


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """fan_in = size(1) · receptive field, fan_out = size(0) · receptive field, where the
    receptive field is the product of the dims after the second (kernel height × width)."""
    if tensor.ndim < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 "
            f"dimensions (got shape {tuple(tensor.shape)})"
        )
    receptive_field = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with U(a, b)."""
    with no_grad():
        return tensor.uniform_(a, b)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with N(mean, std²)."""
    with no_grad():
        return tensor.normal_(mean, std)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    with no_grad():
        return tensor.fill_(val)


def zeros_(tensor: Tensor) -> Tensor:
    with no_grad():
        return tensor.zero_()


def ones_(tensor: Tensor) -> Tensor:
    with no_grad():
        return tensor.fill_(1.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot uniform: U(−a, a) with a = gain · √(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return uniform_(tensor, -math.sqrt(3.0) * std, math.sqrt(3.0) * std)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot normal: N(0, std²) with std = gain · √(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)))


def kaiming_uniform_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """He uniform: U(−bound, bound) with bound = gain · √(3 / fan), gain from
    ``calculate_gain(nonlinearity, a)`` and fan from ``mode``.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn import init
    >>> _ = cr.manual_seed(0)
    >>> w = cr.empty(256, 64, dtype=cr.float64)
    >>> _ = init.kaiming_uniform_(w, nonlinearity="relu")
    >>> bool(w.abs().max() <= (2 ** 0.5) * (3 / 64) ** 0.5)
    True
    """
    if 0 in tensor.shape:
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """He normal: N(0, std²) with std = gain / √fan."""
    if 0 in tensor.shape:
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan))


def assign_(tensor: Tensor, values: Any, names: Any = None, name: str | None = None) -> Tensor:
    """Set a tensor's values by hand, and optionally name it and each of its elements.

    This is how the seeds' worked examples fix their weights w1..w8: the explainer then
    writes ``w5`` where it would otherwise write ``out.weight[0, 0]``.

    Parameters
    ----------
    tensor : Tensor
        The parameter to fill (its shape and dtype are kept).
    values : array_like
        New values, of the tensor's shape.
    names : array_like of str, optional
        One name per element, of the tensor's shape (stored as ``tensor.element_names``).
    name : str, optional
        A name for the whole tensor (``tensor.name``).

    Examples
    --------
    >>> from chainrule import nn
    >>> hidden = nn.Linear(2, 2, bias=False)
    >>> _ = nn.init.assign_(hidden.weight, [[0.15, 0.20], [0.25, 0.30]],
    ...                     names=[["w1", "w2"], ["w3", "w4"]])
    >>> hidden.weight.tolist(), str(hidden.weight.element_names[1, 0])
    ([[0.15000000596046448, 0.20000000298023224], [0.25, 0.30000001192092896]], 'w3')
    """
    array = np.asarray(values._data if isinstance(values, Tensor) else values)
    if array.shape != tuple(tensor.shape):
        raise ValueError(
            f"assign_: values of shape {array.shape} don't fit the tensor of shape "
            f"{tuple(tensor.shape)}"
        )
    if names is not None:
        labels = np.asarray(names, dtype=str)
        if labels.shape != tuple(tensor.shape):
            raise ValueError(
                f"assign_: names of shape {labels.shape} don't fit the tensor of "
                f"shape {tuple(tensor.shape)}"
            )
    with no_grad():
        tensor.copy_(array)
    if names is not None:
        tensor.element_names = labels
    if name is not None:
        tensor.name = name
    return tensor
