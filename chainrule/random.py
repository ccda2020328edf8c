"""The global random number generator behind randn, rand, dropout and init, seeded by
manual_seed."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd.grad_mode import thread_state

_state = {"generator": np.random.default_rng(0)}


def manual_seed(seed: int) -> np.random.Generator:
    """Seed chainrule's generator (a NumPy PCG64), so runs repeat exactly."""
    _state["generator"] = np.random.default_rng(int(seed))
    return _state["generator"]


seed = manual_seed


def generator() -> np.random.Generator:
    if thread_state.tracing is not None:
        thread_state.tracing.refuse("it draws random numbers")
    return _state["generator"]


def get_rng_state() -> dict[str, Any]:
    return dict(_state["generator"].bit_generator.state)


def set_rng_state(state: dict) -> None:
    _state["generator"].bit_generator.state = state
