"""skorch callbacks used by the estimators."""

from __future__ import annotations

import warnings

import torch
from skorch.callbacks import Callback
from torch import nn

__all__ = [
    "GradualMagnitudePruning",
    "KeepPrunedWeightsZero",
    "ValidationScore",
    "cubic_sparsity",
]


class KeepPrunedWeightsZero(Callback):
    """Re-apply the estimator's pruning masks after every optimizer step.

    Zeroing the gradient is not enough: Adam's momentum and weight decay move a
    weight whose gradient is zero. Masking the weights right after each step keeps
    every pruned weight at exactly 0 while fine-tuning or continuing training. The
    (weight, mask) pairs are looked up once per set of masks, not at every step.

    Examples
    --------
    >>> from sklearn_ecprune import ECPrunedMLPClassifier, KeepPrunedWeightsZero
    >>> net = ECPrunedMLPClassifier()
    >>> any(isinstance(cb, KeepPrunedWeightsZero) for _, cb in net.get_default_callbacks())
    True
    """

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        """Forget the pairs of an earlier fit."""
        self._pairs = None

    def on_grad_computed(self, net, named_parameters, training=False, **kwargs):
        """With L-BFGS, also zero the pruned weights' gradients.

        Its step evaluates the loss at several points and builds its directions from
        the gradients: zero gradients keep every direction, and so every point its
        line search tries, inside the masks.
        """
        if training and isinstance(net.optimizer_, torch.optim.LBFGS):
            for weight, mask in self._masked(net):
                if weight.grad is not None:
                    weight.grad.mul_(mask)

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        """After a training step, set the weights outside ``net.masks_`` back to 0."""
        if not training:
            return
        with torch.no_grad():
            for weight, mask in self._masked(net):
                weight.mul_(mask)

    def _masked(self, net) -> list:
        """The (weight, mask) pairs of the pruned layers; none before the first prune."""
        masks = getattr(net, "masks_", None)
        if not masks:
            return []
        pairs = getattr(self, "_pairs", None)
        if pairs is None or pairs[0] is not masks or pairs[1] is not net.module_:
            layers = dict(net.module_.named_modules())
            pairs = (
                masks,
                net.module_,
                [
                    (layers[name].weight, mask.to(layers[name].weight.dtype))
                    for name, mask in masks.items()
                    if name in layers and not bool(mask.all())
                ],
            )
            self._pairs = pairs
        return pairs[2]

    def __getstate__(self):
        """Pickled without the references to the module's weights."""
        state = dict(vars(self))
        state.pop("_pairs", None)
        return state


class ValidationScore(Callback):
    """Record the validation score (accuracy or R^2) after every epoch.

    Added by the estimators when the fit has a validation set: the history's
    ``valid_score`` column is what ``validation_scores_`` reports, like scikit-learn's
    MLP, and what the stopping rule watches. It scores the predictions skorch made for
    the validation loss (no second pass over the rows), weighted by the sample weights
    when ``fit`` had them.
    """

    def on_epoch_begin(self, net, **kwargs):
        """Start collecting this epoch's validation predictions."""
        self._seen = ([], [], [])

    def on_batch_end(self, net, batch=None, training=False, y_pred=None, **kwargs):
        """Keep a validation batch's predictions, targets and weights."""
        if training or y_pred is None:
            return
        Xi, yi = batch
        predictions, targets, weights = self._seen
        predictions.append(y_pred.detach().cpu())
        targets.append(torch.as_tensor(yi).cpu())
        if isinstance(Xi, dict) and "sample_weight" in Xi:
            weights.append(torch.as_tensor(Xi["sample_weight"]).cpu())

    def on_epoch_end(self, net, dataset_valid=None, **kwargs):
        """Score this epoch's validation predictions and record ``valid_score``."""
        predictions, targets, weights = getattr(self, "_seen", ([], [], []))
        self._seen = ([], [], [])
        if dataset_valid is None or not predictions:
            return
        weights = torch.cat(weights).numpy() if weights else None
        if weights is not None and not weights.sum() > 0:
            weights = None  # every validation row has weight 0: score them all alike
        score = net._validation_score(
            torch.cat(targets).numpy(), torch.cat(predictions).numpy(), weights
        )
        net.history.record("valid_score", float(score))


def cubic_sparsity(step: int, t_start: int, t_end: int, s_init: float, s_final: float) -> float:
    """Zhu & Gupta's target sparsity after ``step`` optimizer steps."""
    if step < t_start:
        return 0.0
    if step >= t_end:
        return s_final
    frac = (step - t_start) / (t_end - t_start)
    return s_final + (s_init - s_final) * (1.0 - frac) ** 3


def _linear_weights(module: nn.Module) -> list[torch.nn.Parameter]:
    return [m.weight for m in module.modules() if isinstance(m, nn.Linear)]


class GradualMagnitudePruning(Callback):
    """Gradual magnitude pruning (Zhu & Gupta 2017) during training, as a skorch callback.

    The train-time baseline that the estimators' fit is compared with: the share of
    zero weights rises on Zhu & Gupta's cubic schedule
    ``s_t = s_f + (s_i - s_f) (1 - (t - t0) / (t1 - t0))^3`` over the optimizer steps
    ``t0 <= t <= t1``; every ``update_every`` steps the smallest weights of all
    ``nn.Linear`` layers together (global magnitude; biases are never pruned) are set
    to zero, and they are held at zero after every optimizer step. Works on
    ``net.module_`` of any skorch net. With the estimators, use it with
    ``sparsity=0`` (no pruning of their own) and stopping out of the way
    (``early_stopping=False``, so that no earlier, denser epoch is restored, and
    ``n_iter_no_change`` at least ``max_epochs``), so that all scheduled epochs run.

    Parameters
    ----------
    final_sparsity : float in [0, 1)
        Global fraction of Linear weights that are zero at the end.
    initial_sparsity : float, default 0.0
        Target at the first pruning step (Zhu & Gupta's s_i).
    start : float in [0, 1], default 0.0
        Fraction of all training steps (max_epochs * steps per epoch) after
        which pruning starts (t0).  Ignored when ``start_epoch`` is given.
    end : float in [0, 1], default 0.75
        Fraction of all training steps at which ``final_sparsity`` is reached
        (t0 + n*dt).  Training after that fine-tunes with frozen masks.
    start_epoch : int or None, default None
        If given, pruning starts at the first step of this (0-based) epoch.
    update_every : int, default 10
        Masks are recomputed every ``update_every`` optimizer steps (dt); the
        end step always gets an update so the final sparsity is exact.
    total_epochs : int or None, default None
        Number of epochs of the schedule; ``None`` uses ``net.max_epochs``.
        Give it when calling ``fit(..., epochs=k)`` with a different ``k``.
        With early stopping the schedule still assumes all epochs run.

    Attributes
    ----------
    masks_ : list of torch.Tensor
        Boolean keep-masks, one per Linear weight (after the first update).
    target_sparsity_ : float
        The last target applied.
    updates_ : list of tuple
        ``(step, target)`` of every mask update.
    history_ : list of dict
        ``{"epoch", "step", "target", "sparsity"}`` at each epoch end; also in the
        net's history as ``"sparsity"`` and ``"target_sparsity"``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_ecprune import ECPrunedMLPClassifier, GradualMagnitudePruning
    >>> X, y = load_iris(return_X_y=True)
    >>> gmp = GradualMagnitudePruning(final_sparsity=0.9)
    >>> net = ECPrunedMLPClassifier(sparsity=0, max_epochs=20, n_iter_no_change=20,
    ...                             early_stopping=False, callbacks=[("gmp", gmp)],
    ...                             random_state=0).fit(X, y)
    >>> round(net.sparsity_, 3)
    0.9
    """

    def __init__(
        self,
        final_sparsity: float = 0.9,
        initial_sparsity: float = 0.0,
        start: float = 0.0,
        end: float = 0.75,
        start_epoch: int | None = None,
        update_every: int = 10,
        total_epochs: int | None = None,
    ):
        self.final_sparsity = final_sparsity
        self.initial_sparsity = initial_sparsity
        self.start = start
        self.end = end
        self.start_epoch = start_epoch
        self.update_every = update_every
        self.total_epochs = total_epochs

    # ------------------------------------------------------------------ helpers
    def _check_params(self):
        if not 0.0 <= self.final_sparsity < 1.0:
            raise ValueError(f"final_sparsity must be in [0, 1), got {self.final_sparsity}")
        if not 0.0 <= self.initial_sparsity <= self.final_sparsity:
            raise ValueError("initial_sparsity must be in [0, final_sparsity]")
        if not 0.0 <= self.start <= self.end <= 1.0:
            raise ValueError(f"need 0 <= start <= end <= 1, got {self.start}, {self.end}")
        if int(self.update_every) < 1:
            raise ValueError("update_every must be >= 1")

    def _setup_schedule(self, net, steps_per_epoch: int):
        epochs = self.total_epochs if self.total_epochs is not None else net.max_epochs
        self.steps_per_epoch_ = int(steps_per_epoch)
        self.total_steps_ = int(epochs) * self.steps_per_epoch_
        if self.start_epoch is not None:
            t_start = int(self.start_epoch) * self.steps_per_epoch_
        else:
            t_start = round(self.start * self.total_steps_)
        t_end = max(t_start, round(self.end * self.total_steps_))
        # step counts are "steps completed"; an update at step t acts on the
        # weights produced by optimizer step t.
        self.t_start_ = min(t_start, self.total_steps_)
        self.t_end_ = min(t_end, self.total_steps_)
        if self.t_end_ == 0:  # prune before the first step
            self._update_masks(net, self.final_sparsity)
            self._apply_masks()

    @torch.no_grad()
    def _update_masks(self, net, sparsity: float):
        weights = self.weights_
        scores = torch.cat([w.detach().abs().flatten() for w in weights])
        if not torch.isfinite(scores).all():
            warnings.warn(
                "GradualMagnitudePruning: non-finite weights (training diverged?); "
                "NaN/inf weights are ranked as the largest and kept",
                RuntimeWarning,
                stacklevel=2,
            )
        n_prune = round(sparsity * scores.numel())
        flat = torch.ones(scores.numel(), dtype=torch.bool, device=scores.device)
        if n_prune > 0:
            # Exactly n_prune entries: topk breaks ties arbitrarily but the count
            # is exact.  Already-pruned weights are 0, so they stay pruned.
            idx = torch.topk(scores, n_prune, largest=False, sorted=False).indices
            flat[idx] = False
        masks, offset = [], 0
        for w in weights:
            masks.append(flat[offset : offset + w.numel()].view_as(w))
            offset += w.numel()
        self.masks_ = masks
        self.target_sparsity_ = sparsity
        self.updates_.append((self.step_, sparsity))

    @torch.no_grad()
    def _apply_masks(self):
        if self.masks_ is None:
            return
        for w, m in zip(self.weights_, self.masks_, strict=True):
            w.mul_(m.to(w.dtype))

    # ---------------------------------------------------------------- callbacks
    def initialize(self):
        """Check the parameters (skorch calls this when the net is initialised)."""
        self._check_params()
        return super().initialize()

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        """Start the schedule from step 0 on this net's Linear weights."""
        self._check_params()
        self.weights_ = _linear_weights(net.module_)
        if not self.weights_:
            raise ValueError("net.module_ contains no nn.Linear layer")
        self.step_ = 0
        self.epoch_ = 0
        self.masks_ = None
        self.target_sparsity_ = 0.0
        self.steps_per_epoch_ = None
        self.history_ = []
        self.updates_ = []

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Fix the schedule's steps from the number of batches per epoch."""
        if self.steps_per_epoch_ is None:
            n = len(net.get_iterator(dataset_train, training=True))
            self._setup_schedule(net, n)

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        """Count the step, update the masks when scheduled, re-zero pruned weights."""
        if not training:
            return
        self.step_ += 1
        t = self.step_
        if self.t_start_ <= t <= self.t_end_ and (
            (t - self.t_start_) % int(self.update_every) == 0 or t == self.t_end_
        ):
            s = cubic_sparsity(
                t, self.t_start_, self.t_end_, self.initial_sparsity, self.final_sparsity
            )
            self._update_masks(net, s)
        self._apply_masks()

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Record the target and the achieved sparsity."""
        self.epoch_ += 1
        weights = _linear_weights(net.module_)
        actual = sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights)
        self.history_.append(
            {
                "epoch": self.epoch_,
                "step": self.step_,
                "target": self.target_sparsity_,
                "sparsity": actual,
            }
        )
        net.history.record("sparsity", actual)
        net.history.record("target_sparsity", self.target_sparsity_)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        """Leave the pruned weights at zero."""
        self._apply_masks()
        self.weights_ = None  # do not keep references to the module's tensors

    def __getstate__(self):
        """Pickled without the references to the module's weights."""
        state = self.__dict__.copy()
        state.pop("weights_", None)
        return state
