"""What a pruning run did, per layer, as a readable table; and the one table renderer."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for annotations: this module does not import torch
    import torch

__all__ = ["LayerReport", "PruningReport", "PruningResult", "import_pyplot", "render_table"]


def import_pyplot():
    """``matplotlib.pyplot``, imported on first use (matplotlib is only needed to plot)."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            "Plotting needs matplotlib, which is not installed: pip install matplotlib"
        ) from error
    return plt


def render_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], *, style: str = "plain"
) -> str:
    """Render a table of strings as aligned plain text, markdown or HTML.

    Every table the package prints goes through here: the pruning report, the
    command line's results and the benchmarks' markdown.

    Parameters
    ----------
    header : sequence of str
        Column titles.
    rows : sequence of sequence of str
        The cells, one sequence per row.
    style : {"plain", "markdown", "html"}, default="plain"
        ``"plain"``: left-aligned columns two spaces apart; ``"markdown"``: a pipe
        table padded so that it also reads as text (first column left-aligned, the
        others right-aligned); ``"html"``: a ``<table>``.

    Examples
    --------
    >>> from sklearn_ecprune.engine import render_table
    >>> print(render_table(["a", "bb"], [["1", "2"], ["333", "4"]], style="markdown"))
    | a   | bb |
    |:----|---:|
    | 1   |  2 |
    | 333 |  4 |
    """
    rows = [list(r) for r in rows]
    if style == "html":
        head = "".join(f"<th>{html.escape(c)}</th>" for c in header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    widths = [max(len(r[c]) for r in [list(header), *rows]) for c in range(len(header))]
    if style == "plain":
        return "\n".join(
            "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
            for r in [list(header), *rows]
        )
    if style != "markdown":
        raise ValueError(f"style must be 'plain', 'markdown' or 'html', got {style!r}.")

    def line(cells: Sequence[str]) -> str:
        padded = (
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(
        (":" + "-" * (w + 1)) if i == 0 else ("-" * (w + 1) + ":") for i, w in enumerate(widths)
    )
    return "\n".join([line(header), rule + "|", *(line(r) for r in rows)])


@dataclass(frozen=True)
class LayerReport:
    """One row of a :class:`PruningReport`.

    Examples
    --------
    >>> from sklearn_ecprune import LayerReport
    >>> row = LayerReport("0", (4, 3), n_weights=12, n_kept=3, mean_abs_bias_shift=0.1)
    >>> row.sparsity
    0.75
    """

    name: str
    shape: tuple[int, int]
    n_weights: int
    n_kept: int
    mean_abs_bias_shift: float

    @property
    def sparsity(self) -> float:
        """Fraction of this layer's weights that are zero."""
        return 1.0 - self.n_kept / self.n_weights if self.n_weights else 0.0


@dataclass(frozen=True)
class PruningReport:
    """Per-layer summary of a pruning run; prints as a table.

    Attributes
    ----------
    layers : list of LayerReport
        One row per pruned Linear layer, in forward order.
    method : str
        The pruning method.
    target_sparsity : float
        The sparsity that was asked for.

    Examples
    --------
    >>> from sklearn_ecprune import LayerReport, PruningReport
    >>> report = PruningReport([LayerReport("0", (4, 3), 12, 3, 0.1),
    ...                         LayerReport("2", (2, 4), 8, 7, 0.0)], "ecp", 0.5)
    >>> report.sparsity
    0.5
    >>> print(report)  # doctest: +NORMALIZE_WHITESPACE
    layer   shape  weights  kept  sparsity  mean |bias shift|
    0       4x3    12       3     75.00%    0.1
    2       2x4    8        7     12.50%    0
    total          20       10    50.00%
    """

    layers: list[LayerReport]
    method: str
    target_sparsity: float
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def n_weights(self) -> int:
        """Weights in all pruned layers."""
        return sum(row.n_weights for row in self.layers)

    @property
    def n_kept(self) -> int:
        """Non-zero weights left in all pruned layers."""
        return sum(row.n_kept for row in self.layers)

    @property
    def sparsity(self) -> float:
        """Achieved sparsity: zero weights over all weights of the pruned layers."""
        return 1.0 - self.n_kept / self.n_weights if self.n_weights else 0.0

    def to_frame(self):
        """The report as a pandas DataFrame, one row per layer.

        Examples
        --------
        >>> from sklearn_ecprune import LayerReport, PruningReport
        >>> report = PruningReport([LayerReport("0", (4, 3), 12, 3, 0.1)], "ecp", 0.75)
        >>> report.to_frame()[["layer", "kept", "sparsity"]]
          layer  kept  sparsity
        0     0     3      0.75
        """
        import pandas as pd

        return pd.DataFrame(
            {
                "layer": [row.name for row in self.layers],
                "shape": [f"{row.shape[0]}x{row.shape[1]}" for row in self.layers],
                "weights": [row.n_weights for row in self.layers],
                "kept": [row.n_kept for row in self.layers],
                "sparsity": [row.sparsity for row in self.layers],
                "mean_abs_bias_shift": [row.mean_abs_bias_shift for row in self.layers],
            }
        )

    _HEADER = ("layer", "shape", "weights", "kept", "sparsity", "mean |bias shift|")

    def _rows(self) -> list[list[str]]:
        rows = []
        for row in self.layers:
            rows.append(
                [
                    row.name,
                    f"{row.shape[0]}x{row.shape[1]}",
                    str(row.n_weights),
                    str(row.n_kept),
                    f"{row.sparsity:.2%}",
                    f"{row.mean_abs_bias_shift:.3g}",
                ]
            )
        rows.append(
            ["total", "", str(self.n_weights), str(self.n_kept), f"{self.sparsity:.2%}", ""]
        )
        return rows

    def __str__(self) -> str:
        return render_table(self._HEADER, self._rows())

    def _repr_html_(self) -> str:
        return render_table(self._HEADER, self._rows(), style="html")

    def plot(self, ax=None):
        """Plot each layer's kept and removed weights, and its bias shift.

        Two panels with one bar per layer, in forward order, labelled with the
        layer's name and weight shape (outputs x inputs):

        - the weights: ``n_kept`` (kept) with ``n_weights - n_kept`` (removed)
          stacked on top, and the layer's sparsity written above the bar;
        - ``mean_abs_bias_shift``: the mean over the layer's units of how far the
          pruning moved the bias, which is the compensation of ``"ecp"`` (summed
          over the events of an interleaved fit, as in the table), what the refit
          did to the biases for the refitting methods, and zero for methods that
          do not compensate.

        Parameters
        ----------
        ax : array-like of two matplotlib Axes, default=None
            Where to draw the weights and the bias shifts; a new figure with the
            two panels side by side when ``None``.

        Returns
        -------
        axes : ndarray of two matplotlib Axes
            The weights panel, whose ``containers`` are the kept and the removed
            bars, and the bias-shift panel, whose ``containers[0]`` are its bars.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn_ecprune import LayerReport, PruningReport
        >>> report = PruningReport([LayerReport("0", (4, 3), 12, 3, 0.1),
        ...                         LayerReport("2", (2, 4), 8, 7, 0.0)], "ecp", 0.5)
        >>> weights, shifts = report.plot()
        >>> kept, removed = weights.containers
        >>> kept.datavalues.tolist(), removed.datavalues.tolist()
        ([3, 7], [9, 1])
        >>> shifts.containers[0].datavalues.tolist()
        [0.1, 0.0]

        The report of a prune:

        >>> import torch
        >>> from sklearn_ecprune import prune_mlp
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
        ...                           torch.nn.Linear(8, 2))
        >>> axes = prune_mlp(net, torch.randn(32, 4), 0.5).report.plot()
        >>> [label.get_text() for label in axes[0].get_xticklabels()]
        ['0\\n8x4', '2\\n2x8']
        """
        import numpy as np

        plt = import_pyplot()
        if ax is None:
            width = min(12.0, 5.0 + 1.0 * len(self.layers))
            _, axes = plt.subplots(1, 2, figsize=(width, 3.8), layout="constrained")
            axes[0].figure.suptitle(
                f"{self.method}: {self.sparsity:.1%} of {self.n_weights} weights removed "
                f"(target {self.target_sparsity:g})"
            )
        else:
            axes = np.asarray(ax, dtype=object).ravel()
            if axes.shape != (2,):
                raise ValueError(
                    "ax must be two matplotlib Axes: one for the weights, one for the "
                    f"bias shifts; got {ax!r}."
                )
        positions = np.arange(len(self.layers))
        labels = [f"{row.name}\n{row.shape[0]}x{row.shape[1]}" for row in self.layers]
        kept = [row.n_kept for row in self.layers]
        removed = [row.n_weights - row.n_kept for row in self.layers]
        shifts = [row.mean_abs_bias_shift for row in self.layers]

        weights_ax, shift_ax = axes
        weights_ax.bar(positions, kept, color="tab:blue", label="kept")
        removed_bars = weights_ax.bar(
            positions, removed, bottom=kept, color="tab:gray", alpha=0.45, label="removed"
        )
        weights_ax.bar_label(
            removed_bars,
            labels=[f"{row.sparsity:.1%}" for row in self.layers],
            padding=2,
            fontsize="small",
        )
        weights_ax.set_xticks(positions, labels)
        weights_ax.set_xlabel("layer (outputs x inputs)")
        weights_ax.set_ylabel("weights")
        weights_ax.set_title("kept weights (sparsity above)")
        weights_ax.margins(y=0.12)
        weights_ax.legend(loc="best")

        shift_ax.bar(positions, shifts, color="tab:orange")
        shift_ax.set_xticks(positions, labels)
        shift_ax.set_xlabel("layer (outputs x inputs)")
        shift_ax.set_ylabel("mean |bias shift|")
        events = self.extra.get("events")
        shift_ax.set_title("bias shift" + (f", summed over {events} events" if events else ""))
        return axes


@dataclass(frozen=True)
class PruningResult:
    """What :func:`prune_mlp` returns: the masks and the per-layer report.

    Attributes
    ----------
    masks : dict of str to torch.Tensor
        Per layer name, a boolean tensor of the weight's shape; False marks a
        pruned weight.
    report : PruningReport
        The per-layer table; ``print(result)`` shows it.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ecprune import prune_mlp
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
    ...                           torch.nn.Linear(8, 2))
    >>> result = prune_mlp(net, torch.randn(32, 4), 0.5)
    >>> result.sparsity
    0.5
    >>> sorted(result.masks)
    ['0', '2']
    """

    masks: dict[str, torch.Tensor]
    report: PruningReport

    @property
    def sparsity(self) -> float:
        """Achieved sparsity over the pruned layers."""
        return self.report.sparsity

    def __str__(self) -> str:
        return str(self.report)
