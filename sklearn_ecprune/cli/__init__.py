"""The ``ecprune`` command line.

- ``_main``: the parser, the argument checks and :func:`main` (no torch import);
- ``_commands``: ``demo`` and ``sweep``; ``_csv``: reading a user's CSV file;
- ``_options``: what the parser and the commands share (defaults, the usage error).

The sweeps themselves, their tables and figures are :mod:`sklearn_ecprune.sweep`.
"""

from ._main import build_parser, main

__all__ = ["build_parser", "main"]
