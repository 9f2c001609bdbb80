"""The ``ecprune`` command line.

- ``_main``: the parser, the argument checks and :func:`main` (no torch import);
- ``_commands``: ``demo`` and ``sweep``; ``_csv``: reading a user's CSV file;
- ``_configurations``: the named estimator configurations a sweep compares;
- ``_sweep``: the sweep over the estimators; ``_tables`` and ``_plots``: its report.
"""

from ._main import build_parser, main

__all__ = ["build_parser", "main"]
