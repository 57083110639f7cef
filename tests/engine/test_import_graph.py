"""Imports that run one way: no circle among chestview's modules (function-level imports count, as they
do in the before-stop check), no module importing another module's ``_private`` names, no import of a
higher layer (LAYERS, below), and no function-level chestview import that does not say what it defers."""

from __future__ import annotations

import ast
import re
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


# -- layers ----------------------------------------------------------------------------------------
# chestview's layers, lowest first (documented in chestview/engine/__init__.py): a module imports only
# from its own layer or those below it, at module or function level. An entry names a module or a
# package with all its modules; the longest entry naming a module wins, so a package's workflow
# module (gate.fit, zoo.publish) sits above the rest of its package. ``chestview`` and
# ``chestview.engine`` name only their own __init__, so a new module must be placed here.
E = "chestview.engine."
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("chestview", "chestview.engine", *(E + m for m in (
        "errors", "util", "paths", "entry_files", "device", "colormaps", "sqlite_store", "memory")))),
    ("records", tuple(E + m for m in ("results", "case_call", "measure", "report_line", "priors"))),
    ("readers and models", tuple(E + m for m in (
        "io", "preprocess", "outputs", "data", "models", "explain", "evaluate"))),
    # what the installed models are and what they claim (cards, the zoo's folders, site profiles)
    ("catalogue", tuple(E + m for m in ("zoo", "site"))),
    # running a model on films: backends, the input gate, batching, drawing
    ("runtime", tuple(E + m for m in ("backends", "gate", "pipeline", "render", "ensemble"))),
    ("prediction", tuple(E + m for m in (
        "inference", "result_cache", "reviews", "annotations", "worklist", "export", "dicom_export", "shard"))),
    # long jobs built on prediction: training, evaluation runs, fitting, proofs, publishing and importing
    ("workflows", tuple(E + m for m in (
        "train", "bench", "precision_proof", "gate.fit", "site.fit", "zoo.publish", "zoo.importers", "zoo.fetch",
        "evaluate.against_reader", "evaluate.reader_verdicts"))),
    ("front ends", ("chestview.cli", "chestview.gui", "chestview.__main__")),
)
_ROOTS = {"chestview", "chestview.engine"}


def layer_of(module: str) -> int | None:
    """The index in LAYERS of ``module``'s layer (longest matching entry), None when unplaced."""
    best: tuple[int, int] | None = None
    for index, (_name, entries) in enumerate(LAYERS):
        for entry in entries:
            if module == entry or (entry not in _ROOTS and module.startswith(entry + ".")):
                if best is None or len(entry) > best[1]:
                    best = (index, len(entry))
    return None if best is None else best[0]


def upward_imports() -> list[str]:
    """``file:line: module (layer) imports target (layer)`` for every import of a higher layer."""
    modules = _modules()
    found = []
    for module, path in modules.items():
        for node, source in _imports(module, path):
            if isinstance(node, ast.ImportFrom):
                targets = {f"{source}.{a.name}" for a in node.names} & modules.keys() or {source}
            else:
                targets = {source}
            for target in sorted(t for t in targets if t in modules and t != module):
                low, high = layer_of(module), layer_of(target)
                if low is not None and high is not None and high > low:
                    found.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}: {module} ({LAYERS[low][0]}) "
                                 f"imports {target} ({LAYERS[high][0]})")
    return found


def test_every_module_has_a_layer():
    unplaced = sorted(m for m in _modules() if layer_of(m) is None)
    assert not unplaced, f"modules missing from LAYERS: {unplaced}"


def test_the_layers_read_as_documented():
    assert layer_of("chestview.engine.errors") == 0
    assert layer_of("chestview.engine.zoo.store") < layer_of("chestview.engine.backends.select")
    assert layer_of("chestview.engine.gate.check") < layer_of("chestview.engine.gate.fit")
    assert max(layer_of(m) for m in _modules() if m.startswith("chestview.engine")) < layer_of("chestview.cli.main")
    assert layer_of("chestview.engine.not_placed") is None  # a new top-level engine module must be placed


def test_no_upward_imports():
    found = upward_imports()
    assert not found, "imports of a higher layer (see LAYERS):\n" + "\n".join(found)


# -- function-level imports ------------------------------------------------------------------------
# A chestview import inside a function defers something heavy (torch, sklearn, Qt) out of the app's
# or a command's start-up, and says so: a comment with "defer", "lazy" or "late" on the import, on
# the line above it or above its run of imports. An import guarded by ``try`` (an optional module)
# needs none. Files other work owns for now are listed with the reason their imports stay.
JUSTIFIED = re.compile(r"#.*\b(defer\w*|lazy|lazily|late)\b", re.IGNORECASE)
ALLOWED_FUNCTION_LEVEL: dict[str, str] = {}


def _import_runs(tree: ast.AST) -> list[list[ast.stmt]]:
    """Each run of consecutive import statements inside a function body (or a block within one)."""
    runs: list[list[ast.stmt]] = []
    seen: set[int] = set()
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(func):
            for body in (getattr(node, f, None) for f in ("body", "orelse", "finalbody")):
                if not isinstance(body, list):
                    continue
                run: list[ast.stmt] = []
                for stmt in [*body, None]:
                    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                        run.append(stmt)
                    elif run:
                        if id(run[0]) not in seen:
                            seen.add(id(run[0]))
                            runs.append(run)
                        run = []
    return runs


def _guarded(tree: ast.AST, stmt: ast.stmt) -> bool:
    """Whether ``stmt`` sits in a ``try`` that catches ImportError (an optional module)."""
    return any(
        isinstance(t, ast.Try) and any(s is stmt for s in t.body)
        and any(h.type is not None and any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError")
                                           for n in ast.walk(h.type)) for h in t.handlers)
        for t in ast.walk(tree)
    )


def unjustified_function_level_imports(source: str, module: str, is_package: bool = False) -> list[int]:
    """Line numbers of function-level chestview imports in ``source`` without a deferral comment."""
    lines = source.splitlines()
    tree = ast.parse(source)
    found = []
    for run in _import_runs(tree):
        chestview_lines = [
            s.lineno for s in run
            if (isinstance(s, ast.ImportFrom) and (s.level or (s.module or "").startswith("chestview")))
            or (isinstance(s, ast.Import) and any(a.name.startswith("chestview") for a in s.names))
        ]
        if not chestview_lines or _guarded(tree, run[0]):
            continue
        if not any(JUSTIFIED.search(line) for line in lines[max(run[0].lineno - 2, 0): run[-1].end_lineno]):
            found += chestview_lines
    return found


def test_the_function_level_check_wants_a_reason():
    bare = "def f():\n    x = 1\n    from chestview.engine import zoo\n    return zoo\n"
    said = "def f():\n    # deferred: imports torch\n    from chestview.engine import zoo\n    import json\n    return zoo\n"
    guarded = "def f():\n    try:\n        from chestview.gui import app\n    except ImportError:\n        return None\n"
    other = "def f():\n    import json\n    return json\n"
    assert unjustified_function_level_imports(bare, "m") == [3]
    assert unjustified_function_level_imports(said, "m") == []
    assert unjustified_function_level_imports(guarded, "m") == []
    assert unjustified_function_level_imports(other, "m") == []


def test_function_level_imports_say_what_they_defer():
    offences = []
    for module, path in _modules().items():
        rel = str(path.relative_to(ROOT.parent).as_posix())
        if rel in ALLOWED_FUNCTION_LEVEL:
            continue
        for line in unjustified_function_level_imports(path.read_text(encoding="utf-8"), module):
            offences.append(f"{rel}:{line}")
    assert not offences, ("function-level chestview imports with no comment saying what they defer (move them to "
                          "module level, or say 'deferred: imports torch'):\n" + "\n".join(offences))


def test_the_allowed_files_still_need_it():
    # an entry outlives its reason when its file has no unjustified function-level import left
    for rel in ALLOWED_FUNCTION_LEVEL:
        path = ROOT.parent / rel
        assert path.exists(), rel
        assert unjustified_function_level_imports(path.read_text(encoding="utf-8"), rel), f"{rel}: drop it from the list"
