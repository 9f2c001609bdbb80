"""scikit-learn estimators: thin skorch subclasses that train, prune and fine-tune.

- ``_base``: the shared mixin (fit = dense, prune, fine-tune; ``memory``; seeding;
  parameter constraints), ``_memory``: the cached dense phase;
- ``_classifier``, ``_regressor``: :class:`ECPrunedMLPClassifier`,
  :class:`ECPrunedMLPRegressor`;
- ``_callbacks``: skorch callbacks; ``_module``: the default :class:`MLPModule`;
  ``_data``: the training dataset and early stopping's hold-out split;
- ``_selection``: choosing a sparsity (a ``refit`` rule and a display).
"""

from ._callbacks import GradualMagnitudePruning, KeepPrunedWeightsZero
from ._classifier import ECPrunedMLPClassifier
from ._module import MLPModule
from ._regressor import ECPrunedMLPRegressor
from ._selection import SparsityScoreDisplay, sparsest_within_one_standard_error

__all__ = [
    "ECPrunedMLPClassifier",
    "ECPrunedMLPRegressor",
    "GradualMagnitudePruning",
    "KeepPrunedWeightsZero",
    "MLPModule",
    "SparsityScoreDisplay",
    "sparsest_within_one_standard_error",
]
