"""The phases of a fit as one skorch callback: dense training, pruning events, fine-tuning.

A fit is one skorch training run. :class:`FitPhases` watches it: it stops the dense
training by scikit-learn's rule (restoring the best epoch when it validates), prunes at
the start of the planned fine-tuning epochs, stops the fine-tuning and ends the run.
User callbacks see one ``on_train_begin`` and one ``on_train_end`` per fit and keep
their state throughout; every epoch's history row says its ``phase``, and the epochs
that start with a pruning event record the ``sparsity`` they reached.
"""

from __future__ import annotations

import copy
import math
import warnings
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from skorch.callbacks import Callback

from ..engine._prune import prune_mlp
from ..engine._report import LayerReport, PruningReport
from ..engine._structured import prune_neurons
from ._callbacks import cubic_sparsity
from ._data import dense_rows

__all__ = [
    "FitPhases",
    "StoppingRule",
    "check_finite",
    "event_epochs",
    "fine_tune_budget",
    "prune_network",
]

# fine_tune_epochs="auto": this share of the dense epochs, and at least MIN_FINE_TUNE;
# above a sparsity of 1 - FULL_SHARE_KEPT the share grows as 1 / (share of weights kept)
# (benchmarks/bench_fine_tune_budget.py: longer fine-tuning pays at 0.95-0.98, not at
# 0.8-0.9; the validation rule stops most fits before the cap).
FINE_TUNE_SHARE = 0.2
FULL_SHARE_KEPT = 0.1
MIN_FINE_TUNE = 2
# pruning_schedule="interleaved": pruning events spread over the first third of the
# fine-tuning, each one pruning step on at most EVENT_ROWS calibration rows (the
# training between the events recovers; measured best of 1 and 3 events).
PRUNING_EVENTS = 3
EVENT_SPAN = 1 / 3
EVENT_ROWS = 512


def fine_tune_budget(fine_tune_epochs: int | str, dense_epochs: int, sparsity: float) -> int:
    """Fine-tuning epochs: ``fine_tune_epochs``, or a share of the dense epochs.

    ``"auto"``: a fifth of the dense epochs up to a sparsity of 0.9, then growing with
    what was removed (twice that at 0.95, five times at 0.98), at least 2.

    Examples
    --------
    >>> from sklearn_ecprune.estimators._schedule import fine_tune_budget
    >>> [fine_tune_budget("auto", 50, s) for s in (0.5, 0.9, 0.95, 0.98)]
    [10, 10, 20, 50]
    """
    if fine_tune_epochs == "auto":
        share = FINE_TUNE_SHARE * max(1.0, FULL_SHARE_KEPT / (1.0 - sparsity))
        return max(MIN_FINE_TUNE, round(share * dense_epochs))
    return int(fine_tune_epochs)


def event_epochs(budget: int, start: float, target: float) -> dict[int, float]:
    """Fine-tuning epoch -> sparsity of the interleaved pruning events.

    Three events spread over the first third of the budget (one per epoch from the
    first when the budget is short), their targets on Zhu & Gupta's cubic schedule
    from the current sparsity ``start`` to ``target``.
    """
    events = min(PRUNING_EVENTS, budget)
    at = {math.floor(j * EVENT_SPAN * budget / events): j for j in range(events)}
    if len(at) < events:
        at = {j: j for j in range(events)}
    return {epoch: cubic_sparsity(j + 1, 0, events, start, target) for epoch, j in at.items()}


class StoppingRule:
    """scikit-learn's MLP stopping rule: no improvement by ``tol`` for ``patience`` epochs.

    A score must rise above the best by more than ``tol`` (a loss fall below it) to
    count as an improvement; ``stalled`` once ``patience`` epochs in a row did not.
    ``update`` says whether an epoch is the best so far, the one whose weights are
    worth keeping: a higher score by any margin, as scikit-learn keeps its best
    coefficients, or the same score with a lower ``tie_break`` (the validation loss:
    an accuracy on a small validation set takes few values, and the first epoch to
    reach one is rarely the best trained).

    Examples
    --------
    >>> from sklearn_ecprune.estimators._schedule import StoppingRule
    >>> rule = StoppingRule(tol=0.01, patience=2, higher_is_better=True)
    >>> [rule.update(v) for v in (0.5, 0.6, 0.605, 0.6)], rule.stalled
    ([True, True, True, False], True)
    >>> rule = StoppingRule(tol=0.01, patience=2, higher_is_better=True)
    >>> [rule.update(0.9, tie_break=loss) for loss in (0.5, 0.4, 0.45)]
    [True, True, False]
    """

    def __init__(self, tol: float, patience: int, higher_is_better: bool):
        self.tol, self.patience, self.sign = tol, patience, 1.0 if higher_is_better else -1.0
        self.best, self.best_tie, self.count = -math.inf, math.inf, 0

    def update(self, value: float, tie_break: float = math.inf) -> bool:
        """Record one epoch's value; whether it is the best epoch so far."""
        value = self.sign * float(value)
        best = value > self.best or (value == self.best and tie_break < self.best_tie)
        if value > self.best + self.tol:
            self.count = 0
        else:
            self.count += 1
        if best:
            self.best, self.best_tie = value, float(tie_break)
        return best

    @property
    def stalled(self) -> bool:
        """Whether ``patience`` epochs in a row brought no improvement."""
        return self.count >= self.patience


class LbfgsRule:
    """When ``solver="lbfgs"`` has converged: scipy's test in scikit-learn's MLP.

    Converged once an iteration lowers the training loss by at most ``ftol`` of its
    size (scipy's default ``factr * eps``; L-BFGS makes no step at all once the
    largest gradient is below ``tol``). The same interface as :class:`StoppingRule`.

    Examples
    --------
    >>> from sklearn_ecprune.estimators._schedule import LbfgsRule
    >>> rule = LbfgsRule()
    >>> [rule.update(v) for v in (0.5, 0.4, 0.4)], rule.stalled
    ([True, True, False], True)
    """

    def __init__(self, ftol: float = 1e7 * float(np.finfo(float).eps)):
        self.ftol, self.previous, self.stalled = ftol, math.inf, False

    def update(self, value: float, tie_break: float = math.inf) -> bool:
        """Record one iteration's training loss; whether it fell."""
        value = float(value)
        fell = value < self.previous
        if math.isfinite(self.previous):
            scale = max(abs(self.previous), abs(value), 1.0)
            self.stalled = self.previous - value <= self.ftol * scale
        self.previous = value
        return fell


def merged_report(reports: list[PruningReport]) -> PruningReport:
    """One report for a fit's pruning events: the last event's shapes and kept weights.

    The bias shifts add up over the events: the mean over a layer's units of the
    total absolute shift is the sum of the events' means.
    """
    if len(reports) == 1 or len({tuple(r.name for r in rep.layers) for rep in reports}) > 1:
        return reports[-1]
    last = reports[-1]
    rows = [
        LayerReport(
            row.name,
            row.shape,
            row.n_weights,
            row.n_kept,
            sum(rep.layers[i].mean_abs_bias_shift for rep in reports),
        )
        for i, row in enumerate(last.layers)
    ]
    return PruningReport(rows, last.method, last.target_sparsity, {"events": len(reports)})


def check_finite(net: Any) -> None:
    """A clear error when training left NaN or infinite weights (the fit then fails)."""
    if not all(bool(torch.isfinite(p).all()) for p in net.module_.parameters()):
        raise ValueError(
            "Training diverged: the network's weights became NaN or infinite "
            f"(lr={net.lr!r}). Lower lr, scale the inputs (e.g. StandardScaler) or "
            "check the targets. The estimator is left as it was before this fit."
        )


def prune_network(net: Any, sparsity: float, *, n_steps: int, rows: int | None = None) -> None:
    """Prune ``net.module_`` to ``sparsity`` on a seeded subsample of the fit's rows.

    Sets ``masks_``, ``pruning_report_`` and ``sparsity_``. At most
    ``calibration_size`` rows (and at most ``rows``) are drawn; the sample weights
    weigh their statistics and refits. Already pruned weights stay pruned.
    """
    check_finite(net)
    plan = net._plan_
    X, y, weights = plan.calibration
    size = net.calibration_size
    if rows is not None:
        size = rows if size is None else min(size, rows)
    if size is not None and size < X.shape[0]:
        rng = np.random.default_rng(plan.calibration_seed)
        chosen = np.sort(rng.choice(X.shape[0], size=size, replace=False))
        X, y = X[chosen], y[chosen]
        weights = None if weights is None else weights[chosen]
    if weights is not None and not weights.sum() > 0:
        weights = None  # the subsample drew only rows of weight 0
    X = torch.as_tensor(dense_rows(X))
    net._invalidate_inference()
    if net.pruning_unit == "neuron":
        _prune_neurons(net, X, sparsity, n_steps)
    else:
        device = next(net.module_.parameters()).device
        criterion = net.criterion_

        def loss_fn(output, target):
            return criterion(output, target.to(device)).mean()

        result = prune_mlp(
            net.module_,
            X,
            sparsity,
            method=net.pruning,
            scope=net.scope,
            n_steps=n_steps,
            compensate=net.compensate,
            y=torch.as_tensor(y),
            loss_fn=loss_fn,
            random_state=plan.prune_seed,
            sample_weight=weights,
            **(net.pruning_params or {}),
        )
        net.masks_ = result.masks
        net.pruning_report_ = result.report
    kept = sum(int((m.weight != 0).sum()) for m in net._linear_layers())
    net.sparsity_ = 1.0 - kept / plan.dense_n_weights
    if net.verbose:
        print(f"Pruned with {net.pruning_report_.method!r} to sparsity {net.sparsity_:.2%}:")
        print(net.pruning_report_)


def _prune_neurons(net: Any, X: torch.Tensor, sparsity: float, n_steps: int) -> None:
    """Remove whole hidden neurons until ``sparsity`` of the dense weights are gone."""
    if not isinstance(net.module_, torch.nn.Sequential):
        raise ValueError(
            "pruning_unit='neuron' needs an nn.Sequential of Linear layers and "
            f"activations (like the default MLPModule), got {type(net.module_).__name__}."
        )
    left = sum(m.weight.numel() for m in net._linear_layers())
    wanted = (1.0 - sparsity) * net._plan_.dense_n_weights
    net.pruning_report_ = prune_neurons(
        net.module_,
        X,
        max(0.0, 1.0 - wanted / left),
        n_steps=n_steps,
        compensate=net.compensate is not False,
        target="weights",
        **(net.pruning_params or {}),  # only the neuron options: see _check_params
    )
    net.masks_ = {
        name: torch.ones_like(m.weight, dtype=torch.bool)
        for name, m in net.module_.named_modules()
        if isinstance(m, torch.nn.Linear)
    }
    # The layers were replaced by smaller ones: the optimizer must follow them.
    net.initialize_optimizer()


class FitPhases(Callback):
    """Run a fit's phases inside one skorch training run.

    - ``"dense"``: training until scikit-learn's stopping rule (``tol``,
      ``n_iter_no_change``) on the validation score when the fit holds rows out (the
      best epoch's weights are then restored), on the training loss otherwise, or
      ``max_epochs`` (a :class:`~sklearn.exceptions.ConvergenceWarning`); with
      ``memory=`` the dense network is stored here.
    - ``"fine_tune"``: ``fine_tune_epochs`` of training with the pruned weights held
      at zero and fresh optimizer moments; with ``pruning_schedule="interleaved"`` the
      pruning happens in events at the start of its first epochs, otherwise once when
      it starts. After the last event the same stopping rule applies, and with a
      validation set the best epoch since then is restored at the end.
    - ``"partial_fit"``: one epoch of ``partial_fit``; the estimator prunes after it.

    The estimators add it to their default callbacks as ``"fit_phases"`` and run it
    after the user's callbacks in each epoch. It reads the estimator's parameters and
    its fit plan; its attributes describe the fit that ran.

    Attributes
    ----------
    phase_ : str
        The current phase (``"done"`` once the run has finished).
    dense_epochs_ : int
        Epochs of dense training in this fit (restored ones included; the one epoch
        of ``partial_fit``).
    fine_tune_epochs_ : int
        Epochs of fine-tuning in this fit.
    events_ : dict of int to float
        Fine-tuning epoch -> target sparsity of the pruning events still to come.
    reports_ : list of PruningReport
        The reports of this fit's prunes.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_ecprune import ECPrunedMLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = ECPrunedMLPClassifier(max_epochs=20, random_state=0).fit(X, y)
    >>> sorted({row["phase"] for row in clf.history_})
    ['dense', 'fine_tune']
    >>> [round(row["sparsity"], 2) for row in clf.history_ if "sparsity" in row]
    [0.56, 0.77, 0.8]
    """

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        """Start in the phase the fit's plan says (a restored dense phase is done)."""
        plan = net._plan_
        self.reports_: list[PruningReport] = []
        self.events_: dict[int, float] = {}
        self.best_state_: dict[str, torch.Tensor] | None = None
        self.dense_epochs_ = 0
        self.fine_tune_epochs_ = 0
        self.start_sparsity_ = float(getattr(net, "sparsity_", 0.0)) if plan.warm else 0.0
        if plan.incremental:
            self.phase_ = "partial_fit"
        elif plan.dense_restored:
            self.dense_epochs_ = plan.dense_epochs = len(net.history)
            self._start_fine_tune(net)
        elif plan.warm and net.sparsity > net.pruning_report_.target_sparsity:
            # A warm fit to a higher sparsity is a step along a sparsity path: it prunes
            # from the current network and fine-tunes, without dense epochs first.
            self._start_fine_tune(net)
        else:
            self.phase_ = "dense"
            self.rule_ = self._rule(net)

    def on_epoch_begin(self, net, **kwargs):
        """Record the phase; prune if an event is due."""
        net.history.record("phase", self.phase_)
        if self.phase_ == "fine_tune" and self.fine_tune_epochs_ in self.events_:
            sparsity = self.events_.pop(self.fine_tune_epochs_)
            self._prune(net, sparsity, n_steps=1, rows=EVENT_ROWS)
            # The loss jumps at a pruning event: the stopping rule counts from here.
            self.rule_ = self._rule(net)
            self.best_state_ = None

    def on_epoch_end(self, net, **kwargs):
        """Apply the phase's stopping rule; move on to the next phase or end the run."""
        if self.phase_ == "partial_fit":
            self.dense_epochs_ += 1
        if self.phase_ == "dense":
            self.dense_epochs_ += 1
            self._watch(net)
            stalled = self.rule_.stalled and not self._slow_down(net)
            limit = self._limit_reached(net)
            if stalled or limit:
                if stalled:
                    reason = self._stop_reason(net)
                else:
                    reason = f"reached {limit} without converging"
                    warnings.warn(
                        f"{type(net).__name__}: the dense training {reason} (tol={net.tol}, "
                        f"n_iter_no_change={net.n_iter_no_change}).",
                        ConvergenceWarning,
                        stacklevel=2,
                    )
                self._end_dense(net, reason)
            elif net.solver == "sgd" and net.learning_rate == "invscaling":
                # scikit-learn's schedule: the rate over the samples seen, to power_t.
                rate = net._learning_rate / (net.t_ + 1) ** net.power_t
                for group in net.optimizer_.param_groups:
                    group["lr"] = rate
        elif self.phase_ == "fine_tune":
            self.fine_tune_epochs_ += 1
            if not self.events_:
                self._watch(net)
            stalled = not self.events_ and self.rule_.stalled
            if self.fine_tune_epochs_ >= self.budget_ or stalled:
                self._finish(net)
        if self.phase_ == "done":
            raise KeyboardInterrupt  # how skorch's callbacks end a training run

    def on_train_end(self, net, X=None, y=None, **kwargs):
        """Finish a run that ended early (a user's callback stopped it, or ``epochs``)."""
        if self.phase_ in ("dense", "fine_tune"):
            if self.phase_ == "dense":
                self._end_dense(net, "ended by a callback")
            if self.phase_ != "done":
                self._finish(net)

    # ------------------------------------------------------------------ steps
    def _limit_reached(self, net) -> str | None:
        """Which limit ends the dense training now (``max_iter``, L-BFGS's ``max_fun``)."""
        if self.dense_epochs_ >= net._max_dense_epochs:
            name = "max_epochs" if net.max_iter is None else "max_iter"
            return f"{name}={net._max_dense_epochs}"
        if isinstance(net.optimizer_, torch.optim.LBFGS):
            evaluations = sum(s.get("func_evals", 0) for s in net.optimizer_.state.values())
            if evaluations >= net.max_fun:
                return f"max_fun={net.max_fun} loss evaluations"
        return None

    def _slow_down(self, net) -> bool:
        """scikit-learn's ``learning_rate="adaptive"`` (with ``solver="sgd"``).

        Where training would stop, the rate is divided by 5 and training goes on,
        until the rate is 1e-6 or less. Whether it went on.
        """
        if net.solver != "sgd" or net.learning_rate != "adaptive":
            return False
        groups = net.optimizer_.param_groups
        if groups[0]["lr"] <= 1e-6:
            return False
        for group in groups:
            group["lr"] /= 5.0
        self.rule_.count = 0
        return True

    def _rule(self, net) -> StoppingRule | LbfgsRule:
        if isinstance(net.optimizer_, torch.optim.LBFGS):
            return LbfgsRule()
        validates = net._plan_.validates
        return StoppingRule(net.tol, net.n_iter_no_change, higher_is_better=validates)

    def _watch(self, net) -> None:
        """One epoch for the stopping rule; keep the best weights when validating."""
        validates = net._plan_.validates and isinstance(self.rule_, StoppingRule)
        row = net.history[-1]
        if validates:
            best = self.rule_.update(row["valid_score"], tie_break=row.get("valid_loss", math.inf))
        else:
            best = self.rule_.update(row["train_loss"])
        if best and validates:
            self.best_state_ = copy.deepcopy(net.module_.state_dict())

    def _restore_best(self, net) -> None:
        if self.best_state_ is not None:
            net.module_.load_state_dict(self.best_state_)
            self.best_state_ = None

    def _stop_reason(self, net) -> str:
        """Why the stopping rule stopped the dense training, in scikit-learn's words."""
        if isinstance(self.rule_, LbfgsRule):
            return "converged (L-BFGS)"
        watched = "Validation score" if net._plan_.validates else "Training loss"
        return (
            f"stopped: {watched} did not improve more than tol={net.tol} for "
            f"{net.n_iter_no_change} consecutive epochs"
        )

    def _end_dense(self, net, reason: str) -> None:
        if net.verbose:  # scikit-learn's MLP reports its iterations in these words
            print(f"Iteration {self.dense_epochs_}: dense training {reason}.")
        if not net._plan_.warm:
            net._plan_.dense_epochs = self.dense_epochs_
        self._restore_best(net)
        plan = net._plan_
        if plan.store_dense is not None:
            plan.store_dense(net)
        self._start_fine_tune(net)

    def _start_fine_tune(self, net) -> None:
        # "auto" is keyed to the dense run that trained the network, also in warm fits.
        budget = fine_tune_budget(net.fine_tune_epochs, net._plan_.dense_epochs, net.sparsity)
        if net.sparsity == 0:
            budget = 0
        self.budget_, self.fine_tune_epochs_ = budget, 0
        if budget == 0 or net.pruning_schedule == "before":
            self._prune(net, net.sparsity, n_steps=net.n_steps)
        else:
            self.events_ = event_epochs(budget, self.start_sparsity_, net.sparsity)
        # Every path prunes before the first fine-tuning step (the first event is at its
        # epoch 0), and each prune starts the optimizer's moments afresh.
        self.rule_ = self._rule(net)
        self.phase_ = "fine_tune" if budget else "done"
        if self.phase_ == "done":
            self._finish(net)

    def _prune(self, net, sparsity: float, *, n_steps: int, rows: int | None = None) -> None:
        parameters = [id(p) for p in net.module_.parameters()]
        prune_network(net, sparsity, n_steps=n_steps, rows=rows)
        self.reports_.append(net.pruning_report_)
        if len(net.history):
            net.history.record("sparsity", net.sparsity_)
        if [id(p) for p in net.module_.parameters()] == parameters:
            # Fresh moments in the same optimizer (a learning-rate scheduler holds it):
            # the earlier momentum would push on the pruned weights. (Neuron pruning
            # builds a new optimizer for its new layers.)
            net.optimizer_.state.clear()

    def _finish(self, net) -> None:
        if self.events_:  # the fine-tuning stopped before its last event
            self.events_ = {}
            self._prune(net, net.sparsity, n_steps=net.n_steps)
        self._restore_best(net)
        if self.reports_:
            net.pruning_report_ = merged_report(self.reports_)
        self.phase_ = "done"
