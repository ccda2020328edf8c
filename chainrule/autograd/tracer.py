"""The one hook a step traced for chainrule.autograd.replay is recorded through: what the engine's
entry points report to this thread's tracer (``thread_state.tracing``) while it is set.

``Primitive.__call__`` (after each forward), ``Tensor._wrap``, the engine's leaf accumulation,
``chainrule.random.draw`` (dropout's mask), ``update_buffers`` (BatchNorm's running statistics)
and the few library places that make a decision from the data call it directly, after one check of
``thread_state.tracing``; when no step is being traced in this thread, that check is all they do.
Each thread has its own tracer, so a trace in one thread never sees another thread's ops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

    from chainrule.autograd.node import Primitive
    from chainrule.tensor import Tensor


Params = dict[str, Any]  # a primitive's static parameters
Saved = tuple["np.ndarray", ...] | None  # what a forward saved for its rules (returns_saved)


class Tracer(Protocol):
    """What a recorder of a step (replay_trace._Recorder) answers to."""

    first_seq: int  # the creation number of the step's first node (older ones are outside it)

    def refuse(self, reason: str) -> None:
        """The step can't be replayed (the first reason given is the one reported)."""

    def on_call(
        self, op: Primitive, inputs: tuple[Tensor, ...], params: Params, out: Tensor, saved: Saved
    ) -> None:
        """A primitive ran its forward on ``inputs`` and made ``out`` (and ``saved``, for an op
        whose forward returns what its rules reuse)."""

    def on_wrap(self, array: np.ndarray) -> None:
        """``Tensor._wrap`` made a tensor of ``array`` outside a primitive."""

    def on_draw(self, redraw: Callable[..., np.ndarray], params: Params, array: np.ndarray) -> None:
        """chainrule.random.draw made ``array``; ``redraw(**params)`` makes the next one."""

    def on_update(
        self,
        update: Callable[..., None],
        buffers: tuple[Tensor, ...],
        arrays: tuple[np.ndarray, ...],
        params: Params,
    ) -> None:
        """update_buffers wrote into ``buffers`` (from ``arrays``); ``update(*the buffers'
        arrays, *arrays, **params)`` writes again."""

    def on_accumulate(self, tensor: Tensor, grad: Tensor, fresh: bool) -> None:
        """backward is about to add ``grad`` into ``tensor.grad``."""

    def on_grad_stored(self, tensor: Tensor) -> None:
        """backward has just stored ``tensor.grad``."""

    def on_clear(self, tensor: Tensor) -> None:
        """``zero_grad()`` sets ``tensor.grad`` to None."""

    def guard(self, check: Callable[..., Any], *tensors: Tensor) -> None:
        """A decision taken from the tensors' values: ``check(*arrays)`` must give the same
        answer on a later call for the recording to stand."""
