"""Which modules are in eval mode, kept as the key a replayed step is traced for
(``grad_mode.state.modes``): a frozenset of the serial numbers of the modules in eval mode, so
that switching to eval and back gives the same key again, and the step's verified plan for
training mode is used again (chainrule.autograd.replay keeps one plan per key)."""

from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING

from chainrule.autograd import grad_mode

if TYPE_CHECKING:
    from chainrule.nn.module import Module

_serials = itertools.count(1)
_in_eval: set[int] = set()
# (a change and its snapshot as one step: two threads switching modes at once must not store an
# older snapshot over a newer one, which would give back a key of another configuration)
_lock = threading.RLock()


def set_training(modules: Iterable[Module], mode: bool) -> None:
    """``module.training = mode`` for each of ``modules`` (not their children), kept in the key."""
    with _lock:
        _set_training(modules, mode)


def _set_training(modules: Iterable[Module], mode: bool) -> None:
    changed = False
    for module in modules:
        serial = module.__dict__.get("_mode_serial")
        if serial is None:
            if mode:  # (a module that was never in eval mode is not in the set)
                object.__setattr__(module, "training", True)
                continue
            serial = _new_serial(module)
        if mode:
            changed |= serial in _in_eval
            _in_eval.discard(serial)
        else:
            changed |= serial not in _in_eval
            _in_eval.add(serial)
        object.__setattr__(module, "training", mode)
    if changed:
        grad_mode.state.modes = frozenset(_in_eval)


def copied(module: Module) -> None:
    """A module made by copying or unpickling: it gets a serial of its own (the original keeps
    its)."""
    module.__dict__.pop("_mode_serial", None)
    if module.__dict__.get("training", True) is False:
        set_training((module,), False)


def _new_serial(module: Module) -> int:
    serial = next(_serials)
    object.__setattr__(module, "_mode_serial", serial)
    weakref.finalize(module, _forget, serial)
    return serial


def _forget(serial: int) -> None:
    """A module in the set was collected."""
    with _lock:  # (an RLock: a collection can run inside set_training, on this thread)
        if serial in _in_eval:
            _in_eval.discard(serial)
            grad_mode.state.modes = frozenset(_in_eval)
