"""The switches ops read: whether they record a graph (per thread, as in PyTorch), whether anomaly
detection is on, and the process-wide counters behind in-place checks and replay."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from chainrule.autograd.tracer import Tracer

F = TypeVar("F", bound=Callable[..., Any])


class _State:
    __slots__ = ("anomaly", "writes", "modes", "registrations", "tracers")

    def __init__(self) -> None:
        self.anomaly = False  # process-wide, as PyTorch's anomaly mode
        # In-place writes to any tensor so far: a node created when this was n can skip its
        # version checks in backward if it is still n (no tensor can have changed since).
        self.writes = 0
        # the modules in eval mode (nn/_modes.py): a replayed step is traced for each set
        self.modes: frozenset[int] = frozenset()
        # parameters, buffers and submodules of modules replaced so far (a replayed step reads
        # the ones of its trace, so it is traced again after a change: nn/module._replacing)
        self.registrations = 0
        # threads tracing a step for replay right now: while 0, the hot paths skip the
        # thread-local read of their tracer (a process-wide read costs half as much)
        self.tracers = 0


state = _State()


class _ThreadState(threading.local):
    """Grad mode, one per thread as in PyTorch: ``no_grad`` in one thread leaves recording on in
    another (each new thread starts with it on); and the replay trace this thread records."""

    def __init__(self) -> None:
        self.grad_enabled = True
        # the recorder of chainrule.autograd.replay while this thread traces a step (the hook
        # autograd/tracer.py describes): another thread's ops at the same moment are not part of
        # the step (set through the property below, which keeps state.tracers)
        self._tracing: Tracer | None = None

    @property
    def tracing(self) -> Tracer | None:
        return self._tracing

    @tracing.setter
    def tracing(self, tracer: Tracer | None) -> None:
        if (tracer is None) != (self._tracing is None):
            with _tracers_lock:  # (+= is no atomic step: two threads could lose a count)
                state.tracers += 1 if tracer is not None else -1
        self._tracing = tracer


_tracers_lock = threading.Lock()


thread_state = _ThreadState()


def reads_data(what: str) -> None:
    """Called where a tensor's values become a Python value or decision: a step being traced for
    chainrule.autograd.replay can't repeat that, so it will run eagerly instead."""
    if thread_state.tracing is not None:
        thread_state.tracing.refuse(f"it reads a tensor into Python ({what})")


def is_grad_enabled() -> bool:
    return thread_state.grad_enabled


class _GradModeContext:
    """Base for no_grad / enable_grad / set_grad_enabled: a context manager and a decorator."""

    mode: bool = True

    def __new__(cls, func: Any = None) -> Any:
        # ``@no_grad`` without parentheses, as PyTorch allows: the class receives the function
        self = super().__new__(cls)
        if callable(func):
            return self(func)
        return self

    def __enter__(self) -> None:
        self._previous = thread_state.grad_enabled
        thread_state.grad_enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        thread_state.grad_enabled = self._previous

    def __call__(self, func: F) -> F:
        mode = self.mode

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            previous = thread_state.grad_enabled
            thread_state.grad_enabled = mode
            try:
                return func(*args, **kwargs)
            finally:
                thread_state.grad_enabled = previous

        return wrapper  # type: ignore[return-value]


class no_grad(_GradModeContext):  # noqa: N801 - PyTorch's name
    """Ops inside record no graph (as ``torch.no_grad``)."""

    mode = False


class enable_grad(_GradModeContext):  # noqa: N801 - PyTorch's name
    """Ops inside record a graph again, even within ``no_grad``."""

    mode = True


class set_grad_enabled(_GradModeContext):  # noqa: N801 - PyTorch's name
    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._before = thread_state.grad_enabled
        thread_state.grad_enabled = self.mode  # takes effect at once, as in PyTorch

    def __enter__(self) -> None:
        self._previous = self._before
        thread_state.grad_enabled = self.mode

    def __call__(self, func: F) -> F:
        # As a decorator it must not leave the mode that __init__ switched on behind.
        thread_state.grad_enabled = self._before
        return super().__call__(func)


class AnomalyError(RuntimeError, FloatingPointError):
    """What anomaly mode raises: a RuntimeError, as PyTorch's anomaly mode raises, so code that
    catches ``RuntimeError`` works unchanged (and a FloatingPointError, as it was before)."""


class detect_anomaly:  # noqa: N801 - PyTorch's name
    """Raise as soon as an op first produces NaN/Inf, forward or backward, naming the op.

    Use as a context manager; ``set_detect_anomaly(True)`` switches it on globally.
    """

    def __init__(self, mode: bool = True) -> None:
        self.mode = mode

    def __enter__(self) -> None:
        self._previous = state.anomaly
        state.anomaly = self.mode

    def __exit__(self, *exc: object) -> None:
        state.anomaly = self._previous


def set_detect_anomaly(mode: bool) -> None:
    state.anomaly = bool(mode)


def is_anomaly_enabled() -> bool:
    return state.anomaly
