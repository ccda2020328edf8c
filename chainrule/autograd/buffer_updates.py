"""Writes into tensors that carry no gradient, outside the graph (BatchNorm's running
statistics and batch count), made so that a step traced for replay can repeat them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule.autograd.grad_mode import state, thread_state

if TYPE_CHECKING:
    from chainrule.tensor import Tensor


def update_buffers(
    write: Callable[..., None], buffers: tuple[Tensor, ...], *arrays: np.ndarray, **params: Any
) -> None:
    """``write(*the buffers' arrays, *arrays, **params)`` changes the buffers' arrays in place.

    Each buffer's version is bumped, as by any in-place write. A step traced for replay records
    the update instead of refusing the write; replay makes it after the step's last
    data-dependent check (so a call that falls back to eager doesn't update twice), which is
    why the step must not read a buffer after updating it.
    """
    for buffer in buffers:
        if buffer.requires_grad:
            raise RuntimeError(
                f"update_buffers: a tensor of shape {tuple(buffer.shape)} that requires grad "
                "can't be updated outside the graph"
            )
        buffer._check_writable(write.__name__)
    write(*(buffer._data for buffer in buffers), *arrays, **params)
    for buffer in buffers:
        buffer._bump_version()
    tracer = thread_state.tracing if state.tracers else None
    if tracer is not None:
        tracer.on_update(_Update(write, buffers), buffers, arrays, params)


class _Update:
    """A recorded update, as a replay makes it: the write, then the buffers' version bumps."""

    __slots__ = ("write", "buffers")

    def __init__(self, write: Callable[..., None], buffers: tuple[Tensor, ...]) -> None:
        self.write = write
        self.buffers = buffers

    def __call__(self, *arrays: np.ndarray, **params: Any) -> None:
        self.write(*arrays, **params)
        for buffer in self.buffers:
            buffer._bump_version()
