"""The package's layout holds: every module imports, imports flow one way, UI libraries stay in ``shiftlab.app``.

The import graph is read from the source (``ast``), so a cycle or a stray
``import streamlit`` fails here even when no test happens to import the module.
"""

from __future__ import annotations

import ast
import functools
import importlib
import pkgutil
from pathlib import Path

import pytest

import shiftlab
from shiftlab.app.pages import PAGES, SCRIPTS

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "shiftlab"
UI_LIBRARIES = ("streamlit", "altair", "matplotlib")
PAGE_SCRIPTS = sorted((REPO / SCRIPTS).glob("*.py")) + [REPO / "app.py"]
#: the longest function allowed, in lines from ``def`` to its last line
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def modules() -> dict[str, Path]:
    """Module name -> source file, listed once: every module's imports are resolved against it (125 listings took
    3.5 s)."""
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imported(path: Path, package: str) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved against ``package``).

    ``from pkg import name`` counts as importing ``pkg`` unless every name is a
    submodule of ``pkg`` (``from shiftlab.shifts import corruptions``): a
    package's parent ``__init__`` always runs first and is not modelled as an edge.
    """
    known = modules()
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parents = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parents + ([base] if base else []))
            targets = {f"{base}.{alias.name}" for alias in node.names}
            names.update(targets)
            if not targets <= set(known):
                names.add(base)
    return names


@functools.cache
def internal_graph() -> dict[str, set[str]]:
    """Module -> the shiftlab modules it imports (a name that is an attribute, not a module, is dropped)."""
    known = modules()
    graph = {}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = {target for target in imported(path, package) if target in known and target != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_every_module_imports():
    for info in pkgutil.walk_packages(shiftlab.__path__, "shiftlab."):
        if not info.name.endswith("__main__"):  # runs the command line when imported
            importlib.import_module(info.name)


def test_no_import_cycle():
    assert find_cycle(internal_graph()) is None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("name, path", sorted(modules().items()))
def test_only_the_app_imports_ui_libraries(name, path):
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    ui = sorted(n for n in imported(path, package) if n.split(".")[0] in UI_LIBRARIES)
    if not name.startswith("shiftlab.app"):
        assert not ui, f"{name} imports {ui}: UI code belongs in shiftlab.app"


def test_the_core_does_not_import_the_wings():
    wings = ("shiftlab.app", "shiftlab.training", "shiftlab.zoo", "shiftlab.cli", "shiftlab.sweep")
    for name, targets in internal_graph().items():
        if not name.startswith(wings) and name != "shiftlab.__main__":
            assert not [t for t in targets if t.startswith(wings)], f"{name} imports {targets}"


@pytest.mark.parametrize("page", PAGE_SCRIPTS, ids=lambda p: p.name)
def test_pages_hold_layout_and_call_shiftlab_app(page):
    """Pages import ``shiftlab.app`` modules, and from the core nothing but types (classes such as errors)."""
    strays = []
    for node in ast.walk(ast.parse(page.read_text())):
        if isinstance(node, ast.Import):
            strays += [a.name for a in node.names
                       if a.name.startswith("shiftlab") and not a.name.startswith("shiftlab.app")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("shiftlab"):
            if node.module == "shiftlab" or node.module.startswith("shiftlab.app"):
                continue
            module = importlib.import_module(node.module)
            strays += [f"{node.module}.{a.name}" for a in node.names if not isinstance(getattr(module, a.name), type)]
    assert not strays, f"{page.name} imports {strays}: pages go through shiftlab.app"


def globals_read_before_definition(tree: ast.Module) -> list[str]:
    """``function: name`` for each module global a top-level function reads that is first assigned below the ``def``
    (a script's function then works only because of where it is called)."""
    first: dict[str, int] = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        for target in targets:
            for name in ast.walk(target) if target is not None else ():
                if isinstance(name, ast.Name):
                    first.setdefault(name.id, node.lineno)
    found = []
    for function in (node for node in tree.body if isinstance(node, ast.FunctionDef)):
        local = {a.arg for a in ast.walk(function.args) if isinstance(a, ast.arg)}
        local |= {n.id for n in ast.walk(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        found += [f"{function.name}: {n.id}" for n in ast.walk(function) if isinstance(n, ast.Name)
                  and isinstance(n.ctx, ast.Load) and n.id not in local and first.get(n.id, 0) > function.lineno]
    return found


@pytest.mark.parametrize("page", PAGE_SCRIPTS, ids=lambda p: p.name)
def test_page_functions_read_no_global_defined_below_them(page):
    assert not globals_read_before_definition(ast.parse(page.read_text()))


def test_the_global_finder_finds_a_global_defined_below():
    tree = ast.parse("def show(x):\n    return x + view.a + shown\n\nview = 1\nshown = 2\n")
    assert sorted(globals_read_before_definition(tree)) == ["show: shown", "show: view"]
    assert not globals_read_before_definition(ast.parse("view = 1\n\ndef show(view):\n    return view\n"))


def test_every_page_is_declared_once():
    """Each script in ``app_pages/`` has one entry in ``pages.PAGES`` (unique URL path, one default) and heads
    itself with that entry (``setup_page`` called once, with its own name)."""
    names = [page.name for page in PAGES]
    assert sorted(names) == sorted(p.stem for p in (REPO / SCRIPTS).glob("*.py"))
    assert len(set(names)) == len(names) and len({page.url_path for page in PAGES}) == len(PAGES)
    assert [page.name for page in PAGES if page.default] == ["home"]
    for page in PAGES:
        calls = [node for node in ast.walk(ast.parse((REPO / page.script).read_text()))
                 if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setup_page"]
        assert [ast.literal_eval(call.args[0]) for call in calls] == [page.name], page.script


@pytest.mark.parametrize("path", sorted(p for p in [*PACKAGE.rglob("*.py"), *PAGE_SCRIPTS]), ids=str)
def test_no_function_is_longer_than_the_limit(path):
    long = [f"{node.name}: {node.end_lineno - node.lineno + 1} lines" for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f"{path.relative_to(REPO)}: split {long}"
