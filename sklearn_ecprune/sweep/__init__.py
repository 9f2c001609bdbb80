"""Sweeps over the estimators: pruning configurations compared at several sparsities.

The layer below the ``ecprune`` command, for scripts and benchmarks: every number is a
fit of a preprocessor + :class:`~sklearn_ecprune.ECPrunedMLPClassifier` /
:class:`~sklearn_ecprune.ECPrunedMLPRegressor` pipeline, as a user writes it, and
each seed's dense network is trained once and pruned by every configuration.

- ``_configurations``: :class:`Configuration` and the named
  :data:`SWEEP_CONFIGURATIONS` (pure data);
- ``_run``: :class:`SweepData`, :func:`run_sweep` and its building blocks
  (:func:`make_pipeline_for`, :func:`evaluate`), and the win counts
  (:func:`summarize`, :func:`win_table`, :func:`competing`, :func:`baselines_of`);
- ``_tables``: :func:`results_text` and :func:`markdown_tables`; ``_plots``:
  :func:`plot_sweep`.

Importing this package imports neither torch, scikit-learn nor pandas: the functions
import them when they run, so the command line answers ``--help`` at once.
"""

from ._configurations import DEFAULT_CONFIGURATION, SWEEP_CONFIGURATIONS, Configuration
from ._plots import plot_sweep
from ._run import (
    SweepData,
    baselines_of,
    competing,
    evaluate,
    make_pipeline_for,
    run_sweep,
    summarize,
    win_table,
)
from ._tables import markdown_tables, results_text

__all__ = [
    "DEFAULT_CONFIGURATION",
    "SWEEP_CONFIGURATIONS",
    "Configuration",
    "SweepData",
    "baselines_of",
    "competing",
    "evaluate",
    "make_pipeline_for",
    "markdown_tables",
    "plot_sweep",
    "results_text",
    "run_sweep",
    "summarize",
    "win_table",
]
