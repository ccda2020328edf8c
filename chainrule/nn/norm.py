"""Normalisation layers: BatchNorm1d, BatchNorm2d (running statistics) and LayerNorm."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import _dtype
from chainrule._checks import integer
from chainrule.autograd.buffer_updates import update_buffers
from chainrule.nn import init
from chainrule.nn.linear import _empty
from chainrule.nn.module import Module
from chainrule.ops import batch_norm, layer_norm
from chainrule.tensor import Tensor


def _count_batch(count: np.ndarray) -> None:
    count += 1


class _BatchNorm(Module):
    """What BatchNorm1d and BatchNorm2d share (PyTorch's ``_BatchNorm``)."""

    _input_dims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.num_features = num_features = integer(num_features, "num_features", 0)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        float_dtype = _dtype.get_default_dtype() if dtype is None else _dtype.as_dtype(dtype)
        if affine:
            self.weight = _empty((num_features,), float_dtype)
            if bias:
                self.bias = _empty((num_features,), float_dtype)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor._wrap(np.zeros(num_features, float_dtype)))
            self.register_buffer("running_var", Tensor._wrap(np.ones(num_features, float_dtype)))
            self.register_buffer("num_batches_tracked", Tensor._wrap(np.zeros((), _dtype.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def _check_input_dim(self, input: Tensor) -> None:  # noqa: A002
        if input.ndim not in self._input_dims:
            wanted = " or ".join(f"{d}D" for d in self._input_dims)
            raise ValueError(
                f"{type(self).__name__}: expected {wanted} input (got "
                f"{input.ndim}D input of shape {tuple(input.shape)})"
            )
        if input.shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}: expected {self.num_features} channels in "
                f"dim 1, got input of shape {tuple(input.shape)}"
            )

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        self._check_input_dim(input)
        # PyTorch's momentum convention: running = (1 − m) running + m batch; with
        # momentum=None, m = 1 / num_batches_tracked, a cumulative average
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            update_buffers(_count_batch, (self.num_batches_tracked,))
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.item())
        # in eval mode without running statistics, batch statistics are used, as in PyTorch
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats
        return batch_norm(
            input,
            self.running_mean if keep else None,
            self.running_var if keep else None,
            self.weight,
            self.bias,
            use_batch_stats,
            factor,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over (N, C) or (N, C, L) inputs, as ``torch.nn.BatchNorm1d``.

    In training, each channel is normalised with the batch mean and biased variance, and the
    running statistics are updated with the unbiased variance; in eval mode the running
    statistics are used.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> bn = nn.BatchNorm1d(3)
    >>> _ = bn(cr.randn(8, 3))
    >>> int(bn.num_batches_tracked), list(bn.state_dict())
    (1, ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'])
    """

    _input_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over (N, C, H, W) inputs, per channel, as ``torch.nn.BatchNorm2d``.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.BatchNorm2d(16)
    BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    """

    _input_dims = (4,)


class LayerNorm(Module):
    """Normalise over the last dims given by ``normalized_shape`` (biased variance), then
    scale and shift elementwise, as ``torch.nn.LayerNorm``.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> ln = nn.LayerNorm(4)
    >>> out = ln(cr.tensor([[1.0, 2.0, 3.0, 4.0]]))
    >>> round(out.mean().item(), 6), ln.weight.shape
    (0.0, (4,))
    """

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        shape = tuple(
            integer(n, "LayerNorm: normalized_shape", 0)
            for n in (
                normalized_shape
                if isinstance(normalized_shape, (tuple, list))
                else (normalized_shape,)
            )
        )
        self.normalized_shape = shape
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = _empty(shape, dtype)
            if bias:
                self.bias = _empty(shape, dtype)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )
