"""chainrule/ops/__init__.py keeps a static copy of its public names for type checkers; it must
list exactly the names the module exports at run time."""

from __future__ import annotations

import ast
from pathlib import Path

import chainrule as cr


def _static_all() -> list[str]:
    source = Path(cr.ops.__file__).read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.Assign) and statement.targets[0].id == "__all__":
                    return [element.value for element in statement.value.elts]
    raise AssertionError("no static __all__ under TYPE_CHECKING in chainrule/ops/__init__.py")


def test_static_names_equal_the_runtime_names() -> None:
    static, runtime = set(_static_all()), set(cr.ops.__all__)
    assert static == runtime, {
        "missing from the static list": sorted(runtime - static),
        "not exported at run time": sorted(static - runtime),
    }


def test_every_op_is_reachable_from_the_package() -> None:
    missing = [name for name in cr.ops.__all__ if not hasattr(cr, name)]
    assert not missing
