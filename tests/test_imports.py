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


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _runtime_nodes(tree: ast.AST):
    """Every node, except those under ``if TYPE_CHECKING:`` (annotations only)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if _is_type_checking(node):
            stack.extend(node.orelse)
        else:
            stack.extend(ast.iter_child_nodes(node))


def _from_imports(path: Path, package: str | None) -> list[tuple[str, list[str]]]:
    """``(absolute module, names)`` of each ``from ... import`` of ``path``."""
    found = []
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
    return found


def _package_of(path: Path) -> str:
    module = _module_name(path)
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _imports(path: Path) -> set[str]:
    """The modules of the package that ``path`` imports at run time (absolute names)."""
    found: set[str] = set()
    for target, names in _from_imports(path, _package_of(path)):
        if not target.startswith(NAME):
            continue
        found.add(target)
        for name in names:  # "from . import x" may import a submodule
            candidate = f"{target}.{name}"
            if candidate in MODULES:
                found.add(candidate)
    return {m for m in found if m in MODULES and m != _module_name(path)}


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def _part(module: str) -> str:
    """The package's part a module belongs to: ``engine``, ``estimators``, ``datasets``..."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


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


def test_no_module_imports_a_private_name_of_another_part():
    # A part (engine, estimators, cli, sweep, datasets, ...) offers public names to the
    # others; importing a public name from one of its private modules is how
    # scikit-learn's subpackages share code, but an underscored name is its own.
    reach_ins = []
    for module, path in MODULES.items():
        for target, names in _from_imports(path, _package_of(path)):
            if not target.startswith(NAME) or _part(target) == _part(module):
                continue
            reach_ins += [f"{module}: {target}.{name}" for name in names if _is_private(name)]
    assert reach_ins == []


# Where a benchmark measures the inside of a fit, with the reason; nothing else may.
INSTRUMENTED = {
    # Wraps the engine's prune_mlp where the estimators call it, to time the pruning's
    # share of a default fit (no public record holds the time of each pruning call).
    "bench_prune_cost.py: sklearn_ecprune.estimators._schedule",
}


def test_benchmarks_and_examples_use_only_public_modules():
    # They are written as users would write them: no private module, no private name.
    root = PACKAGE.parent
    scripts = [*(root / "benchmarks").glob("*.py"), *(root / "docs" / "examples").glob("*.py")]
    assert scripts
    private = []
    for path in scripts:
        for target, names in _from_imports(path, None):
            if not target.startswith(NAME):
                continue
            if any(_is_private(part) for part in target.split(".")):
                private.append(f"{path.name}: {target}")
            private += [f"{path.name}: {target}.{name}" for name in names if _is_private(name)]
    assert sorted(set(private) - INSTRUMENTED) == []
    assert INSTRUMENTED <= set(private)  # an exemption no longer needed goes
