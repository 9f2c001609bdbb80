"""Lazy attributes for a package's ``__init__`` (PEP 562).

``import sklearn_ecprune`` and ``import sklearn_ecprune.engine`` import nothing heavy:
each public name is imported from its module on first use. The command line relies on
it to answer ``--help`` and argument errors without loading torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, given name -> module.

    Module names starting with a dot are relative to ``package``.
    """

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(exports[name], package)
        value = getattr(module, name)
        importlib.import_module(package).__dict__[name] = value  # later lookups are direct
        return value

    def __dir__() -> list[str]:
        return sorted({*exports, *importlib.import_module(package).__dict__})

    return __getattr__, __dir__
