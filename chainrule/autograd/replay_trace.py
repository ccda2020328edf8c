"""Tracing for chainrule.autograd.replay: run a step eagerly with a recorder as this thread's
tracer (autograd/tracer.py), which the two places every array passes through (a primitive's call,
Tensor._wrap) and the engine's leaf accumulation report to, and note whatever would make the
recording stand for the wrong computation."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule.autograd.engine import accumulate_array
from chainrule.autograd.grad_mode import state, thread_state
from chainrule.autograd.node import Primitive, _creation_order
from chainrule.autograd.replay_plan import (
    _SCRATCH,
    Call,
    _clear,
    _free_after_last_use,
    _Guard,
    _output_part,
    _Plan,
    _saved_part,
    _tensor_class,
)

if TYPE_CHECKING:
    from chainrule.autograd.tracer import Params, Saved
    from chainrule.tensor import Tensor


class _Recorder:
    """Writes a _Plan while the step runs eagerly; the hooks reach it through
    ``thread_state.tracing`` (this thread's only)."""

    def __init__(self, args: tuple[Any, ...]) -> None:
        self.plan = _Plan()
        self.args = args
        self.slot_of: dict[int, int] = {}  # id(array or target tensor) -> slot
        self.keep: list[Any] = []  # everything seen stays alive, so ids stay unique
        self.foreign: dict[int, str] = {}  # id(array) -> where an untracked array was made
        self.reason: str | None = None
        self.wrote = False  # a gradient was stored: guards must come before that
        self.stored_grads: set[int] = set()  # id() of the .grad arrays backward stored
        self.saved_slots: set[int] = set()  # the slots of what forwards saved for their rules
        # buffer updates (update_buffers) with the number of calls recorded before each: see
        # on_update and finish
        self.updates: list[tuple[int, Call]] = []
        self.updated: set[int] = set()  # id() of the updated buffers' arrays
        self.bumps = 0  # the version bumps those updates made (not writes that refuse a trace)
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
        if id(array) in self.updated:
            # (replay makes the update later than eager did, after the step's checks)
            self.refuse("it reads a tensor after updating it in place")
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
        self, op: Primitive, inputs: tuple[Any, ...], params: Params, out: Tensor, saved: Saved
    ) -> None:
        ins = tuple(self._slot(t) for t in inputs)
        for name, value in params.items():
            self._check_param(name, value)
        if op.returns_saved:
            pair = len(self.plan.template)  # the slot of the forward's (out, saved)
            self.plan.template.append(None)
            self.plan.calls.append((op.forward, ins, params, pair, ()))
            self._split(pair, out, saved)
            return
        known = self.slot_of.get(id(out._data))
        if known is not None and known not in self.saved_slots:
            return  # the op handed back an array the plan already has (a no-op reshape)
        # (an op may hand back a saved array written into: cross-entropy's backward, its softmax)
        out_slot = self._new_slot(out._data)
        self.plan.calls.append((op.forward, ins, params, out_slot, ()))

    def _split(self, pair: int, out: Tensor, saved: Saved) -> None:
        """After a forward that returns (out, saved): the output and each saved array get slots
        of their own, freed after their last use like any other (a replayed step keeps none of
        them for the next)."""
        self.plan.calls.append((_output_part, (pair,), {}, self._new_slot(out._data), ()))
        for index, array in enumerate(saved or ()):
            if id(array) not in self.slot_of:
                slot = self._new_slot(array)
                self.saved_slots.add(slot)
                self.plan.calls.append((_saved_part, (pair,), {"index": index}, slot, ()))

    def on_wrap(self, array: np.ndarray) -> None:
        # (constants, made with Tensor._wrap(..., constant=True), are not reported: a trace
        # keeps their arrays as they are)
        if id(array) in self.slot_of:
            return
        self.foreign[id(array)] = f"{array.dtype}, shape {array.shape}"
        self.keep.append(array)

    def on_draw(self, redraw: Callable[..., np.ndarray], params: Params, array: np.ndarray) -> None:
        for name, value in params.items():
            self._check_param(name, value)
        self.plan.calls.append((redraw, (), params, self._new_slot(array), ()))
        self.plan.draws = True

    def on_update(
        self,
        update: Callable[..., None],
        buffers: tuple[Tensor, ...],
        arrays: tuple[np.ndarray, ...],
        params: Params,
    ) -> None:
        """Made no earlier than the start of the plan's tail, after every guard: a replay that
        falls back to eager must not have updated the buffers already (eager updates them
        again). An update recorded later (a second forward after a backward) stays in place."""
        self.bumps += len(buffers)
        for name, value in params.items():
            self._check_param(name, value)
        buffer_slots = []
        for buffer in buffers:
            slot = self.slot_of.get(id(buffer._data))
            if slot is None and id(buffer._data) not in self.foreign:
                slot = self._slot(buffer)  # an external, as a parameter is
            if slot is None or self.plan.template[slot] is not buffer._data:
                self.refuse("it updates a buffer that the step itself made")
                return
            buffer_slots.append(slot)
        array_slots = []
        for array in arrays:
            slot = self.slot_of.get(id(array))
            if slot is None or id(array) in self.foreign:
                self.refuse("an array made outside a primitive feeds a buffer update")
                return
            array_slots.append(slot)
        call = (update, (*buffer_slots, *array_slots), params, _SCRATCH, ())
        self.updates.append((len(self.plan.calls), call))
        # (a buffer updated twice, once per micro-batch, is saved and compared once)
        self.plan.updates.extend(b for b in buffers if id(b._data) not in self.updated)
        self.updated.update(id(buffer._data) for buffer in buffers)

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
        calls = self.plan.calls
        first_write = next(
            (i for i, call in enumerate(calls) if call[0] is accumulate_array), len(calls)
        )
        # each update at the tail's start or where it was recorded, whichever is later
        merged: list[Call] = []
        pending = iter(self.updates)
        update = next(pending, None)
        for index in range(len(calls) + 1):
            while update is not None and max(update[0], first_write) == index:
                merged.append(update[1])
                update = next(pending, None)
            if index < len(calls):
                merged.append(calls[index])
        self.plan.calls = merged
        self.plan.first_write = first_write
        _free_after_last_use(self.plan)
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


def _is_tensor(value: Any) -> bool:
    return isinstance(value, _tensor_class())


def _traced(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, _Recorder]:
    """Run ``fn`` eagerly with the recorder attached (to this thread)."""
    recorder = _Recorder(args)
    captured = _captured_argument(fn, args)
    if captured is not None:
        recorder.refuse(
            f"argument {captured} is also a variable it reads (next time the argument would "
            "stand for it)"
        )
    writes = state.writes
    thread_state.tracing = recorder  # the engine's entry points report to it (tracer.py)
    try:
        result = fn(*args, **kwargs)
    finally:
        thread_state.tracing = None
    if state.writes != writes + recorder.bumps:  # the root cause of whatever else it saw
        recorder.reason = "it writes a tensor in place"
    recorder.finish(result)
    return result, recorder


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
