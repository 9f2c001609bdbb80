"""Choosing a sparsity: a ``refit`` rule for grid searches and a score-vs-sparsity display.

As in scikit-learn's example "Balance model complexity and cross-validated score": the
sparsest model whose cross-validated score is within one standard error of the best
one is as good as the best, within the noise of the estimate, and smaller.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._plots import AxesDisplayMixin

__all__ = ["SparsityScoreDisplay", "sparsest_within_one_standard_error"]


def _sparsity_key(params: dict[str, Any]) -> str:
    keys = [k for k in params if k == "sparsity" or k.endswith("__sparsity")]
    if len(keys) != 1:
        raise ValueError(
            "The search must vary exactly one parameter named 'sparsity' (or "
            f"'<step>__sparsity' in a pipeline); found {keys or 'none'}."
        )
    return keys[0]


def _standard_errors(cv_results: dict[str, Any], metric: str) -> np.ndarray:
    splits = [k for k in cv_results if k.startswith("split") and k.endswith(f"_test_{metric}")]
    return np.asarray(cv_results[f"std_test_{metric}"]) / np.sqrt(max(1, len(splits)))


def _metric_of(cv_results: dict[str, Any], metric: str | None) -> str:
    """The metric whose columns to read: ``metric``, or the search's only one."""
    names = sorted(k[len("mean_test_") :] for k in cv_results if k.startswith("mean_test_"))
    if metric is None:
        if names == ["score"]:
            return "score"
        raise ValueError(
            f"The search scored several metrics {names}: name the one to use with metric=..."
        )
    if metric not in names:
        raise ValueError(f"metric={metric!r} is not one of the search's metrics {names}.")
    return metric


def sparsest_within_one_standard_error(
    cv_results: dict[str, Any], *, metric: str | None = None
) -> int:
    """``refit`` rule for a search: the sparsest candidate within one standard error.

    Pass it as ``GridSearchCV(..., refit=sparsest_within_one_standard_error)``. Among
    the candidates whose mean test score is at least the best mean score minus one
    standard error of that best score (its standard deviation over the folds divided
    by the square root of their number), the sparsest is chosen (ties: the higher
    score). For a search with several metrics, name the one to use:
    ``refit=functools.partial(sparsest_within_one_standard_error, metric="accuracy")``.

    Parameters
    ----------
    cv_results : dict
        ``cv_results_`` of a search over a ``sparsity`` parameter (``"sparsity"`` or
        ``"<step>__sparsity"``).
    metric : str or None, default=None
        The metric of a multi-metric search (a key of its ``scoring``); ``None`` for a
        search with one.

    Returns
    -------
    index : int
        The chosen candidate, an index into ``cv_results["params"]``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ecprune import sparsest_within_one_standard_error
    >>> cv_results = {
    ...     "params": [{"sparsity": s} for s in (0.5, 0.8, 0.9, 0.95)],
    ...     "mean_test_score": np.array([0.960, 0.962, 0.955, 0.90]),
    ...     "std_test_score": np.array([0.020, 0.020, 0.020, 0.02]),
    ...     "split0_test_score": 0, "split1_test_score": 0, "split2_test_score": 0,
    ...     "split3_test_score": 0}
    >>> sparsest_within_one_standard_error(cv_results)  # 0.955 >= 0.962 - 0.02 / 2
    2
    """
    key = _sparsity_key(cv_results["params"][0])
    metric = _metric_of(cv_results, metric)
    scores = np.asarray(cv_results[f"mean_test_{metric}"], dtype=float)
    best = int(np.nanargmax(scores))
    threshold = scores[best] - _standard_errors(cv_results, metric)[best]
    candidates = np.flatnonzero(scores >= threshold)
    sparsities = np.array([cv_results["params"][i][key] for i in candidates], dtype=float)
    sparsest = candidates[sparsities == sparsities.max()]
    return int(sparsest[np.argmax(scores[sparsest])])


class SparsityScoreDisplay(AxesDisplayMixin):
    """Cross-validated score against sparsity, with one-standard-error bars.

    In scikit-learn's ``Display`` convention: build it with :meth:`from_search` or
    :meth:`from_estimator`, which plot right away, or construct it from the numbers
    and call :meth:`plot`. The best sparsity and the sparsest within one standard
    error of it (:func:`sparsest_within_one_standard_error`) are marked.

    Parameters
    ----------
    sparsities : array-like of shape (n_sparsities,)
        The sparsities, in increasing order.
    mean_scores : array-like of shape (n_sparsities,)
        Mean cross-validated score at each sparsity.
    standard_errors : array-like of shape (n_sparsities,)
        Standard error of each mean score.
    score_name : str, default="score"
        The y-axis label.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes of the plot.
    figure_ : matplotlib Figure
        The figure of the plot.
    chosen_sparsity_ : float
        The sparsest sparsity within one standard error of the best score.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_ecprune import SparsityScoreDisplay
    >>> display = SparsityScoreDisplay([0.5, 0.9, 0.99], [0.96, 0.955, 0.7],
    ...                                [0.01, 0.01, 0.02], score_name="accuracy").plot()
    >>> display.chosen_sparsity_
    0.9
    """

    def __init__(self, sparsities, mean_scores, standard_errors, *, score_name="score"):
        self.sparsities = sparsities
        self.mean_scores = mean_scores
        self.standard_errors = standard_errors
        self.score_name = score_name

    def plot(self, ax=None, *, negate_score=False, score_name=None, errorbar_kw=None):
        """Draw the scores with error bars, the best score's band and the choice.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when ``None``.
        negate_score : bool, default=False
            Plot (and choose on) minus the scores, as scikit-learn's displays do for
            ``neg_*`` scorers: a ``neg_log_loss`` search shows the log-loss.
        score_name : str, default=None
            The y-axis label; ``None`` keeps the display's ``score_name``.
        errorbar_kw : dict, default=None
            Passed to matplotlib's ``errorbar`` for the scores (e.g. ``color``).

        Returns
        -------
        display : SparsityScoreDisplay
            With ``ax_``, ``figure_``, ``chosen_sparsity_`` and the artists
            ``errorbar_``, ``threshold_line_``, ``best_marker_`` and
            ``chosen_marker_`` set.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from sklearn_ecprune import SparsityScoreDisplay
        >>> fig, ax = plt.subplots()
        >>> display = SparsityScoreDisplay([0.5, 0.9], [0.96, 0.95], [0.01, 0.01]).plot(ax=ax)
        >>> display.ax_ is ax, display.chosen_sparsity_
        (True, 0.9)
        """
        sparsities = np.asarray(self.sparsities, dtype=float)
        sign = -1.0 if negate_score else 1.0
        scores = sign * np.asarray(self.mean_scores, dtype=float)
        errors = np.asarray(self.standard_errors, dtype=float)
        ax = self._axes(ax, figsize=(6, 4))
        # The best is the highest score, whatever the sign shown.
        best = int(np.nanargmax(sign * scores))
        threshold = scores[best] - sign * errors[best]
        within = np.flatnonzero(sign * scores >= sign * threshold)
        chosen = within[np.argmax(sparsities[within])]
        style = {"marker": "o", "capsize": 3, "label": "mean +- 1 SE", **(errorbar_kw or {})}
        self.errorbar_ = ax.errorbar(sparsities, scores, yerr=errors, **style)
        self.threshold_line_ = ax.axhline(
            threshold, color="0.5", linestyle="--", linewidth=1, label="best - 1 SE"
        )
        (self.best_marker_,) = ax.plot(
            sparsities[best], scores[best], "s", color="tab:green", label="best"
        )
        (self.chosen_marker_,) = ax.plot(
            sparsities[chosen], scores[chosen], "*", markersize=14, color="tab:red",
            label=f"sparsest within 1 SE ({sparsities[chosen]:g})",
        )  # fmt: skip
        name = self.score_name if score_name is None else score_name
        if negate_score and score_name is None and name.startswith("neg_"):
            name = name[len("neg_") :]
        ax.set_xlabel("sparsity (fraction of weights removed)")
        ax.set_ylabel(f"cross-validated {name}")
        self.chosen_sparsity_ = float(sparsities[chosen])
        return self._finish(ax)

    @classmethod
    def from_search(
        cls, search, *, metric=None, ax=None, negate_score=False, score_name=None,
        errorbar_kw=None,
    ):  # fmt: skip
        """Plot the results of a fitted search over sparsity.

        When the search also varies other parameters, each sparsity shows its best
        candidate.

        Parameters
        ----------
        search : GridSearchCV or RandomizedSearchCV
            Fitted, over a ``sparsity`` parameter.
        metric : str, default=None
            For a search with several metrics, the one to plot (a key of its
            ``scoring``); ``None``: the search's refit metric when it names one.
        ax : matplotlib Axes, default=None
            Where to draw.
        negate_score, score_name, errorbar_kw
            As in :meth:`plot`; ``score_name=None`` names the metric.

        Returns
        -------
        display : SparsityScoreDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.model_selection import GridSearchCV
        >>> from sklearn_ecprune import ECPrunedMLPClassifier, SparsityScoreDisplay
        >>> X, y = load_iris(return_X_y=True)
        >>> net = ECPrunedMLPClassifier(max_epochs=20, random_state=0)
        >>> search = GridSearchCV(net, {"sparsity": [0.5, 0.9]}, cv=3).fit(X, y)
        >>> display = SparsityScoreDisplay.from_search(search)
        >>> display.sparsities.tolist()
        [0.5, 0.9]
        """
        results = search.cv_results_
        if metric is None and isinstance(getattr(search, "refit", None), str):
            metric = search.refit if f"mean_test_{search.refit}" in results else None
        metric = _metric_of(results, metric)
        key = _sparsity_key(results["params"][0])
        all_sparsities = np.array([p[key] for p in results["params"]], dtype=float)
        means = np.asarray(results[f"mean_test_{metric}"], dtype=float)
        errors = _standard_errors(results, metric)
        sparsities = np.unique(all_sparsities)
        best = [np.flatnonzero(all_sparsities == s)[np.argmax(means[all_sparsities == s])]
                for s in sparsities]  # fmt: skip
        if metric == "score":
            metric = search.scoring if isinstance(search.scoring, str) else "score"
        display = cls(sparsities, means[best], errors[best], score_name=metric)
        return display.plot(
            ax=ax, negate_score=negate_score, score_name=score_name, errorbar_kw=errorbar_kw
        )

    # scikit-learn's Display.from_estimator convention: the cross-validation's and
    # the plot's options are explicit keywords, as plot and from_search take them.
    @classmethod
    def from_estimator(  # noqa: PLR0913
        cls,
        estimator,
        X,
        y,
        *,
        sparsities: Sequence[float] = (0.5, 0.7, 0.8, 0.9, 0.95),
        cv=5,
        scoring=None,
        n_jobs=None,
        ax=None,
        negate_score=False,
        score_name=None,
        errorbar_kw=None,
    ):
        """Cross-validate ``estimator`` at each sparsity and plot the scores.

        A grid search over the estimator's ``sparsity`` parameter (``<step>__sparsity``
        in a pipeline). Without ``memory`` of its own, the estimator gets a temporary
        one, so each fold's dense network is trained once.

        Parameters
        ----------
        estimator : estimator
            An ``ECPrunedMLPClassifier``/``Regressor`` or a pipeline ending in one.
        X, y : array-like
            The data.
        sparsities : sequence of float, default=(0.5, 0.7, 0.8, 0.9, 0.95)
            The sparsities to compare.
        cv : int or cross-validation generator, default=5
            As in ``GridSearchCV``.
        scoring : str or callable, default=None
            As in ``GridSearchCV``; ``None`` is the estimator's ``score``.
        n_jobs : int, default=None
            Parallel fits.
        ax : matplotlib Axes, default=None
            Where to draw.
        negate_score, score_name, errorbar_kw
            As in :meth:`plot`.

        Returns
        -------
        display : SparsityScoreDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.datasets import load_iris
        >>> from sklearn_ecprune import ECPrunedMLPClassifier, SparsityScoreDisplay
        >>> X, y = load_iris(return_X_y=True)
        >>> net = ECPrunedMLPClassifier(max_epochs=20, random_state=0)
        >>> display = SparsityScoreDisplay.from_estimator(net, X, y, sparsities=[0.5, 0.9], cv=3)
        >>> 0.5 <= display.chosen_sparsity_ <= 0.9
        True
        """
        from sklearn.base import clone
        from sklearn.model_selection import GridSearchCV

        estimator = clone(estimator)
        key = _sparsity_key(estimator.get_params())
        memory_key = key.replace("sparsity", "memory")
        with tempfile.TemporaryDirectory(prefix="ecprune-memory-") as folder:
            if estimator.get_params().get(memory_key, "unset") is None:
                estimator.set_params(**{memory_key: folder})
            search = GridSearchCV(
                estimator,
                {key: list(sparsities)},
                cv=cv,
                scoring=scoring,
                n_jobs=n_jobs,
                refit=False,
            ).fit(X, y)
        return cls.from_search(
            search, ax=ax, negate_score=negate_score, score_name=score_name,
            errorbar_kw=errorbar_kw,
        )  # fmt: skip
