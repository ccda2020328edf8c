"""The global random number generator behind randn, rand, dropout and init, seeded by
manual_seed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule.autograd.grad_mode import state, thread_state

_state = {"generator": np.random.default_rng(0)}


def manual_seed(seed: int) -> np.random.Generator:
    """Seed chainrule's generator (a NumPy PCG64), so runs repeat exactly."""
    _refuse_in_trace()
    _state["generator"] = np.random.default_rng(int(seed))
    return _state["generator"]


seed = manual_seed


def _refuse_in_trace() -> None:
    # a replayed step would not seed again: its draws would go on from wherever the stream is
    if thread_state.tracing is not None:
        thread_state.tracing.refuse("it seeds the random generator")


def generator() -> np.random.Generator:
    """The generator itself, for draws a replayed step can't repeat (a trace is refused)."""
    if thread_state.tracing is not None:
        thread_state.tracing.refuse("it draws random numbers")
    return _state["generator"]


def draw(make: Callable[..., np.ndarray], **params: Any) -> np.ndarray:
    """``make(generator, **params)``: random numbers that a step traced for replay repeats. The
    trace records the call, and each replay calls ``make`` again with the generator of that
    moment, so a replayed step takes fresh numbers from the same stream as eager would (under a
    seed, the very same ones)."""
    array = make(_state["generator"], **params)
    tracer = thread_state.tracing if state.tracers else None
    if tracer is not None:
        tracer.on_draw(_Redraw(make), params, array)
    return array


class _Redraw:
    """A recorded draw, as a replay makes it: from whatever generator is current then."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[..., np.ndarray]) -> None:
        self.make = make

    def __call__(self, **params: Any) -> np.ndarray:
        return self.make(_state["generator"], **params)


def get_rng_state() -> dict[str, Any]:
    return dict(_state["generator"].bit_generator.state)


def set_rng_state(state: dict) -> None:
    _refuse_in_trace()
    _state["generator"].bit_generator.state = state
