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
from typing import Any

import numpy as np

from ._configurations import DEFAULT_CONFIGURATION, SWEEP_CONFIGURATIONS, Configuration

__all__ = ["make_pipeline_for", "run_sweep", "summarize", "win_table"]

TASKS = ("classification", "regression")


def make_pipeline_for(task: str, preprocessor=None, **estimator_params: Any):
    """A preprocessor (default ``StandardScaler``) and the task's estimator (step ``"net"``)."""
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from ..estimators import ECPrunedMLPClassifier, ECPrunedMLPRegressor

    estimator = ECPrunedMLPClassifier if task == "classification" else ECPrunedMLPRegressor
    prepare = StandardScaler() if preprocessor is None else clone(preprocessor)
    return Pipeline([("prepare", prepare), ("net", estimator(**estimator_params))])


def _evaluate(model, X, y, task: str, y_train) -> tuple[float, float]:
    """(test loss, score): log-loss and accuracy, or MSE of the standardised target and R^2."""
    from sklearn.metrics import log_loss, mean_squared_error, r2_score

    if task == "classification":
        proba = model.predict_proba(X)
        classes = model[-1].classes_
        accuracy = float(np.mean(classes[proba.argmax(1)] == y))
        return float(log_loss(y, proba, labels=classes)), accuracy
    pred = model.predict(X)
    scale = float(np.var(np.asarray(y_train, dtype=np.float64))) or 1.0
    return float(mean_squared_error(y, pred)) / scale, float(r2_score(y, pred))


def _fit_and_evaluate(
    model, X_train, y_train, X_test, y_test, task: str, threads: int, caller: int
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
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        loss, score = _evaluate(model, X_test, y_test, task, y_train)
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


def run_sweep(
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    task: str,
    configurations: Mapping[str, Configuration] | Iterable[str] | None = None,
    sparsities: Sequence[float] = (0.5, 0.7, 0.8, 0.9, 0.95),
    seeds: Sequence[int] = (0, 1, 2),
    fine_tune_epochs: int = 0,
    estimator_params: Mapping[str, Any] | None = None,
    preprocessor=None,
    dataset: str = "",
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
    X_train, X_test : array-like or DataFrame of shape (n_samples, n_features)
        Training (and calibration) and test inputs; preprocessed inside the
        pipeline.
    y_train, y_test : array-like of shape (n_samples,)
        Class labels or float targets.
    task : {"classification", "regression"}
        Which estimator, and the test metrics: log-loss and accuracy, or the MSE
        divided by the training target's variance and R^2.
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
    preprocessor : transformer or None, default=None
        The pipeline's first step (cloned for every fit); ``None`` is a
        ``StandardScaler`` (see :func:`~sklearn_ecprune.datasets.make_preprocessor`
        for tables with categorical columns).
    dataset : str, default=""
        Written in the ``dataset`` column.
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
    >>> from sklearn_ecprune.cli._sweep import run_sweep
    >>> X, y = load_iris(return_X_y=True)
    >>> frame = run_sweep(X[::2], y[::2], X[1::2], y[1::2], task="classification",
    ...                   configurations=["magnitude", "ecp"], sparsities=[0.5], seeds=[0],
    ...                   estimator_params={"hidden_layer_sizes": (16,), "max_epochs": 20})
    >>> sorted(frame["method"].unique())
    ['dense', 'ecp', 'magnitude']
    """
    import pandas as pd
    import torch
    from joblib import Parallel, delayed
    from sklearn.base import clone

    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}.")
    configs = _configurations(configurations)
    params = dict(estimator_params or {})
    hidden = params.get("hidden_layer_sizes", (100,))
    hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
    architecture = "-".join(str(h) for h in hidden)
    tuned_states = (False, True) if fine_tune_epochs > 0 else (False,)
    total = len(seeds) * (1 + len(configs) * len(sparsities) * len(tuned_states))
    bar = _bar(progress, total, dataset or "fits")
    threads = torch.get_num_threads()
    said: dict[Any, Any] = {}  # the registry of the re-emitted warnings
    rows: list[dict[str, Any]] = []

    def record(fit: tuple, result: tuple) -> None:
        seed, method, sparsity, fine_tuned, _ = fit
        loss, score, achieved, seconds, _ = result
        for tuned in tuned_states if method == "dense" else (fine_tuned,):
            rows.append(
                {
                    "dataset": dataset,
                    "task": task,
                    "architecture": architecture,
                    "seed": seed,
                    "method": method,
                    "sparsity": float(sparsity),
                    "fine_tuned": tuned,
                    "achieved_sparsity": achieved,
                    "loss": loss,
                    "score": score,
                    "metric": "accuracy" if task == "classification" else "r2",
                    "seconds": seconds,
                }
            )

    try:
        with tempfile.TemporaryDirectory(prefix="ecprune-memory-") as cache:
            # (seed, method, sparsity, fine-tuned, model), in the order of the rows.
            dense_fits, pruned_fits = [], []
            for seed in seeds:
                base = make_pipeline_for(
                    task, preprocessor, **params, random_state=seed, memory=cache
                )
                dense = clone(base).set_params(net__sparsity=0.0, net__fine_tune_epochs=0)
                dense_fits.append((seed, "dense", 0.0, False, dense))
                for name, config in configs.items():
                    settings = {f"net__{k}": v for k, v in config.params.items()}
                    for sparsity in sparsities:
                        for tuned in tuned_states:
                            model = clone(base).set_params(
                                **settings,
                                net__sparsity=float(sparsity),
                                net__fine_tune_epochs=fine_tune_epochs if tuned else 0,
                            )
                            pruned_fits.append((seed, name, sparsity, tuned, model))
            done: list[list[tuple]] = [[], []]  # the results of dense_fits, pruned_fits
            with Parallel(n_jobs=n_jobs, return_as="generator") as parallel:
                # The dense networks first: the pruned fits restore them from ``cache``.
                for fits, results in zip((dense_fits, pruned_fits), done, strict=True):
                    for result in parallel(
                        delayed(_fit_and_evaluate)(
                            fit[-1], X_train, y_train, X_test, y_test, task, threads, os.getpid()
                        )
                        for fit in fits
                    ):
                        results.append(result)
                        for message, category, filename, lineno in result[-1]:
                            # Once per place and message under the "default" action,
                            # as in one process.
                            warnings.warn_explicit(
                                message, category, filename, lineno, registry=said
                            )
                        if bar is not None:
                            bar.update(1)
            per_seed = len(pruned_fits) // len(dense_fits) if dense_fits else 0
            for i, dense_fit in enumerate(dense_fits):
                record(dense_fit, done[0][i])
                for j in range(i * per_seed, (i + 1) * per_seed):
                    record(pruned_fits[j], done[1][j])
    finally:
        if progress is True and bar is not None:
            bar.close()
    return pd.DataFrame(rows)


def _bar(progress: bool | Any, total: int, desc: str) -> Any:
    """The progress bar ``progress`` asks for: a new tqdm bar, the given object or None."""
    if progress is None or progress is False:
        return None
    if progress is True:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, file=sys.stderr, unit="fit")
    return progress


def summarize(frame):
    """Mean and std over seeds per (dataset, architecture, fine_tuned, method, sparsity)."""
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
    """The methods that win counts compare: all but the dense network and ablations."""
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
    >>> from sklearn_ecprune.cli._sweep import win_table
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
    """The default and the baselines among ``methods`` (for the baseline-only wins)."""
    keep = {DEFAULT_CONFIGURATION} | {
        n for n, c in SWEEP_CONFIGURATIONS.items() if c.kind == "baseline"
    }
    return [m for m in methods if m in keep]
