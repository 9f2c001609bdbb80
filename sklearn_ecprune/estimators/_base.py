"""The estimators' shared machinery: parameters, skorch's hooks, and one ``_fit``.

The estimators are thin skorch subclasses: skorch runs the training loop and the
callbacks, the engine (:func:`~sklearn_ecprune.prune_mlp`) prunes. A fit is one skorch
training run whose phases (dense training, pruning events, fine-tuning) are run by the
:class:`~sklearn_ecprune.estimators._schedule.FitPhases` callback. What this mixin adds
is scikit-learn's contract: declarative parameter checks, input validation,
``n_features_in_``, seeding without global state (a per-fit
:class:`~sklearn_ecprune.estimators._plan.FitPlan`), ``memory=`` for the dense phase,
and a fit that changes the estimator only once it has succeeded.
"""

from __future__ import annotations

import copy
import math
import threading
import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.validation import _check_sample_weight, validate_data
from skorch.dataset import Dataset
from torch.utils.data import DataLoader

from ._callbacks import KeepPrunedWeightsZero, ValidationScore
from ._data import (
    BatchDataset,
    BatchIterator,
    HoldOutSplit,
    batch_rows,
    collate_batch,
    holds_batches,
)
from ._inference import InferenceMixin
from ._memory import dense_cache, dense_key, usable_memory
from ._module import MLPModule
from ._params import AFTER_DENSE_PARAMS, ParamsMixin
from ._persistence import FittedStateMixin
from ._plan import FitPlan
from ._schedule import FitPhases, check_finite, fine_tune_budget, prune_network
from ._threads import torch_threads
from ._training import TrainingStepMixin

__all__ = ["ECPrunedMixin", "stochastic_solver"]


def stochastic_solver(net) -> bool:
    """``partial_fit``'s condition, as in scikit-learn's MLP: not with L-BFGS."""
    if net.solver == "lbfgs":
        raise AttributeError(
            "partial_fit is only available for stochastic optimizers; solver='lbfgs' "
            "trains on the whole data set at once."
        )
    return True


# early_stopping="auto" holds out a validation set of at least this many rows: on fewer
# the validation score moves in steps too coarse to stop on (measured on the benchmark
# tables: 14 validation rows (wine) stop training far too early, 33 and 43 (diabetes,
# breast_cancer) already beat training on every row).
AUTO_MIN_VALIDATION_ROWS = 30

# torch's global generator is the only way to seed a user's module class; its
# construction is serialised so that concurrent fits cannot interleave draws.
_GLOBAL_RNG_LOCK = threading.Lock()


def _plain_rows(X, n_features: int | None) -> np.ndarray | None:
    """A predict's X as float32 if it is the common case that needs no other check.

    A 2-D float ndarray of ``n_features`` finite columns and at least one row, to an
    estimator fitted without feature names: ``validate_data`` would only convert its
    dtype. Anything else (``None``) goes through ``validate_data``, whose errors and
    warnings are scikit-learn's.
    """
    if (
        type(X) is not np.ndarray
        or X.ndim != 2
        or X.shape[1] != n_features
        or X.shape[0] == 0
        or X.dtype not in (np.float32, np.float64)
    ):
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        rows = X if X.dtype == np.float32 else X.astype(np.float32)
        # One sum finds a NaN or an infinity (a finite sum too large for float32 only
        # sends the rows the long way).
        finite = np.isfinite(rows.sum())
    return rows if finite else None


class ECPrunedMixin(ParamsMixin, TrainingStepMixin, InferenceMixin, FittedStateMixin):
    """Fit = train dense, prune to ``sparsity``, fine-tune with the masks enforced."""

    # ------------------------------------------------------------ skorch hooks
    def initialize_criterion(self):
        """The training loss, per sample (``get_loss`` averages, with sample weights).

        ``criterion=None`` means the estimator's default.
        """
        criterion = self._default_criterion if self.criterion is None else self.criterion
        kwargs = self.get_params_for("criterion")
        if isinstance(criterion, torch.nn.Module):
            criterion = copy.copy(criterion)
            criterion.reduction = "none"
            self.criterion_ = criterion
        else:
            self.criterion_ = criterion(**{**kwargs, "reduction": "none"})
        return self

    def _set_training(self, training=True):
        # skorch sets the mode before every step, walking every submodule; the walk
        # costs as much as a small network's forward pass, so it runs on changes only.
        if len(self._modules) > 1 or self.module_.training != training:
            super()._set_training(training)

    def infer(self, x, **fit_params):
        """The module's output on a batch; a dict batch carries the sample weights."""
        if isinstance(x, dict) and "sample_weight" in x:
            x = x["X"]
        return super().infer(x, **fit_params)

    def get_dataset(self, X, y=None):
        """skorch's dataset; in-memory data are served a batch at a time.

        With the default ``dataset``, arrays, CSR matrices and the dict that carries
        the sample weights become a :class:`BatchDataset` (tensors made once, one
        gather per batch); a torch ``Dataset`` or a custom ``dataset`` is used as
        skorch would.
        """
        if (
            self.dataset is Dataset
            and not self.get_params_for("dataset")
            and not isinstance(X, torch.utils.data.Dataset)
        ):
            return BatchDataset(X, y)
        return super().get_dataset(X, y)

    def get_split_datasets(self, X, y=None, **fit_params):
        """Training and validation sets: ``train_split``, or early stopping's hold-out."""
        dataset = self.get_dataset(X, y)
        split = self._split()
        if split is None:
            return dataset, None
        return split(dataset, y, **fit_params)

    def _split(self):
        if self.train_split is not None:
            return self.train_split
        plan = getattr(self, "_plan_", None)
        if plan is not None and plan.holds_out and not plan.incremental:
            return HoldOutSplit(self.validation_fraction, plan.stratified, plan.split_seed)
        return None

    @property
    def _default_callbacks(self):
        # skorch's, less the classifier's "valid_acc" (a second scoring of the
        # validation predictions each epoch: "valid_score" is the same accuracy) and,
        # when nothing is printed, the log line (which formats a table every epoch).
        dropped = {"valid_acc"} | (set() if self.verbose else {"print_log"})
        callbacks = [item for item in super()._default_callbacks if item[0] not in dropped]
        names = [name for name, _ in callbacks]
        at = names.index("print_log") if "print_log" in names else len(callbacks)
        callbacks.insert(at, ("validation_score", ValidationScore()))  # the log shows it
        return [
            *callbacks,
            ("keep_pruned_weights_zero", KeepPrunedWeightsZero()),
            ("fit_phases", FitPhases()),
        ]

    def initialize_callbacks(self):
        """skorch's callbacks; the phases go last, so that every callback sees each epoch."""
        super().initialize_callbacks()
        self.callbacks_.sort(key=lambda item: isinstance(item[1], FitPhases))
        return self

    def get_iterator(self, dataset, training=False):
        """skorch's iterator; training batches are shuffled by the fit's own generator.

        In-memory data with the plain DataLoader options (``batch_size``,
        ``shuffle``, ``drop_last``) are cut into batches by a :class:`BatchIterator`
        (the same batches, without the DataLoader's per-batch work).
        """
        kwargs = self.get_params_for("iterator_train" if training else "iterator_valid")
        iterator = self.iterator_train if training else self.iterator_valid
        n_rows = len(dataset)
        if training:
            kwargs["batch_size"] = self._training_batch_rows(n_rows)
            if self.solver == "lbfgs":  # one batch, its order irrelevant
                kwargs["shuffle"] = False
        else:
            kwargs["batch_size"] = batch_rows(kwargs.get("batch_size", self.batch_size), n_rows)
        if iterator is not DataLoader:
            return iterator(dataset, **kwargs)
        if training:
            kwargs.setdefault("shuffle", self.shuffle)
        # A DataLoader draws a base seed from torch's global generator unless it has
        # its own: the fit's generator, or a throwaway one when predicting.
        plan = getattr(self, "_plan_", None)
        generator = plan.shuffle_generator if training and plan is not None else None
        kwargs.setdefault("generator", generator or torch.Generator())
        if isinstance(dataset, BatchDataset) and set(kwargs) <= BatchIterator.OPTIONS:
            return BatchIterator(dataset, **kwargs)
        if holds_batches(dataset):
            kwargs.setdefault("collate_fn", collate_batch)
        return DataLoader(dataset, **kwargs)

    def initialize_module(self):
        """Build the default :class:`MLPModule` sized from the data, or the user's module."""
        kwargs = self.get_params_for("module")
        plan = getattr(self, "_plan_", None)
        generator = None if plan is None else plan.init_generator
        if self.module is not None:
            if isinstance(self.module, torch.nn.Module) or generator is None:
                self.module_ = self.initialized_instance(self.module, kwargs)
                return self
            # A user's class initialises itself from torch's global generator: seed it
            # for the construction only, and restore it afterwards.
            seed = int(torch.randint(2**62, (1,), generator=generator))
            with _GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                self.module_ = self.initialized_instance(self.module, kwargs)
            return self
        if not hasattr(self, "n_features_in_"):
            raise ValueError(
                "The default MLPModule is sized from the training data: call fit, or "
                "pass a module."
            )
        sizes = self.hidden_layer_sizes
        defaults = {
            "hidden_layer_sizes": (sizes,) if isinstance(sizes, int) else tuple(sizes),
            "activation": self.activation,
            "generator": generator,
        }
        self.module_ = MLPModule(
            n_features=self.n_features_in_, n_outputs=self.n_outputs_, **{**defaults, **kwargs}
        )
        return self

    def initialize(self):
        """skorch's initialize; also counts the dense network's weights for ``sparsity_``."""
        if getattr(self, "_plan_", None) is None:
            self._plan_ = FitPlan.draw(
                self.random_state, holds_out=False, stratified=self._is_classifier
            )
        super().initialize()
        self._plan_.dense_n_weights = sum(
            m.weight.numel() for m in self._linear_layers(check=False)
        )
        return self

    # -------------------------------------------------------------------- data
    def _validate_X(self, X, *, reset: bool):
        if not reset and not hasattr(self, "feature_names_in_"):
            rows = _plain_rows(X, getattr(self, "n_features_in_", None))
            if rows is not None:  # what validate_data would return, at a fraction of its cost
                return rows
        X = validate_data(self, X, reset=reset, dtype=np.float32, accept_sparse="csr")
        # scipy's sparse arrays index rows as 1-D; skorch's datasets expect matrix rows.
        return sp.csr_matrix(X) if sp.issparse(X) else X

    def _validate_X_y(self, X, y, *, reset: bool):
        # scikit-learn's dtypes (float32 kept, anything else float64) name the dtype of
        # the fitted attributes and predictions; the network computes in float32.
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            dtype=(np.float64, np.float32),
            accept_sparse="csr",
            **self._y_validation,
        )
        if reset:
            self._fit_dtype_ = X.dtype
        if X.dtype != np.float32:
            with np.errstate(over="ignore"):
                X = X.astype(np.float32)
            values = X.data if sp.issparse(X) else X
            if not np.isfinite(values).all():
                raise ValueError(
                    f"X has values beyond the range of float32, in which {type(self).__name__} "
                    "trains (scikit-learn's MLP says here: 'Solver produced non-finite "
                    "parameter weights. The input data may contain large values and need to "
                    "be preprocessed.'). Scale the inputs (e.g. StandardScaler)."
                )
        return sp.csr_matrix(X) if sp.issparse(X) else X, self._encode_target(y, reset=reset)

    def _training_data(self, X, sample_weight):
        """What skorch trains on (X, or X with its sample weights), and the weights."""
        if sample_weight is None:
            return X, None
        weights = _check_sample_weight(
            sample_weight, X, dtype=np.float32, ensure_non_negative=True
        )
        if not weights.sum() > 0:
            raise ValueError("sample_weight must have a positive sum.")
        return {"X": X, "sample_weight": weights}, weights

    def _check_same_classes(self, classes, *, warm_start: bool = False) -> None:
        """Only the classifier has classes; see its override."""

    def __sklearn_is_fitted__(self) -> bool:
        # True from the moment the network is built inside fit, so that skorch's own
        # callbacks (EpochScoring, ...) can predict during training.
        return bool(self.initialized_) and hasattr(self, "n_features_in_")

    # --------------------------------------------------------------------- fit
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Train the dense network, prune it to ``sparsity``, then fine-tune.

        One skorch training run: callbacks see one ``on_train_begin`` and one
        ``on_train_end``, and each epoch's history row has its ``phase``. With
        ``warm_start=True`` a fitted network is trained further with its masks kept,
        then pruned to ``sparsity`` (its pruned weights stay pruned). If the fit
        fails, the estimator is left as it was.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Training inputs; converted to float32 once (sparse rows are densified
            one mini-batch at a time).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the training loss (a weighted mean, as in
            scikit-learn's MLP) and in the validation loss and score.
        **fit_params : dict
            Passed on to skorch's training loop.

        Returns
        -------
        self : object
            The fitted estimator.

        Examples
        --------
        >>> from sklearn.datasets import load_digits
        >>> from sklearn_ecprune import ECPrunedMLPClassifier
        >>> X, y = load_digits(return_X_y=True)
        >>> clf = ECPrunedMLPClassifier(sparsity=0.9, random_state=0).fit(X / 16, y)
        >>> round(clf.sparsity_, 2), clf.score(X / 16, y) > 0.9
        (0.9, True)
        """
        self._check_params()
        warm = bool(self.warm_start) and self.__sklearn_is_fitted__()
        trial = self._trial(keep_fitted=warm)
        trial._fit(X, y, sample_weight, fit_params, incremental=False, warm=warm)
        self._adopt(trial)
        return self

    def _partial_fit(self, X, y, classes=None, sample_weight=None, **fit_params):
        self._check_params()
        fitted = hasattr(self, "masks_")
        if fitted and classes is not None:
            self._check_same_classes(classes)
        trial = self._trial(keep_fitted=fitted)
        if not fitted:
            trial._preset_classes_ = None if classes is None else np.asarray(classes)
        trial._fit(X, y, sample_weight, fit_params, incremental=True, warm=fitted)
        self._adopt(trial)
        return self

    def _fit(self, X, y, sample_weight, fit_params: dict, *, incremental: bool, warm: bool):
        """The one fit behind ``fit`` (one run) and ``partial_fit`` (one epoch)."""
        if warm and not incremental and self._is_classifier and np.ndim(y) == 1:
            self._check_same_classes(np.unique(np.asarray(y)), warm_start=True)
        X, y = self._validate_X_y(X, y, reset=not warm)
        data, weights = self._training_data(X, sample_weight)
        holds_out = self._holds_out(y, incremental=incremental)  # raises first, if it must
        if not warm:
            self._plan_ = FitPlan.draw(
                self.random_state, holds_out=holds_out, stratified=self._is_classifier
            )
        plan = self._plan_
        plan.warm, plan.incremental = warm, incremental
        if not warm:
            self.initialize()
        plan.validates = self._split() is not None
        self._check_run(X.shape[0])
        plan.calibration = (X, y, weights)
        rows = min(self._training_batch_rows(X.shape[0]), X.shape[0])
        try:
            with torch_threads(self._threads(rows)), self._dense_cache(data, y, fit_params):
                self._train(data, y, fit_params)
            if incremental:
                target_raised = warm and self.pruning_report_.target_sparsity < self.sparsity
                if not warm or target_raised:
                    prune_network(self, self.sparsity, n_steps=self.n_steps)
        finally:
            plan.calibration = plan.store_dense = None
        self._refresh_inference()

    def _training_batch_rows(self, n_rows: int) -> int:
        """Rows per training batch: ``batch_size`` (or ``iterator_train__batch_size``),
        all of them with L-BFGS (a full-batch method, as scikit-learn's)."""
        if self.solver == "lbfgs":
            return n_rows
        given = self.get_params_for("iterator_train").get("batch_size", self.batch_size)
        return batch_rows(given, n_rows)

    def _holds_out(self, y, *, incremental: bool) -> bool:
        """Whether this fit sets a validation set aside for early stopping.

        ``early_stopping=True`` is scikit-learn's: the hold-out is made, and a split
        it cannot make (fewer than two validation rows, no training row, a class too
        small to stratify) is its ``ValueError``, as is ``partial_fit``. ``"auto"``
        (the default) holds out where ``True`` would succeed with at least
        ``AUTO_MIN_VALIDATION_ROWS`` validation rows, and trains on every row otherwise
        (and always in ``partial_fit``). As in scikit-learn, ``solver="lbfgs"`` and a
        ``train_split`` make no hold-out.
        """
        owner = type(self).__name__
        if self.early_stopping is True and incremental:
            raise ValueError(
                f"partial_fit does not support early_stopping=True ({owner} holds out no "
                "rows of a partial_fit batch). Set early_stopping=False or 'auto'."
            )
        wanted = self.early_stopping is True or self.early_stopping == "auto"
        if not wanted or incremental or self.train_split is not None or self.solver == "lbfgs":
            return False
        n_rows = len(y)
        n_valid = math.ceil(self.validation_fraction * n_rows)
        try:
            # scikit-learn's order: the split's own errors (a class too small to
            # stratify), then the size of its result; no training row is said first.
            if n_rows - n_valid >= 1:
                HoldOutSplit(self.validation_fraction, self._is_classifier, 0).indices(n_rows, y)
            if n_valid < 2 or n_rows - n_valid < 1:
                raise ValueError(
                    f"The validation set is too small: {owner} with early_stopping holds "
                    f"out validation_fraction={self.validation_fraction} of n_samples="
                    f"{n_rows} rows ({n_valid} for validation, {n_rows - n_valid} for "
                    "training). Increase validation_fraction or the size of your dataset, "
                    "or use early_stopping=False."
                )
        except ValueError:
            if self.early_stopping is True:
                raise
            return False
        return self.early_stopping is True or n_valid >= AUTO_MIN_VALIDATION_ROWS

    def _check_run(self, n_rows: int) -> None:
        """What would fail inside the training run, said before it starts."""
        owner = type(self).__name__
        dtypes = {p.dtype for p in self.module_.parameters() if p.is_floating_point()}
        if dtypes - {torch.float32}:
            raise ValueError(
                f"The module of {owner} has {sorted(map(str, dtypes))} parameters; the "
                "estimators train float32 networks on float32 inputs. Build the module in "
                "float32 (without .double() or .half())."
            )
        n_train = n_rows
        if self._plan_.holds_out and not self._plan_.incremental:
            n_train -= math.ceil(self.validation_fraction * n_rows)
        size = self._training_batch_rows(n_train)
        if self.get_params_for("iterator_train").get("drop_last") and n_train < size:
            raise ValueError(
                f"iterator_train__drop_last=True drops every batch of {owner}: the "
                f"training set has {n_train} rows, fewer than batch_size={size}."
            )
        if self._plan_.validates:
            return
        for name, callback in self.callbacks_:
            monitor = getattr(callback, "monitor", None)
            if isinstance(monitor, str) and monitor.startswith("valid_"):
                raise ValueError(
                    f"Callback {name!r} of {owner} monitors {monitor!r}, but "
                    "this fit has no validation set. Set early_stopping=True (or give a "
                    "train_split), or let the callback monitor a training key such as "
                    "'train_loss'."
                )

    def _dense_cache(self, data, y, fit_params: dict):
        """``memory``'s cache of the dense phase, set up on the plan (restore or store)."""
        memory = usable_memory(self.memory, type(self).__name__)
        plan, key = self._plan_, None
        cacheable = not (plan.warm or plan.incremental) and self.random_state is not None
        if memory.location is not None and cacheable:
            params = {
                k: v for k, v in self.get_params(deep=False).items() if k not in AFTER_DENSE_PARAMS
            }
            key = dense_key(self, params, fit_params, plan.seed)
        return _PlannedCache(self, dense_cache(memory, key, data, y))

    def _dense_state(self) -> dict[str, Any]:
        """What ``memory`` stores of a trained dense phase."""
        return {
            "module": {k: v.detach().cpu().clone() for k, v in self.module_.state_dict().items()},
            "optimizer": copy.deepcopy(self.optimizer_.state_dict()),
            "history": copy.deepcopy(self.history_),
            "shuffle_generator": self._plan_.shuffle_generator.get_state(),
        }

    def _restore_dense(self, state: Any) -> bool:
        """Restore a stored dense phase; False (nothing changed) if it does not fit."""
        expected = {k: v.shape for k, v in self.module_.state_dict().items()}
        try:
            fits = (
                set(state) == {"module", "optimizer", "history", "shuffle_generator"}
                and {k: v.shape for k, v in state["module"].items()} == expected
            )
        except (TypeError, AttributeError):
            fits = False
        if not fits:
            return False
        self.module_.load_state_dict(state["module"])
        self.optimizer_.load_state_dict(state["optimizer"])
        self.history_ = copy.deepcopy(state["history"])
        self._plan_.shuffle_generator.set_state(state["shuffle_generator"])
        return True

    def _train(self, data, y, fit_params: dict) -> None:
        """skorch's training run, once: ``on_train_begin``, the loop, ``on_train_end``."""
        plan = self._plan_
        self._invalidate_inference()  # the weights are about to change
        plan.training = True
        try:
            self.notify("on_train_begin", X=data, y=y)
            phases = dict(self.callbacks_).get("fit_phases")
            if getattr(phases, "phase_", None) != "done":
                dense = self._max_dense_epochs
                cap = dense + fine_tune_budget(self.fine_tune_epochs, dense, self.sparsity)
                try:
                    self.fit_loop(data, y, epochs=1 if plan.incremental else cap, **fit_params)
                except KeyboardInterrupt:  # how skorch's callbacks end a training run
                    pass
            self.notify("on_train_end", X=data, y=y)
        finally:
            plan.training = False
        check_finite(self)

    # ---------------------------------------------------------------- sklearn
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True
        return tags


class _PlannedCache:
    """Enter ``memory``'s cache for a fit: restore a stored dense phase, or plan to store it."""

    def __init__(self, net: ECPrunedMixin, cache) -> None:
        self.net, self.cache = net, cache

    def __enter__(self) -> None:
        state, store = self.cache.__enter__()
        plan = self.net._plan_
        if state is not None and not self.net._restore_dense(state):
            warnings.warn(
                "memory holds an entry for this fit's dense phase that does not fit the "
                "network; it is trained again and the entry replaced.",
                UserWarning,
                stacklevel=4,
            )
            state = None
        plan.dense_restored = state is not None
        if state is None and store is not None:
            plan.store_dense = lambda net: store(net._dense_state())

    def __exit__(self, *exc) -> bool | None:
        return self.cache.__exit__(*exc)
