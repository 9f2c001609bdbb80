"""The estimators' parameter constraints and defaults that the command line reads too.

Pure Python (the checks of ``engine._validation``): importing it loads no torch, so
``ecprune --help`` and its argument checks use the estimators' own constraints and
defaults without loading the estimators. The engine's functions take none of these.
"""

from __future__ import annotations

import numbers
import os

from ..engine._validation import HasMethods, IntegerSequence, Interval

__all__ = [
    "DEFAULT_HIDDEN_LAYER_SIZES",
    "DEFAULT_MAX_EPOCHS",
    "HIDDEN_LAYER_SIZES",
    "MEMORY",
    "NON_NEGATIVE_FLOAT",
    "NON_NEGATIVE_INT",
    "RANDOM_STATE",
]

# scikit-learn's MLP defaults, which the estimators keep.
DEFAULT_HIDDEN_LAYER_SIZES = (100,)
DEFAULT_MAX_EPOCHS = 200

HIDDEN_LAYER_SIZES = [
    Interval(numbers.Integral, 1, None, closed="left"),
    IntegerSequence(Interval(numbers.Integral, 1, None, closed="left")),
]
NON_NEGATIVE_INT = [Interval(numbers.Integral, 0, None, closed="left")]
NON_NEGATIVE_FLOAT = [Interval(numbers.Real, 0, None, closed="left")]
MEMORY = [None, str, os.PathLike, HasMethods("cache")]
RANDOM_STATE = [None, "seed", "random_state"]
