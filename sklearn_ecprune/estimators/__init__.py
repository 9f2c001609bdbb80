"""scikit-learn estimators: thin skorch subclasses that train, prune and fine-tune.

- ``_base``: the shared mixin (skorch's hooks, one ``_fit`` behind ``fit`` and
  ``partial_fit``), made of ``_params`` (constraints, constructor, ``set_params``),
  ``_training`` (optimizer and loss), ``_inference`` (predict's network,
  ``to_torch``) and ``_persistence`` (fits on a copy, pickles, ``load_params``, the
  MLP attributes);
- ``_plan``: the per-fit plan (seeds, hold-out); ``_schedule``: the phases of a fit as
  one callback, and the pruning; ``_memory``: the cached dense phase; ``_threads``:
  torch's threads per fit and predict;
- ``_classifier``, ``_regressor``: :class:`ECPrunedMLPClassifier`,
  :class:`ECPrunedMLPRegressor`; ``_docs``: their shared docstrings;
- ``_callbacks``: skorch callbacks; ``_module``: the default :class:`MLPModule`;
  ``_data``: tensors served a batch at a time, and early stopping's hold-out split;
- ``_selection``: choosing a sparsity (a ``refit`` rule and a display); ``_cv``: the
  cross-validated sparsity path (:class:`ECPrunedMLPClassifierCV`,
  :class:`ECPrunedMLPRegressorCV`);
- ``_plots``: the displays' axes, and a fit's history as a figure (:class:`FitHistoryDisplay`).
- ``_constraints``: the constraints and defaults the command line reads too (no torch).

Names are imported on first use, so that importing this package (for its constraints,
say) loads no torch.
"""

from ..engine._lazy import lazy_attributes

__all__ = [
    "ECPrunedMLPClassifier",
    "ECPrunedMLPClassifierCV",
    "ECPrunedMLPRegressor",
    "ECPrunedMLPRegressorCV",
    "FitHistoryDisplay",
    "GradualMagnitudePruning",
    "KeepPrunedWeightsZero",
    "MLPModule",
    "SparsityScoreDisplay",
    "sparsest_within_one_standard_error",
]
_MODULES = (
    "._classifier",
    "._regressor",
    "._cv",
    "._callbacks",
    "._module",
    "._plots",
    "._selection",
)
__getattr__, __dir__ = lazy_attributes(__name__, __all__, _MODULES)
