"""The package's import structure: no circles, and an engine that stands on its own.

Read from the source (``ast``), so that imports inside functions count too: a circle
broken only by importing lazily is still a circle in the design.
"""

from __future__ import annotations

import ast
from pathlib import Path

import sklearn_ecprune

PACKAGE = Path(sklearn_ecprune.__file__).parent
NAME = "sklearn_ecprune"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The modules of the package that ``path`` imports (absolute names)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith(NAME)}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith(NAME):
                continue
            for alias in node.names:  # "from . import x" may import a submodule
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in MODULES else target)
    return {m for m in found if m in MODULES and m != module}


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def _external(path: Path) -> set[str]:
    """Top-level names of the distributions ``path`` imports."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_package_has_no_import_circles():
    # A depth-first search that meets a module on its own path has found a circle.
    circles, state = [], {}

    def visit(module, path):
        state[module] = "open"
        for imported in sorted(GRAPH[module]):
            # A package's __init__ importing its own modules is not a circle back.
            if module.startswith(imported + ".") or imported.startswith(module + "."):
                continue
            if state.get(imported) == "open":
                circles.append([*path[path.index(imported) :], imported])
            elif imported not in state:
                visit(imported, [*path, imported])
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert circles == []


def test_the_engine_imports_nothing_outside_itself():
    engine = f"{NAME}.engine"
    outside = {
        module: sorted(m for m in imported if not m.startswith(engine))
        for module, imported in GRAPH.items()
        if module.startswith(engine)
    }
    assert {m: i for m, i in outside.items() if i} == {}
    for module, path in MODULES.items():
        if module.startswith(engine):
            assert not _external(path) & {"sklearn", "skorch"}, module
