"""Sweeps over the estimators: every configuration at every sparsity, per seed.

The reusable core of the ``ecprune`` command and of the quality benchmark. Each fit is
``clone(pipeline).set_params(...)`` of a ``StandardScaler`` + estimator pipeline, as a
user would write it; a temporary ``memory=`` directory makes each seed's dense network
train once, so all configurations prune the same dense weights. The fits can run in
parallel processes through joblib (``n_jobs``): first the dense networks, then the
pruned fits, which restore them from the shared folder. Results come back as a tidy
:class:`pandas.DataFrame`, one row per (seed, configuration, sparsity, fine-tuned or
not), the same for any ``n_jobs``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ._configurations import DEFAULT_CONFIGURATION, SWEEP_CONFIGURATIONS, Configuration

__all__ = [
    "SweepData",
    "baselines_of",
    "competing",
    "evaluate",
    "make_pipeline_for",
    "run_sweep",
    "summarize",
    "win_table",
]

TASKS = ("classification", "regression")


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}.")


@dataclass(frozen=True, eq=False)
class SweepData:
    """A train/test split of one data set, as :func:`run_sweep` fits and tests it.

    Parameters
    ----------
    X_train, X_test : array-like or DataFrame of shape (n_samples, n_features)
        Training (and calibration) and test inputs; preprocessed inside the
        pipeline.
    y_train, y_test : array-like of shape (n_samples,)
        Class labels or float targets.
    task : {"classification", "regression"}
        Which estimator, and the test metrics (see :func:`evaluate`).
    preprocessor : transformer or None, default=None
        The pipeline's first step (cloned for every fit); ``None`` is a
        ``StandardScaler`` (see :func:`~sklearn_ecprune.datasets.make_preprocessor`
        for tables with categorical columns).
    name : str, default=""
        Written in the ``dataset`` column of the results.

    Raises
    ------
    ValueError
        If ``task`` is neither ``"classification"`` nor ``"regression"``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_ecprune.sweep import SweepData
    >>> X, y = load_iris(return_X_y=True)
    >>> data = SweepData(X[::2], y[::2], X[1::2], y[1::2], task="classification", name="iris")
    >>> data.name, data.X_train.shape
    ('iris', (75, 4))
    """

    X_train: Any
    y_train: Any
    X_test: Any
    y_test: Any
    task: str
    preprocessor: Any = None
    name: str = ""

    def __post_init__(self) -> None:
        _check_task(self.task)

    @classmethod
    def from_dataset(
        cls, dataset: Any, *, test_size: float = 0.25, random_state: int = 0, name: str = ""
    ) -> SweepData:
        """Split a :class:`~sklearn_ecprune.datasets.Dataset` into a sweep's data.

        The rows are split by ``train_test_split`` (stratified for classification);
        the preprocessor is :func:`~sklearn_ecprune.datasets.make_preprocessor`'s.

        Parameters
        ----------
        dataset : Dataset
            From :func:`~sklearn_ecprune.datasets.load_dataset`.
        test_size : float, default=0.25
            Share of the rows held out for the test.
        random_state : int, default=0
            Seed of the split.
        name : str, default=""
            The results' ``dataset`` column; ``""`` is the data set's name.

        Returns
        -------
        data : SweepData

        Raises
        ------
        ValueError
            If the rows cannot be split so (too few rows, or too few of a class).

        Examples
        --------
        >>> from sklearn_ecprune.datasets import load_dataset
        >>> from sklearn_ecprune.sweep import SweepData
        >>> data = SweepData.from_dataset(load_dataset("wine"), test_size=0.5)
        >>> data.name, data.task, len(data.y_train), data.preprocessor
        ('wine', 'classification', 89, StandardScaler())
        """
        from sklearn.model_selection import train_test_split

        from ..datasets import make_preprocessor

        X_train, X_test, y_train, y_test = train_test_split(
            dataset.X,
            dataset.y,
            test_size=test_size,
            random_state=random_state,
            stratify=dataset.y if dataset.task == "classification" else None,
        )
        return cls(
            X_train,
            y_train,
            X_test,
            y_test,
            task=dataset.task,
            preprocessor=make_preprocessor(dataset),
            name=name or dataset.name,
        )


def make_pipeline_for(task: str, preprocessor=None, **estimator_params: Any):
    """A preprocessor (default ``StandardScaler``) and the task's estimator (step ``"net"``).

    Parameters
    ----------
    task : {"classification", "regression"}
        :class:`~sklearn_ecprune.ECPrunedMLPClassifier` or
        :class:`~sklearn_ecprune.ECPrunedMLPRegressor`.
    preprocessor : transformer or None, default=None
        The first step, cloned; ``None`` is a ``StandardScaler``.
    **estimator_params
        Parameters of the estimator; its defaults otherwise.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Unfitted, with the steps ``"prepare"`` and ``"net"``: the estimator's
        parameters are set as ``net__<name>``.

    Raises
    ------
    ValueError
        If ``task`` is not one of the two tasks.

    Examples
    --------
    >>> from sklearn_ecprune.sweep import make_pipeline_for
    >>> pipe = make_pipeline_for("regression", hidden_layer_sizes=(16,), max_epochs=5)
    >>> [name for name, _ in pipe.steps], type(pipe[-1]).__name__
    (['prepare', 'net'], 'ECPrunedMLPRegressor')
    """
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from ..estimators import ECPrunedMLPClassifier, ECPrunedMLPRegressor

    _check_task(task)
    estimator = ECPrunedMLPClassifier if task == "classification" else ECPrunedMLPRegressor
    prepare = StandardScaler() if preprocessor is None else clone(preprocessor)
    return Pipeline([("prepare", prepare), ("net", estimator(**estimator_params))])


def evaluate(model, X_test, y_test, *, task: str, y_train) -> tuple[float, float]:
    """The test loss and score of a fitted model, as a sweep reports them.

    Parameters
    ----------
    model : fitted classifier or regressor
        A pipeline or an estimator; a classifier needs ``predict_proba`` and
        ``classes_``.
    X_test : array-like or DataFrame of shape (n_samples, n_features)
        Test inputs.
    y_test : array-like of shape (n_samples,)
        Test targets.
    task : {"classification", "regression"}
        Which metrics.
    y_train : array-like of shape (n_train_samples,)
        The training target: its variance is the unit of a regression loss.

    Returns
    -------
    loss : float
        Classification: the log-loss; regression: the mean squared error divided
        by the variance of ``y_train`` (1 where that is 0), so that it does not
        depend on the target's unit.
    score : float
        The accuracy, or :math:`R^2`.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import LinearRegression
    >>> from sklearn_ecprune.sweep import evaluate
    >>> X, y = load_diabetes(return_X_y=True)
    >>> model = LinearRegression().fit(X[::2], y[::2])
    >>> loss, r2 = evaluate(model, X[1::2], y[1::2], task="regression", y_train=y[::2])
    >>> round(loss, 3), round(r2, 3)
    (0.444, 0.418)
    """
    from sklearn.metrics import log_loss, mean_squared_error, r2_score

    _check_task(task)
    if task == "classification":
        proba = model.predict_proba(X_test)
        classes = model.classes_
        accuracy = float(np.mean(classes[proba.argmax(1)] == y_test))
        return float(log_loss(y_test, proba, labels=classes)), accuracy
    pred = model.predict(X_test)
    scale = float(np.var(np.asarray(y_train, dtype=np.float64))) or 1.0
    return float(mean_squared_error(y_test, pred)) / scale, float(r2_score(y_test, pred))


def _fit_and_evaluate(
    model, data: SweepData, threads: int, caller: int
) -> tuple[float, float, float, float, list[tuple[str, type[Warning], str, int]]]:
    """Fit ``model`` and test it, in the caller's process (``caller`` is its id) or not.

    Returns ``(loss, score, achieved sparsity, seconds, warnings)``. In another process
    (a joblib worker) the fit uses at most ``threads`` PyTorch threads (the caller's
    count; fewer if joblib gave the worker fewer), and its warnings are returned,
    ``(message, category, filename, lineno)`` each, for the caller to re-emit: they
    would otherwise go to the worker's stderr. In the caller's process (``n_jobs=1``,
    or joblib's threading backend) nothing changes: warnings are emitted as usual
    (``warnings.catch_warnings`` is not thread-safe).
    """
    import torch

    elsewhere = os.getpid() != caller
    if elsewhere and torch.get_num_threads() > threads:
        torch.set_num_threads(threads)
    recorder = warnings.catch_warnings(record=True) if elsewhere else contextlib.nullcontext()
    with recorder as seen:
        if elsewhere:
            warnings.simplefilter("always")
        start = time.perf_counter()
        model.fit(data.X_train, data.y_train)
        seconds = time.perf_counter() - start
        loss, score = evaluate(
            model, data.X_test, data.y_test, task=data.task, y_train=data.y_train
        )
    said = [(str(w.message), w.category, w.filename, w.lineno) for w in seen or ()]
    return loss, score, float(model[-1].sparsity_), seconds, said


def _configurations(
    configs: Mapping[str, Configuration] | Iterable[str] | None,
) -> dict[str, Configuration]:
    if configs is None:
        return dict(SWEEP_CONFIGURATIONS)
    if isinstance(configs, Mapping):
        return dict(configs)
    return {name: SWEEP_CONFIGURATIONS[name] for name in configs}


def _tuned_states(fine_tune_epochs: int) -> tuple[bool, ...]:
    """The ``fine_tuned`` values of a sweep: also ``True`` with fine-tuning epochs."""
    return (False, True) if fine_tune_epochs > 0 else (False,)


class _Fit(NamedTuple):
    """One fit of a sweep: the model, and the row it reports."""

    seed: int
    method: str
    sparsity: float
    fine_tuned: bool
    model: Any


def run_sweep(
    data: SweepData,
    *,
    configurations: Mapping[str, Configuration] | Iterable[str] | None = None,
    sparsities: Sequence[float] = (0.5, 0.7, 0.8, 0.9, 0.95),
    seeds: Sequence[int] = (0, 1, 2),
    fine_tune_epochs: int = 0,
    estimator_params: Mapping[str, Any] | None = None,
    progress: bool | Any = False,
    n_jobs: int | None = 1,
) -> Any:
    """Fit the estimator with every configuration and sparsity, for each seed.

    For each seed, the dense network is fitted once (``sparsity=0``, reported as
    method ``"dense"``); every (configuration, sparsity) is then a fit of a clone of
    the same pipeline with those parameters, which restores that dense network
    from a temporary ``memory=`` directory and prunes it. With
    ``fine_tune_epochs > 0`` each is fitted a second time with that many epochs of
    masked fine-tuning.

    Parameters
    ----------
    data : SweepData
        The training and test rows, the task, the preprocessor and the data set's
        name.
    configurations : mapping of str to Configuration, iterable of str or None
        Named configurations (see :data:`SWEEP_CONFIGURATIONS`), or their names;
        ``None`` means all.
    sparsities : sequence of float, default=(0.5, 0.7, 0.8, 0.9, 0.95)
        Target sparsities.
    seeds : sequence of int, default=(0, 1, 2)
        ``random_state`` of the estimator: one dense network per seed.
    fine_tune_epochs : int, default=0
        Also fit each configuration with this many fine-tuning epochs; 0 skips it.
    estimator_params : mapping or None, default=None
        Parameters of the estimator shared by every fit (e.g.
        ``hidden_layer_sizes``, ``max_epochs``); the estimator's defaults otherwise.
    progress : bool or tqdm-like, default=False
        ``True`` shows a tqdm bar of the fits on stderr; an object with
        ``update(n)`` is advanced by one per fit instead.
    n_jobs : int or None, default=1
        Fits run at once, as :class:`joblib.Parallel` counts them: 1 fits one
        after the other in this process; N > 1 in N worker processes; -1 in one
        per CPU; ``None`` is 1 unless a :func:`joblib.parallel_config` context says
        otherwise. The dense networks are fitted first, then the pruned fits
        restore them from the ``memory=`` folder (workers on this machine share
        it), so the results are those of ``n_jobs=1``, only the ``seconds``
        differ. Each worker uses at most the caller's number of PyTorch threads
        (:func:`torch.get_num_threads`); the warnings of the workers' fits are
        re-emitted here.

    Returns
    -------
    frame : pandas.DataFrame
        One row per (seed, method, sparsity, fine_tuned) with columns
        ``dataset, task, architecture, seed, method, sparsity, fine_tuned,
        achieved_sparsity, loss, score, metric, seconds``; ``seconds`` is the time
        of the fit (for the pruned ones: restoring, pruning and fine-tuning).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_ecprune.sweep import SweepData, run_sweep
    >>> X, y = load_iris(return_X_y=True)
    >>> data = SweepData(X[::2], y[::2], X[1::2], y[1::2], task="classification")
    >>> frame = run_sweep(data, configurations=["magnitude", "ecp"], sparsities=[0.5], seeds=[0],
    ...                   estimator_params={"hidden_layer_sizes": (16,), "max_epochs": 20})
    >>> sorted(frame["method"].unique())
    ['dense', 'ecp', 'magnitude']
    """
    import pandas as pd

    configs = _configurations(configurations)
    params = dict(estimator_params or {})
    tuned_states = _tuned_states(fine_tune_epochs)
    total = len(seeds) * (1 + len(configs) * len(sparsities) * len(tuned_states))
    bar = _bar(progress, total, data.name or "fits")
    try:
        with tempfile.TemporaryDirectory(prefix="ecprune-memory-") as cache:
            dense_fits, pruned_fits = _plan(
                data,
                params,
                cache,
                seeds=seeds,
                configs=configs,
                sparsities=sparsities,
                fine_tune_epochs=fine_tune_epochs,
            )
            dense_done, pruned_done = _fit_in_order(
                (dense_fits, pruned_fits), data, n_jobs=n_jobs, bar=bar
            )
    finally:
        if progress is True and bar is not None:
            bar.close()
    # The rows of each seed together: its dense network, then its pruned fits.
    per_seed = len(pruned_fits) // len(dense_fits) if dense_fits else 0
    ordered = []
    for i, dense in enumerate(zip(dense_fits, dense_done, strict=True)):
        pruned = slice(i * per_seed, (i + 1) * per_seed)
        ordered += [dense, *zip(pruned_fits[pruned], pruned_done[pruned], strict=True)]
    architecture = _architecture(make_pipeline_for(data.task, **params)[-1])
    columns = {"dataset": data.name, "task": data.task, "architecture": architecture}
    rows = [row for fit, result in ordered for row in _rows(fit, result, columns, tuned_states)]
    return pd.DataFrame(rows)


def _plan(
    data: SweepData,
    params: Mapping[str, Any],
    cache: str,
    *,
    seeds: Sequence[int],
    configs: Mapping[str, Configuration],
    sparsities: Sequence[float],
    fine_tune_epochs: int,
) -> tuple[list[_Fit], list[_Fit]]:
    """The dense fit of each seed, and the pruned fits (seed by seed), unfitted."""
    from sklearn.base import clone

    tuned_states = _tuned_states(fine_tune_epochs)
    dense_fits, pruned_fits = [], []
    for seed in seeds:
        base = make_pipeline_for(
            data.task, data.preprocessor, **params, random_state=seed, memory=cache
        )
        dense = clone(base).set_params(net__sparsity=0.0, net__fine_tune_epochs=0)
        dense_fits.append(_Fit(seed, "dense", 0.0, False, dense))
        for name, config in configs.items():
            settings = {f"net__{k}": v for k, v in config.params.items()}
            for sparsity in sparsities:
                for tuned in tuned_states:
                    model = clone(base).set_params(
                        **settings,
                        net__sparsity=float(sparsity),
                        net__fine_tune_epochs=fine_tune_epochs if tuned else 0,
                    )
                    pruned_fits.append(_Fit(seed, name, sparsity, tuned, model))
    return dense_fits, pruned_fits


def _fit_in_order(
    phases: Sequence[Sequence[_Fit]], data: SweepData, *, n_jobs: int | None, bar: Any
) -> list[list[tuple]]:
    """The results of each phase's fits, a phase after the other, in one worker pool."""
    import torch
    from joblib import Parallel, delayed

    threads, caller = torch.get_num_threads(), os.getpid()
    said: dict[Any, Any] = {}  # the registry of the re-emitted warnings
    done: list[list[tuple]] = []
    with Parallel(n_jobs=n_jobs, return_as="generator") as parallel:
        # The dense networks first: the pruned fits restore them from the cache.
        for fits in phases:
            results = []
            for result in parallel(
                delayed(_fit_and_evaluate)(fit.model, data, threads, caller) for fit in fits
            ):
                results.append(result)
                for message, category, filename, lineno in result[-1]:
                    # Once per place and message under the "default" action, as in
                    # one process.
                    warnings.warn_explicit(message, category, filename, lineno, registry=said)
                if bar is not None:
                    bar.update(1)
            done.append(results)
    return done


def _architecture(estimator: Any) -> str:
    """The hidden layer widths of ``estimator``, as ``"64-32"``."""
    hidden = estimator.hidden_layer_sizes
    hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
    return "-".join(str(h) for h in hidden)


def _rows(
    fit: _Fit, result: tuple, columns: Mapping[str, Any], tuned_states: Sequence[bool]
) -> list[dict[str, Any]]:
    """The rows of one fit: a dense network's once per fine-tuning state."""
    loss, score, achieved, seconds, _ = result
    return [
        {
            **columns,
            "seed": fit.seed,
            "method": fit.method,
            "sparsity": float(fit.sparsity),
            "fine_tuned": tuned,
            "achieved_sparsity": achieved,
            "loss": loss,
            "score": score,
            "metric": "accuracy" if columns["task"] == "classification" else "r2",
            "seconds": seconds,
        }
        for tuned in (tuned_states if fit.method == "dense" else (fit.fine_tuned,))
    ]


def _bar(progress: bool | Any, total: int, desc: str) -> Any:
    """The progress bar ``progress`` asks for: a new tqdm bar, the given object or None."""
    if progress is None or progress is False:
        return None
    if progress is True:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, file=sys.stderr, unit="fit")
    return progress


def summarize(frame):
    """Mean and std over seeds per (dataset, architecture, fine_tuned, method, sparsity).

    Parameters
    ----------
    frame : pandas.DataFrame
        The output of :func:`run_sweep` (possibly several concatenated).

    Returns
    -------
    summary : pandas.DataFrame
        One row per (dataset, architecture, fine_tuned, method, sparsity), in the
        order of the frame, with the columns ``loss_mean, loss_std, score_mean,
        score_std`` (the std is NaN for a single seed) and ``metric``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_ecprune.sweep import summarize
    >>> frame = pd.DataFrame({"dataset": "d", "architecture": "8", "fine_tuned": False,
    ...     "method": "a", "sparsity": 0.5, "seed": [0, 1], "loss": [1.0, 3.0],
    ...     "score": [0.5, 0.7], "metric": "r2"})
    >>> summarize(frame)[["method", "loss_mean", "score_mean"]].to_dict("records")
    [{'method': 'a', 'loss_mean': 2.0, 'score_mean': 0.6}]
    """
    keys = ["dataset", "architecture", "fine_tuned", "method", "sparsity"]
    return (
        frame.groupby(keys, sort=False)
        .agg(
            loss_mean=("loss", "mean"),
            loss_std=("loss", "std"),
            score_mean=("score", "mean"),
            score_std=("score", "std"),
            metric=("metric", "first"),
        )
        .reset_index()
    )


def competing(methods: Iterable[str]) -> list[str]:
    """The methods that win counts compare: all but the dense network and ablations.

    Parameters
    ----------
    methods : iterable of str
        Method names, e.g. the ``method`` column of a sweep's frame.

    Returns
    -------
    names : list of str
        ``methods`` in order, without ``"dense"`` and the configurations of
        :data:`SWEEP_CONFIGURATIONS` whose kind is ``"ablation"``.

    Examples
    --------
    >>> from sklearn_ecprune.sweep import competing
    >>> competing(["dense", "default", "default-5step", "magnitude", "mine"])
    ['default', 'magnitude', 'mine']
    """
    return [
        m
        for m in methods
        if m != "dense"
        and not (m in SWEEP_CONFIGURATIONS and SWEEP_CONFIGURATIONS[m].kind == "ablation")
    ]


def win_table(frame, *, min_sparsity: float = 0.0, methods: Iterable[str] | None = None):
    """How many cells each method wins (lowest mean test loss).

    A cell is a (dataset, architecture, sparsity) triple. Counted separately without
    and with fine-tuning.

    Parameters
    ----------
    frame : pandas.DataFrame
        The output of :func:`run_sweep` (possibly several concatenated).
    min_sparsity : float, default=0.0
        Only cells at this sparsity or above.
    methods : iterable of str, default=None
        Only these methods compete; ``None`` means all but ``"dense"`` and the
        ablations (see :func:`competing`).

    Returns
    -------
    wins : pandas.DataFrame
        Index: method; columns: ``fine_tuned`` values; values: cells won. The
        attribute ``wins.attrs["cells"]`` holds the number of cells per column.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_ecprune.sweep import win_table
    >>> frame = pd.DataFrame({"dataset": "d", "architecture": "8", "fine_tuned": False,
    ...     "method": ["a", "b", "a", "b"], "sparsity": [0.5, 0.5, 0.9, 0.9],
    ...     "seed": 0, "loss": [1.0, 2.0, 3.0, 1.0], "score": 0.0, "metric": "r2"})
    >>> win_table(frame)[False].to_dict()
    {'a': 1, 'b': 1}
    """
    import pandas as pd

    summary = summarize(frame)
    summary = summary[summary["sparsity"] >= min_sparsity]
    names = competing(dict.fromkeys(summary["method"])) if methods is None else list(methods)
    summary = summary[summary["method"].isin(names)]
    names = [n for n in names if n in set(summary["method"])]
    table, cells = {}, {}
    for fine_tuned, part in summary.groupby("fine_tuned"):
        best = part.loc[
            part.groupby(["dataset", "architecture", "sparsity"])["loss_mean"].idxmin()
        ]
        counts = best["method"].value_counts()
        table[fine_tuned] = [int(counts.get(name, 0)) for name in names]
        cells[fine_tuned] = len(best)
    wins = pd.DataFrame(table, index=pd.Index(names, name="method"))
    wins.attrs["cells"] = cells
    return wins


def baselines_of(methods: Iterable[str]) -> list[str]:
    """The default and the baselines among ``methods`` (for the baseline-only wins).

    Parameters
    ----------
    methods : iterable of str
        Method names.

    Returns
    -------
    names : list of str
        ``methods`` in order, keeping :data:`DEFAULT_CONFIGURATION` and the
        configurations of :data:`SWEEP_CONFIGURATIONS` whose kind is ``"baseline"``.

    Examples
    --------
    >>> from sklearn_ecprune.sweep import baselines_of
    >>> baselines_of(["dense", "default", "ecp-ls", "magnitude"])
    ['default', 'magnitude']
    """
    keep = {DEFAULT_CONFIGURATION} | {
        n for n, c in SWEEP_CONFIGURATIONS.items() if c.kind == "baseline"
    }
    return [m for m in methods if m in keep]
