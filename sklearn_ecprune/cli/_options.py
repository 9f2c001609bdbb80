"""What the ``ecprune`` command's modules share: its name, defaults and usage error.

Imported by the parser (``_main``) and by the commands (``_commands``), so that neither
imports the other.
"""

from __future__ import annotations

import argparse

from ..estimators._constraints import DEFAULT_HIDDEN_LAYER_SIZES, DEFAULT_MAX_EPOCHS
from ..sweep import DEFAULT_CONFIGURATION, SWEEP_CONFIGURATIONS

__all__ = [
    "DEFAULT_NOISE",
    "DEMO_METHODS",
    "HIDDEN",
    "MAX_EPOCHS",
    "PROG",
    "SPARSITIES",
    "SWEEP_METHODS",
    "TEST_SIZE",
    "CommandError",
    "methods_of",
]

PROG = "ecprune"
SPARSITIES = (0.5, 0.7, 0.8, 0.9, 0.95)
# The estimators' own defaults (read without loading torch).
HIDDEN = DEFAULT_HIDDEN_LAYER_SIZES
MAX_EPOCHS = DEFAULT_MAX_EPOCHS
TEST_SIZE = 0.25
# The demo: the default, the paper's one-shot ECP and the other fast criteria.
DEMO_METHODS = (DEFAULT_CONFIGURATION, "ecp", "magnitude", "wanda", "obd", "gradient", "random")
SWEEP_METHODS = tuple(
    name for name, c in SWEEP_CONFIGURATIONS.items() if c.kind in ("default", "baseline")
)
# Noise levels of the synthetic datasets when --noise is not given. Several levels for
# diffusion-sorption give one panel per level, like the figure of the ECP paper;
# friedman's noise is scikit-learn's absolute standard deviation (target std ~5).
DEFAULT_NOISE = {"diffusion-sorption": (0.0, 0.05, 0.1), "friedman": (1.0,)}


class CommandError(Exception):
    """A usage problem, reported as one ``ecprune: error:`` line and exit code 2."""


def methods_of(args: argparse.Namespace) -> list[str]:
    """The configurations asked for, ``all`` expanded, in order, without repeats."""
    wanted: list[str] = []
    for name in args.methods:
        wanted += list(SWEEP_CONFIGURATIONS) if name == "all" else [name]
    return list(dict.fromkeys(wanted))
