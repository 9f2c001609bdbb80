"""Pruning quality benchmark: test loss against sparsity, every method, several data sets.

One dense MLP is trained per (data set, architecture, seed); every pruning
configuration of :data:`sklearn_ecprune._sweep.PRUNING_CONFIGS` prunes a deep copy of
it at every sparsity, without and with a short masked fine-tuning. Writes
``docs/benchmarks/quality.md`` (tables), ``quality.csv`` (every run) and
``quality_*.png`` (test loss against sparsity).

Usage::

    python benchmarks/bench_quality.py            # full run, < 20 minutes on 2 cores
    python benchmarks/bench_quality.py --jobs 1   # the same, in one process
    python benchmarks/bench_quality.py --quick    # smoke run, about a minute
    python benchmarks/bench_quality.py --replot   # redraw the figures from quality.csv

A ``--quick`` run writes ``quality_quick.*`` into a new temporary folder (printed at
the end) unless ``--out`` is given, so a smoke run never touches the committed results.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from joblib import Parallel, delayed
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

from sklearn_ecprune._sweep import (
    BASELINE_CONFIGS,
    DEFAULT_CONFIG,
    PRUNING_CONFIGS,
    markdown_tables,
    plot_sweep,
    run_sweep,
)
from sklearn_ecprune.datasets import load_dataset

# (label, load_dataset name, noise): the two diffusion-sorption levels are relative
# noise (std of the noise / std of the clean target); friedman's is sklearn's absolute.
DATASETS = [
    ("digits", "digits", 0.0),
    ("breast_cancer", "breast_cancer", 0.0),
    ("wine", "wine", 0.0),
    ("diabetes", "diabetes", 0.0),
    ("friedman1", "friedman", 1.0),
    ("diff-sorp-0.02", "diffusion-sorption", 0.02),
    ("diff-sorp-0.2", "diffusion-sorption", 0.2),
]
ARCHITECTURES = [(100, 64), (100, 64, 32)]
SPARSITIES = [0.5, 0.7, 0.8, 0.9, 0.95]
SEEDS = [0, 1, 2]
FINE_TUNE_EPOCHS = 5
TEST_SIZE = 0.25
# Figures: a few data sets each, both architectures side by side.
FIGURE_COLUMNS = 2
FIGURES = {
    "classification": ["digits", "breast_cancer", "wine"],
    "regression": ["diabetes", "friedman1", "diff-sorp-0.02", "diff-sorp-0.2"],
}


def _sweep_one(label, name, noise, hidden, sparsities, seeds, fine_tune, progress=None):
    """The sweep of one (data set, architecture): every configuration, seed and sparsity."""
    torch.set_num_threads(1)
    data = load_dataset(name, noise=noise, random_state=0)
    stratify = data.y if data.task == "classification" else None
    X_train, X_test, y_train, y_test = train_test_split(
        data.X, data.y, test_size=TEST_SIZE, random_state=0, stratify=stratify
    )
    return run_sweep(
        X_train,
        y_train,
        X_test,
        y_test,
        task=data.task,
        configs=PRUNING_CONFIGS,
        sparsities=sparsities,
        hidden_layer_sizes=hidden,
        seeds=seeds,
        fine_tune_epochs=fine_tune,
        dataset=label,
        progress=progress,
    )


def criteria(
    frame: pd.DataFrame, default: str = DEFAULT_CONFIG, fine_tune: int = FINE_TUNE_EPOCHS
) -> str:
    """The issue's done-when checks, computed from the frame, as markdown."""
    lines = ["## Done-when criteria", ""]
    keys = ["dataset", "architecture", "sparsity"]
    raw = frame[~frame["fine_tuned"] & (frame["sparsity"] >= 0.8)]
    stats = raw.groupby([*keys, "method"])["loss"].agg(["mean", "std"]).reset_index()
    for label, methods in (
        ("all methods", None),
        ("the baselines", [default, *BASELINE_CONFIGS]),
    ):
        part = stats if methods is None else stats[stats["method"].isin(methods)]
        best = part.loc[part.groupby(keys)["mean"].idxmin()]
        won = int((best["method"] == default).sum())
        lines.append(
            f"- Without fine-tuning, sparsity >= 0.8, against {label}: `{default}` has the "
            f"lowest mean test loss in {won} of {len(best)} cells "
            f"({100 * won / max(1, len(best)):.0f} %; needed: 80 %)."
        )
    all_raw = frame[~frame["fine_tuned"] & (frame["method"] != "dense")]
    all_stats = all_raw.groupby([*keys, "method"])["loss"].agg(["mean", "std"])
    mine_all = all_stats.xs(default, level="method")
    mag_all = all_stats.xs("magnitude", level="method")
    worse = mine_all["mean"] > mag_all["mean"] + mag_all["std"].fillna(0.0)
    lines.append(
        f"- Cells (all sparsities, no fine-tuning) where `{default}` is worse than global "
        f"magnitude by more than one standard deviation (of magnitude's loss over seeds): "
        f"{int(worse.sum())} of {len(worse)}"
        + (f": {', '.join(map(str, worse[worse].index))}" if worse.any() else "")
        + "."
    )
    digits = frame[
        (frame["dataset"] == "digits") & frame["fine_tuned"] & (frame["sparsity"].isin([0, 0.9]))
    ]
    if len(digits):
        acc = digits.groupby(["architecture", "method", "sparsity"])["score"].mean()
        for arch in digits["architecture"].unique():
            dense = acc[(arch, "dense", 0.0)]
            pruned = acc.get((arch, default, 0.9), float("nan"))
            lines.append(
                f"- digits, hidden {arch}, 90 % sparsity, {fine_tune} epochs of masked "
                f"fine-tuning: `{default}` accuracy {100 * pruned:.2f} % vs dense "
                f"{100 * dense:.2f} % (gap {100 * (dense - pruned):.2f} points; needed <= 1)."
            )
    return "\n".join(lines) + "\n"


def write_figures(frame: pd.DataFrame, out: Path, suffix: str = "") -> list[str]:
    """``quality{suffix}_{task}[_finetuned].png`` in ``out``; returns the file names."""
    figures = []
    for task, names in FIGURES.items():
        part = frame[frame["dataset"].isin(names)]
        if part.empty:
            continue
        for tuned in (False, True):
            if not (part["fine_tuned"] == tuned).any():
                continue
            path = out / f"quality{suffix}_{task}{'_finetuned' if tuned else ''}.png"
            plot_sweep(part, path, fine_tuned=tuned, ncols=FIGURE_COLUMNS)
            figures.append(path.name)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 data sets, 1 seed, fast")
    parser.add_argument(
        "--out",
        help="output folder (default: docs/benchmarks; with --quick a new temporary folder)",
    )
    parser.add_argument(
        "--replot",
        action="store_true",
        help="only redraw the figures from the quality[_quick].csv in the output folder",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=2,
        help="processes, one (data set, architecture) sweep each, one torch thread each",
    )
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")

    datasets, architectures, sparsities, seeds = DATASETS, ARCHITECTURES, SPARSITIES, SEEDS
    fine_tune, suffix = FINE_TUNE_EPOCHS, ""
    if args.quick:
        datasets = [d for d in DATASETS if d[0] in ("digits", "friedman1")]
        architectures, sparsities, seeds, fine_tune = ARCHITECTURES[:1], [0.5, 0.9], [0], 2
        suffix = "_quick"
    if args.out is not None:
        out = Path(args.out)
    elif args.quick and not args.replot:
        out = Path(tempfile.mkdtemp(prefix="bench_quality_quick_"))
    else:
        out = Path("docs/benchmarks")
    out.mkdir(parents=True, exist_ok=True)
    if args.replot:
        frame = pd.read_csv(
            out / f"quality{suffix}.csv", dtype={"dataset": str, "architecture": str}
        )
        figures = write_figures(frame, out, suffix)
        print(f"wrote {', '.join(str(out / f) for f in figures)}")
        return

    tasks = [(d, hidden) for d in datasets for hidden in architectures]
    nets_per_task = len(seeds) * len(PRUNING_CONFIGS) * len(sparsities)
    bar = tqdm(total=len(tasks) * nets_per_task, desc="pruned networks", unit="net")
    start = time.perf_counter()
    if args.jobs == 1:
        frames = []
        for (label, name, noise), hidden in tasks:
            bar.set_postfix_str(f"{label} {hidden}")
            part = _sweep_one(label, name, noise, hidden, sparsities, seeds, fine_tune, bar)
            frames.append(part)
    else:
        # One process per (data set, architecture) sweep, each on one torch thread; the
        # results do not depend on the number of jobs (every network is seeded).
        jobs = Parallel(n_jobs=args.jobs, return_as="generator_unordered")(
            delayed(_sweep_one)(label, name, noise, hidden, sparsities, seeds, fine_tune)
            for (label, name, noise), hidden in tasks
        )
        frames = []
        for part in jobs:
            frames.append(part)
            bar.update(nets_per_task)
        order = {(d[0], "-".join(map(str, h))): i for i, (d, h) in enumerate(tasks)}
        frames.sort(key=lambda f: order[(f["dataset"].iat[0], f["architecture"].iat[0])])
    bar.close()
    wall = time.perf_counter() - start
    frame = pd.concat(frames, ignore_index=True)
    frame.to_csv(out / f"quality{suffix}.csv", index=False)

    figures = write_figures(frame, out, suffix)

    configs = "\n".join(f"| {name} | `{cfg}` |" for name, cfg in PRUNING_CONFIGS.items())
    header = f"""# Pruning quality benchmark

Generated by `python benchmarks/bench_quality.py{" --quick" if args.quick else ""}` in
{wall / 60:.1f} minutes ({platform.machine()}, torch {torch.__version__}, {args.jobs}
processes of 1 thread). Do not edit by hand.

Setup: data sets {", ".join(d[0] for d in datasets)} (test split {TEST_SIZE:.0%}, fixed;
X standardised, regression targets standardised); ReLU MLPs with hidden layers
{", ".join("-".join(map(str, a)) for a in architectures)}; one dense network per
(data set, architecture, seed), seeds {seeds}, trained with Adam (lr 1e-3, batch 64,
early stopping on a 10 % validation split); every method prunes a deep copy of it,
calibrated on the training data. Sparsity counts all Linear weights (biases are
never pruned). Test loss: cross-entropy (classifiers), MSE on the standardised
target (regressors); score: accuracy or R^2. "Masked fine-tuning": {fine_tune}
epochs of Adam (lr 1e-3) on the training data, pruned weights re-zeroed after
every step. A cell is a (data set, architecture, sparsity) triple; a method wins
a cell when its mean test loss over seeds is the lowest. The default variant
is **{DEFAULT_CONFIG}**.

| name | prune configuration |
|---|---|
{configs}

Figures: {", ".join(f"[{f}]({f})" for f in figures)}.

"""
    checks = criteria(frame, fine_tune=fine_tune)
    text = header + checks + "\n## Win tables\n\n" + markdown_tables(frame)
    (out / f"quality{suffix}.md").write_text(text)
    print(checks)
    print(f"wall time {wall / 60:.1f} min; wrote {out / f'quality{suffix}.md'}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
