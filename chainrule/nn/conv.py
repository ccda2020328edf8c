"""Convolution layers: Conv1d and Conv2d (cross-correlation, as PyTorch computes it)."""

from __future__ import annotations

from typing import Any

from chainrule._checks import integer
from chainrule.nn.linear import _kaiming_default, _weight_and_bias
from chainrule.nn.module import Module
from chainrule.ops import conv1d, conv2d
from chainrule.tensor import Tensor


def _tuple(value: int | tuple[int, ...], n: int, name: str) -> tuple[int, ...]:
    # sizes are checked here (a kernel of -1 can't be made); zero strides and kernels at the
    # forward, where PyTorch checks them too
    if not isinstance(value, (tuple, list)):
        return (integer(value, name, 0),) * n
    if len(value) != n:
        raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {value!r}")
    return tuple(integer(v, name, 0) for v in value)


class _ConvNd(Module):
    """What Conv1d and Conv2d share: arguments, parameters, PyTorch's default init, repr."""

    _dims = 0

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        n = self._dims
        name = type(self).__name__
        in_channels = integer(in_channels, f"{name}: in_channels", 0)
        out_channels = integer(out_channels, f"{name}: out_channels", 0)
        groups = integer(groups, f"{name}: groups", 1)
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"in_channels ({in_channels}) and out_channels ({out_channels}) "
                f"must both be divisible by groups ({groups})"
            )
        if padding_mode != "zeros":
            raise NotImplementedError(
                f"padding_mode={padding_mode!r} is not supported; only 'zeros'"
            )
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"padding must be 'same', 'valid' or ints, got {padding!r}")
            if padding == "same" and any(s != 1 for s in _tuple(stride, n, "stride")):
                raise ValueError("padding='same' is not supported for strided convolutions")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _tuple(kernel_size, n, "kernel_size")
        self.stride = _tuple(stride, n, "stride")
        self.padding = padding if isinstance(padding, str) else _tuple(padding, n, "padding")
        self.dilation = _tuple(dilation, n, "dilation")
        self.groups = groups
        self.padding_mode = padding_mode
        weight_shape = (out_channels, in_channels // groups) + self.kernel_size
        _weight_and_bias(self, weight_shape, bias, dtype)

    def reset_parameters(self) -> None:
        _kaiming_default(self, bias_without_fan_in=False)

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,) * self._dims:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self._dims:
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L) inputs, as ``torch.nn.Conv1d``; weight
    (C_out, C_in/groups, k).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Conv1d(2, 4, 3, padding=1)(cr.zeros(1, 2, 10)).shape
    (1, 4, 10)
    """

    _dims = 1

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        padding = self.padding if isinstance(self.padding, str) else self.padding[0]
        return conv1d(
            input, self.weight, self.bias, self.stride[0], padding, self.dilation[0], self.groups
        )


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W) inputs, as ``torch.nn.Conv2d``; weight
    (C_out, C_in/groups, kh, kw), default init as PyTorch's.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> conv = nn.Conv2d(1, 8, kernel_size=3)
    >>> conv
    Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1))
    >>> conv(cr.zeros(2, 1, 28, 28)).shape
    (2, 8, 26, 26)
    """

    _dims = 2

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return conv2d(
            input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )
