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

_EXPORTS = {
    "BiasShift": "._compensators",
    "Compensator": "._compensators",
    "ConjugateGradientRefit": "._compensators",
    "DEFAULT_METHOD": "._methods",
    "ExactRefit": "._compensators",
    "LayerStep": "._compensators",
    "MaskOnly": "._compensators",
    "EmptyLayerWarning": "._prune",
    "PRUNING_METHODS": "._methods",
    "InvalidParameterError": "._validation",
    "LayerContext": "._methods",
    "LayerReport": "._report",
    "LayerStatistics": "._statistics",
    "PruneConfig": "._prune",
    "PruningMethod": "._methods",
    "PruningReport": "._report",
    "PruningResult": "._report",
    "SparseLinear": "._sparse",
    "apply_masks": "._prune",
    "compact_module": "._structured",
    "ecp_importance": "._prune",
    "ecp_statistics": "._statistics",
    "nonlinear_importance": "._oracle",
    "prune_mlp": "._prune",
    "prefers_sparse": "._sparse",
    "prune_neurons": "._structured",
    "register_method": "._methods",
    "render_table": "._report",
    "to_sparse_module": "._sparse",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)
