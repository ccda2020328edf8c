"""State dicts: a module's parameters and persistent buffers by dotted name, in PyTorch's
order, and loading one all or nothing."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from chainrule.autograd.grad_mode import no_grad
from chainrule.tensor import Tensor

if TYPE_CHECKING:
    from chainrule.nn.module import Module


class IncompatibleKeys(NamedTuple):
    """The keys ``load_state_dict(strict=False)`` could not match (PyTorch's
    ``_IncompatibleKeys``)."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def state_items(root: Module, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
    """Parameters then persistent buffers of each module, depth first, as PyTorch's
    ``state_dict`` orders them (a shared module appears under every name it has)."""
    for module_prefix, module in root.named_modules(prefix=prefix, remove_duplicate=False):
        dot = f"{module_prefix}." if module_prefix else ""
        for name, param in module._parameters.items():
            if param is not None:
                yield dot + name, param
        for name, buffer in module._buffers.items():
            if buffer is not None and name not in module._non_persistent_buffers_set:
                yield dot + name, buffer


def load_state_dict(
    module: Module, state_dict: Mapping[str, Any], strict: bool
) -> IncompatibleKeys:
    """``Module.load_state_dict``: every key, shape and value checked before anything is
    written; one RuntimeError naming every problem, and the module unchanged, otherwise."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"expected a mapping of names to tensors, got {type(state_dict).__name__}")
    own = OrderedDict(module._state_items())
    missing = [key for key in own if key not in state_dict]
    unexpected = [key for key in state_dict if key not in own]
    problems = []
    if strict and unexpected:
        problems.append(
            "Unexpected key(s) in state_dict: " + ", ".join(f'"{key}"' for key in unexpected) + "."
        )
    if strict and missing:
        problems.append(
            "Missing key(s) in state_dict: " + ", ".join(f'"{key}"' for key in missing) + "."
        )
    updates = []
    for key, tensor in own.items():
        if key not in state_dict:
            continue
        value = state_dict[key]
        try:
            array = value._data if isinstance(value, Tensor) else np.asarray(value)
        except Exception as exc:  # noqa: BLE001 - any failure to convert is the user's input
            problems.append(f"value for {key} can't be read as an array: {exc}")
            continue
        if array.dtype.kind not in "biuf":
            problems.append(f"value for {key} has dtype {array.dtype}, not a number type")
        elif tuple(array.shape) != tuple(tensor.shape):
            problems.append(
                f"size mismatch for {key}: copying a param with shape {tuple(array.shape)} "
                f"from checkpoint, the shape in current model is {tuple(tensor.shape)}."
            )
        else:
            updates.append((tensor, array))
    if problems:
        raise RuntimeError(
            f"Error(s) in loading state_dict for {type(module).__name__} "
            "(nothing was loaded; the model is unchanged):\n\t" + "\n\t".join(problems)
        )
    with no_grad():
        for tensor, array in updates:
            tensor._data[...] = array  # casts to the tensor's dtype, as copy_ does
            tensor._bump_version()
    return IncompatibleKeys(missing, unexpected)
