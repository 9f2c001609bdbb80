"""A fit's history as a figure: the losses of every epoch, its phases and pruning events."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..engine._report import import_pyplot

__all__ = ["AxesDisplayMixin", "FitHistoryDisplay"]

# The legend's words and the shading of each phase of a fit (FitPhases records them).
_PHASES = {
    "dense": ("dense training", "tab:gray"),
    "fine_tune": ("fine-tuning", "tab:green"),
    "partial_fit": ("partial_fit", "tab:purple"),
}


class AxesDisplayMixin:
    """The axes of a display: a new figure's when none are given, finished alike.

    Shared by :class:`FitHistoryDisplay` and
    :class:`~sklearn_ecprune.SparsityScoreDisplay`; matplotlib is imported on first use.
    """

    @staticmethod
    def _axes(ax, figsize: tuple[float, float]):
        """``ax``, or the axes of a new figure of ``figsize``."""
        if ax is None:
            _, ax = import_pyplot().subplots(figsize=figsize)
        return ax

    def _finish(self, ax, **legend_kw):
        """Grid and legend on ``ax``, kept as ``ax_`` and ``figure_``; the display."""
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", **legend_kw)
        self.ax_, self.figure_ = ax, ax.figure
        return self


def _fitted_network(estimator):
    """The estimator whose ``history_`` to plot: ``estimator``, or a pipeline's last step."""
    if hasattr(estimator, "steps"):  # a Pipeline: its last step is the network
        estimator = estimator.steps[-1][1]
    check_is_fitted(estimator)
    if getattr(estimator, "history_", None) is None:
        raise TypeError(
            "FitHistoryDisplay plots the skorch history_ of an ECPrunedMLPClassifier or "
            f"ECPrunedMLPRegressor (or a pipeline ending in one); {type(estimator).__name__} "
            "has none."
        )
    return estimator


def _column(rows: Sequence[dict], key: str) -> np.ndarray:
    """``key`` of every row as floats, NaN where a row lacks it."""
    return np.array([float(row[key]) if key in row else np.nan for row in rows], dtype=float)


class FitHistoryDisplay(AxesDisplayMixin):
    """Training and validation loss over all epochs of a fit, with its phases and prunes.

    In scikit-learn's ``Display`` convention: build it with :meth:`from_estimator`,
    which plots right away, or construct it from the numbers and call :meth:`plot`.
    The epochs of each phase of the fit (dense training, fine-tuning,
    ``partial_fit``) are shaded, and each pruning event is a dashed vertical line
    annotated with the sparsity it reached.

    Parameters
    ----------
    epochs : array-like of shape (n_epochs,)
        The epoch numbers (skorch counts from 1).
    train_loss : array-like of shape (n_epochs,)
        Training loss of each epoch.
    valid_loss : array-like of shape (n_epochs,), default=None
        Validation loss of each epoch (NaN where there is none); ``None`` when the
        fit held no rows out.
    phases : array-like of str of shape (n_epochs,), default=None
        The phase of each epoch (``"dense"``, ``"fine_tune"``, ``"partial_fit"``);
        each run of consecutive epochs in one phase is shaded. ``None`` (or a
        ``None`` entry) shades nothing.
    pruning_epochs : array-like of shape (n_events,), default=()
        Where each pruning event happened on the epoch axis: ``e - 0.5`` is the
        start of epoch ``e``, ``e + 0.5`` its end.
    pruning_sparsities : array-like of shape (n_events,), default=()
        The sparsity reached by each event.
    estimator_name : str, default=None
        The title; ``None`` for none.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes of the plot.
    figure_ : matplotlib Figure
        The figure of the plot.
    train_line_ : matplotlib Line2D
        The training loss.
    valid_line_ : matplotlib Line2D or None
        The validation loss; ``None`` without one.
    phase_spans_ : list of matplotlib patches
        One shaded span per run of consecutive epochs in the same phase, in epoch
        order; a run of epochs ``a`` to ``b`` spans ``[a - 0.5, b + 0.5]``.
    pruning_lines_ : list of matplotlib Line2D
        One vertical line per pruning event.
    pruning_texts_ : list of matplotlib Text
        The sparsity of each event, next to its line.

    See Also
    --------
    sklearn_ecprune.PruningReport.plot : The pruning's kept weights and bias shifts
        per layer.
    sklearn_ecprune.SparsityScoreDisplay : Cross-validated score against sparsity.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_ecprune import FitHistoryDisplay
    >>> display = FitHistoryDisplay(
    ...     epochs=[1, 2, 3, 4], train_loss=[1.0, 0.7, 0.6, 0.5],
    ...     phases=["dense", "dense", "fine_tune", "fine_tune"],
    ...     pruning_epochs=[2.5], pruning_sparsities=[0.8]).plot()
    >>> [text.get_text() for text in display.pruning_texts_]
    ['80.0%']
    >>> len(display.phase_spans_), display.valid_line_ is None
    (2, True)
    """

    def __init__(
        self,
        epochs,
        train_loss,
        *,
        valid_loss=None,
        phases=None,
        pruning_epochs=(),
        pruning_sparsities=(),
        estimator_name=None,
    ):
        self.epochs = epochs
        self.train_loss = train_loss
        self.valid_loss = valid_loss
        self.phases = phases
        self.pruning_epochs = pruning_epochs
        self.pruning_sparsities = pruning_sparsities
        self.estimator_name = estimator_name

    def plot(self, ax=None, *, name=None, train_kw=None, valid_kw=None):
        """Draw the losses, shade the phases and mark the pruning events.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when ``None``.
        name : str, default=None
            The title; ``None`` keeps the display's ``estimator_name``.
        train_kw : dict, default=None
            Passed to matplotlib's ``plot`` for the training loss (e.g. ``color``).
        valid_kw : dict, default=None
            Passed to matplotlib's ``plot`` for the validation loss.

        Returns
        -------
        display : FitHistoryDisplay
            With ``ax_``, ``figure_`` and the artists ``train_line_``,
            ``valid_line_``, ``phase_spans_``, ``pruning_lines_`` and
            ``pruning_texts_`` set.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from sklearn_ecprune import FitHistoryDisplay
        >>> fig, ax = plt.subplots()
        >>> display = FitHistoryDisplay([1, 2, 3], [0.9, 0.6, 0.5],
        ...                             valid_loss=[1.0, 0.8, 0.7]).plot(ax=ax)
        >>> display.ax_ is ax, len(ax.lines)
        (True, 2)
        """
        epochs = np.asarray(self.epochs, dtype=float)
        ax = self._axes(ax, figsize=(7, 4))

        phases = [None] * len(epochs) if self.phases is None else list(self.phases)
        self.phase_spans_ = []
        labelled: set[str] = set()
        start = 0
        for i in range(1, len(phases) + 1):
            if i < len(phases) and phases[i] == phases[start]:
                continue
            phase = phases[start]
            if phase is not None:
                label, color = _PHASES.get(phase, (str(phase), "tab:olive"))
                span = ax.axvspan(
                    epochs[start] - 0.5,
                    epochs[i - 1] + 0.5,
                    color=color,
                    alpha=0.12,
                    linewidth=0,
                    label=label if phase not in labelled else "_nolegend_",
                )
                labelled.add(phase)
                self.phase_spans_.append(span)
            start = i

        train_style = {"color": "tab:blue", "label": "training loss", **(train_kw or {})}
        (self.train_line_,) = ax.plot(epochs, np.asarray(self.train_loss, float), **train_style)
        self.valid_line_ = None
        if self.valid_loss is not None:
            valid_style = {"color": "tab:orange", "label": "validation loss", **(valid_kw or {})}
            (self.valid_line_,) = ax.plot(
                epochs, np.asarray(self.valid_loss, float), **valid_style
            )

        self.pruning_lines_, self.pruning_texts_ = [], []
        box = {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8}
        events = zip(self.pruning_epochs, self.pruning_sparsities, strict=True)
        for i, (position, sparsity) in enumerate(events):
            self.pruning_lines_.append(
                ax.axvline(
                    position,
                    color="tab:red",
                    linestyle="--",
                    linewidth=1,
                    label="pruning event" if i == 0 else "_nolegend_",
                )
            )
            # Events often come on consecutive epochs: the labels step down, so that
            # each one stays readable next to its line.
            self.pruning_texts_.append(
                ax.annotate(
                    f"{sparsity:.1%}",
                    xy=(position, 0.97 - 0.08 * (i % 6)),
                    xycoords=ax.get_xaxis_transform(),
                    xytext=(3, 0),
                    textcoords="offset points",
                    ha="left",
                    va="top",
                    fontsize="small",
                    color="tab:red",
                    bbox=box,
                )
            )

        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        title = self.estimator_name if name is None else name
        if title:
            ax.set_title(title)
        return self._finish(ax, fontsize="small")

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, name=None, train_kw=None, valid_kw=None):
        """Plot the history of a fitted estimator: every epoch of its last fit.

        Reads ``estimator.history_`` (skorch's history): each row's ``train_loss``,
        ``valid_loss`` (the line is drawn only when the fit held rows out),
        ``phase`` and ``sparsity``. A row's ``sparsity`` marks a pruning event when
        it differs from the one recorded before (a callback such as
        :class:`~sklearn_ecprune.GradualMagnitudePruning` records it every
        epoch). The event is drawn at the start of a fine-tuning epoch (the
        events of the fine-tuning prune before the epoch trains) and at the end
        of any other epoch (``pruning_schedule="before"``, ``fine_tune_epochs=0``
        and a callback's updates prune after the epoch).

        Parameters
        ----------
        estimator : estimator
            A fitted ``ECPrunedMLPClassifier`` or ``ECPrunedMLPRegressor``, or a
            fitted pipeline whose last step is one.
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when ``None``.
        name : str, default=None
            The title; ``None`` is the estimator's class name.
        train_kw, valid_kw : dict, default=None
            As in :meth:`plot`.

        Returns
        -------
        display : FitHistoryDisplay

        Raises
        ------
        sklearn.exceptions.NotFittedError
            When the estimator (the pipeline's last step) is not fitted.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.datasets import load_iris
        >>> from sklearn_ecprune import ECPrunedMLPClassifier, FitHistoryDisplay
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = ECPrunedMLPClassifier(max_epochs=20, early_stopping=True,
        ...                             random_state=0).fit(X, y)
        >>> display = FitHistoryDisplay.from_estimator(clf)
        >>> sorted(set(display.phases))
        ['dense', 'fine_tune']
        >>> [text.get_text() for text in display.pruning_texts_]
        ['56.3%', '77.0%', '80.0%']
        >>> display.valid_line_ is not None
        True
        """
        network = _fitted_network(estimator)
        rows = list(network.history_)
        epochs = np.array([row.get("epoch", i + 1) for i, row in enumerate(rows)], dtype=float)
        valid_loss = _column(rows, "valid_loss")
        if np.isnan(valid_loss).all():
            valid_loss = None
        positions, sparsities = [], []
        previous = 0.0
        for epoch, row in zip(epochs, rows, strict=True):
            if "sparsity" not in row:
                continue
            sparsity = float(row["sparsity"])
            if not math.isclose(sparsity, previous, rel_tol=0.0, abs_tol=1e-12):
                start = row.get("phase") == "fine_tune"
                positions.append(epoch - 0.5 if start else epoch + 0.5)
                sparsities.append(sparsity)
            previous = sparsity
        display = cls(
            epochs,
            _column(rows, "train_loss"),
            valid_loss=valid_loss,
            phases=[row.get("phase") for row in rows],
            pruning_epochs=positions,
            pruning_sparsities=sparsities,
            estimator_name=type(network).__name__,
        )
        return display.plot(ax=ax, name=name, train_kw=train_kw, valid_kw=valid_kw)
