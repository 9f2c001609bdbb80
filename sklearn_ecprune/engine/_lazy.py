"""Lazy attributes for a package's ``__init__`` (PEP 562).

``import sklearn_ecprune`` and ``import sklearn_ecprune.engine`` import nothing heavy:
each public name is imported from its module on first use. The command line relies on
it to answer ``--help`` and argument errors without loading torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any


def lazy_attributes(
    package: str, names: Sequence[str], modules: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose public ``names`` (its
    literal ``__all__``) live in ``modules``.

    A name is taken from the first of ``modules`` whose own ``__all__`` lists it, so
    each name is written once, in its module's ``__all__`` and the package's. Module
    names starting with a dot are relative to ``package``; list the cheap ones first.
    """
    exported = frozenset(names)

    def __getattr__(name: str) -> Any:
        if name not in exported:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        for module_name in modules:
            module = importlib.import_module(module_name, package)
            if name in getattr(module, "__all__", ()):
                value = getattr(module, name)
                importlib.import_module(package).__dict__[name] = value  # direct from now on
                return value
        raise AttributeError(f"{package}.__all__ lists {name!r}, which none of {modules} has")

    def __dir__() -> list[str]:
        return sorted({*exported, *importlib.import_module(package).__dict__})

    return __getattr__, __dir__
