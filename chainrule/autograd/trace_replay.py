"""Trace and replay: run a fixed step (forward and backward) once eagerly while writing down every
NumPy call it makes, then run that flat list on later calls instead of the Python that made it.

The list holds each primitive's forward as it ran (the forward ops, the ops inside the derivative
rules, the engine's broadcasting sums) and, at the end, where each leaf gradient goes. Replaying
it gives the same numbers as running the step eagerly, bit for bit, without building Tensors,
graph nodes or the backward walk. What a trace cannot see makes it fall back to eager, for good,
with a warning that says why: a value read into Python (``item()``, ``if t > 0``), a random draw
other than dropout's, an in-place write other than BatchNorm's running statistics, a hook,
``retain_graph``/``create_graph``, an array made outside a primitive.

This module is the user's side (the decorator, its cache of plans and the check against eager);
replay_trace.py records a plan, replay_plan.py holds and runs one.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule import _dtype
from chainrule.autograd.grad_mode import state, thread_state
from chainrule.autograd.replay_plan import _GuardFailedError, _Plan, _tensor_class
from chainrule.autograd.replay_trace import _is_tensor, _traced
from chainrule.random import get_rng_state, set_rng_state

if TYPE_CHECKING:
    from chainrule.tensor import Tensor

_MAX_PLANS = 8  # traces kept per function, one per argument signature
_FALL_BACK = object()  # a replay that hit a failed guard: run this call eagerly


class replay:  # noqa: N801 - used as a decorator, like functools.cache
    """Make a fixed training step fast: trace it once, then replay its NumPy calls.

    ``fn`` runs the forward pass and ``backward()`` and returns tensors (the loss). Its first
    call for a given argument signature (tensor shapes, dtypes, ``requires_grad``, the other
    arguments' values, grad mode, default dtype, modules' train/eval modes) runs eagerly and
    records every NumPy call; the second runs both ways and checks that they agree bit for bit;
    later calls run only the recorded calls, which skips Tensors, graph nodes and the backward
    walk. Gradients land in ``.grad`` as eagerly; returned tensors are detached.

    The step must do the same thing on every call: what it reads from outside other than
    tensor values is taken as fixed — Python numbers and flags (a learning rate, dropout's
    ``p``, BatchNorm's ``momentum``), which model and which tensor objects (assigning a new
    Parameter, buffer or submodule to any module makes it trace again; a tensor it reads from
    a variable of its own must stay that object), and a tensor it reads from outside must not
    also be passed in as an argument (refused when the argument is
    a global or closure variable of the step, or shares a read tensor's storage). It may clear
    gradients with ``zero_grad()`` (``set_to_none=True``, the default) but not by assigning
    ``.grad`` itself. The second call's comparison with eager catches most breaches of this;
    the rest is yours to keep.

    Dropout and BatchNorm replay: each replay draws a fresh dropout mask from chainrule's
    generator, as eager would (under ``manual_seed``, the very same numbers), and updates the
    running statistics after the step's data checks (so a call that falls back to eager
    doesn't update them twice; the step must not read them after the update).

    A step that reads a value into Python (``item()``, ``if t > 0``, ``allclose``), draws other
    random numbers (``randn``, ``rand``, ...) or seeds the generator, writes a tensor in place,
    indexes with a tensor (``x[idx]``, ``index_select``, ``Embedding``), registers hooks, uses
    ``retain_graph``/``create_graph``, reads a ``.grad`` its backward stored, reaches a graph
    built before the call, or returns a tensor with a live graph can't be replayed: it runs
    eagerly on every call, with one warning saying why.
    Decisions the library takes from the data (cross-entropy's fast path, a class index's
    range, a zero in ``prod``) are checked again on each replay; when one comes out
    differently, that call runs eagerly. A parameter that gets a new array (``p.data = ...``,
    a dtype change), a new ``requires_grad`` or a hook makes the step trace again. Modules'
    train/eval modes are part of the signature: a step is traced and checked once for each set
    of modules in eval mode, so an ``eval()`` for an evaluation and ``train()`` after it find
    the training plan again.

    Parameters
    ----------
    fn : callable
        The step: tensors (the batch) in positional arguments, other arguments hashable.
    warn : bool
        Warn once when a step can't be replayed (False: fall back quietly; ``reason()`` says
        why either way).

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([0.5, -0.25], requires_grad=True)
    >>> @cr.autograd.replay
    ... def step(x):
    ...     loss = ((w * x).sum() - 1.0) ** 2
    ...     loss.backward()
    ...     return loss
    >>> for _ in range(3):
    ...     w.grad = None
    ...     loss = step(cr.tensor([1.0, 2.0]))
    >>> step.counts
    {'traced': 1, 'verified': 1, 'replayed': 1, 'eager': 0}
    >>> w.grad.tolist()
    [-2.0, -4.0]
    """

    def __init__(self, fn: Callable[..., Any], *, warn: bool = True) -> None:
        self.fn = fn
        self.warn = warn  # False: fall back without a warning (reason() still says why)
        self.plans: dict[tuple[Any, ...], _Plan] = {}
        self.refused: dict[tuple[Any, ...], str] = {}  # signature -> why it runs eagerly
        self.counts = {"traced": 0, "verified": 0, "replayed": 0, "eager": 0}
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__name__ = getattr(fn, "__name__", "step")
        self.__wrapped__ = fn

    def __repr__(self) -> str:
        return f"<replay of {self.__name__}: {self.counts}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        tracing = thread_state.tracing is not None
        key = None if tracing or state.anomaly else _signature(args, kwargs)
        if key is None or key in self.refused:
            return self._eager(args, kwargs)
        plan = self.plans.get(key)
        if plan is not None and not plan.current(args):
            del self.plans[key]  # a tensor it reads got a new array or requires_grad: retrace
            plan = None
        if plan is None:
            return self._trace(key, args, kwargs)
        if not plan.verified:
            return self._verify(key, plan, args, kwargs)
        try:
            result = plan.run(args)
        except _GuardFailedError:
            result = _FALL_BACK  # (run eagerly outside the except: its errors aren't chained)
        if result is _FALL_BACK:
            return self._eager(args, kwargs)
        self.counts["replayed"] += 1
        return result

    def reason(self) -> str | None:
        """Why the last refused signature runs eagerly (None if every trace replays)."""
        return next(reversed(self.refused.values()), None)

    def _eager(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self.counts["eager"] += 1
        return self.fn(*args, **kwargs)

    def _trace(self, key: tuple[Any, ...], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        result, recorder = _traced(self.fn, args, kwargs)
        self.counts["traced"] += 1
        if recorder.reason is not None:
            self._refuse(key, recorder.reason)
        else:
            if len(self.plans) >= _MAX_PLANS:
                del self.plans[next(iter(self.plans))]
            self.plans[key] = recorder.plan
        return result

    def _refuse(self, key: tuple[Any, ...], reason: str) -> None:
        self.refused[key] = reason
        self.plans.pop(key, None)
        if not self.warn:
            return
        warnings.warn(
            f"replay: {self.__name__} runs eagerly from now on: {reason}",
            RuntimeWarning,
            stacklevel=3,
        )

    def _verify(
        self, key: tuple[Any, ...], plan: _Plan, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Run the plan, put the gradients back, run eagerly, and compare everything."""
        targets = plan.target_tensors(args)
        before = [(t, t.grad, None if t.grad is None else t.grad._data.copy()) for t in targets]
        # the random stream and the buffers go back too, so eager draws and updates the same
        rng = get_rng_state() if plan.draws else None
        buffers = [(t, t._data.copy()) for t in plan.updates]
        problem: str | None = None
        try:
            replayed = plan.run(args)
        except _GuardFailedError:
            replayed = _FALL_BACK
        except Exception as error:  # (a plan that can't run: everything goes back, then eager)
            replayed = _FALL_BACK
            problem = f"its replay raised {type(error).__name__}: {error}"
        if replayed is _FALL_BACK:
            _restore(before)
            if problem is not None:  # (a failed guard wrote nothing: buffers and rng are as were)
                _rewind(buffers, rng)
                self._refuse(key, problem)
            return self._eager(args, kwargs)
        replayed_grads = [None if t.grad is None else t.grad._data.copy() for t in targets]
        replayed_buffers = [t._data.copy() for t, _ in buffers]
        _restore(before)
        _rewind(buffers, rng)
        result = self.fn(*args, **kwargs)
        eager_grads = [None if t.grad is None else t.grad._data for t in targets]
        eager_buffers = [t._data for t, _ in buffers]
        problem = (
            _difference(replayed, result)
            or _difference(replayed_grads, eager_grads, "gradient")
            or _difference(replayed_buffers, eager_buffers, "buffer")
        )
        if problem is not None:
            self._refuse(key, f"its replay differs from eager ({problem})")
        else:
            plan.verified = True
            self.counts["verified"] += 1
        return result


def _rewind(buffers: list[tuple[Tensor, np.ndarray]], rng: dict[str, Any] | None) -> None:
    """Put the buffers' values and the random stream back as they were before a replay."""
    for tensor, saved in buffers:
        tensor._data[...] = saved
    if rng is not None:
        set_rng_state(rng)


def _restore(before: list[tuple[Tensor, Any, np.ndarray | None]]) -> None:
    for tensor, grad, saved in before:
        tensor.grad = grad
        if grad is not None and saved is not None:
            grad._data = saved


def _signature(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...] | None:
    """What a plan is valid for; None when an argument can't be part of a key."""
    # (on every call of a replayed step: written for speed, the tensor test inlined)
    tensor_class = _tensor_class()
    parts: list[Any] = [
        thread_state.grad_enabled,
        state.modes,
        state.registrations,
        _dtype.get_default_dtype(),
    ]
    seen: dict[int, int] = {}
    for position, value in enumerate(args):
        if isinstance(value, tensor_class):
            array = value._data
            # which earlier argument shares this storage, if any (the plan binds one slot)
            alias = seen.setdefault(id(array), position)
            hooked = bool(value._hooks or value._retains_grad)
            parts.append((array.shape, array.dtype, value.requires_grad, alias, hooked))
        else:
            parts.append(_value_key(value))
    if kwargs:
        for name in sorted(kwargs):
            if isinstance(kwargs[name], tensor_class):
                return None  # tensors go in positional arguments
            parts.append((name, _value_key(kwargs[name])))
    key = tuple(parts)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _value_key(value: Any) -> Any:
    """A non-tensor argument as a key: by type too (2 and 2.0 and True are different steps),
    floats by their bits (0.0 and -0.0 are too)."""
    if isinstance(value, float):
        return (float, value.hex())
    if isinstance(value, (tuple, list)):
        return (type(value), tuple(_value_key(v) for v in value))
    return (type(value), value)


def _difference(a: Any, b: Any, where: str = "result") -> str | None:
    """Where two results (tensors, arrays, structures of them) differ, or None."""
    if _is_tensor(a) or _is_tensor(b):
        if not (_is_tensor(a) and _is_tensor(b)):
            return f"{where}: a tensor on one side only"
        return _difference(a._data, b._data, where)
    if isinstance(a, np.generic) or isinstance(b, np.generic):
        a, b = np.asarray(a), np.asarray(b)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return f"{where}: an array on one side only"
        if a.shape != b.shape or a.dtype != b.dtype:
            return f"{where}: {a.shape} {a.dtype} against {b.shape} {b.dtype}"
        same = np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
        return None if same else f"{where}: values differ"
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            problem = _difference(x, y, f"{where}[{i}]")
            if problem is not None:
                return problem
        return None
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        for k in a:
            problem = _difference(a[k], b[k], f"{where}[{k!r}]")
            if problem is not None:
                return problem
        return None
    return None if a == b else f"{where}: {a!r} against {b!r}"
