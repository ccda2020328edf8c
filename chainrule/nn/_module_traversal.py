"""Walking a module tree for :class:`chainrule.nn.Module`: every module depth first, each
module's children, and the parameters or buffers of the tree, in PyTorch's order (the
methods ``named_modules``, ``named_children``, ``named_parameters``, ``named_buffers`` and
``get_submodule`` delegate here)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chainrule.nn.module import Module


def named_modules(
    root: Module, memo: set[int] | None, prefix: str, remove_duplicate: bool
) -> Iterator[tuple[str, Module]]:
    """``root`` first, then its tree depth first, each module's children in registration order."""
    seen = set() if memo is None else memo
    stack: list[tuple[str, Module]] = [(prefix, root)]
    while stack:
        name, module = stack.pop()
        if id(module) in seen:
            continue
        if remove_duplicate:
            seen.add(id(module))
        yield name, module
        children = [
            (f"{name}.{key}" if name else key, child)
            for key, child in module._modules.items()
            if child is not None
        ]
        stack.extend(reversed(children))


def named_children(root: Module) -> Iterator[tuple[str, Module]]:
    """``root``'s direct children, each once, in registration order."""
    seen: set[int] = set()
    for name, module in root._modules.items():
        if module is not None and id(module) not in seen:
            seen.add(id(module))
            yield name, module


def named_members(
    root: Module, registry: str, prefix: str, recurse: bool, remove_duplicate: bool
) -> Iterator[tuple[str, Any]]:
    """The entries of ``registry`` (``"_parameters"`` or ``"_buffers"``) of every module in
    the tree (or of ``root`` alone), by dotted name, each tensor once unless asked."""
    seen: set[int] = set()
    modules = (
        root.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
        if recurse
        else [(prefix, root)]
    )
    for module_prefix, module in modules:
        for key, value in module.__dict__[registry].items():
            if value is None or id(value) in seen:
                continue
            if remove_duplicate:
                seen.add(id(value))
            yield (f"{module_prefix}.{key}" if module_prefix else key), value


def get_submodule(root: Module, target: str) -> Module:
    """The module at the dotted path ``target`` below ``root`` (``root`` itself for "")."""
    module = root
    for part in target.split(".") if target else []:
        child = module._modules.get(part)
        if child is None:
            raise AttributeError(
                f"{type(module).__name__} has no submodule {part!r} (looking up {target!r})"
            )
        module = child
    return module
