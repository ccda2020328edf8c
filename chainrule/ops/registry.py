"""Every primitive of the op table, found where it is declared: each ops module's
``Primitive(...)`` entries (and the functions made by a factory, which carry theirs as
``.primitive``). The explainer, the derivative handout, the CLI and the tests read an op's
kind, letters and parameters from its Primitive through here, not from lists of names."""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Mapping

from chainrule.autograd.node import Primitive

__all__ = ["lookup", "primitives"]

# modules of the ops package that declare no primitive of their own
_NOT_OPS = {"registry", "methods", "nn", "_coerce"}


@functools.cache
def primitives() -> Mapping[str, Primitive]:
    """Every primitive by its name, in the order the ops modules declare them.

    Raises RuntimeError if two primitives share a name: the name is how the explainer, the
    JSON records and error messages refer to an op, so it must say which one.
    """
    import chainrule.ops as package

    found: dict[str, tuple[Primitive, str]] = {}
    for module_info in pkgutil.iter_modules(package.__path__):
        if module_info.name in _NOT_OPS:
            continue
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        for attribute, value in vars(module).items():
            primitive = value if isinstance(value, Primitive) else getattr(value, "primitive", None)
            if not isinstance(primitive, Primitive):
                continue
            where = f"{module.__name__}.{attribute}"
            seen = found.get(primitive.name)
            if seen is not None and seen[0] is not primitive:
                raise RuntimeError(
                    f"two primitives are named {primitive.name!r}: {seen[1]} and {where}"
                )
            found.setdefault(primitive.name, (primitive, where))
    return {name: primitive for name, (primitive, _) in found.items()}


def lookup(name: str) -> Primitive | None:
    """The primitive called ``name``, or None (a composite's name, or no op at all)."""
    return primitives().get(name)
