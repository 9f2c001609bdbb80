"""Pruning quality benchmark: test loss against sparsity, through the estimators.

Every number is a fit of ``Pipeline([StandardScaler(), ECPrunedMLP*(...)])`` as a user
writes it (:func:`sklearn_ecprune.cli._sweep.run_sweep`): per (data set, architecture,
seed) the dense network trains once (a temporary ``memory=``), and every configuration
of :data:`~sklearn_ecprune.cli._configurations.SWEEP_CONFIGURATIONS` prunes it at every
sparsity, without fine-tuning (``fine_tune_epochs=0``): the quality of the pruning
itself. Writes ``docs/benchmarks/quality.md`` (tables and the done-when checks),
``quality.csv`` (every fit) and ``quality_*.png``.

Usage::

    python benchmarks/bench_quality.py            # full run, 2 processes
    python benchmarks/bench_quality.py --quick    # smoke run, about a minute
    python benchmarks/bench_quality.py --replot   # redraw the figures from quality.csv

A ``--quick`` run writes ``quality_quick.*`` into a new temporary folder (printed at the
end) unless ``--out`` is given, so a smoke run never touches the committed results.
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

from sklearn_ecprune.cli._configurations import DEFAULT_CONFIGURATION, SWEEP_CONFIGURATIONS
from sklearn_ecprune.cli._plots import plot_sweep
from sklearn_ecprune.cli._sweep import competing, run_sweep
from sklearn_ecprune.cli._tables import markdown_tables
from sklearn_ecprune.datasets import load_dataset

# (label, load_dataset name, noise): diffusion-sorption's noise is relative (std of the
# noise / std of the clean target), friedman's is scikit-learn's absolute one.
DATASETS = [
    ("digits", "digits", 0.0),
    ("breast_cancer", "breast_cancer", 0.0),
    ("wine", "wine", 0.0),
    ("diabetes", "diabetes", 0.0),
    ("friedman1", "friedman", 1.0),
    ("diff-sorp-0.02", "diffusion-sorption", 0.02),
    ("diff-sorp-0.2", "diffusion-sorption", 0.2),
]
ARCHITECTURES = [(100,), (256, 128)]
SPARSITIES = [0.5, 0.7, 0.8, 0.9, 0.95, 0.98]
SEEDS = [0, 1, 2]
TEST_SIZE = 0.25
# The default, the baselines and this project's other methods; the step-count
# ablations of the default only with --ablations.
CONFIGURATIONS = [n for n, c in SWEEP_CONFIGURATIONS.items() if c.kind != "ablation"]
ABLATIONS = [n for n, c in SWEEP_CONFIGURATIONS.items() if c.kind == "ablation"]
FIGURE_COLUMNS = 4
FIGURES = {
    "classification": ["digits", "breast_cancer", "wine"],
    "regression": ["diabetes", "friedman1", "diff-sorp-0.02", "diff-sorp-0.2"],
}


def sweep_one(label, name, noise, hidden, sparsities, seeds, configurations):
    """The sweep of one (data set, architecture), in one process with one torch thread."""
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
        configurations=configurations,
        sparsities=sparsities,
        seeds=seeds,
        estimator_params={"hidden_layer_sizes": hidden},
        dataset=label,
    )


def criteria(frame: pd.DataFrame, default: str = DEFAULT_CONFIGURATION) -> str:
    """The done-when checks of the issues, computed from the frame, as markdown."""
    keys = ["dataset", "architecture", "sparsity"]
    high = frame[(frame["sparsity"] >= 0.8) & (frame["method"] != "dense")]
    stats = high.groupby([*keys, "method"])["loss"].agg(["mean", "std"]).reset_index()
    lines = ["## Checks", ""]
    baselines = [default, *(n for n, c in SWEEP_CONFIGURATIONS.items() if c.kind == "baseline")]
    for label, methods in (
        ("the baselines", baselines),
        ("the baselines and distinct methods (no ablations)", competing(stats["method"])),
    ):
        part = stats[stats["method"].isin(methods)]
        best = part.loc[part.groupby(keys)["mean"].idxmin()]
        won = int((best["method"] == default).sum())
        lines.append(
            f"- Sparsity >= 0.8, no fine-tuning, against {label}: `{default}` has the "
            f"lowest mean test loss in {won} of {len(best)} cells "
            f"({100 * won / max(1, len(best)):.0f} %)."
        )
    if "ecp-ls" in set(stats["method"]):
        means = stats.set_index([*keys, "method"])["mean"].unstack("method")
        ratio = (means[default] / means["ecp-ls"]).dropna()
        lines.append(
            f"- Sparsity >= 0.8: median test-loss ratio of `{default}` to `ecp-ls` "
            f"{ratio.median():.3f} over {len(ratio)} cells (worst {ratio.max():.3f})."
        )
    every = frame[frame["method"] != "dense"].groupby([*keys, "method"])["loss"]
    every = every.agg(["mean", "std"])
    dense = frame[frame["method"] == "dense"].groupby(["dataset", "architecture"])["loss"].mean()
    mine, magnitude = every.xs(default, level="method"), every.xs("magnitude", level="method")
    regularises = (
        magnitude["mean"] < dense.reindex(magnitude.index.droplevel("sparsity")).to_numpy()
    )
    worse = mine["mean"] > magnitude["mean"] + magnitude["std"].fillna(0.0)
    counted = worse[~regularises]
    lines.append(
        f"- Cells where `{default}` is worse than global magnitude by more than one "
        f"standard deviation, among those where magnitude's loss is not below the dense "
        f"network's: {int(counted.sum())} of {len(counted)}"
        + (f" ({', '.join(map(str, counted[counted].index))})" if counted.any() else "")
        + "."
    )
    seconds = frame[frame["method"] != "dense"].groupby("method")["seconds"].sum()
    dense_seconds = frame.loc[frame["method"] == "dense", "seconds"].sum()
    lines.append(
        f"- Time: dense fits {dense_seconds:.0f} s; pruning fits (restore + prune), per "
        "configuration: "
        + ", ".join(f"`{m}` {s:.0f} s" for m, s in seconds.sort_values().items())
        + "."
    )
    return "\n".join(lines) + "\n"


def write_figures(frame: pd.DataFrame, out: Path, suffix: str = "") -> list[str]:
    """``quality{suffix}_{task}.png`` in ``out``; returns the file names."""
    figures = []
    for task, names in FIGURES.items():
        part = frame[frame["dataset"].isin(names)]
        if part.empty:
            continue
        path = out / f"quality{suffix}_{task}.png"
        methods = [m for m in dict.fromkeys(part["method"]) if m != "dense"]
        plot_sweep(part, path, methods=methods, ncols=FIGURE_COLUMNS)
        figures.append(path.name)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 data sets, 1 seed, fast")
    parser.add_argument("--ablations", action="store_true", help="also the step-count ablations")
    parser.add_argument(
        "--out",
        help="output folder (default: docs/benchmarks; with --quick a new temporary folder)",
    )
    parser.add_argument(
        "--replot", action="store_true", help="only redraw the figures from the CSV"
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
    configurations = CONFIGURATIONS + (ABLATIONS if args.ablations else [])
    suffix = ""
    if args.quick:
        datasets = [d for d in DATASETS if d[0] in ("digits", "friedman1")]
        architectures, sparsities, seeds, suffix = ARCHITECTURES[:1], [0.5, 0.9], [0], "_quick"
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
    start = time.perf_counter()
    # One process per (data set, architecture) sweep, each on one torch thread; the
    # results do not depend on the number of jobs (every fit is seeded).
    jobs = Parallel(n_jobs=args.jobs, return_as="generator_unordered")(
        delayed(sweep_one)(label, name, noise, hidden, sparsities, seeds, configurations)
        for (label, name, noise), hidden in tasks
    )
    frames = list(tqdm(jobs, total=len(tasks), desc="(data set, architecture) sweeps"))
    order = {(d[0], "-".join(map(str, h))): i for i, (d, h) in enumerate(tasks)}
    frames.sort(key=lambda f: order[(f["dataset"].iat[0], f["architecture"].iat[0])])
    wall = time.perf_counter() - start
    frame = pd.concat(frames, ignore_index=True)
    frame.to_csv(out / f"quality{suffix}.csv", index=False)
    figures = write_figures(frame, out, suffix)

    rows = "\n".join(
        f"| {name} | {SWEEP_CONFIGURATIONS[name].kind} | {SWEEP_CONFIGURATIONS[name].description} "
        f"| `{dict(SWEEP_CONFIGURATIONS[name].params)}` |"
        for name in configurations
    )
    header = f"""# Pruning quality benchmark

Generated by `python benchmarks/bench_quality.py{" --quick" if args.quick else ""}` in
{wall / 60:.1f} minutes ({platform.machine()}, torch {torch.__version__}, {args.jobs}
processes of 1 thread). Do not edit by hand.

Setup: data sets {", ".join(d[0] for d in datasets)} (test split {TEST_SIZE:.0%}, fixed);
every fit is `Pipeline([StandardScaler(), ECPrunedMLPClassifier/Regressor(...)])` with
the estimator's defaults except `hidden_layer_sizes` (
{", ".join("-".join(map(str, a)) for a in architectures)}), `random_state` (seeds
{seeds}) and the configuration below, with `fine_tune_epochs=0`: the pruning alone. The
dense network of each (data set, architecture, seed) is trained once and restored for
every configuration (`memory=`). Test loss: log-loss (classifiers); MSE divided by the
variance of the training target (regressors). A cell is a (data set, architecture,
sparsity) triple; a method wins a cell when its mean test loss over seeds is the
lowest; the ablations are shown in the tables but do not compete.

| name | kind | what | estimator parameters |
|---|---|---|---|
{rows}

Figures: {", ".join(f"[{f}]({f})" for f in figures)}.

"""
    checks = criteria(frame)
    text = header + checks + "\n## Tables\n\n" + markdown_tables(frame, methods=configurations)
    (out / f"quality{suffix}.md").write_text(text)
    print(checks)
    print(f"wall time {wall / 60:.1f} min; wrote {out / f'quality{suffix}.md'}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
