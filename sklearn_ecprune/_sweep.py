"""Pruning sweeps: train a dense MLP once, prune copies with many methods, compare.

The reusable core of the quality benchmark (``benchmarks/bench_quality.py``) and of
the command-line tool. One dense network is trained per seed; every pruning
configuration and sparsity prunes a deep copy of it, so all methods start from the
same weights. Results come back as a tidy :class:`pandas.DataFrame`, one row per
(seed, configuration, sparsity, fine-tuned or not), which :func:`plot_sweep` and
:func:`markdown_tables` turn into a figure and markdown tables.
"""

from __future__ import annotations

import copy
import itertools
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ._pruning import apply_masks, prune_mlp

__all__ = [
    "BASELINE_CONFIGS",
    "DEFAULT_CONFIG",
    "PRUNING_CONFIGS",
    "markdown_tables",
    "plot_sweep",
    "run_sweep",
    "train_mlp",
    "win_table",
]

PRUNING_CONFIGS: dict[str, dict[str, Any]] = {
    # Baselines.
    "random": {"method": "random"},
    "magnitude": {"method": "magnitude"},
    "magnitude-layer": {"method": "magnitude", "scope": "layer"},
    # What users reach for: torch.nn.utils.prune.global_unstructured with L1Unstructured,
    # then prune.remove (handled by the sweep, not by prune_mlp).
    "torch-l1": {"backend": "torch"},
    "gradient": {"method": "gradient"},
    "wanda": {"method": "wanda"},
    "obd": {"method": "obd"},
    # The paper's method, exactly: one shot.
    "ecp": {"method": "ecp"},
    # The project's variants (ablations first, the default last).
    "ecp-floor": {"method": "ecp", "min_density": 0.02},
    "ecp-10step": {"method": "ecp", "n_steps": 10},
    "ecp-10step-seq": {"method": "ecp", "n_steps": 10, "sequential": True},
    "ecp-ls-1step": {"method": "ecp-ls"},
    "ecp-ls-5step": {"method": "ecp-ls", "n_steps": 5},
    "ecp-ls-20step": {"method": "ecp-ls", "n_steps": 20},
    # Against ecp-ls-5step: probabilities instead of logits; OBS ranking instead of ECP's.
    "ecp-ls-softmax": {"method": "ecp-ls", "n_steps": 5, "output_fn": "softmax"},
    "ecp-obs": {"method": "ecp-obs", "n_steps": 5},
    "ecp-ls": {"method": "ecp-ls", "n_steps": 10},
}
"""Named pruning configurations: name -> keyword arguments of :func:`prune_mlp`.

Two keys are read by the sweep itself: ``"backend": "torch"`` prunes with
``torch.nn.utils.prune.global_unstructured`` (L1) instead of :func:`prune_mlp`, and
``"output_fn": "softmax"`` measures a classifier's error on probabilities (such a
configuration is skipped for regressors, where it would duplicate another).
"""

DEFAULT_CONFIG = "ecp-ls"
"""The configuration recommended as the estimators' default."""

BASELINE_CONFIGS: tuple[str, ...] = (
    "random",
    "magnitude",
    "magnitude-layer",
    "torch-l1",
    "gradient",
    "wanda",
    "obd",
    "ecp",
)
"""The baselines the project's variants are compared with (``"ecp"`` is the paper)."""

_SWEEP_KEYS = ("backend", "output_fn")


def _make_mlp(n_in: int, hidden: Sequence[int], n_out: int) -> nn.Sequential:
    sizes = [n_in, *hidden]
    modules: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        modules += [nn.Linear(a, b), nn.ReLU()]
    modules.append(nn.Linear(sizes[-1], n_out))
    return nn.Sequential(*modules)


def _loss(task: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if task == "classification":
        return nn.functional.cross_entropy
    return lambda out, y: nn.functional.mse_loss(out, y.reshape(out.shape))


def _epoch(net, X, y, loss_fn, optimizer, batch_size, generator, masks=None) -> None:
    net.train()
    order = torch.randperm(X.shape[0], generator=generator)
    for start in range(0, X.shape[0], batch_size):
        idx = order[start : start + batch_size]
        optimizer.zero_grad()
        loss_fn(net(X[idx]), y[idx]).backward()
        optimizer.step()
        if masks is not None:
            # Adam moves pruned weights through its momentum: re-zero them every step.
            apply_masks(net, masks)
    net.eval()


def _bar(progress: bool | Any, total: int, desc: str, **kwargs: Any) -> Any:
    """The progress bar that ``progress`` asks for, or ``None``.

    ``True`` makes a new tqdm bar on stderr (the caller closes it); an object with
    ``update(n)`` is used as it is; ``None`` and ``False`` mean no bar.
    """
    if progress is None or progress is False:
        return None
    if progress is True:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, file=sys.stderr, **kwargs)
    return progress


def _shows(progress: bool | Any) -> bool:
    """Whether ``progress`` asks for bars to be shown (a disabled tqdm bar does not)."""
    if progress is None or progress is False:
        return False
    return not getattr(progress, "disable", False)


def _evaluate(net: nn.Module, X: torch.Tensor, y: torch.Tensor, task: str) -> tuple[float, float]:
    """(test loss, score): cross-entropy and accuracy, or MSE and R^2."""
    with torch.no_grad():
        out = net(X)
        loss = float(_loss(task)(out, y))
        if task == "classification":
            return loss, float((out.argmax(1) == y).double().mean())
        total = float(((y - y.mean()) ** 2).mean())
        return loss, 1.0 - loss / total if total > 0 else float("nan")


def train_mlp(
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    task: str,
    hidden_layer_sizes: Sequence[int] = (100, 64),
    max_epochs: int = 200,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    validation_fraction: float = 0.1,
    patience: int = 10,
    random_state: int = 0,
    progress: bool | Any = None,
) -> nn.Sequential:
    """Train a dense ReLU MLP with Adam and early stopping on a validation split.

    A plain loop with scikit-learn's ``MLPClassifier``/``MLPRegressor`` defaults
    (Adam, learning rate 1e-3). The weights of the epoch with the lowest validation
    loss are returned.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
        Float inputs.
    y : torch.Tensor of shape (n_samples,)
        Class indices (int64) or float targets.
    task : {"classification", "regression"}
        Cross-entropy on ``n_classes = y.max() + 1`` logits, or MSE on one output.
    hidden_layer_sizes : sequence of int, default=(100, 64)
        Widths of the hidden layers.
    max_epochs : int, default=200
        Upper bound on the passes over the training part.
    batch_size : int, default=64
        Minibatch size.
    learning_rate : float, default=1e-3
        Adam's learning rate.
    validation_fraction : float, default=0.1
        Share of ``X`` held out for early stopping.
    patience : int, default=10
        Epochs without improvement of the validation loss before stopping.
    random_state : int, default=0
        Seeds the initialisation, the split and the batch order.
    progress : bool, tqdm-like or None, default=None
        An object with ``update(n)`` (e.g. a ``tqdm`` bar) is advanced by one per
        epoch and left open; ``True`` shows a bar of its own on stderr (``leave=False``,
        ``total=max_epochs``) that disappears when training ends; ``None`` or
        ``False`` shows nothing.

    Returns
    -------
    net : torch.nn.Sequential
        The trained network in eval mode.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ecprune._sweep import train_mlp
    >>> X = torch.randn(120, 4)
    >>> net = train_mlp(X, (X[:, 0] > 0).long(), task="classification",
    ...                 hidden_layer_sizes=(8,), max_epochs=5)
    >>> net(X).shape
    torch.Size([120, 2])

    Count the epochs with any object that has ``update(n)``:

    >>> class Epochs:
    ...     n = 0
    ...     def update(self, k):
    ...         self.n += k
    >>> epochs = Epochs()
    >>> _ = train_mlp(X, (X[:, 0] > 0).long(), task="classification",
    ...               hidden_layer_sizes=(8,), max_epochs=5, progress=epochs)
    >>> epochs.n
    5
    """
    generator = torch.Generator().manual_seed(random_state)
    n_out = int(y.max()) + 1 if task == "classification" else 1
    # Seeded initialisation that leaves the caller's global random state alone.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(random_state)
        net = _make_mlp(X.shape[1], hidden_layer_sizes, n_out).to(X.dtype)
    order = torch.randperm(X.shape[0], generator=generator)
    n_val = max(1, round(validation_fraction * X.shape[0]))
    val, fit = order[:n_val], order[n_val:]
    loss_fn = _loss(task)
    optimizer = torch.optim.Adam(net.parameters(), lr=learning_rate)
    best, best_state, waited = float("inf"), copy.deepcopy(net.state_dict()), 0
    desc = f"training dense MLP (seed {random_state})"
    bar = _bar(progress, max_epochs, desc, unit="epoch", leave=False)
    try:
        for _ in range(max_epochs):
            _epoch(net, X[fit], y[fit], loss_fn, optimizer, batch_size, generator)
            if bar is not None:
                bar.update(1)
            with torch.no_grad():
                val_loss = float(loss_fn(net(X[val]), y[val]))
            if val_loss < best - 1e-6:
                best, best_state, waited = val_loss, copy.deepcopy(net.state_dict()), 0
            else:
                waited += 1
                if waited >= patience:
                    break
    finally:
        if progress is True:
            bar.close()
    net.load_state_dict(best_state)
    return net.eval()


def _torch_l1(net: nn.Module, sparsity: float) -> dict[str, torch.Tensor]:
    from torch.nn.utils import prune

    linears = [(name, m) for name, m in net.named_modules() if isinstance(m, nn.Linear)]
    prune.global_unstructured(
        [(m, "weight") for _, m in linears],
        pruning_method=prune.L1Unstructured,
        amount=sparsity,
    )
    for _, m in linears:
        prune.remove(m, "weight")
    return {name: m.weight.detach() != 0 for name, m in linears}


def _prune_copy(
    net: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    sparsity: float,
    config: Mapping[str, Any],
    task: str,
    seed: int,
) -> dict[str, torch.Tensor]:
    """Prune ``net`` in place with one configuration; return the keep-masks."""
    if config.get("backend") == "torch":
        return _torch_l1(net, sparsity)
    kwargs = {k: v for k, v in config.items() if k not in _SWEEP_KEYS}
    if config.get("output_fn") == "softmax" and task == "classification":
        kwargs["output_fn"] = lambda out: out.softmax(-1)
    kwargs.setdefault("random_state", seed)
    return prune_mlp(net, X, sparsity, y=y, **kwargs).masks


def _zeros(net: nn.Module) -> float:
    """Fraction of the Linear weights that are exactly zero."""
    weights = [m.weight for m in net.modules() if isinstance(m, nn.Linear)]
    return sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights)


def _standardize(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mean, std = train.mean(0), train.std(0)
    std = np.where(std > 0, std, 1.0)
    return [(a - mean) / std for a in (train, *others)]


def run_sweep(
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    task: str,
    configs: Mapping[str, Mapping[str, Any]] | Iterable[str] | None = None,
    sparsities: Sequence[float] = (0.5, 0.7, 0.8, 0.9, 0.95),
    hidden_layer_sizes: Sequence[int] = (100, 64),
    seeds: Sequence[int] = (0, 1, 2),
    fine_tune_epochs: int = 0,
    standardize: bool = True,
    max_epochs: int = 200,
    batch_size: int = 64,
    dataset: str = "",
    progress: bool | Any = False,
) -> Any:
    """Prune one trained dense MLP per seed with every configuration and sparsity.

    For each seed a dense ReLU MLP is trained once (:func:`train_mlp`); every
    (configuration, sparsity) prunes a deep copy of it, calibrated on the training
    data, and is evaluated on the test data. With ``fine_tune_epochs > 0`` each
    pruned copy is then fine-tuned for that many epochs of Adam (learning rate
    1e-3) with its mask re-applied after every optimizer step, and evaluated again.

    Parameters
    ----------
    X_train, X_test : array-like of shape (n_samples, n_features)
        Training (calibration) and test inputs.
    y_train, y_test : array-like of shape (n_samples,)
        Class labels (``task="classification"``, encoded as 0..n_classes-1 here)
        or float targets.
    task : {"classification", "regression"}
        Test loss: cross-entropy and accuracy, or MSE and R^2.
    configs : mapping of str to dict, iterable of str or None, default=None
        Named pruning configurations (name -> :func:`prune_mlp` keyword arguments,
        see :data:`PRUNING_CONFIGS`), or names of :data:`PRUNING_CONFIGS`.
        ``None`` means all of :data:`PRUNING_CONFIGS`.
    sparsities : sequence of float, default=(0.5, 0.7, 0.8, 0.9, 0.95)
        Target sparsities.
    hidden_layer_sizes : sequence of int, default=(100, 64)
        Hidden widths of the dense network.
    seeds : sequence of int, default=(0, 1, 2)
        One dense network per seed (initialisation, validation split, batches).
    fine_tune_epochs : int, default=0
        Masked fine-tuning epochs after pruning; 0 skips fine-tuning.
    standardize : bool, default=True
        Standardise X (and a regression target) with the training mean and
        standard deviation, so regression losses are comparable across data sets.
    max_epochs : int, default=200
        Upper bound on the dense training epochs (early stopping usually ends
        it first).
    batch_size : int, default=64
        Minibatch size of training and fine-tuning.
    dataset : str, default=""
        Name written in the ``dataset`` column.
    progress : bool or tqdm-like, default=False
        ``True`` shows a tqdm bar of the pruned networks on stderr; an object with
        ``update(n)`` (e.g. an outer tqdm bar spanning several sweeps) is advanced by
        one per pruned network instead. Either way, while each dense network trains, a
        second bar counts its epochs and disappears when training ends (see
        ``progress`` of :func:`train_mlp`); an object whose ``disable`` attribute is
        true (a disabled tqdm bar) shows no epoch bars.

    Returns
    -------
    frame : pandas.DataFrame
        One row per (seed, method, sparsity, fine_tuned) with columns
        ``dataset, task, architecture, seed, method, sparsity, fine_tuned,
        achieved_sparsity, loss, score, metric, seconds`` (``achieved_sparsity``
        counts the zero weights of the network that was evaluated). The dense network
        appears as method ``"dense"`` at sparsity 0 (for both ``fine_tuned``
        values, with the same numbers). ``score`` is accuracy or R^2.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_ecprune._sweep import run_sweep
    >>> X, y = load_iris(return_X_y=True)
    >>> frame = run_sweep(X[::2], y[::2], X[1::2], y[1::2], task="classification",
    ...                   configs=["magnitude", "ecp"], sparsities=[0.5],
    ...                   hidden_layer_sizes=(16,), seeds=[0], max_epochs=20)
    >>> sorted(frame["method"].unique())
    ['dense', 'ecp', 'magnitude']
    """
    import pandas as pd

    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}.")
    if configs is None:
        configs = PRUNING_CONFIGS
    elif not isinstance(configs, Mapping):
        configs = {name: PRUNING_CONFIGS[name] for name in configs}
    X_train, X_test = (np.asarray(a, dtype=np.float64) for a in (X_train, X_test))
    if standardize:
        X_train, X_test = _standardize(X_train, X_test)
    if task == "classification":
        _, y_all = np.unique(
            np.concatenate([np.asarray(y_train), np.asarray(y_test)]), return_inverse=True
        )
        y_tr = torch.as_tensor(y_all[: len(y_train)], dtype=torch.long)
        y_te = torch.as_tensor(y_all[len(y_train) :], dtype=torch.long)
    else:
        y_train_f, y_test_f = (np.asarray(a, dtype=np.float64) for a in (y_train, y_test))
        if standardize:
            y_train_f, y_test_f = _standardize(y_train_f, y_test_f)
        y_tr = torch.as_tensor(y_train_f, dtype=torch.float32)
        y_te = torch.as_tensor(y_test_f, dtype=torch.float32)
    X_tr = torch.as_tensor(X_train, dtype=torch.float32)
    X_te = torch.as_tensor(X_test, dtype=torch.float32)
    architecture = "-".join(str(h) for h in hidden_layer_sizes)
    loss_fn = _loss(task)

    total = len(seeds) * len(configs) * len(sparsities)
    bar = _bar(progress, total, dataset or "pruned networks", unit="net")
    rows: list[dict[str, Any]] = []

    def row(seed, method, sparsity, fine_tuned, achieved, loss, score, seconds):
        rows.append(
            {
                "dataset": dataset,
                "task": task,
                "architecture": architecture,
                "seed": seed,
                "method": method,
                "sparsity": float(sparsity),
                "fine_tuned": fine_tuned,
                "achieved_sparsity": achieved,
                "loss": loss,
                "score": score,
                "metric": "accuracy" if task == "classification" else "r2",
                "seconds": seconds,
            }
        )

    try:
        for seed in seeds:
            start = time.perf_counter()
            dense = train_mlp(
                X_tr,
                y_tr,
                task=task,
                hidden_layer_sizes=hidden_layer_sizes,
                max_epochs=max_epochs,
                batch_size=batch_size,
                random_state=seed,
                progress=_shows(progress),
            )
            seconds = time.perf_counter() - start
            loss, score = _evaluate(dense, X_te, y_te, task)
            for fine_tuned in (False, True) if fine_tune_epochs > 0 else (False,):
                row(seed, "dense", 0.0, fine_tuned, 0.0, loss, score, seconds)
            for name, config in configs.items():
                for sparsity in sparsities:
                    if config.get("output_fn") == "softmax" and task != "classification":
                        if bar is not None:
                            bar.update(1)
                        continue
                    net = copy.deepcopy(dense)
                    start = time.perf_counter()
                    masks = _prune_copy(net, X_tr, y_tr, sparsity, config, task, seed)
                    seconds = time.perf_counter() - start
                    loss, score = _evaluate(net, X_te, y_te, task)
                    row(seed, name, sparsity, False, _zeros(net), loss, score, seconds)
                    if fine_tune_epochs > 0:
                        start = time.perf_counter()
                        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
                        generator = torch.Generator().manual_seed(seed)
                        for _ in range(fine_tune_epochs):
                            _epoch(
                                net, X_tr, y_tr, loss_fn, optimizer, batch_size, generator, masks
                            )
                        loss, score = _evaluate(net, X_te, y_te, task)
                        seconds = time.perf_counter() - start
                        row(seed, name, sparsity, True, _zeros(net), loss, score, seconds)
                    if bar is not None:
                        bar.update(1)
    finally:
        if progress is True:
            bar.close()
    return pd.DataFrame(rows)


def _summary(frame):
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


def win_table(frame, *, min_sparsity: float = 0.0, methods: Iterable[str] | None = None):
    """How many cells each method wins (lowest mean test loss).

    A cell is a (dataset, architecture, sparsity) triple; the dense network does not
    compete. Counted separately without and with fine-tuning.

    Parameters
    ----------
    frame : pandas.DataFrame
        The output of :func:`run_sweep` (possibly several concatenated).
    min_sparsity : float, default=0.0
        Only cells at this sparsity or above.
    methods : iterable of str, default=None
        Only these methods compete; ``None`` means all but ``"dense"``.

    Returns
    -------
    wins : pandas.DataFrame
        Index: method; columns: ``fine_tuned`` values; values: cells won. The
        attribute ``wins.attrs["cells"]`` holds the number of cells per column.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_ecprune._sweep import win_table
    >>> frame = pd.DataFrame({"dataset": "d", "architecture": "8", "fine_tuned": False,
    ...     "method": ["a", "b", "a", "b"], "sparsity": [0.5, 0.5, 0.9, 0.9],
    ...     "seed": 0, "loss": [1.0, 2.0, 3.0, 1.0], "score": 0.0, "metric": "r2"})
    >>> win_table(frame)[False].to_dict()
    {'a': 1, 'b': 1}
    """
    summary = _summary(frame)
    summary = summary[(summary["method"] != "dense") & (summary["sparsity"] >= min_sparsity)]
    if methods is not None:
        summary = summary[summary["method"].isin(list(methods))]
    names = list(dict.fromkeys(summary["method"]))
    table, cells = {}, {}
    for fine_tuned, part in summary.groupby("fine_tuned"):
        best = part.loc[
            part.groupby(["dataset", "architecture", "sparsity"])["loss_mean"].idxmin()
        ]
        counts = best["method"].value_counts()
        table[fine_tuned] = [int(counts.get(name, 0)) for name in names]
        cells[fine_tuned] = len(best)
    import pandas as pd

    wins = pd.DataFrame(table, index=pd.Index(names, name="method"))
    wins.attrs["cells"] = cells
    return wins


def markdown_tables(
    frame, *, default: str | None = DEFAULT_CONFIG, baselines: Iterable[str] | None = None
) -> str:
    """Markdown tables of a sweep: win counts, then mean +- std per cell.

    Parameters
    ----------
    frame : pandas.DataFrame
        The output of :func:`run_sweep` (possibly several concatenated).
    default : str or None, default=DEFAULT_CONFIG
        Method whose row is set in bold in the per-cell tables, and which gets
        its wins against the baselines only counted in an extra table.
    baselines : iterable of str, default=None
        The baselines for that extra table; ``None`` means :data:`BASELINE_CONFIGS`.

    Returns
    -------
    text : str
        Markdown: win tables (all sparsities and sparsity >= 0.8), then one table
        per (dataset, architecture, fine-tuned) with the mean +- std over seeds of
        the test loss and, below it, of the score (accuracy or R^2).

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_ecprune._sweep import markdown_tables
    >>> frame = pd.DataFrame({"dataset": "d", "architecture": "8", "fine_tuned": False,
    ...     "method": ["a", "b"], "sparsity": 0.5, "seed": 0, "loss": [1.0, 2.0],
    ...     "score": [0.9, 0.8], "metric": "accuracy"})
    >>> "| a |" in markdown_tables(frame, default=None)
    True
    """
    summary = _summary(frame)
    parts = []
    tuned_label = {False: "no fine-tuning", True: "masked fine-tuning"}

    def wins_md(methods, title):
        lines = [f"### {title}", ""]
        all_ = win_table(frame, methods=methods)
        high = win_table(frame, min_sparsity=0.8, methods=methods)
        cols = list(all_.columns)
        header = ["method"]
        for c in cols:
            header += [
                f"all sparsities, {tuned_label[c]} ({all_.attrs['cells'][c]} cells)",
                f"sparsity >= 0.8, {tuned_label[c]} ({high.attrs['cells'].get(c, 0)} cells)",
            ]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for name in all_.index:
            cells = []
            for c in cols:
                hi = int(high[c].get(name, 0)) if c in high else 0
                cells += [str(int(all_.loc[name, c])), str(hi)]
            label = f"**{name}**" if name == default else name
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    parts.append(wins_md(None, "Wins among all methods (lowest mean test loss per cell)"))
    if default is not None:
        base = list(BASELINE_CONFIGS if baselines is None else baselines)
        present = set(summary["method"])
        if default in present:
            parts.append(
                wins_md(
                    [default, *(b for b in base if b in present)],
                    f"Wins of `{default}` against the baselines only",
                )
            )

    for (dataset, arch, fine_tuned), part in summary.groupby(
        ["dataset", "architecture", "fine_tuned"], sort=False
    ):
        sparsities = sorted(s for s in part["sparsity"].unique() if s > 0)
        dense = part[part["method"] == "dense"]
        metric = part["metric"].iloc[0]
        title = f"### {dataset}, hidden {arch}, {tuned_label[fine_tuned]}"
        if len(dense):
            title += (
                f" (dense: loss {dense['loss_mean'].iloc[0]:.4g}, "
                f"{metric} {dense['score_mean'].iloc[0]:.4f})"
            )
        for value, label in (("loss", "test loss"), ("score", metric)):
            lines = [title if value == "loss" else "", ""]
            lines = [line for line in lines if line or value == "loss"]
            lines.append(f"{label}, mean +- std over seeds:")
            lines.append("")
            lines.append("| method | " + " | ".join(f"{s:g}" for s in sparsities) + " |")
            lines.append("|---|" + "---|" * len(sparsities))
            methods = [m for m in dict.fromkeys(part["method"]) if m != "dense"]
            for name in methods:
                rows = part[part["method"] == name].set_index("sparsity")
                best_of = part[part["method"] != "dense"].groupby("sparsity")[f"{value}_mean"]
                best = best_of.min() if value == "loss" else best_of.max()
                cells = []
                for s in sparsities:
                    if s not in rows.index:
                        cells.append("")
                        continue
                    mean, std = rows.loc[s, f"{value}_mean"], rows.loc[s, f"{value}_std"]
                    std = 0.0 if np.isnan(std) else std
                    text = f"{mean:.4g} +- {std:.2g}" if value == "loss" else f"{mean:.4f}"
                    if value == "score":
                        text += f" +- {std:.3f}"
                    cells.append(f"**{text}**" if mean == best[s] else text)
                label_name = f"**{name}**" if name == default else name
                lines.append(f"| {label_name} | " + " | ".join(cells) + " |")
            parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def _method_styles(names: Sequence[str], default: str | None) -> dict[str, dict[str, Any]]:
    """Line styles that tell up to 20 methods apart; ``default`` is thick and black.

    The first ten others get tab10's distinct hues with round markers, the next ten
    the light tints of tab20 with square markers, and so on.
    """
    import matplotlib

    cmap = matplotlib.colormaps["tab20"]
    markers = ("o", "s", "^", "D", "v")
    others = [name for name in names if name != default]
    styles = {
        name: {
            # tab20 alternates strong and light tints of ten hues: strong ones first.
            "color": cmap((2 * i) % 20 + (i // 10) % 2),
            "marker": markers[(i // 10) % len(markers)],
            "linewidth": 1.4,
            "markersize": 4,
            "zorder": 2,
        }
        for i, name in enumerate(others)
    }
    if default in names:
        styles[default] = {
            "color": "black",
            "marker": "o",
            "linewidth": 2.8,
            "markersize": 5,
            "zorder": 3,
        }
    return styles


def plot_sweep(
    frame,
    path,
    *,
    fine_tuned: bool = False,
    methods: Iterable[str] | None = None,
    default: str | None = DEFAULT_CONFIG,
    log_y: bool = True,
    ncols: int | None = None,
    dpi: int = 120,
) -> None:
    """Plot test loss against sparsity: one line per method, one panel per group.

    A group is a (dataset, architecture) pair of the frame, e.g. one data set at one
    noise level. The panels fill a grid of ``ncols`` columns in the order of the
    frame. The dense network is a dashed grey line, ``default`` a thick black line;
    with several seeds each point is the mean over seeds with a +- one standard
    deviation error bar. One legend for all panels sits right of the grid (the figure
    is saved with ``bbox_inches="tight"``), so any number of methods fits.

    Parameters
    ----------
    frame : pandas.DataFrame
        The output of :func:`run_sweep` (possibly several concatenated); needs the
        columns ``dataset, architecture, fine_tuned, seed, method, sparsity, loss,
        metric``.
    path : str or path-like
        Where to save the figure; the format follows the extension (e.g. ``.png``).
    fine_tuned : bool, default=False
        Plot the results without or with masked fine-tuning.
    methods : iterable of str, default=None
        Methods to draw, in legend order; ``None`` means all, in the order of the
        frame. The dense network is drawn whenever the frame has it.
    default : str or None, default=DEFAULT_CONFIG
        Method drawn as a thick black line and marked "(default)" in the legend.
    log_y : bool, default=True
        Logarithmic loss axis (losses span decades between mild and extreme
        sparsity); a panel with a loss <= 0 keeps a linear axis. The log axis spans
        the means, so a lower error bar that would reach zero ends at its edge.
    ncols : int or None, default=None
        Panels per row; ``None`` puts all panels in one row.
    dpi : int, default=120
        Resolution of raster formats.

    Raises
    ------
    ValueError
        If the frame has no rows with the requested ``fine_tuned`` value.

    Examples
    --------
    >>> import os, tempfile
    >>> import pandas as pd
    >>> from sklearn_ecprune._sweep import plot_sweep
    >>> frame = pd.DataFrame({"dataset": ["d"] * 3 + ["e"] * 3, "architecture": "8",
    ...     "fine_tuned": False, "seed": 0, "method": ["dense", "a", "a"] * 2,
    ...     "sparsity": [0.0, 0.5, 0.9] * 2, "loss": [0.5, 1.0, 2.0, 0.4, 0.8, 1.6],
    ...     "score": 0.0, "metric": "r2"})
    >>> path = os.path.join(tempfile.mkdtemp(), "plot.png")
    >>> plot_sweep(frame, path, default="a", ncols=2)  # two panels in a row
    >>> os.path.getsize(path) > 0
    True
    """
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt
    from matplotlib.ticker import LogFormatter

    class _PlainLogFormatter(LogFormatter):
        """Log-axis labels as plain numbers (0.05, not 5e-02).

        The ticks matplotlib labels, plus the minor ticks at 2x and 5x a power of ten
        while the axis spans at most 2.5 decades (matplotlib stops at one).
        """

        def __call__(self, x: float, pos: int | None = None) -> str:
            if super().__call__(x, pos):
                return f"{x:g}"
            low, high = sorted(self.axis.get_view_interval())
            if self.labelOnlyBase or low <= 0 or np.log10(high / low) > 2.5:
                return ""
            return f"{x:g}" if f"{x:.0e}"[0] in "25" else ""

    part = frame[frame["fine_tuned"] == fine_tuned]
    if part.empty:
        raise ValueError(f"The frame has no rows with fine_tuned={fine_tuned}.")
    summary = _summary(part)
    n_seeds = part["seed"].nunique()
    panels = list(dict.fromkeys(zip(summary["dataset"], summary["architecture"], strict=True)))
    archs = list(dict.fromkeys(str(a) for _, a in panels))
    names = [m for m in dict.fromkeys(summary["method"]) if m != "dense"]
    if methods is not None:
        names = [m for m in dict.fromkeys(methods) if m in names]
    styles = _method_styles(names, default)

    ncols = len(panels) if ncols is None else max(1, min(ncols, len(panels)))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(0.6 + 4.6 * ncols, 0.5 + 3.7 * nrows),
        squeeze=False,
        layout="constrained",  # room for the titles and for the legend outside
    )
    legend: dict[str, Any] = {}
    left_loss = ""
    for k, (ax, (dataset, arch)) in enumerate(zip(axes.flat, panels, strict=False)):
        here = summary[(summary["dataset"] == dataset) & (summary["architecture"] == arch)]
        for name in names:
            rows = here[here["method"] == name].sort_values("sparsity")
            if rows.empty:
                continue
            label = f"{name} (default)" if name == default else name
            legend[label] = ax.errorbar(
                rows["sparsity"],
                rows["loss_mean"],
                yerr=rows["loss_std"].fillna(0.0) if n_seeds > 1 else None,
                capsize=2,
                elinewidth=0.8,
                **styles[name],
            )
        dense = here[here["method"] == "dense"]
        if len(dense):
            legend["dense (unpruned)"] = ax.axhline(
                dense["loss_mean"].iloc[0], color="0.4", linestyle="--", linewidth=1.3, zorder=1
            )
        shown = here[here["method"].isin([*names, "dense"])]
        if log_y and len(shown) and (shown["loss_mean"] > 0).all():
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(_PlainLogFormatter())
            ax.yaxis.set_minor_formatter(_PlainLogFormatter(labelOnlyBase=False))
            # A bar down to mean - std <= 0 would stretch the axis by decades: the
            # limits follow the means, and such bars end at the bottom edge.
            low = shown["loss_mean"].min()
            high = (shown["loss_mean"] + shown["loss_std"].fillna(0.0)).max()
            pad = 10 ** max(0.05 * np.log10(high / low), 0.02)  # 5 % of the decades shown
            ax.set_ylim(low / pad, high * pad)
        ax.set_title(str(dataset) if len(archs) == 1 else f"{dataset}, hidden {arch}")
        ax.grid(True, which="both", alpha=0.3)
        # The loss name on the left of each row, and wherever it changes along a row.
        loss = "cross-entropy" if here["metric"].iloc[0] == "accuracy" else "MSE, std. target"
        if k % ncols == 0 or loss != left_loss:
            ax.set_ylabel(f"test loss ({loss})")
        left_loss = loss
        if k + ncols >= len(panels):  # nothing below: label the sparsity axis
            ax.set_xlabel("sparsity (fraction of weights removed)")
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    order = [f"{n} (default)" if n == default else n for n in names] + ["dense (unpruned)"]
    labels = [label for label in order if label in legend]
    fig.legend(
        [legend[label] for label in labels],
        labels,
        loc="outside right center",
        frameon=False,
        title="method",
    )
    tuned = "after masked fine-tuning" if fine_tuned else "without fine-tuning"
    details = [f"hidden layers {archs[0]}"] if len(archs) == 1 else []
    if n_seeds > 1:
        details.append(f"mean \N{PLUS-MINUS SIGN} std of {n_seeds} seeds")
    suffix = f" ({', '.join(details)})" if details else ""
    fig.suptitle(f"Test loss against sparsity, {tuned}{suffix}")
    try:
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
