"""Tables of a sweep: the command line's summary and the markdown report."""

from __future__ import annotations

import math
from collections.abc import Iterable

from ..engine import render_table
from ._configurations import DEFAULT_CONFIGURATION
from ._run import baselines_of, summarize, win_table

__all__ = ["markdown_tables", "results_text"]

_TUNED = {False: "no fine-tuning", True: "masked fine-tuning"}


def _cell(value: float, metric: str) -> str:
    if math.isnan(value):
        return "nan"
    if metric == "accuracy":
        return f"{100 * value:.1f} %"
    if metric == "loss":
        # Four decimals, but three significant digits for small losses.
        return f"{value:.4f}" if abs(value) >= 0.01 else f"{value:.3g}"
    return f"{value:.3f}"


def _loss_name(metric: str) -> str:
    return "log-loss" if metric == "accuracy" else "MSE / variance of the target"


def results_text(frame, *, fine_tuned: bool = False) -> str:
    """Tables of the mean test loss and score per method and sparsity.

    Parameters
    ----------
    frame : pandas.DataFrame
        Output of :func:`run_sweep` (several concatenated).
    fine_tuned : bool, default=False
        Tabulate the results without or with masked fine-tuning.

    Returns
    -------
    text : str
        For each (dataset, architecture): the dense network's numbers, then a table
        of the mean test loss over seeds and one of the mean accuracy or R^2, as
        markdown that also reads as plain text; the best value of each column is
        marked with ``*``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_ecprune.sweep import results_text
    >>> frame = pd.DataFrame({"dataset": "d", "architecture": "8", "fine_tuned": False,
    ...     "seed": 0, "method": ["dense", "a", "b"], "sparsity": [0.0, 0.5, 0.5],
    ...     "loss": [0.1, 0.2, 0.3], "score": [0.9, 0.8, 0.7], "metric": "accuracy"})
    >>> print(results_text(frame).splitlines()[5])
    | a                 | 0.2000 * |
    """
    part = frame[frame["fine_tuned"] == fine_tuned]
    blocks = []
    for (dataset, arch), group in part.groupby(["dataset", "architecture"], sort=False):
        means = group.groupby(["method", "sparsity"], sort=False)[["loss", "score"]].mean()
        metric = group["metric"].iloc[0]
        n_seeds = group["seed"].nunique()
        methods = [m for m in dict.fromkeys(group["method"]) if m != "dense"]
        sparsities = sorted({s for m, s in means.index if m != "dense"})
        score_name = "accuracy" if metric == "accuracy" else "R^2"
        title = f"{dataset}, hidden {arch}, {_TUNED[fine_tuned]}"
        lines = [title + (f", mean of {n_seeds} seeds" if n_seeds > 1 else "")]
        if ("dense", 0.0) in means.index:
            loss, score = means.loc[("dense", 0.0)]
            lines.append(
                f"dense network: test {_loss_name(metric)} {_cell(loss, 'loss')}, "
                f"{score_name} {_cell(score, metric)}"
            )
        for value, heading in (
            ("loss", f"test loss ({_loss_name(metric)}), lower is better"),
            ("score", f"test {score_name}, higher is better"),
        ):
            table = means[value].unstack("sparsity")
            ranked = table.loc[methods]
            best = ranked.min() if value == "loss" else ranked.max()
            rows = []
            for name in methods:
                cells = [name]
                for s in sparsities:
                    v = table.loc[name].get(s, math.nan)
                    mark = " *" if v == best[s] else "  "
                    cells.append(_cell(v, "loss" if value == "loss" else metric) + mark)
                rows.append(cells)
            header = ["method / sparsity", *(f"{s:g}" for s in sparsities)]
            lines += [heading + ":", render_table(header, rows, style="markdown")]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n\n(* best at that sparsity)\n"


def markdown_tables(
    frame, *, default: str | None = DEFAULT_CONFIGURATION, methods: Iterable[str] | None = None
) -> str:
    """Markdown report of a sweep: win counts once, then mean +- std per cell.

    Parameters
    ----------
    frame : pandas.DataFrame
        The output of :func:`run_sweep` (possibly several
        concatenated).
    default : str or None, default="default"
        The configuration set in bold, whose wins against the baselines alone get a
        second table.
    methods : iterable of str, default=None
        Methods of the per-cell tables, in order; ``None`` means all.

    Returns
    -------
    text : str
        Markdown: the wins among the methods (ablations excluded) and, for the
        default, among the baselines, at all sparsities and at sparsity >= 0.8; then
        one table per (dataset, architecture, fine-tuned) with the mean +- std over
        seeds of the test loss and of the score.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_ecprune.sweep import markdown_tables
    >>> frame = pd.DataFrame({"dataset": "d", "architecture": "8", "fine_tuned": False,
    ...     "method": ["a", "b"], "sparsity": 0.5, "seed": 0, "loss": [1.0, 2.0],
    ...     "score": [0.9, 0.8], "metric": "accuracy"})
    >>> "| a " in markdown_tables(frame, default=None)
    True
    """
    summary = summarize(frame)
    present = list(dict.fromkeys(summary["method"]))
    parts = [
        _wins_markdown(frame, None, "Wins among the methods (lowest mean test loss)", default)
    ]
    base = baselines_of(present)
    if default in present and len(base) > 1:
        parts.append(
            _wins_markdown(frame, base, f"Wins of `{default}` against the baselines", default)
        )
    shown = [m for m in (present if methods is None else methods) if m != "dense"]
    for (dataset, arch, tuned), part in summary.groupby(
        ["dataset", "architecture", "fine_tuned"], sort=False
    ):
        sparsities = sorted(s for s in part.loc[part["method"] != "dense", "sparsity"].unique())
        dense = part[part["method"] == "dense"]
        metric = part["metric"].iloc[0]
        title = f"### {dataset}, hidden {arch}, {_TUNED[tuned]}"
        if len(dense):
            title += (
                f" (dense: loss {dense['loss_mean'].iloc[0]:.4g}, "
                f"{metric} {dense['score_mean'].iloc[0]:.4f})"
            )
        lines = [title, ""]
        for value, label in (("loss", f"test {_loss_name(metric)}"), ("score", metric)):
            ranked = part[part["method"].isin(shown)].groupby("sparsity")[f"{value}_mean"]
            best = ranked.min() if value == "loss" else ranked.max()
            rows = []
            for name in shown:
                cells = part[part["method"] == name].set_index("sparsity")
                row = [f"**{name}**" if name == default else name]
                for s in sparsities:
                    if s not in cells.index:
                        row.append("")
                        continue
                    mean, std = cells.loc[s, f"{value}_mean"], cells.loc[s, f"{value}_std"]
                    std = 0.0 if math.isnan(std) else std
                    text = (
                        f"{mean:.4g} +- {std:.2g}"
                        if value == "loss"
                        else f"{mean:.4f} +- {std:.3f}"
                    )
                    row.append(f"**{text}**" if mean == best[s] else text)
                rows.append(row)
            header = ["method", *(f"{s:g}" for s in sparsities)]
            lines += [
                f"{label}, mean +- std over seeds:",
                "",
                render_table(header, rows, style="markdown"),
                "",
            ]
        parts.append("\n".join(lines))
    return "\n".join(parts)


def _wins_markdown(frame, methods, title: str, default: str | None) -> str:
    everywhere = win_table(frame, methods=methods)
    high = win_table(frame, min_sparsity=0.8, methods=methods)
    header = ["method"]
    for c in everywhere.columns:
        header += [
            f"all sparsities, {_TUNED[c]} ({everywhere.attrs['cells'][c]} cells)",
            f"sparsity >= 0.8, {_TUNED[c]} ({high.attrs['cells'].get(c, 0)} cells)",
        ]
    rows = []
    for name in everywhere.index:
        cells = [f"**{name}**" if name == default else name]
        for c in everywhere.columns:
            cells += [
                str(int(everywhere.loc[name, c])),
                str(int(high[c].get(name, 0)) if c in high else 0),
            ]
        rows.append(cells)
    return f"### {title}\n\n" + render_table(header, rows, style="markdown") + "\n"
