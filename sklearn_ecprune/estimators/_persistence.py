"""What a fitted estimator keeps: fits on a copy, pickles with CSR layers, the MLP attributes."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from skorch.utils import to_numpy

from ..engine._deploy import restore_weights, sparse_weights, without_weights
from ..engine._methods import PRUNING_METHODS, register_method
from ..engine._report import LayerReport, PruningReport

__all__ = ["FittedStateMixin"]


def _keep_identity(value: Any, memo: dict[int, Any]) -> None:
    """Mark ``value`` and what it holds in lists, tuples and dicts as not to be copied."""
    if id(value) in memo:
        return
    memo[id(value)] = value
    items = value.values() if isinstance(value, dict) else value
    if isinstance(value, list | tuple | dict):
        for item in items:
            _keep_identity(item, memo)


# skorch's own per-fit registries; every other fitted attribute ends with "_".
_SKORCH_STATE = frozenset({"_modules", "_criteria", "_optimizers"})


def _is_fitted(name: str) -> bool:
    return name in _SKORCH_STATE or (name.endswith("_") and not name.endswith("__"))


def _mend_optimizer(net: Any) -> None:
    """torch's L-BFGS keeps its list of parameters outside what it copies and pickles."""
    optimizer = vars(net).get("optimizer_")
    if isinstance(optimizer, torch.optim.LBFGS) and not hasattr(optimizer, "_params"):
        optimizer._params = optimizer.param_groups[0]["params"]
        optimizer._numel_cache = None


class FittedStateMixin:
    """Fitted state: taken over from a fit that succeeded, pickled, loaded, read off."""

    # ------------------------------------------------------------ fit on a copy
    def _trial(self, keep_fitted: bool):
        """A copy to fit: the same parameters, and (deep-copied) fitted state if asked.

        ``fit`` works on this copy and moves its fitted state over only when it
        succeeded, so a fit that fails leaves the estimator as it was. Parameters and
        anything else set from outside (e.g. a pipeline's context) stay the same objects.
        Fitted state is what ends with ``_`` (scikit-learn's convention; the per-fit
        plan is ``_plan_``) and skorch's registries.
        """
        trial = type(self).__new__(type(self))
        context = {k: v for k, v in vars(self).items() if not _is_fitted(k)}
        vars(trial).update(context)
        vars(trial)["_params_to_validate"] = set(self._params_to_validate)
        if keep_fitted:
            fitted = {k: v for k, v in vars(self).items() if _is_fitted(k) and k != "_inference_"}
            # Callbacks given as instances are used by skorch as they are: keep them
            # (and every other parameter) the same objects in the copy.
            memo: dict[int, Any] = {}
            _keep_identity(list(context.values()), memo)
            vars(trial).update(copy.deepcopy(fitted, memo))
            _mend_optimizer(trial)
        return trial

    def _adopt(self, trial) -> None:
        """Take over the fitted state of a trial that succeeded."""
        for name in [k for k in vars(self) if _is_fitted(k)]:
            del vars(self)[name]
        vars(self).update({k: v for k, v in vars(trial).items() if _is_fitted(k)})

    # ------------------------------------------------------------ persistence
    def __getstate__(self):
        """The pickled state: pruned layers as CSR, no optimizer moments, no caches.

        The kept weights of every layer sparser than half are stored with their
        positions (which are the layer's mask), instead of the dense weight and a
        dense mask; the optimizer's state (Adam's moments, twice the weights) is not
        stored: after loading, continued training (``partial_fit``, ``warm_start``)
        starts from a fresh optimizer, as fine-tuning does after pruning.
        """
        vars_ = vars(self)
        swapped = {key: vars_[key] for key in ("_inference_",) if key in vars_}
        compact = None
        plan = vars_.get("_plan_")
        training = plan is not None and plan.training
        if self.__sklearn_is_fitted__() and hasattr(self, "masks_") and not training:
            compact = sparse_weights(self.module_, self.masks_)
            swapped.update({k: vars_[k] for k in ("module_", "optimizer_", "masks_")})
            vars_["module_"] = without_weights(self.module_, compact)
            vars_["optimizer_"] = None
            vars_["masks_"] = {k: m for k, m in self.masks_.items() if k not in compact}
        for key in swapped:
            if key not in ("module_", "optimizer_", "masks_"):
                del vars_[key]
        try:
            state = super().__getstate__()
        finally:
            vars_.update(swapped)
        if compact is not None:
            state["_sparse_weights"] = compact
        # A method registered by the user travels with the estimator (by reference to
        # its class), so that worker processes know its name too.
        if isinstance(self.pruning, str) and self.pruning in PRUNING_METHODS:
            method = PRUNING_METHODS[self.pruning]
            if not method.__module__.startswith("sklearn_ecprune."):
                state["_registered_pruning_method"] = method
        return state

    def __setstate__(self, state):
        method = state.pop("_registered_pruning_method", None)
        if method is not None and method.name not in PRUNING_METHODS:
            register_method(method)
        compact = state.pop("_sparse_weights", None)
        super().__setstate__(state)
        if compact is not None:
            restore_weights(self.module_, self.masks_, compact)
            self.initialize_optimizer()
        _mend_optimizer(self)
        if hasattr(self, "masks_"):
            self._refresh_inference()

    def load_params(self, f_params=None, *args, use_safetensors=False, **kwargs):
        """skorch's ``load_params``; the masks and sparsity then follow the loaded weights.

        On an estimator that was never fitted, the default :class:`MLPModule` is sized
        from the saved parameters (``n_features_in_`` and ``n_outputs_``); the
        classifier's ``classes_`` are then ``0 .. n_outputs_ - 1`` (labels are not
        part of the parameters; pickle the estimator to keep them), and a regressor
        with ``standardize_target=True`` cannot be restored this way. Weights at zero
        count as pruned: they stay zero in ``partial_fit`` and warm-started fits.

        Parameters
        ----------
        f_params : str, path or file-like, default=None
            The module's parameters, as written by ``save_params``.
        *args, use_safetensors, **kwargs
            As in skorch (``f_optimizer``, ``f_criterion``, ``f_history``,
            ``checkpoint``, ...).

        Returns
        -------
        self : object
            The estimator, with the loaded parameters.

        Examples
        --------
        >>> import io
        >>> import numpy as np
        >>> from sklearn.datasets import load_iris
        >>> from sklearn_ecprune import ECPrunedMLPClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = ECPrunedMLPClassifier(max_epochs=20, random_state=0).fit(X, y)
        >>> buffer = io.BytesIO()
        >>> clf.save_params(f_params=buffer)
        >>> _ = buffer.seek(0)
        >>> other = ECPrunedMLPClassifier(max_epochs=20).fit(X, y).load_params(buffer)
        >>> bool(np.array_equal(other.predict(X), clf.predict(X)))
        True
        >>> other.sparsity_ == clf.sparsity_
        True
        """
        # Loaded into a copy, taken over only if it all loads: a file that does not fit
        # leaves the estimator as it was (torch copies the tensors that fit before it
        # finds one that does not).
        trial = self._trial(keep_fitted=bool(self.initialized_))
        trial._load_params(f_params, args, use_safetensors, kwargs)
        self._adopt(trial)
        return self

    def _load_params(self, f_params, args, use_safetensors: bool, kwargs) -> None:
        if not self.initialized_:
            if f_params is None:
                raise ValueError(
                    f"load_params on an unfitted {type(self).__name__} needs f_params: the "
                    "network is sized from the saved parameters."
                )
            self._size_from_parameters(f_params, use_safetensors)
        try:
            super().load_params(f_params, *args, use_safetensors=use_safetensors, **kwargs)
        except RuntimeError as exc:  # torch's size or key mismatch
            raise ValueError(
                f"The saved parameters do not fit the network of this {type(self).__name__} "
                f"(the estimator is unchanged): {' '.join(str(exc).split())}"
            ) from exc
        self._masks_from_weights()
        self._refresh_inference()

    def _size_from_parameters(self, f_params, use_safetensors: bool) -> None:
        if use_safetensors:
            from safetensors.torch import load_file

            state = load_file(f_params)
        else:
            state = torch.load(f_params, map_location="cpu", weights_only=True)
        if hasattr(f_params, "seek"):
            f_params.seek(0)
        weights = [v for k, v in state.items() if k.endswith("weight") and v.ndim == 2]
        if not weights:
            raise ValueError("The saved parameters hold no Linear layer weight.")
        saved = tuple(w.shape[0] for w in weights[:-1])
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if isinstance(sizes, int) else tuple(sizes)
        if self.module is None and saved != sizes:
            raise ValueError(
                f"The saved parameters have hidden layers {saved}, this "
                f"{type(self).__name__} has hidden_layer_sizes={sizes}: set "
                f"hidden_layer_sizes={saved} before load_params."
            )
        self._fit_metadata_from_sizes(weights[0].shape[1], weights[-1].shape[0])
        self.initialize()  # with a plan of its own (see ``initialize``)

    def _masks_from_weights(self) -> None:
        """Masks, sparsity and report from the weights themselves (zeros are pruned)."""
        layers = [
            (name, m) for name, m in self.module_.named_modules() if isinstance(m, torch.nn.Linear)
        ]
        self.masks_ = {name: m.weight.detach() != 0 for name, m in layers}
        rows = [
            LayerReport(name, tuple(m.weight.shape), m.weight.numel(), int(mask.sum()), 0.0)
            for (name, m), mask in zip(layers, self.masks_.values(), strict=True)
        ]
        self.pruning_report_ = PruningReport(rows, "loaded parameters", float(self.sparsity))
        kept = sum(int(mask.sum()) for mask in self.masks_.values())
        self.sparsity_ = 1.0 - kept / self._plan_.dense_n_weights

    # ------------------------------------------------ scikit-learn MLP attributes
    def _history_column(self, key: str) -> list[float]:
        """``key`` of every training epoch, as scikit-learn's curves (no fine-tuning)."""
        check_is_fitted(self)
        return [
            row[key]
            for row in self.history_
            if key in row and row.get("phase", "dense") in ("dense", "partial_fit")
        ]

    @property
    def loss_curve_(self) -> list[float]:
        """Training loss of every dense epoch (of ``partial_fit``'s too), as scikit-learn's.

        The fine-tuning's losses are in ``history_`` (rows whose ``phase`` is
        ``"fine_tune"``).
        """
        return self._history_column("train_loss")

    @property
    def validation_scores_(self) -> list[float] | None:
        """Validation score (accuracy or R^2) of every dense epoch; None without a split."""
        scores = self._history_column("valid_score")
        return scores or None

    @property
    def best_validation_score_(self) -> float | None:
        """Best validation score; None without a validation split."""
        scores = self.validation_scores_
        return None if scores is None else max(scores)

    @property
    def best_loss_(self) -> float | None:
        """Lowest training loss; None when early stopping watches a validation set."""
        if self.validation_scores_ is not None:
            return None
        return min(self.loss_curve_)

    @property
    def loss_(self) -> float:
        """The training loss of the last epoch, as in scikit-learn's MLP."""
        check_is_fitted(self)
        return self.history_[-1, "train_loss"]

    @property
    def t_(self) -> int:
        """Training samples seen in all (the rows of every training batch), as scikit-learn's."""
        check_is_fitted(self)
        return int(
            sum(
                batch.get("train_batch_size", 0)
                for row in self.history_
                for batch in row.get("batches", ())
            )
        )

    @property
    def n_iter_(self) -> int:
        """Training epochs of the last fit, as scikit-learn counts them.

        The dense epochs of the last ``fit`` (a warm start's too), or 1 after
        ``partial_fit``; the fine-tuning's are ``n_fine_tune_iter_``.
        """
        return self._epochs_run()[0]

    @property
    def n_fine_tune_iter_(self) -> int:
        """Fine-tuning epochs of the last fit (0 after ``partial_fit``)."""
        return self._epochs_run()[1]

    def _epochs_run(self) -> tuple[int, int]:
        check_is_fitted(self)
        phases = dict(self.callbacks_ or ()).get("fit_phases")
        if getattr(phases, "phase_", None) is None:  # parameters loaded, never trained here
            return len(self.history_), 0
        return phases.dense_epochs_, phases.fine_tune_epochs_

    def _linear_layers(self, check: bool = True) -> list[torch.nn.Linear]:
        """The network's ``nn.Linear`` layers, in the order of ``module_.modules()``."""
        if check:
            check_is_fitted(self)
        return [m for m in self.module_.modules() if isinstance(m, torch.nn.Linear)]

    @property
    def hidden_layer_sizes_(self) -> tuple[int, ...]:
        """The hidden widths of the fitted network (smaller after neuron pruning)."""
        return tuple(m.out_features for m in self._linear_layers()[:-1])

    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weight matrices, ``coefs_[i]`` of shape (n_in, n_out), as scikit-learn's MLP.

        Assigning a list of such matrices writes the fitted network's weights (pruned
        weights stay zero).
        """
        dtype = self._attribute_dtype
        return [to_numpy(m.weight.detach()).T.astype(dtype) for m in self._linear_layers()]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Bias vectors, ``intercepts_[i]`` of shape (n_out,) (zeros without a bias)."""
        dtype = self._attribute_dtype
        return [
            np.zeros(m.out_features, dtype) if m.bias is None else to_numpy(m.bias).astype(dtype)
            for m in self._linear_layers()
        ]

    @coefs_.setter
    def coefs_(self, coefs: list) -> None:
        self._write_layers(coefs, "coefs_")

    @intercepts_.setter
    def intercepts_(self, intercepts: list) -> None:
        self._write_layers(intercepts, "intercepts_")

    def _write_layers(self, values: list, name: str) -> None:
        """Write ``coefs_`` or ``intercepts_`` into the fitted network; pruned weights stay 0.

        All layers at once, each of the shape the getter gives; nothing is written if
        any is wrong. (Item assignment on the list the getter returns changes a copy.)
        """
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(
                f"{name} of {type(self).__name__} writes the weights of its fitted network: "
                "call fit or partial_fit first."
            )
        layers = self._linear_layers()
        current = self.coefs_ if name == "coefs_" else self.intercepts_
        try:
            arrays = [np.asarray(v, dtype=np.float32) for v in values]
        except (TypeError, ValueError) as error:
            raise ValueError(f"{name} must be a list of numeric arrays: {error}") from None
        shapes = [a.shape for a in current]
        if [a.shape for a in arrays] != shapes or not all(np.isfinite(a).all() for a in arrays):
            raise ValueError(
                f"{name} must be a list of {len(shapes)} finite arrays of shapes {shapes}; "
                f"got shapes {[a.shape for a in arrays]}."
            )
        masks = getattr(self, "masks_", None) or {}
        names = {id(m): n for n, m in self.module_.named_modules()}
        with torch.no_grad():
            for layer, array in zip(layers, arrays, strict=True):
                if name == "intercepts_":
                    if layer.bias is not None:
                        layer.bias.copy_(torch.from_numpy(array))
                    continue
                layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(array.T)))
                mask = masks.get(names[id(layer)])
                if mask is not None:
                    layer.weight.mul_(mask.to(layer.weight.dtype))
        self._refresh_inference()

    @property
    def _attribute_dtype(self) -> np.dtype:
        """The dtype of ``coefs_``, ``intercepts_`` and a regressor's predictions.

        scikit-learn's: float32 for float32 training data, float64 otherwise (the
        network itself computes in float32).
        """
        return getattr(self, "_fit_dtype_", np.dtype(np.float32))

    @property
    def n_layers_(self) -> int:
        """Layers, input and output included, as in scikit-learn's MLP."""
        return len(self._linear_layers()) + 1
