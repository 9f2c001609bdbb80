"""Elimination-compensation pruning for scikit-learn neural networks.

The engine (:func:`prune_mlp`, :func:`ecp_statistics`, :func:`ecp_importance`) is
pure PyTorch and works on any ``torch.nn.Module`` made of ``nn.Linear`` layers.
"""

from ._callbacks import KeepPrunedWeightsZero
from ._compact import SparseLinear, prune_neurons, to_sparse_module
from ._estimators import ECPrunedMLPClassifier, ECPrunedMLPRegressor
from ._methods import PRUNING_METHODS, PruningMethod, register_method
from ._modules import MLPModule
from ._oracle import nonlinear_importance
from ._pruning import apply_masks, ecp_importance, prune_mlp
from ._report import LayerReport, PruningReport, PruningResult
from ._statistics import LayerStatistics, ecp_statistics

__version__ = "0.1.0"

__all__ = [
    "PRUNING_METHODS",
    "ECPrunedMLPClassifier",
    "ECPrunedMLPRegressor",
    "KeepPrunedWeightsZero",
    "LayerReport",
    "LayerStatistics",
    "MLPModule",
    "PruningMethod",
    "PruningReport",
    "PruningResult",
    "SparseLinear",
    "__version__",
    "apply_masks",
    "ecp_importance",
    "ecp_statistics",
    "nonlinear_importance",
    "prune_mlp",
    "prune_neurons",
    "register_method",
    "to_sparse_module",
]
