"""Figures of a sweep: test loss (and accuracy or R^2) against sparsity."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ._configurations import DEFAULT_CONFIGURATION
from ._run import summarize

__all__ = ["plot_sweep"]

DENSE_LABEL = "dense (unpruned)"
# Resolution of raster formats (.png).
DPI = 120


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


def _label(name: str, default: str | None) -> str:
    return f"{name} (default)" if name == default and "default" not in name else name


def _plain_log_formatter(**kwargs: Any) -> Any:
    """A log-axis formatter that writes plain numbers (0.05, not 5e-02).

    It labels the ticks matplotlib labels, plus the minor ticks at 2x and 5x a power
    of ten while the axis spans at most 2.5 decades (matplotlib stops at one).
    """
    from matplotlib.ticker import LogFormatter

    class PlainLogFormatter(LogFormatter):
        def __call__(self, x: float, pos: int | None = None) -> str:
            if super().__call__(x, pos):
                return f"{x:g}"
            low, high = sorted(self.axis.get_view_interval())
            if self.labelOnlyBase or low <= 0 or np.log10(high / low) > 2.5:
                return ""
            return f"{x:g}" if f"{x:.0e}"[0] in "25" else ""

    return PlainLogFormatter(**kwargs)


class _Grid(NamedTuple):
    """Where each (metric, group) panel goes in the figure's grid of axes."""

    n_groups: int
    ncols: int
    side_by_side: bool  # a single group: its metrics in one row

    @classmethod
    def of(cls, n_groups: int, ncols: int | None) -> _Grid:
        ncols = n_groups if ncols is None else max(1, min(ncols, n_groups))
        return cls(n_groups, ncols, n_groups == 1)

    def rows_per_metric(self) -> int:
        return -(-self.n_groups // self.ncols)

    def shape(self, n_metrics: int) -> tuple[int, int]:
        if self.side_by_side:
            return 1, n_metrics
        return self.rows_per_metric() * n_metrics, self.ncols

    def position(self, metric: int, group: int) -> tuple[int, int]:
        if self.side_by_side:
            return 0, metric
        return metric * self.rows_per_metric() + group // self.ncols, group % self.ncols

    def at_bottom(self, group: int) -> bool:
        """Whether nothing of the same metric is drawn below this group's panel."""
        return self.side_by_side or group + self.ncols >= self.n_groups


@dataclass(frozen=True)
class _Look:
    """What the panels of a figure share."""

    names: Sequence[str]  # the methods, in legend order
    default: str | None
    styles: Mapping[str, dict[str, Any]]
    n_seeds: int
    log_y: bool
    archs: Sequence[str]  # the architectures of all groups
    n_metrics: int


def _draw_lines(ax: Any, here: Any, value: str, look: _Look) -> dict[str, Any]:
    """One line per method and the dense network's level; their legend handles."""
    handles = {}
    for name in look.names:
        rows = here[here["method"] == name].sort_values("sparsity")
        if rows.empty:
            continue
        handles[_label(name, look.default)] = ax.errorbar(
            rows["sparsity"],
            rows[f"{value}_mean"],
            yerr=rows[f"{value}_std"].fillna(0.0) if look.n_seeds > 1 else None,
            capsize=2,
            elinewidth=0.8,
            **look.styles[name],
        )
    dense = here[here["method"] == "dense"]
    if len(dense):
        handles[DENSE_LABEL] = ax.axhline(
            dense[f"{value}_mean"].iloc[0], color="0.4", linestyle="--", linewidth=1.3, zorder=1
        )
    return handles


def _log_loss_axis(ax: Any, shown: Any) -> None:
    """A log axis with plain labels, spanning the mean losses ``shown``."""
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(_plain_log_formatter())
    ax.yaxis.set_minor_formatter(_plain_log_formatter(labelOnlyBase=False))
    # A bar down to mean - std <= 0 would stretch the axis by decades: the limits
    # follow the means, and such bars end at the bottom edge.
    low = shown["loss_mean"].min()
    high = (shown["loss_mean"] + shown["loss_std"].fillna(0.0)).max()
    pad = 10 ** max(0.05 * np.log10(high / low), 0.02)  # 5 % of the decades
    ax.set_ylim(low / pad, high * pad)


def _ylabel(value: str, kind: str) -> str:
    if value == "loss":
        return "test log-loss" if kind == "accuracy" else "test MSE / var(y)"
    return "test accuracy" if kind == "accuracy" else "test R^2"


def _suptitle(summary: Any, metrics: Sequence[str], fine_tuned: bool, look: _Look) -> str:
    tuned = "after masked fine-tuning" if fine_tuned else "without fine-tuning"
    details = [f"hidden layers {look.archs[0]}"] if len(look.archs) == 1 else []
    if look.n_seeds > 1:
        details.append(f"mean \N{PLUS-MINUS SIGN} std of {look.n_seeds} seeds")
    suffix = f" ({', '.join(details)})" if details else ""
    kinds = set(summary["metric"])
    score = "score"
    if len(kinds) == 1:
        score = {"accuracy": "accuracy", "r2": "R^2"}.get(kinds.pop(), "score")
    what = "Test loss" if list(metrics) == ["loss"] else f"Test loss and {score}"
    return f"{what} against sparsity, {tuned}{suffix}"


def plot_sweep(
    frame,
    path,
    *,
    fine_tuned: bool = False,
    methods: Iterable[str] | None = None,
    default: str | None = DEFAULT_CONFIGURATION,
    log_y: bool = True,
    ncols: int | None = None,
    metrics: Sequence[str] = ("loss",),
) -> None:
    """Plot test loss (and score) against sparsity: one line per method, panels per group.

    A group is a (dataset, architecture) pair of the frame, e.g. one data set at one
    noise level. The panels fill a grid of ``ncols`` columns in the order of the
    frame, once per metric (``metrics=("loss", "score")`` adds accuracy or R^2 panels
    below the loss panels). The dense network is a dashed grey line, ``default`` a
    thick black line; with several seeds each point is the mean over seeds with a +- one standard
    deviation error bar. One legend for all panels sits right of the grid (the figure
    is saved with ``bbox_inches="tight"``), so any number of methods fits.

    Parameters
    ----------
    frame : pandas.DataFrame
        The output of :func:`run_sweep` (possibly several concatenated); needs the
        columns ``dataset, architecture, fine_tuned, seed, method, sparsity, loss,
        metric``.
    path : str or path-like
        Where to save the figure; the format follows the extension (e.g. ``.png``,
        saved at 120 dpi).
    fine_tuned : bool, default=False
        Plot the results without or with masked fine-tuning.
    methods : iterable of str, default=None
        Methods to draw, in legend order; ``None`` means all, in the order of the
        frame. The dense network is drawn whenever the frame has it.
    default : str or None, default="default"
        Method drawn as a thick black line and marked "(default)" in the legend.
    log_y : bool, default=True
        Logarithmic loss axis (losses span decades between mild and extreme
        sparsity); a panel with a loss <= 0 keeps a linear axis. The log axis spans
        the means, so a lower error bar that would reach zero ends at its edge.
    ncols : int or None, default=None
        Panels per row; ``None`` puts all panels in one row.
    metrics : sequence of {"loss", "score"}, default=("loss",)
        What to plot: the test loss (log axis), and the score (accuracy or R^2,
        linear axis).

    Raises
    ------
    ValueError
        If the frame has no rows with the requested ``fine_tuned`` value.

    Examples
    --------
    >>> import os, tempfile
    >>> import pandas as pd
    >>> from sklearn_ecprune.sweep import plot_sweep
    >>> frame = pd.DataFrame({"dataset": ["d"] * 3 + ["e"] * 3, "architecture": "8",
    ...     "fine_tuned": False, "seed": 0, "method": ["dense", "a", "a"] * 2,
    ...     "sparsity": [0.0, 0.5, 0.9] * 2, "loss": [0.5, 1.0, 2.0, 0.4, 0.8, 1.6],
    ...     "score": 0.0, "metric": "r2"})
    >>> path = os.path.join(tempfile.mkdtemp(), "plot.png")
    >>> plot_sweep(frame, path, default="a", ncols=2, metrics=("loss", "score"))
    >>> os.path.getsize(path) > 0
    True
    """
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    part = frame[frame["fine_tuned"] == fine_tuned]
    if part.empty:
        raise ValueError(f"The frame has no rows with fine_tuned={fine_tuned}.")
    summary = summarize(part)
    groups = list(dict.fromkeys(zip(summary["dataset"], summary["architecture"], strict=True)))
    names = [m for m in dict.fromkeys(summary["method"]) if m != "dense"]
    if methods is not None:
        names = [m for m in dict.fromkeys(methods) if m in names]
    look = _Look(
        names=names,
        default=default,
        styles=_method_styles(names, default),
        n_seeds=part["seed"].nunique(),
        log_y=log_y,
        archs=list(dict.fromkeys(str(a) for _, a in groups)),
        n_metrics=len(metrics),
    )
    grid = _Grid.of(len(groups), ncols)
    shape = grid.shape(len(metrics))
    fig, axes = plt.subplots(
        *shape,
        figsize=(0.6 + 4.6 * shape[1], 0.5 + 3.7 * shape[0]),
        squeeze=False,
        layout="constrained",  # room for the titles and for the legend outside
    )
    legend: dict[str, Any] = {}
    used = set()
    for m, metric in enumerate(metrics):
        for g, (dataset, arch) in enumerate(groups):
            here = summary[(summary["dataset"] == dataset) & (summary["architecture"] == arch)]
            legend |= _draw_panel(axes, grid, (m, g), here, metric, look)
            used.add(grid.position(m, g))
    for (row, col), ax in np.ndenumerate(axes):
        if (row, col) not in used:
            ax.axis("off")
    order = [_label(n, default) for n in names] + [DENSE_LABEL]
    labels = [label for label in order if label in legend]
    fig.legend(
        [legend[label] for label in labels],
        labels,
        loc="outside right center",
        frameon=False,
        title="method",
    )
    fig.suptitle(_suptitle(summary, metrics, fine_tuned, look))
    try:
        fig.savefig(path, dpi=DPI, bbox_inches="tight")
    finally:
        plt.close(fig)


def _draw_panel(
    axes: Any, grid: _Grid, where: tuple[int, int], here: Any, metric: str, look: _Look
) -> dict[str, Any]:
    """Draw the panel of a (metric, group) pair, ``where`` their indices; its legend."""
    m, g = where
    row, col = grid.position(m, g)
    ax = axes[row, col]
    value = "loss" if metric == "loss" else "score"
    handles = _draw_lines(ax, here, value, look)
    shown = here[here["method"].isin([*look.names, "dense"])]
    if value == "loss" and look.log_y and len(shown) and (shown["loss_mean"] > 0).all():
        _log_loss_axis(ax, shown)
    ax.grid(True, which="both", alpha=0.3)
    ylabel = _ylabel(value, here["metric"].iloc[0])
    dataset, arch = here["dataset"].iloc[0], here["architecture"].iloc[0]
    title = str(dataset) if len(look.archs) == 1 else f"{dataset}, hidden {arch}"
    if look.n_metrics > 1:  # panels of one data set differ by what they show
        title += f": {ylabel.removeprefix('test ')}"
    ax.set_title(title)
    if grid.side_by_side or col == 0 or ylabel != axes[row, col - 1].get_ylabel():
        ax.set_ylabel(ylabel)
    if grid.at_bottom(g):
        ax.set_xlabel("sparsity (fraction of weights removed)")
    return handles
