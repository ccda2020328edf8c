"""Linear (fully connected) layer and Identity."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import _dtype
from chainrule._checks import integer
from chainrule.nn import init
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.ops import linear
from chainrule.tensor import Tensor


def _empty(shape: tuple[int, ...], dtype: Any) -> Parameter:
    """A parameter of ``shape`` to be filled by ``reset_parameters``."""
    array = np.empty(shape, _dtype.get_default_dtype() if dtype is None else _dtype.as_dtype(dtype))
    return Parameter(Tensor._wrap(array))


def _weight_and_bias(layer: Module, weight_shape: tuple[int, ...], bias: bool, dtype: Any) -> None:
    """Give ``layer`` a weight of ``weight_shape`` and, with ``bias``, a bias of one entry per
    output (its first dimension), and initialise them with ``reset_parameters``."""
    layer.weight = _empty(weight_shape, dtype)
    if bias:
        layer.bias = _empty(weight_shape[:1], dtype)
    else:
        layer.register_parameter("bias", None)
    layer.reset_parameters()


def _kaiming_default(layer: Module, bias_without_fan_in: bool) -> None:
    """PyTorch's default init of a linear or convolution layer: ``kaiming_uniform_(a=√5)`` for
    the weight, U(±1/√fan_in) for the bias. With no fan-in Linear's bias is U(0, 0) = 0 and a
    convolution leaves its bias as it is, as PyTorch's two layers do."""
    init.kaiming_uniform_(layer.weight, a=math.sqrt(5))
    if layer.bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(layer.weight)
        if fan_in > 0 or bias_without_fan_in:
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(layer.bias, -bound, bound)


class Identity(Module):
    """Returns its input; any constructor arguments are ignored (as ``torch.nn.Identity``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return input


class Linear(Module):
    """y = x Wᵀ + b, as ``torch.nn.Linear``.

    ``weight`` has shape (out_features, in_features) and starts as
    ``kaiming_uniform_(a=√5)``, i.e. U(−1/√in_features, 1/√in_features); ``bias`` as
    U(−1/√in_features, 1/√in_features). ``device`` is accepted and ignored.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> layer = nn.Linear(3, 2)
    >>> layer.weight.shape, layer.bias.shape, layer(cr.zeros(4, 3)).shape
    ((2, 3), (2,), (4, 2))
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.in_features = in_features = integer(in_features, "Linear: in_features", 0)
        self.out_features = out_features = integer(out_features, "Linear: out_features", 0)
        _weight_and_bias(self, (out_features, in_features), bias, dtype)

    def reset_parameters(self) -> None:
        _kaiming_default(self, bias_without_fan_in=True)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )
