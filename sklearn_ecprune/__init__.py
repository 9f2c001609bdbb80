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

__all__ = [
    "PRUNING_METHODS",
    "ECPrunedMLPClassifier",
    "ECPrunedMLPClassifierCV",
    "ECPrunedMLPRegressor",
    "ECPrunedMLPRegressorCV",
    "EmptyLayerWarning",
    "FitHistoryDisplay",
    "GradualMagnitudePruning",
    "InvalidParameterError",
    "KeepPrunedWeightsZero",
    "LayerReport",
    "LayerStatistics",
    "MLPModule",
    "PruningMethod",
    "PruningReport",
    "PruningResult",
    "SparseLinear",
    "SparsityScoreDisplay",
    "__version__",
    "apply_masks",
    "ecp_importance",
    "ecp_statistics",
    "nonlinear_importance",
    "prune_mlp",
    "prune_neurons",
    "register_method",
    "sparsest_within_one_standard_error",
    "to_sparse_module",
]
__getattr__, __dir__ = lazy_attributes(__name__, __all__, (".engine", ".estimators"))
