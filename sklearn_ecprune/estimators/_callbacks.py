"""skorch callbacks used by the estimators."""

from __future__ import annotations

from skorch.callbacks import Callback

from ..engine._prune import apply_masks

__all__ = ["KeepPrunedWeightsZero"]


class KeepPrunedWeightsZero(Callback):
    """Re-apply the estimator's pruning masks after every optimizer step.

    Zeroing the gradient is not enough: Adam's momentum and weight decay move a
    weight whose gradient is zero. Masking the weights right after each step keeps
    every pruned weight at exactly 0 while fine-tuning or continuing training.

    Examples
    --------
    >>> from sklearn_ecprune import ECPrunedMLPClassifier, KeepPrunedWeightsZero
    >>> net = ECPrunedMLPClassifier()
    >>> any(isinstance(cb, KeepPrunedWeightsZero) for _, cb in net.get_default_callbacks())
    True
    """

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        """After a training step, set the weights outside ``net.masks_`` back to 0."""
        masks = getattr(net, "masks_", None)
        if training and masks:
            apply_masks(net.module_, masks)
