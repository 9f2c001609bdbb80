"""The pruning engine: pure PyTorch, no scikit-learn, no skorch.

statistics -> scores -> selection -> apply -> refit, for any ``torch.nn.Module`` made of
``nn.Linear`` layers:

- ``_layers``: the prunable layers, in forward order, input checks, the one way to
  hook a layer (``forward_hooks``) and ``evaluating``;
- ``_statistics``: ECP's S0, S1, S2 (one forward and K backward passes per batch);
- ``_methods``: one class per criterion, in one registry (:data:`PRUNING_METHODS`);
  a method is a scorer and a compensator (``_compensators``: bias shift, refits);
- ``_selection``: which weights go, and the schedule of steps;
- ``_prune``: :func:`prune_mlp`, which runs them; ``_refit``: the least-squares refit;
- ``_structured``: :func:`prune_neurons`; ``_sparse``: CSR inference layers;
- ``_oracle``: the exact (slow) removal error; ``_report``: tables;
- ``_validation``: the parameter constraints shared by the whole package.

Names are imported on first use, so that importing this package is cheap.
"""

from ._lazy import lazy_attributes

__all__ = [
    "DEFAULT_METHOD",
    "PRUNING_METHODS",
    "BiasShift",
    "Compensator",
    "ConjugateGradientRefit",
    "EmptyLayerWarning",
    "ExactRefit",
    "InvalidParameterError",
    "LayerContext",
    "LayerReport",
    "LayerStatistics",
    "LayerStep",
    "MaskOnly",
    "PruneConfig",
    "PruningMethod",
    "PruningReport",
    "PruningResult",
    "SparseLinear",
    "apply_masks",
    "compact_module",
    "ecp_importance",
    "ecp_statistics",
    "nonlinear_importance",
    "prefers_sparse",
    "prune_mlp",
    "prune_neurons",
    "register_method",
    "render_table",
    "to_sparse_module",
]
# Where the names live; the two that import no torch first (the command line reads them).
_MODULES = (
    "._validation",
    "._report",
    "._methods",
    "._prune",
    "._statistics",
    "._compensators",
    "._oracle",
    "._structured",
    "._sparse",
)
__getattr__, __dir__ = lazy_attributes(__name__, __all__, _MODULES)
