"""Containers: Sequential (a pipeline), ModuleList and ModuleDict (registered collections)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Self

from chainrule.nn.module import Module, _indent


def _renumber(modules: dict[str, Module]) -> None:
    """Name the children "0", "1", ... in their order again after a deletion, as PyTorch does,
    so that indices and names agree."""
    children = list(modules.values())
    modules.clear()
    for index, module in enumerate(children):
        modules[str(index)] = module


class _NumberedModules(Module):
    """What Sequential and ModuleList share: children named "0", "1", ... in order, deleted by
    index or slice, appended, extended and inserted."""

    def _index(self, idx: int) -> str:
        """The name of child ``idx`` (negative counts from the end), or IndexError."""
        size = len(self._modules)
        if not -size <= idx < size:
            raise IndexError(
                f"index {idx} is out of range for {type(self).__name__} of length {size}"
            )
        return list(self._modules)[idx % size]

    def __setitem__(self, idx: int, module: Module) -> None:
        setattr(self, self._index(idx), module)

    def __delitem__(self, idx: int | slice) -> None:
        keys = list(self._modules)
        for key in keys[idx] if isinstance(idx, slice) else [self._index(idx)]:
            del self._modules[key]
        _renumber(self._modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Self:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> Self:
        for module in modules:
            self.append(module)
        return self

    def _insert(self, index: int, module: Module) -> None:
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._modules.clear()
        for position, item in enumerate(modules):
            self.add_module(str(position), item)


class Sequential(_NumberedModules):
    """Modules applied one after another, as ``torch.nn.Sequential``.

    Built from modules (named "0", "1", ...) or from an ``OrderedDict`` of named modules.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    >>> len(model), type(model[1]).__name__, model(cr.zeros(5, 4)).shape
    (3, 'ReLU', (5, 2))
    >>> model[:2]
    Sequential(
      (0): Linear(in_features=4, out_features=3, bias=True)
      (1): ReLU()
    )
    """

    def __init__(self, *args: Any) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for index, module in enumerate(args):
                self.add_module(str(index), module)

    def __getitem__(self, idx: int | slice) -> Any:
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        return self._modules[self._index(idx)]

    def insert(self, index: int, module: Module) -> Sequential:
        size = len(self)
        if not -size <= index <= size:
            raise IndexError(f"index {index} is out of range for insertion into length {size}")
        self._insert(index, module)
        return self

    def forward(self, input: Any) -> Any:  # noqa: A002
        for module in self._modules.values():
            input = module(input)
        return input


class ModuleList(_NumberedModules):
    """A list of modules whose parameters the owner registers, as ``torch.nn.ModuleList``.

    Examples
    --------
    >>> from chainrule import nn
    >>> blocks = nn.ModuleList([nn.Linear(3, 3) for _ in range(2)])
    >>> blocks.append(nn.ReLU())
    ModuleList(
      (0-1): 2 x Linear(in_features=3, out_features=3, bias=True)
      (2): ReLU()
    )
    >>> len(list(blocks.parameters()))
    4
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx: int | slice) -> Any:
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[self._index(idx)]

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def insert(self, index: int, module: Module) -> None:
        self._insert(index, module)

    def __repr__(self) -> str:
        # runs of identical modules print once, "(0-2): 3 x Linear(...)", as PyTorch 2 does
        reprs = [repr(module) for module in self._modules.values()]
        if not reprs:
            return "ModuleList()"
        lines = []
        start = 0
        for end in range(1, len(reprs) + 1):
            if end < len(reprs) and reprs[end] == reprs[start]:
                continue
            body = _indent(reprs[start], 2)
            if end - start > 1:
                lines.append(f"({start}-{end - 1}): {end - start} x {body}")
            else:
                lines.append(f"({start}): {body}")
            start = end
        return "ModuleList(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """Named modules in insertion order, registered with their owner (``torch.nn.ModuleDict``).

    Examples
    --------
    >>> from chainrule import nn
    >>> heads = nn.ModuleDict({"digit": nn.Linear(4, 10), "parity": nn.Linear(4, 2)})
    >>> list(heads.keys()), "digit" in heads
    (['digit', 'parity'], True)
    """

    def __init__(
        self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None
    ) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def values(self) -> Iterable[Module]:
        return self._modules.values()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._modules.items()

    def pop(self, key: str) -> Module:
        return self._modules.pop(key)

    def clear(self) -> None:
        self._modules.clear()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for key, module in pairs:
            self[key] = module
