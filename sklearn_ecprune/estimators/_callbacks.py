"""skorch callbacks used by the estimators."""

from __future__ import annotations

import torch
from skorch.callbacks import Callback

from ..engine._prune import apply_masks

__all__ = ["KeepPrunedWeightsZero", "ValidationScore"]


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


class ValidationScore(Callback):
    """Record the validation score (accuracy or R^2) after every epoch.

    Added by the estimators when they hold out a validation set (``early_stopping``):
    the history's ``valid_score`` column is what ``validation_scores_`` reports, like
    scikit-learn's MLP. Weighted by the sample weights when ``fit`` had them.
    """

    def on_epoch_end(self, net, dataset_valid=None, **kwargs):
        """Score the network on the validation rows and record it as ``valid_score``."""
        if dataset_valid is None:
            return
        predictions, targets, weights = [], [], []
        for batch in net.get_iterator(dataset_valid, training=False):
            Xi, yi = batch
            predictions.append(net.evaluation_step(batch, training=False).detach().cpu())
            targets.append(yi.detach().cpu())
            if isinstance(Xi, dict) and "sample_weight" in Xi:
                weights.append(Xi["sample_weight"].detach().cpu())
        score = net._validation_score(
            torch.cat(targets).numpy(),
            torch.cat(predictions).numpy(),
            torch.cat(weights).numpy() if weights else None,
        )
        net.history.record("valid_score", float(score))
