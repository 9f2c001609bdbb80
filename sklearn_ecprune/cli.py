"""The ``ecprune`` command: compare pruning methods from the shell.

``ecprune demo`` prunes one MLP trained on scikit-learn's digits with several methods
and plots test loss against sparsity; ``ecprune sweep`` does the same on a named
dataset or a CSV file and writes the results to a folder. ``python -m sklearn_ecprune``
runs the same program.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from ._methods import PRUNING_METHODS
from ._sweep import (
    BASELINE_CONFIGS,
    DEFAULT_CONFIG,
    PRUNING_CONFIGS,
    markdown_tables,
    plot_sweep,
    run_sweep,
)
from ._tabular import DataError, load_csv
from .datasets import DATASET_NAMES, load_dataset

__all__ = ["build_parser", "main", "results_text"]

PROG = "ecprune"
SPARSITIES = (0.5, 0.7, 0.8, 0.9, 0.95)
HIDDEN = (100, 64)
MAX_EPOCHS = 200
TEST_SIZE = 0.25
# Panels per row of the plots: the default noise levels stand in one row.
PLOT_COLUMNS = 4
# The demo: the project's default, the paper's one-shot ECP, and the engine's other
# fast criteria ("nonlinear" is exact but far too slow for a one-minute demo).
DEMO_METHODS = (DEFAULT_CONFIG, "ecp", "magnitude", "wanda", "obd", "gradient", "random")
SWEEP_METHODS = (DEFAULT_CONFIG, *(m for m in BASELINE_CONFIGS if m != DEFAULT_CONFIG))
# Noise levels of the synthetic datasets when --noise is not given. Several levels for
# diffusion-sorption give one panel per level, like the figure of the ECP paper;
# friedman's noise is scikit-learn's absolute standard deviation (target std ~5).
DEFAULT_NOISE = {"diffusion-sorption": (0.0, 0.05, 0.1), "friedman": (1.0,)}


class CommandError(Exception):
    """A usage problem, reported as one ``ecprune: error:`` line and exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One line, like every other error of the command (argparse prints two).
        self.exit(2, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


# --- Validation -------------------------------------------------------------------


def _available_methods() -> dict[str, dict[str, Any]]:
    """Sweep configurations, plus every engine method under its own name."""
    methods = {name: dict(config) for name, config in PRUNING_CONFIGS.items()}
    for name in PRUNING_METHODS:
        methods.setdefault(name, {"method": name})
    return methods


def _resolve_methods(names: Sequence[str]) -> dict[str, dict[str, Any]]:
    available = _available_methods()
    wanted: list[str] = []
    for name in names:
        wanted += list(PRUNING_CONFIGS) if name == "all" else [name]
    unknown = [name for name in wanted if name not in available]
    if unknown:
        raise CommandError(
            f"unknown method{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(n) for n in unknown)}; valid methods: all, {', '.join(available)}"
        )
    return {name: available[name] for name in dict.fromkeys(wanted)}


def _check_sparsities(values: Sequence[float]) -> list[float]:
    bad = [v for v in values if not 0.0 < v < 1.0]
    if bad:
        raise CommandError(f"sparsities must lie strictly between 0 and 1, got {bad[0]:g}")
    return sorted(set(values))


def _prepare(args: argparse.Namespace) -> None:
    """Check the options both commands share, and apply --threads."""
    if any(h < 1 for h in args.hidden):
        raise CommandError("--hidden widths must be positive integers")
    if args.max_epochs < 1:
        raise CommandError("--max-epochs must be at least 1")
    if args.threads < 1:
        raise CommandError("--threads must be at least 1")
    import torch

    torch.set_num_threads(args.threads)


# --- Running sweeps ---------------------------------------------------------------


@dataclass
class _Split:
    label: str
    noise: float
    task: str
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray


def _run(
    splits: Sequence[_Split],
    configs: dict[str, dict[str, Any]],
    args: argparse.Namespace,
    *,
    sparsities: Sequence[float],
    seeds: Sequence[int],
    fine_tune_epochs: int = 0,
) -> Any:
    """One :func:`run_sweep` per split under one progress bar; one concatenated frame.

    The bar counts pruned networks; ``run_sweep`` shows an epoch bar below it while
    each dense network trains (neither with ``--quiet``).
    """
    import pandas as pd
    from tqdm.auto import tqdm

    total = len(splits) * len(seeds) * len(configs) * len(sparsities)
    bar = tqdm(
        total=total, desc="pruned networks", unit="net", disable=args.quiet, file=sys.stderr
    )
    frames = []
    try:
        for split in splits:
            bar.set_postfix_str(split.label, refresh=True)
            frame = run_sweep(
                split.X_train,
                split.y_train,
                split.X_test,
                split.y_test,
                task=split.task,
                configs=configs,
                sparsities=sparsities,
                hidden_layer_sizes=tuple(args.hidden),
                seeds=seeds,
                fine_tune_epochs=fine_tune_epochs,
                max_epochs=args.max_epochs,
                dataset=split.label,
                progress=bar,  # disabled with --quiet: then no epoch bars either
            )
            frame.insert(frame.columns.get_loc("task") + 1, "noise", split.noise)
            frames.append(frame)
    finally:
        bar.close()
    return pd.concat(frames, ignore_index=True)


def _cell(value: float, metric: str) -> str:
    if math.isnan(value):
        return "nan"
    if metric == "accuracy":
        return f"{100 * value:.1f} %"
    if metric == "loss":
        # Four decimals, but three significant digits for the small MSEs of regression.
        return f"{value:.4f}" if abs(value) >= 0.01 else f"{value:.3g}"
    return f"{value:.3f}"


def _markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A markdown table padded to aligned columns, so it also reads as plain text."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = (
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (w + 1) + ("-" if i == 0 else ":") for i, w in enumerate(widths))
    return [line(header), rule + "|", *(line(r) for r in rows)]


def results_text(frame: Any, *, fine_tuned: bool = False) -> str:
    """Plain-text/markdown tables of test loss and score per method and sparsity.

    Parameters
    ----------
    frame : pandas.DataFrame
        Output of :func:`~sklearn_ecprune._sweep.run_sweep` (several concatenated).
    fine_tuned : bool, default=False
        Tabulate the results without or with masked fine-tuning.

    Returns
    -------
    text : str
        For each (dataset, architecture): the dense network's numbers, then a table
        of the mean test loss over seeds and one of the mean accuracy or R^2; the
        best value of each column is marked with ``*``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_ecprune.cli import results_text
    >>> frame = pd.DataFrame({"dataset": "d", "architecture": "8", "fine_tuned": False,
    ...     "seed": 0, "method": ["dense", "a", "b"], "sparsity": [0.0, 0.5, 0.5],
    ...     "loss": [0.1, 0.2, 0.3], "score": [0.9, 0.8, 0.7], "metric": "accuracy"})
    >>> print(results_text(frame).splitlines()[7])
    | a                 | 0.2000 * |
    """
    part = frame[frame["fine_tuned"] == fine_tuned]
    blocks = []
    for (dataset, arch), group in part.groupby(["dataset", "architecture"], sort=False):
        means = group.groupby(["method", "sparsity"], sort=False)[["loss", "score"]].mean()
        metric = group["metric"].iloc[0]
        n_seeds = group["seed"].nunique()
        methods = [m for m in dict.fromkeys(group["method"]) if m != "dense"]
        sparsities = sorted(s for s in group["sparsity"].unique() if s > 0)
        tuned = "masked fine-tuning" if fine_tuned else "no fine-tuning"
        lines = [
            f"{dataset}, hidden {arch}, {tuned}" + (f", mean of {n_seeds} seeds" * (n_seeds > 1))
        ]
        if ("dense", 0.0) in means.index:
            loss, score = means.loc[("dense", 0.0)]
            lines.append(
                f"dense network: test loss {_cell(loss, 'loss')}, "
                f"{'accuracy' if metric == 'accuracy' else 'R^2'} {_cell(score, metric)}"
            )
        loss_name = "cross-entropy" if metric == "accuracy" else "MSE of the standardised target"
        for value, title in (
            ("loss", f"test loss ({loss_name}), lower is better"),
            ("score", f"test {metric if metric == 'accuracy' else 'R^2'}, higher is better"),
        ):
            table = means[value].unstack("sparsity")
            best = table.loc[methods].min() if value == "loss" else table.loc[methods].max()
            rows = []
            for name in methods:
                cells = [name]
                for s in sparsities:
                    v = table.loc[name].get(s, math.nan)
                    mark = " *" if v == best[s] else "  "
                    cells.append(_cell(v, "loss" if value == "loss" else metric) + mark)
                rows.append(cells)
            header = ["method / sparsity", *(f"{s:g}" for s in sparsities)]
            lines += ["", title + ":", "", *_markdown(header, rows)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n\n(* best at that sparsity)\n"


def _save_plot(frame: Any, path: Path, *, fine_tuned: bool, methods: Sequence[str]) -> None:
    try:
        # One panel per dataset label (e.g. per noise level), side by side.
        plot_sweep(
            frame,
            path,
            fine_tuned=fine_tuned,
            methods=methods,
            default=DEFAULT_CONFIG,
            ncols=PLOT_COLUMNS,
        )
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None


def _plot_path(value: str) -> Path:
    from matplotlib.backend_bases import FigureCanvasBase

    path = Path(value)
    if not path.suffix:
        path = path.with_suffix(".png")
    if path.suffix.lower().lstrip(".") not in FigureCanvasBase.get_supported_filetypes():
        raise CommandError(f"cannot save a plot as {path.suffix!r} files; use .png")
    return path


def _make_folder(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"cannot create the folder {path}: {exc.strerror or exc}") from None


# --- Commands ---------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    from sklearn.model_selection import train_test_split

    _prepare(args)
    configs = _resolve_methods(args.methods)
    sparsities = _check_sparsities(args.sparsities)
    out = _plot_path(args.out)
    data = load_dataset("digits")
    X_train, X_test, y_train, y_test = train_test_split(
        data.X, data.y, test_size=TEST_SIZE, random_state=args.seed, stratify=data.y
    )
    print(
        f"digits: {len(y_train)} training and {len(y_test)} test images of 8x8 pixels, "
        f"10 classes; one dense MLP (hidden {'-'.join(map(str, args.hidden))}), "
        f"pruned with {len(configs)} methods at {len(sparsities)} sparsities, no fine-tuning"
    )
    split = _Split("digits", math.nan, "classification", X_train, X_test, y_train, y_test)
    frame = _run([split], configs, args, sparsities=sparsities, seeds=[args.seed])
    print()
    print(results_text(frame))
    _make_folder(out.parent)
    _save_plot(frame, out, fine_tuned=False, methods=list(configs))
    print(f"saved the plot of test loss against sparsity to {out}")
    return 0


def _load_splits(args: argparse.Namespace) -> tuple[list[_Split], str]:
    """The train/test splits to sweep (one per noise level) and a short name."""
    from sklearn.model_selection import train_test_split

    name = args.data
    if name in DATASET_NAMES:
        if args.target is not None:
            raise CommandError("--target applies only to CSV files")
        noise_levels = args.noise
        if noise_levels is None:
            noise_levels = DEFAULT_NOISE.get(name, (0.0,))
        elif name not in DEFAULT_NOISE:
            raise CommandError(
                f"--noise applies only to the synthetic datasets {' and '.join(DEFAULT_NOISE)}"
            )
        splits = []
        for noise in dict.fromkeys(noise_levels):
            if not (math.isfinite(noise) and noise >= 0):
                raise CommandError(f"--noise levels must be finite and >= 0, got {noise:g}")
            data = load_dataset(name, noise=noise, random_state=args.random_state)
            if args.task not in ("auto", data.task):
                raise CommandError(
                    f"{name} is a {data.task} dataset; --task {args.task} is only for CSV files"
                )
            stratify = data.y if data.task == "classification" else None
            parts = train_test_split(
                data.X,
                data.y,
                test_size=args.test_size,
                random_state=args.random_state,
                stratify=stratify,
            )
            synthetic = name in DEFAULT_NOISE
            label = f"{name}, noise {noise:g}" if synthetic else name
            splits.append(_Split(label, noise if synthetic else math.nan, data.task, *parts))
            print(
                f"{label}: {data.task}, {len(parts[2])} training and {len(parts[3])} test "
                f"rows, {data.X.shape[1]} features"
            )
        return splits, name

    path = Path(name)
    if not path.exists() and path.suffix.lower() not in (".csv", ".tsv", ".txt"):
        raise CommandError(
            f"--data {name!r} is neither a dataset name ({', '.join(DATASET_NAMES)}) "
            f"nor an existing CSV file"
        )
    if args.noise is not None:
        raise CommandError(
            f"--noise applies only to the synthetic datasets {' and '.join(DEFAULT_NOISE)}"
        )
    table = load_csv(
        str(path),
        target=args.target,
        task=args.task,
        test_size=args.test_size,
        random_state=args.random_state,
    )
    for note in table.notes:
        print(f"{PROG}: note: {note}", file=sys.stderr)
    how = "inferred; force with --task" if args.task == "auto" else "forced"
    print(
        f"{path.name}: predicting {table.target_name!r}, {table.task} ({how}), "
        f"{len(table.y_train)} training and {len(table.y_test)} test rows, "
        f"{table.X_train.shape[1]} input columns after preprocessing"
    )
    split = _Split(
        path.stem, math.nan, table.task, table.X_train, table.X_test, table.y_train, table.y_test
    )
    return [split], path.stem


def _sweep_command(args: argparse.Namespace) -> int:
    _prepare(args)
    configs = _resolve_methods(args.methods)
    sparsities = _check_sparsities(args.sparsities)
    if args.seeds < 1:
        raise CommandError("--seeds must be at least 1")
    if args.fine_tune_epochs < 0:
        raise CommandError("--fine-tune-epochs must be >= 0")
    if not 0.0 < args.test_size < 1.0:
        raise CommandError("--test-size must lie strictly between 0 and 1")
    splits, short = _load_splits(args)
    out = Path(args.out if args.out is not None else f"ecprune-sweep-{short}")
    if out.exists() and not out.is_dir():
        raise CommandError(f"--out {out} exists and is not a folder")
    _make_folder(out)
    frame = _run(
        splits,
        configs,
        args,
        sparsities=sparsities,
        seeds=list(range(args.seeds)),
        fine_tune_epochs=args.fine_tune_epochs,
    )
    tuned_states = [False, True] if args.fine_tune_epochs > 0 else [False]
    command = shlex.join([PROG, *args.argv])
    report = [
        f"# Pruning sweep: {short}",
        "",
        f"Command: `{command}`",
        "",
        f"Methods: {', '.join(configs)}; sparsities: {', '.join(f'{s:g}' for s in sparsities)}; "
        f"hidden layers {'-'.join(map(str, args.hidden))}; {args.seeds} seed(s); "
        f"{args.fine_tune_epochs} fine-tuning epochs. Test loss: cross-entropy "
        "(classification) or MSE of the standardised target (regression).",
        "",
        markdown_tables(frame, default=DEFAULT_CONFIG),
    ]
    written = []
    try:
        frame.to_csv(out / "results.csv", index=False)
        (out / "results.md").write_text("\n".join(report), encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot write to {out}: {exc.strerror or exc}") from None
    written += [out / "results.csv", out / "results.md"]
    for fine_tuned in tuned_states:
        png = out / ("loss_vs_sparsity_fine_tuned.png" if fine_tuned else "loss_vs_sparsity.png")
        _save_plot(frame, png, fine_tuned=fine_tuned, methods=list(configs))
        written.append(png)
    print()
    for fine_tuned in tuned_states:
        print(results_text(frame, fine_tuned=fine_tuned))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


# --- Parser -----------------------------------------------------------------------


def _methods_help() -> str:
    lines = []
    for name, config in _available_methods().items():
        what = ", ".join(f"{k}={v}" for k, v in config.items())
        tag = " (default)" if name == DEFAULT_CONFIG else " (the paper)" if name == "ecp" else ""
        lines.append(f"  {name:<18} {what}{tag}")
    return "\n".join(lines)


def _spaced(values: Sequence[Any]) -> str:
    return " ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def _wrap(text: str) -> str:
    # The raw formatter keeps the epilog's lists; paragraphs are wrapped here.
    return textwrap.fill(text, width=88)


def _add_common(parser: argparse.ArgumentParser, *, methods: Sequence[str]) -> None:
    parser.add_argument(
        "--methods",
        nargs="+",
        default=list(methods),
        metavar="M",
        help=f"pruning methods to compare, or 'all' (default: {' '.join(methods)})",
    )
    parser.add_argument(
        "--sparsities",
        nargs="+",
        type=float,
        default=list(SPARSITIES),
        metavar="S",
        help=f"fractions of the weights to remove (default: {_spaced(SPARSITIES)})",
    )
    parser.add_argument(
        "--hidden",
        nargs="+",
        type=int,
        default=list(HIDDEN),
        metavar="H",
        help=f"hidden layer widths of the MLP (default: {_spaced(HIDDEN)})",
    )
    parser.add_argument(
        "--max-epochs",
        type=int,
        default=MAX_EPOCHS,
        metavar="N",
        help="upper bound on the dense training epochs; early stopping usually "
        "ends training sooner (default: %(default)s)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        metavar="N",
        help="CPU threads for PyTorch; small networks run fastest on one (default: 1)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars on stderr")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``ecprune`` (used by :func:`main` and the docs).

    Examples
    --------
    >>> from sklearn_ecprune.cli import build_parser
    >>> args = build_parser().parse_args(["sweep", "--data", "wine", "--seeds", "2"])
    >>> args.command, args.data, args.seeds
    ('sweep', 'wine', 2)
    """
    parser = _Parser(
        prog=PROG,
        formatter_class=_Formatter,
        description=_wrap(
            "Compare elimination-compensation pruning (ECP) of MLPs with other "
            "pruning methods: train one dense network, prune copies of it to several "
            "sparsities with each method, and report the test loss."
        ),
        epilog=f"Run '{PROG} COMMAND --help' for the options of a command.\n\n"
        f"Examples:\n  {PROG} demo\n  {PROG} sweep --data wine --methods ecp ecp-ls magnitude\n"
        f"  {PROG} sweep --data diffusion-sorption --seeds 3\n"
        f"  {PROG} sweep --data measurements.csv --target yield",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    demo = commands.add_parser(
        "demo",
        formatter_class=_Formatter,
        help="one-minute comparison on the digits data (no arguments needed)",
        description=_wrap(
            "Train one dense MLP on scikit-learn's digits (8x8 images, 10 classes; "
            "75/25 stratified split), prune copies of it at each sparsity with each method "
            "(all start from the same weights, without fine-tuning), print the test loss "
            "and accuracy, and save a plot of test loss against sparsity. Takes well "
            "under a minute on two CPU cores."
        ),
        epilog=f"Methods:\n{_methods_help()}\n\nExample:\n  {PROG} demo --out demo.png",
    )
    demo.add_argument(
        "--out",
        default="ecprune-demo.png",
        metavar="PNG",
        help="where to save the plot (default: %(default)s)",
    )
    demo.add_argument(
        "--seed", type=int, default=0, help="seed of the split and the network (default: 0)"
    )
    _add_common(demo, methods=DEMO_METHODS)
    demo.set_defaults(func=_demo)

    sweep = commands.add_parser(
        "sweep",
        formatter_class=_Formatter,
        help="compare methods on a named dataset or your CSV file; write results to a folder",
        description=_wrap(
            "Train one dense MLP per seed on a dataset, prune copies of it at each "
            "sparsity with each method, optionally fine-tune them with their masks fixed, "
            "and write results.csv (one row per network), results.md (markdown tables) "
            "and loss_vs_sparsity.png (test loss against sparsity, one panel per noise "
            "level; loss_vs_sparsity_fine_tuned.png too with --fine-tune-epochs) to the "
            "output folder."
        ),
        epilog=f"Methods:\n{_methods_help()}\n\n"
        + _wrap(
            "CSV files: the target is the last column unless --target says otherwise. It "
            "is a classification target if it is text, boolean or integer-valued with few "
            "distinct values, else a regression target (force with --task). Numeric "
            "features get median imputation and scaling, the others most-frequent "
            "imputation and one-hot encoding; rows without a target are dropped."
        )
        + "\n\n"
        f"Examples:\n  {PROG} sweep --data wine --methods ecp magnitude --seeds 3\n"
        f"  {PROG} sweep --data diffusion-sorption --noise 0 0.1 --fine-tune-epochs 5\n"
        f"  {PROG} sweep --data measurements.csv --target yield --out results",
    )
    sweep.add_argument(
        "--data",
        required=True,
        metavar="NAME_OR_CSV",
        help=f"a dataset name ({', '.join(DATASET_NAMES)}) or the path of a CSV file",
    )
    sweep.add_argument(
        "--target", metavar="COLUMN", help="CSV only: the column to predict (default: the last)"
    )
    sweep.add_argument(
        "--task",
        choices=("auto", "classification", "regression"),
        default="auto",
        help="CSV only: the kind of target (default: auto, inferred from the target)",
    )
    _add_common(sweep, methods=SWEEP_METHODS)
    sweep.add_argument(
        "--fine-tune-epochs",
        type=int,
        default=0,
        metavar="N",
        help="epochs of masked fine-tuning after pruning; 0 measures the pruning alone "
        "(default: 0)",
    )
    sweep.add_argument(
        "--seeds",
        type=int,
        default=3,
        metavar="N",
        help="number of dense networks (seeds 0..N-1) to average over (default: 3)",
    )
    sweep.add_argument(
        "--noise",
        nargs="+",
        type=float,
        metavar="X",
        help="noise levels of the synthetic datasets, one panel each: relative to the "
        "target's std for diffusion-sorption (default: 0 0.05 0.1), absolute for "
        "friedman (default: 1)",
    )
    sweep.add_argument(
        "--test-size",
        type=float,
        default=TEST_SIZE,
        metavar="F",
        help="share of the rows held out for testing (default: %(default)s)",
    )
    sweep.add_argument(
        "--random-state",
        type=int,
        default=0,
        metavar="N",
        help="seed of the train/test split and of the synthetic data (default: 0)",
    )
    sweep.add_argument(
        "--out", metavar="DIR", help="output folder (default: ecprune-sweep-<data name>)"
    )
    sweep.set_defaults(func=_sweep_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ecprune`` command line.

    Parameters
    ----------
    argv : sequence of str, default=None
        The arguments without the program name; ``None`` reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        The exit code: 0 on success, 2 for a usage or data error (reported as one
        ``ecprune: error: ...`` line on stderr), 130 when interrupted.

    Examples
    --------
    >>> from sklearn_ecprune.cli import main
    >>> main(["--version"])  # doctest: +SKIP
    ecprune 0.1.0
    0
    >>> main(["demo", "--sparsities", "0.5", "0.9", "--out", "demo.png"])  # doctest: +SKIP
    0
    """
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    args.argv = argv
    try:
        return args.func(args)
    except (CommandError, DataError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
