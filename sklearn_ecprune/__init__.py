"""Elimination-compensation pruning for scikit-learn neural networks.

- :class:`ECPrunedMLPClassifier` and :class:`ECPrunedMLPRegressor` (``estimators``):
  scikit-learn estimators, built on skorch, whose ``fit`` trains a dense MLP, prunes
  it with bias compensation and fine-tunes it.
- The engine (``engine``: :func:`prune_mlp`, :func:`ecp_statistics`, ...): pure PyTorch,
  for any ``torch.nn.Module`` made of ``nn.Linear`` layers.
- ``datasets``: the paper's diffusion-sorption scenario and named data sets;
  ``cli``: the ``ecprune`` command.

Names are imported on first use, so that ``import sklearn_ecprune`` stays cheap.
"""

from .engine._lazy import lazy_attributes

__version__ = "0.2.0"

_EXPORTS = {
    "ECPrunedMLPClassifier": ".estimators",
    "ECPrunedMLPRegressor": ".estimators",
    "ECPrunedMLPClassifierCV": ".estimators",
    "ECPrunedMLPRegressorCV": ".estimators",
    "FitHistoryDisplay": ".estimators",
    "GradualMagnitudePruning": ".estimators",
    "KeepPrunedWeightsZero": ".estimators",
    "MLPModule": ".estimators",
    "SparsityScoreDisplay": ".estimators",
    "sparsest_within_one_standard_error": ".estimators",
    "EmptyLayerWarning": ".engine",
    "InvalidParameterError": ".engine",
    "LayerReport": ".engine",
    "LayerStatistics": ".engine",
    "PRUNING_METHODS": ".engine",
    "PruningMethod": ".engine",
    "PruningReport": ".engine",
    "PruningResult": ".engine",
    "SparseLinear": ".engine",
    "apply_masks": ".engine",
    "ecp_importance": ".engine",
    "ecp_statistics": ".engine",
    "nonlinear_importance": ".engine",
    "prune_mlp": ".engine",
    "prune_neurons": ".engine",
    "register_method": ".engine",
    "to_sparse_module": ".engine",
}
__all__ = sorted([*_EXPORTS, "__version__"])
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)
