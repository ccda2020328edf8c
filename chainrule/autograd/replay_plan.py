"""A recorded step (the plan of chainrule.autograd.replay): the flat list of NumPy calls with
the slots they read and write, the guards that re-check data-dependent decisions, and the loop
that runs it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from chainrule.tensor import Tensor


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


# The two halves of what a forward declared returns_saved gives back: (out, saved)
def _output_part(pair: tuple[np.ndarray, Any]) -> np.ndarray:
    return pair[0]


def _saved_part(pair: tuple[np.ndarray, tuple[np.ndarray, ...]], *, index: int) -> np.ndarray:
    return pair[1][index]


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
