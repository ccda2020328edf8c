"""Trace and replay: run a fixed step (forward and backward) once eagerly while writing down every
NumPy call it makes, then run that flat list on later calls instead of the Python that made it.

The list holds each primitive's forward as it ran (the forward ops, the ops inside the derivative
rules, the engine's broadcasting sums) and, at the end, where each leaf gradient goes. Replaying
it gives the same numbers as running the step eagerly, bit for bit, without building Tensors,
graph nodes or the backward walk. What a trace cannot see makes it fall back to eager, for good,
with a warning that says why: a value read into Python (``item()``, ``if t > 0``), a random draw,
an in-place write, a hook, ``retain_graph``/``create_graph``, an array made outside a primitive.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule import _dtype
from chainrule.autograd.engine import accumulate_array
from chainrule.autograd.grad_mode import state
from chainrule.autograd.node import Primitive, _creation_order

if TYPE_CHECKING:
    from chainrule.tensor import Tensor

_MAX_PLANS = 8  # traces kept per function, one per argument signature

# Functions whose Tensor._wrap calls make constants (a seed of ones, a zero), never arrays
# computed from the data, so a trace may keep their arrays as they are. Filled by name below.
_CONSTANT_SITES: set[tuple[str, str]] = {
    ("chainrule/tensor.py", "backward"),
    ("chainrule/ops/elementwise.py", "_zero"),
    ("chainrule/ops/losses.py", "_ce_backward_grad_g"),
    ("chainrule/ops/indexing.py", "_gather_grad"),
    ("chainrule/ops/_coerce.py", "to_tensor"),
    ("chainrule/ops/reduce.py", "max"),
    ("chainrule/ops/nn.py", "avg_pool2d"),
    ("chainrule/ops/reduce.py", "min"),
    ("chainrule/nn/functional.py", "binary_cross_entropy_with_logits"),
}


_FALL_BACK = object()  # a replay that hit a failed guard: run this call eagerly


class _GuardFailedError(Exception):
    """A guard saw a different answer than during the trace: this call runs eagerly."""


class _Guard:
    """A decision the library made from the data while tracing (e.g. "no target is ignored"),
    checked again on each replay before anything is written."""

    __slots__ = ("check", "expected")

    def __init__(self, check: Callable[..., Any], expected: Any) -> None:
        self.check = check
        self.expected = expected

    def __call__(self, *arrays: np.ndarray) -> None:
        if self.check(*arrays) != self.expected:
            raise _GuardFailedError


def _clear(tensor: Tensor) -> None:
    tensor.grad = None


_SCRATCH = 0  # the slot that instructions without a result write to

# One recorded call: (forward, input slots, params, output slot, slots to free after it)
Call = tuple[Callable[..., Any], tuple[int, ...], dict[str, Any], int, tuple[int, ...]]


class _Plan:
    """One recorded step: what to bind, the calls to make in order, what to return."""

    __slots__ = (
        "template",
        "arg_arrays",
        "arg_tensors",
        "externals",
        "calls",
        "outputs",
        "targets",
        "first_write",
        "external_ids",
        "verified",
    )

    def __init__(self) -> None:
        self.template: list[Any] = [None]  # slot values every call starts from (constants)
        self.arg_arrays: list[tuple[int, int]] = []  # (argument position, slot) of its array
        self.arg_tensors: list[tuple[int, int]] = []  # (argument position, slot) of the tensor
        # (tensor, the array it held, requires_grad): must still hold, or the step is retraced
        self.externals: list[tuple[Tensor, np.ndarray, bool]] = []
        # (forward, input slots, params, output slot, slots to free after it)
        self.calls: list[Call] = []
        self.outputs: Any = None  # the returned structure, tensors as ("slot", n)
        self.targets: list[Any] = []  # tensors (or argument positions) whose .grad the step sets
        self.first_write = 0  # calls before this one write nothing outside the slots
        self.external_ids: set[int] = set()  # id() of the externals' arrays
        self.verified = False

    def current(self, args: tuple[Any, ...]) -> bool:
        """Whether every tensor read from outside still holds the array it held when traced
        (with the same requires_grad and no hooks), and no argument is one of them."""
        for tensor, array, requires_grad in self.externals:
            if (
                tensor._data is not array
                or tensor.requires_grad is not requires_grad
                or tensor._hooks
                or tensor._retains_grad
            ):
                return False
        if self.external_ids:
            for position, _ in self.arg_arrays:
                if id(args[position]._data) in self.external_ids:
                    return False
        return True

    def run(self, args: tuple[Any, ...]) -> Any:
        slots = self.template.copy()
        for position, slot in self.arg_arrays:
            slots[slot] = args[position]._data
        for position, slot in self.arg_tensors:
            slots[slot] = args[position]
        head = self.first_write
        try:
            _execute(self.calls[:head] if head < len(self.calls) else self.calls, slots)
        except Exception:
            # nothing is written yet, so the eager run can take over and raise its own error
            # (a class index out of range) or take the other branch
            raise _GuardFailedError from None
        if head < len(self.calls):
            _execute(self.calls[head:], slots)
        return _build(self.outputs, slots)

    def target_tensors(self, args: tuple[Any, ...]) -> list[Tensor]:
        found: dict[int, Tensor] = {}
        for target in self.targets:
            tensor = args[target] if isinstance(target, int) else target
            found[id(tensor)] = tensor
        return list(found.values())


def _execute(calls: list[Call], slots: list[Any]) -> None:
    """The hot loop: one NumPy call per recorded op, the arity spelled out to avoid a list."""
    for forward, ins, params, out, drops in calls:
        n = len(ins)
        if n == 1:
            slots[out] = forward(slots[ins[0]], **params)
        elif n == 2:
            slots[out] = forward(slots[ins[0]], slots[ins[1]], **params)
        else:
            slots[out] = forward(*[slots[i] for i in ins], **params)
        for slot in drops:
            slots[slot] = None


def _build(structure: Any, slots: list[Any]) -> Any:
    from chainrule.tensor import Tensor

    if isinstance(structure, tuple) and len(structure) == 2 and structure[0] in ("slot", "const"):
        return Tensor._wrap(slots[structure[1]]) if structure[0] == "slot" else structure[1]
    if isinstance(structure, (tuple, list)):
        return type(structure)(_build(s, slots) for s in structure)
    return {k: _build(v, slots) for k, v in structure.items()}


class _Recorder:
    """Writes a _Plan while the step runs eagerly; the hooks reach it through ``state.tracing``."""

    def __init__(self, args: tuple[Any, ...]) -> None:
        self.plan = _Plan()
        self.args = args
        self.slot_of: dict[int, int] = {}  # id(array or target tensor) -> slot
        self.keep: list[Any] = []  # everything seen stays alive, so ids stay unique
        self.foreign: dict[int, str] = {}  # id(array) -> where an untracked array was made
        self.reason: str | None = None
        self.wrote = False  # a gradient was stored: guards must come before that
        self.stored_grads: set[int] = set()  # id() of the .grad arrays backward stored
        self.first_seq = next(_creation_order)  # nodes made before the trace have lower numbers
        for position, value in enumerate(args):
            if _is_tensor(value) and id(value._data) not in self.slot_of:
                self.plan.arg_arrays.append((position, self._new_slot(value._data)))
        self.arg_slots = {slot for _, slot in self.plan.arg_arrays}
        self.arg_ids = {id(value) for value in args}

    def refuse(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason

    # ---- slots -------------------------------------------------------------------------------
    def _new_slot(self, value: Any, constant: bool = False) -> int:
        slot = len(self.plan.template)
        self.plan.template.append(value if constant else None)
        self.slot_of[id(value)] = slot
        self.keep.append(value)
        return slot

    def _slot(self, tensor: Tensor) -> int:
        """The slot of a tensor's array; an array from outside the step becomes an external."""
        array = tensor._data
        if id(array) in self.stored_grads:
            self.refuse("it reads a .grad that its own backward stored")
        slot = self.slot_of.get(id(array))
        if slot is not None:
            if slot in self.arg_slots and id(tensor) not in self.arg_ids:
                # (a parameter whose storage was passed in as well: next time the argument
                # would stand for it)
                self.refuse("a tensor it reads shares its storage with an argument")
            return slot
        where = self.foreign.get(id(array)) or self._view_of_computed(array)
        if where is not None:
            self.refuse(f"an array made outside a primitive ({where}) feeds an op")
        self.keep.append(tensor)
        self.plan.externals.append((tensor, array, tensor.requires_grad))
        self.plan.external_ids.add(id(array))
        return self._new_slot(array, constant=True)

    def _view_of_computed(self, array: np.ndarray) -> str | None:
        base = array.base
        while isinstance(base, np.ndarray):
            if id(base) in self.slot_of or id(base) in self.foreign:
                return "a NumPy view of a computed array"
            base = base.base
        return None

    def _target_slot(self, tensor: Tensor) -> int:
        """A slot holding the tensor itself (whose .grad an instruction sets)."""
        for position, value in enumerate(self.args):
            if value is tensor:
                key = ("arg", position)
                if key not in self.slot_of:  # type: ignore[comparison-overlap]
                    slot = len(self.plan.template)
                    self.plan.template.append(None)
                    self.slot_of[key] = slot  # type: ignore[index]
                    self.plan.arg_tensors.append((position, slot))
                    self.plan.targets.append(position)
                return self.slot_of[key]  # type: ignore[index]
        if id(tensor) not in self.slot_of:
            self.plan.targets.append(tensor)
            return self._new_slot(tensor, constant=True)
        return self.slot_of[id(tensor)]

    def _check_param(self, name: str, value: Any) -> None:
        if isinstance(value, np.ndarray) or _is_tensor(value):
            array = value if isinstance(value, np.ndarray) else value._data
            known = id(array) in self.slot_of or id(array) in self.foreign
            if known or self._view_of_computed(array) is not None:
                self.refuse(f"a computed array is passed as the parameter {name!r}")
        elif isinstance(value, (tuple, list)):
            for item in value:
                self._check_param(name, item)

    # ---- what the hooks report ----------------------------------------------------------------
    def on_call(
        self, op: Primitive, inputs: tuple[Any, ...], params: dict[str, Any], out: Tensor
    ) -> None:
        ins = tuple(self._slot(t) for t in inputs)
        for name, value in params.items():
            self._check_param(name, value)
        if id(out._data) in self.slot_of:
            return  # the op handed back an array the plan already has (a no-op reshape)
        out_slot = self._new_slot(out._data)
        self.plan.calls.append((op.forward, ins, params, out_slot, ()))

    def on_wrap(self, array: np.ndarray) -> None:
        if id(array) in self.slot_of:
            return
        code = sys._getframe(2).f_code
        site = (_package_path(code.co_filename), code.co_name)
        if site not in _CONSTANT_SITES:
            self.foreign[id(array)] = f"{site[0]} in {site[1]}"
            self.keep.append(array)

    def on_accumulate(self, tensor: Tensor, grad: Tensor, fresh: bool) -> None:
        ins = (self._target_slot(tensor), self._slot(grad))
        self.plan.calls.append((accumulate_array, ins, {"fresh": fresh}, _SCRATCH, ()))
        self.wrote = True

    def on_grad_stored(self, tensor: Tensor) -> None:
        # what .grad holds now depends on what it held before the call, which a plan doesn't see
        assert tensor.grad is not None
        self.stored_grads.add(id(tensor.grad._data))
        self.keep.append(tensor.grad._data)

    def on_clear(self, tensor: Tensor) -> None:
        # (not a write that stops a fallback: the eager rerun clears the same .grad again)
        self.plan.calls.append((_clear, (self._target_slot(tensor),), {}, _SCRATCH, ()))

    def guard(self, check: Callable[..., Any], *tensors: Tensor) -> None:
        """Record a decision made from the data; replay checks it again (see _Guard)."""
        if self.wrote:
            self.refuse("a data-dependent decision comes after a gradient was stored")
        ins = tuple(self._slot(t) for t in tensors)
        expected = check(*(t._data for t in tensors))
        self.plan.calls.append((_Guard(check, expected), ins, {}, _SCRATCH, ()))

    # ---- the end of the trace -----------------------------------------------------------------
    def finish(self, result: Any) -> _Plan:
        self.plan.outputs = self._outputs(result)
        _free_after_last_use(self.plan)
        self.plan.first_write = next(
            (i for i, call in enumerate(self.plan.calls) if call[0] is accumulate_array),
            len(self.plan.calls),
        )
        return self.plan

    def _outputs(self, value: Any) -> Any:
        if _is_tensor(value):
            node = value.grad_fn
            if node is not None and node.inputs is not None:
                self.refuse("it returns a tensor whose graph is still alive (call backward inside)")
            if id(value._data) in self.stored_grads:
                self.refuse("it returns a .grad that its own backward stored")
            slot = self.slot_of.get(id(value._data))
            if slot is None or id(value._data) in self.foreign:
                self.refuse("it returns a tensor that no recorded op computed")
                return ("const", None)
            return ("slot", slot)
        if isinstance(value, (tuple, list)):
            return type(value)(self._outputs(v) for v in value)
        if isinstance(value, dict):
            return {k: self._outputs(v) for k, v in value.items()}
        if value is None or isinstance(value, (str, bool)):
            return ("const", value)
        self.refuse(f"it returns a {type(value).__name__}, which can't be recomputed by replay")
        return ("const", None)


def _free_after_last_use(plan: _Plan) -> None:
    """Give each call the computed slots it is the last reader of, so replay frees memory when
    eager would."""
    outputs = set(_output_slots(plan.outputs))
    produced = {out for _, _, _, out, _ in plan.calls} - outputs - {_SCRATCH}
    last: dict[int, int] = {}
    for index, (_, ins, _, out, _) in enumerate(plan.calls):
        for slot in (*ins, out):
            if slot in produced:
                last[slot] = index
    drops: dict[int, list[int]] = {}
    for slot, index in last.items():
        drops.setdefault(index, []).append(slot)
    plan.calls = [
        (forward, ins, params, out, tuple(drops.get(index, ())))
        for index, (forward, ins, params, out, _) in enumerate(plan.calls)
    ]


def _output_slots(value: Any) -> list[int]:
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "slot":
        return [value[1]]
    if isinstance(value, (tuple, list)):
        return [s for v in value for s in _output_slots(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _output_slots(v)]
    return []


def _package_path(filename: str) -> str:
    path = filename.replace("\\", "/")
    index = path.rfind("/chainrule/")
    return path[index + 1 :] if index >= 0 else path


def _is_tensor(value: Any) -> bool:
    from chainrule.tensor import Tensor

    return isinstance(value, Tensor)


# ---- tracing: the two entry points every array passes through, swapped while a step traces --
_plain_call = Primitive.__call__


def _recording_call(op: Primitive, *inputs: Tensor, **params: Any) -> Tensor:
    out = _plain_call(op, *inputs, **params)
    recorder = state.tracing
    if recorder is not None:
        recorder.on_call(op, inputs, params, out)
    return out


def _tracing_wrap(cls: type, array: np.ndarray) -> Tensor:
    recorder = state.tracing
    if recorder is not None:
        recorder.on_wrap(array)
    return _plain_wrap.__func__(cls, array)  # type: ignore[no-any-return]


_plain_wrap: Any = None  # Tensor's own _wrap, kept while the tracing one stands in


def _traced(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, _Recorder]:
    """Run ``fn`` eagerly with the recorder attached."""
    from chainrule.tensor import Tensor

    global _plain_wrap
    recorder = _Recorder(args)
    captured = _captured_argument(fn, args)
    if captured is not None:
        recorder.refuse(
            f"argument {captured} is also a variable it reads (next time the argument would "
            "stand for it)"
        )
    writes = state.writes
    plain_wrap = _plain_wrap = Tensor.__dict__["_wrap"]
    state.tracing = recorder
    Primitive.__call__ = _recording_call  # type: ignore[method-assign, assignment]
    Tensor._wrap = classmethod(_tracing_wrap)  # type: ignore[method-assign, assignment]
    try:
        result = fn(*args, **kwargs)
    finally:
        state.tracing = None
        Primitive.__call__ = _plain_call  # type: ignore[method-assign]
        Tensor._wrap = plain_wrap  # type: ignore[method-assign]
    if state.writes != writes:  # the root cause of whatever else it saw
        recorder.reason = "it writes a tensor in place"
    recorder.finish(result)
    return result, recorder


# ---- the user's side ---------------------------------------------------------------------------
class replay:  # noqa: N801 - used as a decorator, like functools.cache
    """Make a fixed training step fast: trace it once, then replay its NumPy calls.

    ``fn`` runs the forward pass and ``backward()`` and returns tensors (the loss). Its first
    call for a given argument signature (tensor shapes, dtypes, ``requires_grad``, the other
    arguments' values, grad mode, default dtype, modules' train/eval modes) runs eagerly and
    records every NumPy call; the second runs both ways and checks that they agree bit for bit;
    later calls run only the recorded calls, which skips Tensors, graph nodes and the backward
    walk. Gradients land in ``.grad`` as eagerly; returned tensors are detached.

    The step must do the same thing on every call: what it reads from outside other than
    tensor values is taken as fixed — Python numbers and flags, which model and which parameter
    objects (assigning a new Parameter to a module needs a new ``replay``), and a tensor it
    reads from outside must not also be passed in as an argument (refused when the argument is
    a global or closure variable of the step, or shares a read tensor's storage). It may clear
    gradients with ``zero_grad()`` but not by assigning ``.grad`` itself. The second call's
    comparison with eager catches most breaches of this; the rest is yours to keep.

    A step that reads a value into Python (``item()``, ``if t > 0``, ``allclose``), draws random
    numbers, writes a tensor in place, registers hooks, uses ``retain_graph``/``create_graph``,
    reads a ``.grad`` its backward stored, reaches a graph built before the call, or returns a
    tensor with a live graph can't be replayed: it runs eagerly on every call, with one warning
    saying why. Decisions the library takes from the data (cross-entropy's fast path, a class
    index's range, a zero in ``prod``) are checked again on each replay; when one comes out
    differently, that call runs eagerly. A parameter that gets a new array (``p.data = ...``,
    a dtype change), a new ``requires_grad`` or a hook makes the step trace again.

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
        key = None if state.tracing is not None or state.anomaly else _signature(args, kwargs)
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
        try:
            replayed = plan.run(args)
        except _GuardFailedError:
            replayed = _FALL_BACK
        if replayed is _FALL_BACK:
            _restore(before)
            return self._eager(args, kwargs)
        replayed_grads = [None if t.grad is None else t.grad._data.copy() for t in targets]
        _restore(before)
        result = self.fn(*args, **kwargs)
        eager_grads = [None if t.grad is None else t.grad._data for t in targets]
        problem = _difference(replayed, result) or _difference(replayed_grads, eager_grads)
        if problem is not None:
            self._refuse(key, f"its replay differs from eager ({problem})")
        else:
            plan.verified = True
            self.counts["verified"] += 1
        return result


def _restore(before: list[tuple[Tensor, Any, np.ndarray | None]]) -> None:
    for tensor, grad, saved in before:
        tensor.grad = grad
        if grad is not None and saved is not None:
            grad._data = saved


def _captured_argument(fn: Callable[..., Any], args: tuple[Any, ...]) -> int | None:
    """The position of a tensor argument that ``fn`` also reads as a closure variable or a
    global (``step(w)`` where the step uses ``w``), or None."""
    code = getattr(fn, "__code__", None)
    positions = {id(value): i for i, value in enumerate(args) if _is_tensor(value)}
    if code is None or not positions:
        return None
    seen: list[Any] = []
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            seen.append(cell.cell_contents)
        except ValueError:  # a cell not filled yet
            continue
    names = getattr(fn, "__globals__", {})
    seen += [names[name] for name in code.co_names if name in names]
    for value in seen:
        if id(value) in positions:
            return positions[id(value)]
    return None


def _signature(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...] | None:
    """What a plan is valid for; None when an argument can't be part of a key."""
    parts: list[Any] = [state.grad_enabled, state.modes, _dtype.get_default_dtype()]
    seen: dict[int, int] = {}
    for position, value in enumerate(args):
        if _is_tensor(value):
            array = value._data
            # which earlier argument shares this storage, if any (the plan binds one slot)
            alias = seen.setdefault(id(array), position)
            hooked = bool(value._hooks or value._retains_grad)
            parts.append((array.shape, array.dtype, value.requires_grad, alias, hooked))
        else:
            parts.append(_value_key(value))
    for name in sorted(kwargs):
        if _is_tensor(kwargs[name]):
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
