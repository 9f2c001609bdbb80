"""What ``ecprune demo`` and ``ecprune sweep`` do, once their arguments are checked."""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..datasets import DATASET_NAMES, load_dataset
from ..sweep import (
    DEFAULT_CONFIGURATION,
    SWEEP_CONFIGURATIONS,
    SweepData,
    markdown_tables,
    plot_sweep,
    results_text,
    run_sweep,
)
from ._csv import DataError, load_csv
from ._options import DEFAULT_NOISE, PROG, TEST_SIZE, CommandError, methods_of

__all__ = ["DataError", "run_command"]

# Panels per row of the plots: the default noise levels stand in one row.
PLOT_COLUMNS = 4


@dataclass
class _Split:
    """The rows a sweep fits and tests (named for the progress bar), at a noise level."""

    data: SweepData
    noise: float


def run_command(args: argparse.Namespace) -> int:
    """Run the command of checked arguments; return the exit code."""
    import torch

    torch.set_num_threads(args.threads)
    return _demo(args) if args.command == "demo" else _sweep(args)


def _run(
    splits: Sequence[_Split],
    args: argparse.Namespace,
    *,
    seeds: Sequence[int],
    fine_tune_epochs: int = 0,
) -> Any:
    """One :func:`run_sweep` per split under one progress bar; one concatenated frame."""
    import pandas as pd
    from tqdm.auto import tqdm

    methods = methods_of(args)
    sparsities = sorted(set(args.sparsities))
    per_split = len(seeds) * (1 + len(methods) * len(sparsities) * (1 + (fine_tune_epochs > 0)))
    bar = tqdm(
        total=len(splits) * per_split,
        desc="fits",
        unit="fit",
        disable=args.quiet,
        file=sys.stderr,
    )
    params = {"hidden_layer_sizes": tuple(args.hidden), "max_epochs": args.max_epochs}
    frames = []
    # Warnings would break the progress bar's line: collected, and said once after it.
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            for split in splits:
                bar.set_postfix_str(split.data.name, refresh=True)
                frame = run_sweep(
                    split.data,
                    configurations=methods,
                    sparsities=sparsities,
                    seeds=seeds,
                    fine_tune_epochs=fine_tune_epochs,
                    estimator_params=params,
                    progress=bar,
                    n_jobs=getattr(args, "n_jobs", 1),  # ecprune demo has no --n-jobs
                )
                frame.insert(frame.columns.get_loc("task") + 1, "noise", split.noise)
                frames.append(frame)
        finally:
            bar.close()
    _report_warnings(seen, quiet=args.quiet)
    return pd.concat(frames, ignore_index=True)


def _report_warnings(seen: list[warnings.WarningMessage], *, quiet: bool) -> None:
    """The warnings of a run, each kind once, in words the command's options can act on."""
    from sklearn.exceptions import ConvergenceWarning

    from ..engine import EmptyLayerWarning

    emptied = sum(issubclass(w.category, EmptyLayerWarning) for w in seen)
    unconverged = sum(issubclass(w.category, ConvergenceWarning) for w in seen)
    others = dict.fromkeys(
        f"{w.category.__name__}: {w.message}"
        for w in seen
        if not issubclass(w.category, EmptyLayerWarning | ConvergenceWarning)
    )
    notes = []
    if emptied:
        notes.append(
            f"{emptied} prune(s) left a layer without weights (only its biases remain); "
            "the results at those sparsities are those of a network whose output no "
            "longer depends on its input there: use lower --sparsities or wider --hidden "
            "layers."
        )
    if unconverged and not quiet:
        notes.append(
            f"{unconverged} dense training(s) reached --max-epochs before their stopping "
            "rule: a larger --max-epochs may give better networks."
        )
    notes += list(others)
    for note in notes:
        print(f"ecprune: warning: {note}", file=sys.stderr)


def _save_plot(frame: Any, path: Path, *, fine_tuned: bool, methods: Sequence[str]) -> None:
    try:
        plot_sweep(
            frame,
            path,
            fine_tuned=fine_tuned,
            methods=methods,
            default=DEFAULT_CONFIGURATION,
            ncols=PLOT_COLUMNS,
            metrics=("loss", "score"),
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


_UNSPLITTABLE = "cannot split the rows into training and test: {}"


def _split(X, y, task: str, test_size: float, random_state: int) -> tuple:
    from sklearn.model_selection import train_test_split

    try:
        return train_test_split(
            X,
            y,
            test_size=test_size,
            random_state=random_state,
            stratify=y if task == "classification" else None,
        )
    except ValueError as exc:
        raise CommandError(_UNSPLITTABLE.format(exc)) from None


def _demo(args: argparse.Namespace) -> int:
    out = _plot_path(args.out)
    _make_folder(out.parent)  # before the fits: a bad --out fails at once
    data = load_dataset("digits")
    X_train, X_test, y_train, y_test = _split(
        data.X, data.y, "classification", TEST_SIZE, args.seed
    )
    methods = methods_of(args)
    print(
        f"digits: {len(y_train)} training and {len(y_test)} test images of 8x8 pixels, "
        f"10 classes; ECPrunedMLPClassifier (hidden {'-'.join(map(str, args.hidden))}) "
        f"with {len(methods)} configurations at {len(set(args.sparsities))} sparsities, "
        "no fine-tuning"
    )
    digits = SweepData(X_train, y_train, X_test, y_test, task="classification", name="digits")
    frame = _run([_Split(digits, math.nan)], args, seeds=[args.seed])
    print()
    print(results_text(frame))
    _save_plot(frame, out, fine_tuned=False, methods=methods)
    print(f"saved the plot of test loss and accuracy against sparsity to {out}")
    return 0


def _load_splits(args: argparse.Namespace) -> tuple[list[_Split], str]:
    """The train/test splits to sweep (one per noise level) and a short name."""
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
            data = load_dataset(name, noise=noise, random_state=args.random_state)
            if args.task not in ("auto", data.task):
                raise CommandError(
                    f"{name} is a {data.task} dataset; --task {args.task} is only for CSV files"
                )
            synthetic = name in DEFAULT_NOISE
            label = f"{name}, noise {noise:g}" if synthetic else name
            try:
                sweep_data = SweepData.from_dataset(
                    data, test_size=args.test_size, random_state=args.random_state, name=label
                )
            except ValueError as exc:
                raise CommandError(_UNSPLITTABLE.format(exc)) from None
            splits.append(_Split(sweep_data, noise if synthetic else math.nan))
            print(
                f"{label}: {data.task}, {len(sweep_data.y_train)} training and "
                f"{len(sweep_data.y_test)} test "
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
    sweep_data = SweepData(
        table.X_train, table.y_train, table.X_test, table.y_test, task=table.task, name=path.stem
    )
    return [_Split(sweep_data, math.nan)], path.stem


def _sweep(args: argparse.Namespace) -> int:
    splits, short = _load_splits(args)
    out = Path(args.out if args.out is not None else f"ecprune-sweep-{short}")
    if out.exists() and not out.is_dir():
        raise CommandError(f"--out {out} exists and is not a folder")
    _make_folder(out)
    methods = methods_of(args)
    frame = _run(
        splits, args, seeds=list(range(args.seeds)), fine_tune_epochs=args.fine_tune_epochs
    )
    tuned_states = [False, True] if args.fine_tune_epochs > 0 else [False]
    settings = ", ".join(f"{name} ({SWEEP_CONFIGURATIONS[name].description})" for name in methods)
    report = [
        f"# Pruning sweep: {short}",
        "",
        f"Command: `{shlex.join([PROG, *args.argv])}`",
        "",
        f"Configurations: {settings}; sparsities: "
        f"{', '.join(f'{s:g}' for s in sorted(set(args.sparsities)))}; hidden layers "
        f"{'-'.join(map(str, args.hidden))}; {args.seeds} seed(s); "
        f"{args.fine_tune_epochs} fine-tuning epochs. Test loss: log-loss "
        "(classification) or MSE divided by the variance of the training target "
        "(regression).",
        "",
        markdown_tables(frame, default=DEFAULT_CONFIGURATION, methods=methods),
    ]
    try:
        frame.to_csv(out / "results.csv", index=False)
        (out / "results.md").write_text("\n".join(report), encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot write to {out}: {exc.strerror or exc}") from None
    written = [out / "results.csv", out / "results.md"]
    for fine_tuned in tuned_states:
        png = out / ("loss_vs_sparsity_fine_tuned.png" if fine_tuned else "loss_vs_sparsity.png")
        _save_plot(frame, png, fine_tuned=fine_tuned, methods=methods)
        written.append(png)
    print()
    for fine_tuned in tuned_states:
        print(results_text(frame, fine_tuned=fine_tuned))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
