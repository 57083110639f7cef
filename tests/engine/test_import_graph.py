"""Imports that run one way: no circle among chestview's modules (function-level imports count, as they
do in the before-stop check), and no module importing another module's ``_private`` names."""

from __future__ import annotations

import ast
from pathlib import Path

import chestview

ROOT = Path(chestview.__file__).resolve().parent


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module and package of chestview."""
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = ("chestview", *path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str | None:
    """The module a ``from ... import`` reads from, relative imports resolved."""
    if node.level == 0:
        return node.module
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, path: Path) -> list[tuple[ast.ImportFrom | ast.Import, str]]:
    """Every import statement in the file (at any depth) with the module it names."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            source = _absolute(node, module, path.name == "__init__.py")
            if source:
                found.append((node, source))
        elif isinstance(node, ast.Import):
            found += [(node, alias.name) for alias in node.names]
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the chestview modules it imports. ``from pkg import name`` counts as an import of
    ``pkg.name`` when that is a module, else of ``pkg``; a package's parents are not counted (importing
    ``a.b.c`` runs ``a.b``'s ``__init__``, but that is the package's own business)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        deps: set[str] = set()
        for node, source in _imports(module, path):
            if isinstance(node, ast.ImportFrom):
                subs = {f"{source}.{alias.name}" for alias in node.names} & modules.keys()
                deps |= subs or {source}
            else:
                deps.add(source)
        graph[module] = {d for d in deps if d in modules and d != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_walk_sees_function_level_and_relative_imports():
    graph = import_graph()
    # Function level (the app defers torch): chestview.cli.main's commands import their modules late.
    assert any(d.startswith("chestview.engine") for d in graph["chestview.cli.predict_cmd"])
    # Relative: the loader imports its readers as ``from .dicom import read_dicom``.
    assert "chestview.engine.io.dicom" in graph["chestview.engine.io.loader"]
    # And the cycle finder finds a circle when there is one.
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circles():
    found = cycles(import_graph())
    shown = "\n".join(" <-> ".join(c) for c in found)
    assert not found, f"import circles among chestview's modules:\n{shown}"


def test_no_module_imports_anothers_private_names():
    modules = _modules()
    offences = []
    for module, path in modules.items():
        for node, source in _imports(module, path):
            if not isinstance(node, ast.ImportFrom) or not source.startswith("chestview") or source == module:
                continue
            private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
            if private:
                offences.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}: from {source} import {', '.join(private)}")
    assert not offences, "imports of another module's private names:\n" + "\n".join(offences)
