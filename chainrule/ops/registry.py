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

__all__ = ["declared_in", "lookup", "primitives"]

# modules of the ops package that declare no primitive of their own
_NOT_OPS = {"registry", "methods", "nn", "_coerce"}


@functools.cache
def _scan() -> dict[str, tuple[Primitive, str]]:
    """name -> (primitive, the ops module that declares it), in the modules' order."""
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
            seen = found.get(primitive.name)
            if seen is None:
                # (an op imported into another module is found there too: it is the same one)
                found[primitive.name] = (primitive, primitive.module.rpartition(".")[2])
            elif seen[0] is not primitive:
                raise RuntimeError(
                    f"two primitives are named {primitive.name!r}: one in {seen[0].module}, "
                    f"one in {primitive.module} ({module_info.name}.{attribute})"
                )
    return found


def primitives() -> Mapping[str, Primitive]:
    """Every primitive by its name, in the order the ops modules declare them.

    Raises RuntimeError if two primitives share a name: the name is how the explainer, the
    JSON records and error messages refer to an op, so it must say which one.
    """
    return {name: primitive for name, (primitive, _) in _scan().items()}


def declared_in(name: str) -> str:
    """The ops module (``unary``, ``reduce`` …) that declares the primitive ``name``."""
    return _scan()[name][1]


def lookup(name: str) -> Primitive | None:
    """The primitive called ``name``, or None (a composite's name, or no op at all)."""
    entry = _scan().get(name)
    return None if entry is None else entry[0]
