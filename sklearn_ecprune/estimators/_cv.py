"""The sparsity path, cross-validated: ``ECPrunedMLPClassifierCV`` and ``ECPrunedMLPRegressorCV``.

In the style of ``LassoCV``: each fold trains one dense network and prunes it along the
path of sparsities, from low to high, each step a warm-started fit from the previous
pruned model (pruning events and fine-tuning, no dense epochs); the sparsity with the
best cross-validated score (or the sparsest within one standard error of it) is then
refitted on all the rows along the same path.
"""

from __future__ import annotations

import numbers
import time

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    RegressorMixin,
    clone,
    is_classifier,
)
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.utils import _safe_indexing
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _check_sample_weight, _check_y, check_is_fitted, indexable

from ..engine._validation import Options, validate_params
from ._classifier import ECPrunedMLPClassifier
from ._regressor import ECPrunedMLPRegressor
from ._selection import sparsest_within_one_standard_error

__all__ = ["ECPrunedMLPClassifierCV", "ECPrunedMLPRegressorCV", "fit_sparsity_path"]

DEFAULT_SPARSITIES = (0.5, 0.8, 0.9, 0.95, 0.98)


def fit_sparsity_path(estimator, X, y, sparsities, *, sample_weight=None, on_step=None):
    """Fit ``estimator`` along ``sparsities``, each step warm-started from the last.

    The first step is an ordinary fit (dense training, pruning to ``sparsities[0]``,
    fine-tuning); each later one is ``set_params(warm_start=True, sparsity=s).fit``,
    which prunes the fitted network further and fine-tunes it. ``on_step(estimator,
    sparsity)`` is called after every step.

    Parameters
    ----------
    estimator : ECPrunedMLPClassifier or ECPrunedMLPRegressor
        Fitted in place (its ``warm_start`` is restored at the end).
    X, y : array-like
        Training data.
    sparsities : sequence of float
        Increasing sparsities.
    sample_weight : array-like of shape (n_samples,), default=None
        Passed to every fit.
    on_step : callable, default=None
        Called as ``on_step(estimator, sparsity)`` after each step.

    Returns
    -------
    estimator : object
        The estimator, fitted at the last sparsity.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_ecprune import ECPrunedMLPClassifier
    >>> from sklearn_ecprune.estimators._cv import fit_sparsity_path
    >>> X, y = load_iris(return_X_y=True)
    >>> seen = []
    >>> net = fit_sparsity_path(ECPrunedMLPClassifier(max_epochs=20, random_state=0),
    ...                         X, y, [0.5, 0.8], on_step=lambda n, s: seen.append(n.n_iter_))
    >>> round(net.sparsity_, 2), seen[1]  # the second step trains no dense epoch
    (0.8, 0)
    """
    warm_start = estimator.warm_start
    try:
        for step, sparsity in enumerate(sparsities):
            estimator.set_params(sparsity=sparsity, warm_start=step > 0)
            estimator.fit(X, y, sample_weight=sample_weight)
            if on_step is not None:
                on_step(estimator, sparsity)
    finally:
        estimator.set_params(warm_start=warm_start)
    return estimator


def _fold_path(estimator, X, y, sample_weight, train, test, sparsities, scorer):
    """One fold: the path on the training rows, each step scored on the test rows."""
    scores, epochs, seconds = [], [], []
    X_test, y_test = _rows(X, test), _rows(y, test)
    start = time.process_time()

    def record(net, sparsity):
        nonlocal start
        seconds.append(time.process_time() - start)
        scores.append(float(scorer(net, X_test, y_test)))
        epochs.append(net.n_iter_ + net.n_fine_tune_iter_)
        start = time.process_time()

    weights = None if sample_weight is None else sample_weight[train]
    fit_sparsity_path(
        clone(estimator), _rows(X, train), _rows(y, train), sparsities,
        sample_weight=weights, on_step=record,
    )  # fmt: skip
    return scores, epochs, seconds


def _rows(values, rows):
    return _safe_indexing(values, rows)


def _refitted_method(name: str, summary: str, returns: str):
    """The method ``name`` of a ``*CV`` estimator: ``estimator_.<name>(X)``.

    Available where the estimator (the refitted one, else the template) has ``name``.
    The predict methods differ only in the name they call and what they return, so
    one definition serves them all.
    """

    def available(cv) -> bool:
        target = getattr(cv, "estimator_", None)
        getattr(cv._template() if target is None else target, name)  # AttributeError if none
        return True

    def method(self, X):
        check_is_fitted(self)
        return getattr(self.estimator_, name)(X)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"""{summary}

        Parameters
        ----------
        X : {{array-like, sparse matrix, DataFrame}} of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        {returns}
            ``estimator_.{name}(X)``.
        """
    return available_if(available)(method)


class _SparsityPathCV(MetaEstimatorMixin, BaseEstimator):
    """Shared by the two ``*CV`` estimators; see :class:`ECPrunedMLPClassifierCV`."""

    # sparsities and cv are checked in _check_params and by check_cv.
    _parameter_constraints = {  # noqa: RUF012
        "scoring": [None, str, "callable"],
        "refit": [Options(str, {"best", "one_standard_error"})],
        "n_jobs": [None, numbers.Integral],
    }

    def __init__(
        self,
        estimator=None,
        *,
        sparsities=DEFAULT_SPARSITIES,
        cv=None,
        scoring=None,
        refit="best",
        n_jobs=None,
    ):
        self.estimator = estimator
        self.sparsities = sparsities
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.n_jobs = n_jobs

    def _template(self):
        return self._default_estimator() if self.estimator is None else self.estimator

    def _check_params(self) -> np.ndarray:
        owner = type(self).__name__
        validate_params(self.get_params(deep=False), self._parameter_constraints, owner)
        expected = type(self._default_estimator())
        if not isinstance(self._template(), expected):
            raise ValueError(
                f"estimator of {owner} must be an {expected.__name__} (the path is a "
                f"series of its warm-started fits), got {type(self._template()).__name__}."
            )
        try:
            sparsities = np.asarray(self.sparsities, dtype=float).reshape(-1)
        except (TypeError, ValueError):
            sparsities = np.asarray([np.nan])
        if sparsities.size == 0 or not ((sparsities >= 0) & (sparsities < 1)).all():
            raise ValueError(
                f"sparsities of {owner} must be a non-empty list of sparsities in [0, 1), "
                f"got {self.sparsities!r}."
            )
        return np.unique(sparsities)  # increasing: the path goes from low to high

    def fit(self, X, y, sample_weight=None):
        """Cross-validate the sparsity path, then refit the chosen sparsity on all rows.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to every fit (the scores are unweighted).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        sparsities = self._check_params()
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        template = self._template()
        y = _check_y(y, multi_output=True)  # NaN or infinite targets: the estimator's error
        X, y = indexable(X, y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        cv = check_cv(self.cv, y, classifier=is_classifier(template))
        scorer = check_scoring(template, scoring=self.scoring)
        folds = list(cv.split(X, y))
        results = Parallel(n_jobs=self.n_jobs)(
            delayed(_fold_path)(template, X, y, sample_weight, train, test, sparsities, scorer)
            for train, test in folds
        )
        scores = np.array([r[0] for r in results])  # (n_folds, n_sparsities)
        self.cv_results_ = {
            "params": [{"sparsity": float(s)} for s in sparsities],
            "param_sparsity": np.ma.MaskedArray(sparsities),
            "mean_test_score": scores.mean(axis=0),
            "std_test_score": scores.std(axis=0),
            "mean_fit_time": np.array([r[2] for r in results]).mean(axis=0),
            **{f"split{k}_test_score": scores[k] for k in range(len(folds))},
        }
        means = self.cv_results_["mean_test_score"]
        order = np.lexsort((-sparsities, -means))  # best score first; ties: sparsest
        self.cv_results_["rank_test_score"] = np.empty(len(means), dtype=np.int32)
        self.cv_results_["rank_test_score"][order] = np.arange(1, len(means) + 1)
        if self.refit == "best":
            chosen = int(order[0])
        else:
            chosen = sparsest_within_one_standard_error(self.cv_results_)
        self.sparsity_ = float(sparsities[chosen])
        self.scores_ = scores
        self.n_iter_ = np.array([r[1] for r in results])
        self.estimator_ = fit_sparsity_path(
            clone(template), X, y, sparsities[: chosen + 1], sample_weight=sample_weight
        )
        self.n_features_in_ = self.estimator_.n_features_in_
        if hasattr(self.estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.estimator_.feature_names_in_
        return self

    predict = _refitted_method(
        "predict", "Predict with the refitted estimator (``estimator_``).", "y : ndarray"
    )

    def to_torch(self, *args, **kwargs):
        """The refitted network as a standalone torch module (``estimator_.to_torch``).

        Parameters
        ----------
        *args, **kwargs
            Passed on to ``estimator_.to_torch``.

        Returns
        -------
        module : torch.nn.Module
        """
        check_is_fitted(self)
        return self.estimator_.to_torch(*args, **kwargs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = self._template().__sklearn_tags__()
        tags.input_tags = inner.input_tags
        tags.target_tags = inner.target_tags
        tags.non_deterministic = inner.non_deterministic
        return tags


_CV_DOC = """
    Parameters
    ----------
    estimator : {name}, default=None
        The estimator whose path is cross-validated, with every parameter but
        ``sparsity`` and ``warm_start`` (which the path sets); ``None`` is
        ``{name}()``. Its parameters are reachable as ``estimator__<name>``.
    sparsities : array-like of float, default=(0.5, 0.8, 0.9, 0.95, 0.98)
        The path, in [0, 1); taken in increasing order.
    cv : int, cross-validation generator or iterable, default=None
        As in ``GridSearchCV``: ``None`` is 5-fold ({folds}).
    scoring : str or callable, default=None
        As in ``GridSearchCV``; ``None`` is the estimator's ``score`` ({score}).
    refit : {{"best", "one_standard_error"}}, default="best"
        Which sparsity to refit on all the rows: the best mean score (of equal ones,
        the sparsest), or the sparsest whose mean score is within one standard error
        of the best (:func:`~sklearn_ecprune.sparsest_within_one_standard_error`).
    n_jobs : int, default=None
        Folds fitted in parallel with joblib (any backend: processes, threads, dask,
        ray); each fold's path runs in one worker.

    Attributes
    ----------
    sparsity_ : float
        The chosen sparsity.
    estimator_ : {name}
        Refitted on all the rows along the path up to ``sparsity_``.
    cv_results_ : dict of ndarray
        As a ``GridSearchCV``'s over ``sparsity`` (``params``, ``mean_test_score``,
        ``std_test_score``, ``split<k>_test_score``, ``rank_test_score``,
        ``mean_fit_time``): :meth:`SparsityScoreDisplay.from_search` plots it.
    scores_ : ndarray of shape (n_folds, n_sparsities)
        The test score of every fold at every step of the path.
    n_iter_ : ndarray of shape (n_folds, n_sparsities)
        The epochs (dense and fine-tuning) of every step of every fold's path.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of the features seen during fit, when they are strings.

    See Also
    --------
    {name} : The estimator of one sparsity.
    sklearn_ecprune.SparsityScoreDisplay : Plots ``cv_results_``.

    Notes
    -----
    Each fold costs one dense training and one fine-tuning per sparsity; pruning
    step by step from the previous model is better at high sparsity than pruning each
    sparsity from the dense network. The fits of one fold are in sequence; the folds
    run in parallel with ``n_jobs``.
"""


class ECPrunedMLPClassifierCV(ClassifierMixin, _SparsityPathCV):
    __doc__ = (
        """Cross-validated sparsity path of an :class:`ECPrunedMLPClassifier`.

    Each fold trains one dense network and prunes it along ``sparsities``, from low to
    high, each step warm-started from the previous pruned model; the chosen sparsity
    is refitted on all the rows along the same path.
"""
        + _CV_DOC.format(
            name="ECPrunedMLPClassifier",
            folds="stratified",
            score="accuracy",
        )
        + """
    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_ecprune import ECPrunedMLPClassifier, ECPrunedMLPClassifierCV
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = ECPrunedMLPClassifierCV(ECPrunedMLPClassifier(max_epochs=30, random_state=0),
    ...                               sparsities=[0.5, 0.8, 0.9], cv=3).fit(X, y)
    >>> clf.sparsity_ in (0.5, 0.8, 0.9), clf.scores_.shape
    (True, (3, 3))
    >>> clf.predict(X[:2]).shape
    (2,)
    """
    )

    _default_estimator = ECPrunedMLPClassifier

    @property
    def classes_(self) -> np.ndarray:
        """The class labels of the refitted estimator."""
        check_is_fitted(self)
        return self.estimator_.classes_

    predict_proba = _refitted_method(
        "predict_proba",
        "Class probabilities of the refitted estimator.",
        "proba : ndarray of shape (n_samples, n_classes)",
    )
    predict_log_proba = _refitted_method(
        "predict_log_proba",
        "Log of the class probabilities of the refitted estimator.",
        "log_proba : ndarray of shape (n_samples, n_classes)",
    )


class ECPrunedMLPRegressorCV(RegressorMixin, _SparsityPathCV):
    __doc__ = (
        """Cross-validated sparsity path of an :class:`ECPrunedMLPRegressor`.

    Each fold trains one dense network and prunes it along ``sparsities``, from low to
    high, each step warm-started from the previous pruned model; the chosen sparsity
    is refitted on all the rows along the same path.
"""
        + _CV_DOC.format(name="ECPrunedMLPRegressor", folds="not shuffled", score="R^2")
        + """
    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn_ecprune import ECPrunedMLPRegressor, ECPrunedMLPRegressorCV
    >>> X, y = make_regression(200, 5, noise=5.0, random_state=0)
    >>> reg = ECPrunedMLPRegressorCV(ECPrunedMLPRegressor(max_epochs=30, random_state=0),
    ...                              sparsities=[0.5, 0.9], cv=3).fit(X, y)
    >>> reg.cv_results_["params"]
    [{'sparsity': 0.5}, {'sparsity': 0.9}]
    """
    )

    _default_estimator = ECPrunedMLPRegressor
