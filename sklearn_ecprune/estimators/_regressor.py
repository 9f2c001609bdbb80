"""The regressor: an MLP regressor trained, pruned and fine-tuned inside ``fit``."""

from __future__ import annotations

import inspect
from types import MappingProxyType

import numpy as np
import torch
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNetRegressor

from ..engine._validation import Options
from ._base import ECPrunedMixin, stochastic_solver
from ._docs import ATTRIBUTES_DOC, FIT_DOC, PARAMS_DOC
from ._module import TargetScale

__all__ = ["ECPrunedMLPRegressor"]


class ECPrunedMLPRegressor(ECPrunedMixin, NeuralNetRegressor):
    __doc__ = f"""Multilayer perceptron regressor pruned with elimination-compensation.

{FIT_DOC}
    Parameters
    ----------{PARAMS_DOC.replace("{criterion}", "torch.nn.MSELoss")}
    loss : {"squared_error", "poisson"}, default="squared_error"
        The training loss, as in scikit-learn's MLP: the squared error
        (``torch.nn.MSELoss``), or the Poisson deviance with a log link
        (``torch.nn.PoissonNLLLoss``; the network's output is the log of the
        prediction, the targets must be non-negative and are not standardised).
        A ``criterion`` given takes its place.
    standardize_target : bool, default=True
        Train on the target standardised per output (mean 0, variance 1, from the
        training data) and predict in its original units. Networks train poorly on
        targets of large or tiny scale; this is what wrapping the estimator in
        ``TransformedTargetRegressor(transformer=StandardScaler())`` would do. The
        training loss and the pruning error are then measured in standard units.

    Attributes
    ----------
    n_outputs_ : int
        Number of regression targets.{ATTRIBUTES_DOC}
    See Also
    --------
    ECPrunedMLPClassifier : The classifier.
    prune_mlp : The pruning engine for any torch module.

    Examples
    --------
    >>> from sklearn.datasets import make_friedman1
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_ecprune import ECPrunedMLPRegressor
    >>> X, y = make_friedman1(n_samples=500, random_state=0)
    >>> reg = make_pipeline(StandardScaler(),
    ...                     ECPrunedMLPRegressor(sparsity=0.5, lr=0.01, random_state=0))
    >>> reg.fit(X, y).score(X, y) > 0.8
    True
    >>> reg.predict(X[:3]).shape
    (3,)
    """

    _y_validation = MappingProxyType({"multi_output": True, "y_numeric": True})
    _parameter_constraints = {  # noqa: RUF012 (extends the mixin's)
        **ECPrunedMixin._parameter_constraints,
        "standardize_target": ["boolean"],
        "loss": [Options(str, {"squared_error", "poisson"})],
    }

    _is_classifier = False

    @property
    def _default_criterion(self) -> type[torch.nn.Module]:
        return torch.nn.PoissonNLLLoss if self._log_link else torch.nn.MSELoss

    @property
    def _log_link(self) -> bool:
        """Whether the network's output is the log of the prediction (Poisson loss).

        Decided at fit (``_log_link_``): ``set_params(loss=...)`` acts at the next fit.
        """
        decided = getattr(self, "_log_link_", None)
        return self.loss == "poisson" and self.criterion is None if decided is None else decided

    @property
    def out_activation_(self) -> str:
        """``"identity"`` (the outputs are the predictions), ``"exp"`` with the Poisson loss."""
        check_is_fitted(self)
        return "exp" if self._log_link else "identity"

    def _validation_score(self, y_true, output, weights) -> float:
        if self._log_link:
            output = np.exp(output)
        # scikit-learn's r2_score (uniform average over outputs, a constant output
        # scoring 1 if predicted exactly, else 0), without its input checks: it runs
        # every epoch on arrays made here.
        y_true = y_true.reshape(len(y_true), -1).astype(np.float64)
        output = output.reshape(len(output), -1).astype(np.float64)
        if len(y_true) < 2:
            return float("nan")
        w = np.ones(len(y_true)) if weights is None else np.asarray(weights, np.float64)
        mean = np.average(y_true, axis=0, weights=w)
        residual = (w[:, None] * (y_true - output) ** 2).sum(axis=0)
        total = (w[:, None] * (y_true - mean) ** 2).sum(axis=0)
        scores = np.where(total > 0, 1 - residual / np.where(total > 0, total, 1), 0.0)
        scores[(total == 0) & (residual == 0)] = 1.0
        return float(scores.mean())

    def __init__(self, module=None, *, standardize_target=True, loss="squared_error", **kwargs):
        super().__init__(module, **kwargs)
        self.standardize_target = standardize_target
        self.loss = loss

    # The full signature, which get_params, clone, the docs and the mixin's __setattr__
    # read: the mixin's parameters and the regressor's own. (Written out, as
    # scikit-learn's MLPRegressor does, the mixin's fifty parameters and assignments
    # would stand here again; in the mixin, these two would be the classifier's too.)
    __init__.__signature__ = inspect.signature(ECPrunedMixin.__init__).replace(
        parameters=[
            *list(inspect.signature(ECPrunedMixin.__init__).parameters.values())[:-1],
            inspect.Parameter("standardize_target", inspect.Parameter.KEYWORD_ONLY, default=True),
            inspect.Parameter("loss", inspect.Parameter.KEYWORD_ONLY, default="squared_error"),
            inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD),
        ]
    )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _fit_metadata_from_sizes(self, n_features: int, n_outputs: int) -> None:
        if self.standardize_target:
            raise ValueError(
                "The target's mean and scale (standardize_target=True) are not part of the "
                "saved parameters: load them into a fitted ECPrunedMLPRegressor, or pickle "
                "or joblib the estimator instead."
            )
        self.n_features_in_ = n_features
        self.n_outputs_ = n_outputs
        self._fit_y_ndim_ = 1 if n_outputs == 1 else 2
        self._target_mean_, self._target_scale_ = np.zeros(n_outputs), np.ones(n_outputs)

    def _deployed(self, module: torch.nn.Module) -> torch.nn.Module:
        if not (self.standardize_target or self._log_link):
            return module
        scale = TargetScale(self._target_mean_, self._target_scale_, log_link=self._log_link)
        scale.to(next(self.module_.parameters()).device)
        if isinstance(module, torch.nn.Sequential):
            return module.append(scale)
        return torch.nn.Sequential(module, scale)

    def _encode_target(self, y, *, reset: bool) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        if reset:
            self._log_link_ = None  # decided afresh from the parameters
            self._log_link_ = self._log_link
            self._fit_y_ndim_ = y.ndim
            self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        y = y.reshape(len(y), -1)
        if y.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {y.shape[1]} outputs, but {type(self).__name__} was fitted with "
                f"{self.n_outputs_}."
            )
        if self._log_link and (y < 0).any():
            raise ValueError(
                "Some value(s) of y are negative which is not allowed for Poisson "
                "regression (loss='poisson')."
            )
        if reset:
            mean, scale = np.zeros(y.shape[1]), np.ones(y.shape[1])
            if self.standardize_target and not self._log_link:
                with np.errstate(over="ignore", invalid="ignore"):
                    mean, scale = y.mean(axis=0), y.std(axis=0)
                if not (np.isfinite(mean).all() and np.isfinite(scale).all()):
                    raise ValueError(
                        "y's mean or standard deviation overflows float64 (largest |y| is "
                        f"{np.abs(y).max():.3g}): rescale the target, e.g. divide it by a "
                        "power of ten."
                    )
                scale[~(scale > 0)] = 1.0  # a constant output keeps its unit
            self._target_mean_, self._target_scale_ = mean, scale
        with np.errstate(over="ignore"):  # overflow to inf is reported just below
            encoded = ((y - self._target_mean_) / self._target_scale_).astype(np.float32)
        if not np.isfinite(encoded).all():
            raise ValueError(
                "y has values too large for the float32 network"
                + ("" if self.standardize_target else " (standardize_target=True may help)")
                + f": largest |y| is {np.abs(y).max():.3g}."
            )
        return encoded

    @available_if(stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None, **fit_params):
        """Train one more epoch with the masks kept.

        On an unfitted estimator the network is initialised, trained one epoch and
        pruned, so that after any call the network is at its target sparsity; a
        fitted one prunes again only if ``sparsity`` was raised since its last prune.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the training loss.
        **fit_params : dict
            Passed on to skorch's training loop.

        Returns
        -------
        self : object
            The estimator.

        Examples
        --------
        >>> from sklearn.datasets import make_regression
        >>> from sklearn_ecprune import ECPrunedMLPRegressor
        >>> X, y = make_regression(200, 5, random_state=0)
        >>> reg = ECPrunedMLPRegressor(sparsity=0.5, random_state=0)
        >>> reg = reg.partial_fit(X, y).partial_fit(X, y)
        >>> len(reg.loss_curve_), reg.n_iter_, round(reg.sparsity_, 2)
        (2, 1, 0.5)
        """
        return self._partial_fit(X, y, sample_weight=sample_weight, **fit_params)

    def predict(self, X) -> np.ndarray:
        """Predicted targets, of the shape ``y`` had at fit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions, float32 if the training data were float32, else float64
            (as scikit-learn's MLP).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import make_regression
        >>> from sklearn_ecprune import ECPrunedMLPRegressor
        >>> X, y = make_regression(200, 5, n_targets=2, random_state=0)
        >>> reg = ECPrunedMLPRegressor(max_epochs=20, random_state=0).fit(X, y)
        >>> reg.predict(X[:3]).shape
        (3, 2)
        """
        output = self._forward_numpy(X).astype(np.float64)
        if self._log_link:
            output = np.exp(output)
        output = (output * self._target_scale_ + self._target_mean_).astype(self._attribute_dtype)
        return output.ravel() if self._fit_y_ndim_ == 1 else output

    @property
    def predict_proba(self):
        """Not available: a regressor has no class probabilities."""
        raise AttributeError("ECPrunedMLPRegressor has no predict_proba; use predict.")
