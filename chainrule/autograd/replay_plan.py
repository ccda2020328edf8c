"""A recorded step (the plan of chainrule.autograd.replay): the flat list of NumPy calls with
the slots they read and write, the guards that re-check data-dependent decisions, and the loop
that runs it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule.random import get_rng_state, set_rng_state

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
        "compiled",
        "draws",
        "updates",
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
        self.draws = False  # it draws random numbers (chainrule.random.draw)
        self.updates: list[Tensor] = []  # the buffers it updates in place (update_buffers)
        # (the calls it was made from, the calls before first_write, the rest) as straight-line
        # functions of the slots: see _compile
        self.compiled: tuple[list[Call], Callable[[list[Any]], None], Callable[..., None]] | None
        self.compiled = None

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
        compiled = self.compiled
        if compiled is None or compiled[0] is not self.calls:
            head = self.first_write
            compiled = self.compiled = (
                self.calls,
                _compile(self.calls[:head]),
                _compile(self.calls[head:]),
            )
        rng = get_rng_state() if self.draws else None
        try:
            compiled[1](slots)
        except Exception:
            # nothing is written yet, so the eager run can take over and raise its own error
            # (a class index out of range) or take the other branch; the draws the head made
            # are taken back, so eager draws the same numbers
            if rng is not None:
                set_rng_state(rng)
            raise _GuardFailedError from None
        compiled[2](slots)
        return _build(self.outputs, slots)

    def target_tensors(self, args: tuple[Any, ...]) -> list[Tensor]:
        found: dict[int, Tensor] = {}
        for target in self.targets:
            tensor = args[target] if isinstance(target, int) else target
            found[id(tensor)] = tensor
        return list(found.values())


def _execute(calls: list[Call], slots: list[Any]) -> None:
    """The calls one after another: what a compiled plan does, as a loop (for plans too long to
    compile, and as the reference its tests compare with)."""
    for forward, ins, params, out, drops in calls:
        slots[out] = forward(*[slots[i] for i in ins], **params)
        for slot in drops:
            slots[slot] = None


_COMPILE_LIMIT = 20_000  # calls; a longer plan runs through _execute's loop


def _compile(calls: list[Call]) -> Callable[[list[Any]], None]:
    """The calls as one straight-line Python function of the slots, ``s[3] = f0(s[1], s[2])``
    and so on: no loop, no unpacking of the call tuples, no empty ``**params``. A replayed
    step's cost beyond its NumPy calls is mostly that loop's, so this is its hot path."""
    if len(calls) > _COMPILE_LIMIT:
        return lambda slots: _execute(calls, slots)
    names: dict[str, Any] = {}
    lines = ["def run(s):"]
    for k, (forward, ins, params, out, drops) in enumerate(calls):
        names[f"f{k}"] = forward
        arguments = ", ".join(f"s[{i}]" for i in ins)
        if params:
            names[f"p{k}"] = params
            arguments += ", **p" + str(k) if ins else "**p" + str(k)
        lines.append(f"    s[{out}] = f{k}({arguments})")
        lines.extend(f"    s[{slot}] = None" for slot in drops)
    lines.append("    return None")
    exec(compile("\n".join(lines), "<replayed step>", "exec"), names)  # noqa: S102 - our own text
    run: Callable[[list[Any]], None] = names["run"]
    return run


_TENSOR: list[Any] = []  # chainrule.tensor.Tensor, once it is loaded: see _tensor_class


def _tensor_class() -> type[Tensor]:
    """The Tensor class (tensor.py imports autograd, so it is looked up on first use; an import
    statement on each call would cost more than the rest of a replayed call's bookkeeping)."""
    if not _TENSOR:
        from chainrule.tensor import Tensor

        _TENSOR.append(Tensor)
    tensor_class: type[Tensor] = _TENSOR[0]
    return tensor_class


def _build(structure: Any, slots: list[Any]) -> Any:
    if isinstance(structure, tuple) and len(structure) == 2 and structure[0] in ("slot", "const"):
        if structure[0] == "slot":
            return _tensor_class()._wrap(slots[structure[1]])
        return structure[1]
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
