"""The layout STYLE.md and ARCHITECTURE.md describe, checked from the code's own imports: no
import circle between chainrule's modules, the explainer's records import no view, and the
views share only the formatting module."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "chainrule"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _owner(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str, lazy: bool = False) -> set[str]:
    """The chainrule modules ``module`` imports (at module level, or anywhere with ``lazy``);
    a module's own parent packages don't count (importing it runs them anyway)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree) if lazy else tree.body:
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if name.split(".")[0] != "chainrule":
                continue
            owner = _owner(name)
            if owner and owner != module and not module.startswith(owner + "."):
                found.add(owner)
    return found


def circles(lazy: bool = False) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    graph = {m: sorted(imports(m, lazy)) for m in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            if i < len(graph[node]):
                work.append((node, i + 1))
                child = graph[node][i]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            for child in graph[node]:
                if child in on_stack:
                    low[node] = min(low[node], low[child])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_finder_finds_a_circle():
    assert "chainrule.explain.records" in imports("chainrule.explain.render_json")
    assert "chainrule.explain.formatting" in imports("chainrule.explain.render_text")


def test_no_import_circle_at_module_level():
    assert circles() == []


def test_the_records_import_no_view_even_lazily():
    views = {
        "chainrule.explain.render_text",
        "chainrule.explain.render_markdown",
        "chainrule.explain.render_html",
        "chainrule.explain.render_json",
    }
    for module in ("chainrule.explain.records", "chainrule.explain.formatting"):
        assert not imports(module, lazy=True) & views, module
    for view in views - {"chainrule.explain.render_json"}:
        assert not imports(view, lazy=True) & (views - {view}), view
