"""Quality benchmark: the pruning alone, and the whole fit against gradual magnitude pruning.

Every number is a fit of ``Pipeline([preprocessor, ECPrunedMLP*(...)])`` as a user writes
it, on 75/25 splits of scikit-learn's data sets, the paper's diffusion-sorption scenario
and real tables with categorical columns (``sklearn_ecprune.datasets``; tables capped at
5,000 rows), hidden layers (256, 128), seeds 0-2.

Part 1, the pruning alone (``fine_tune_epochs=0``): per (data set, seed) the dense network
is trained once (a temporary ``memory=``) and every configuration of
:data:`~sklearn_ecprune.sweep.SWEEP_CONFIGURATIONS` prunes it at every sparsity
(:func:`~sklearn_ecprune.sweep.run_sweep`).

Part 2, the whole fit at the estimator's defaults against train-time baselines at
0.8-0.98 sparsity: gradual magnitude pruning (Zhu & Gupta, the
:class:`~sklearn_ecprune.GradualMagnitudePruning` callback on the same estimator at
``sparsity=0``, no early stopping) trained for as many epochs as the default fit used in
all (dense phase and fine-tuning) and for as many as its CPU time buys, and
scikit-learn's MLP with ``early_stopping=True`` at sparsity 0. Every sparsity is
compared with the default fit's own dense network. The cost of each default fit is
compared with its dense phase alone.

Writes ``docs/benchmarks/quality.md`` (checks and tables), ``quality.csv``,
``quality_fit.csv`` and ``quality_*.png``.

Usage::

    python benchmarks/bench_quality.py            # full run, 2 processes
    python benchmarks/bench_quality.py --quick    # smoke run, a few minutes
    python benchmarks/bench_quality.py --replot   # redraw the figures from quality.csv

A ``--quick`` run writes into a new temporary folder (printed at the end) unless ``--out``
is given, so a smoke run never touches the committed results.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from tqdm.auto import tqdm

from sklearn_ecprune import GradualMagnitudePruning
from sklearn_ecprune.datasets import load_dataset
from sklearn_ecprune.sweep import (
    DEFAULT_CONFIGURATION,
    SWEEP_CONFIGURATIONS,
    SweepData,
    competing,
    evaluate,
    make_pipeline_for,
    markdown_tables,
    plot_sweep,
    run_sweep,
)

# (label, load_dataset name, noise): diffusion-sorption's noise is relative (std of the
# noise / std of the clean target), friedman's is scikit-learn's absolute one.
DATASETS = [
    ("digits", "digits", 0.0),
    ("breast_cancer", "breast_cancer", 0.0),
    ("wine", "wine", 0.0),
    ("diabetes", "diabetes", 0.0),
    ("friedman1", "friedman", 1.0),
    ("diff-sorp-0.02", "diffusion-sorption", 0.02),
    ("hdma", "hdma", 0.0),
    ("chile", "chile", 0.0),
    ("ofp_privins", "ofp_privins", 0.0),
    ("slid", "slid", 0.0),
    ("computers", "computers", 0.0),
    ("medexp", "medexp", 0.0),
]
HIDDEN = (256, 128)
MAX_ROWS = 5000
SPARSITIES = [0.5, 0.7, 0.8, 0.9, 0.95, 0.98]
FIT_SPARSITIES = [0.5, 0.8, 0.9, 0.95, 0.98]
SEEDS = [0, 1, 2]
TEST_SIZE = 0.25
# The default, the baselines and ecp-ls (the exact refit, for the cost/quality trade);
# ecp-obs (measured not to help, twice ecp-ls's cost) and the step-count ablations only
# with --ablations.
CONFIGURATIONS = [n for n, c in SWEEP_CONFIGURATIONS.items() if c.kind != "ablation"]
CONFIGURATIONS.remove("ecp-obs")
ABLATIONS = ["ecp-obs", *(n for n, c in SWEEP_CONFIGURATIONS.items() if c.kind == "ablation")]
FIGURE_COLUMNS = 4
FIGURES = {
    "classification": ["digits", "breast_cancer", "wine", "hdma", "chile", "ofp_privins"],
    "regression": ["diabetes", "friedman1", "diff-sorp-0.02", "slid", "computers", "medexp"],
}


def split(label: str, name: str, noise: float) -> SweepData:
    """The data set, capped at MAX_ROWS rows, split 75/25 (stratified for classifiers)."""
    data = load_dataset(name, noise=noise, random_state=0)
    if len(data.y) > MAX_ROWS:
        rows = np.sort(np.random.default_rng(0).choice(len(data.y), MAX_ROWS, replace=False))
        X = data.X.iloc[rows] if hasattr(data.X, "iloc") else data.X[rows]
        data = data._replace(X=X, y=data.y[rows])
    return SweepData.from_dataset(data, test_size=TEST_SIZE, random_state=0, name=label)


def sweep_one(label, name, noise, sparsities, seeds, configurations):
    """Part 1 for one data set, in one process with one torch thread."""
    torch.set_num_threads(1)
    return run_sweep(
        split(label, name, noise),
        configurations=configurations,
        sparsities=sparsities,
        seeds=seeds,
        estimator_params={"hidden_layer_sizes": HIDDEN},
    )


def fit_one(label, name, noise, seed, sparsities):
    """Part 2 for one (data set, seed): default fits, GMP and scikit-learn's MLP."""
    torch.set_num_threads(1)
    data = split(label, name, noise)
    X_train, X_test, y_train, y_test = data.X_train, data.X_test, data.y_train, data.y_test
    task, prepare = data.task, data.preprocessor
    rows = []

    def record(method, sparsity, model, seconds, epochs, **extra):
        loss, score = evaluate(model, X_test, y_test, task=task, y_train=y_train)
        rows.append(
            dict(dataset=label, task=task, seed=seed, method=method, sparsity=sparsity,
                 loss=loss, score=score, seconds=seconds, epochs=epochs, **extra)
        )  # fmt: skip

    def timed_fit(model):
        start = time.process_time()
        model.fit(X_train, y_train)
        return model, time.process_time() - start

    with tempfile.TemporaryDirectory(prefix="ecprune-memory-") as cache:
        base = make_pipeline_for(
            task, prepare, hidden_layer_sizes=HIDDEN, random_state=seed, memory=cache
        )
        dense, dense_seconds = timed_fit(clone(base).set_params(net__sparsity=0.0))
        dense_epochs = dense[-1].n_iter_
        record("dense", 0.0, dense, dense_seconds, dense_epochs)
        _, restore_seconds = timed_fit(clone(base).set_params(net__sparsity=0.0))
        mlp = MLPClassifier if task == "classification" else MLPRegressor
        sk, sk_seconds = timed_fit(
            make_pipeline(
                clone(prepare),
                mlp(hidden_layer_sizes=HIDDEN, early_stopping=True, random_state=seed),
            )
        )
        record("sklearn-mlp", 0.0, sk, sk_seconds, sk[-1].n_iter_)
        for sparsity in sparsities:
            model, seconds = timed_fit(clone(base).set_params(net__sparsity=sparsity))
            after = max(0.0, seconds - restore_seconds)
            epochs = len(model[-1].history_)  # dense and fine-tuning
            record(
                "default", sparsity, model, dense_seconds + after, epochs,
                cost_ratio=(dense_seconds + after) / dense_seconds,
            )  # fmt: skip
            gmp = make_pipeline_for(
                task,
                prepare,
                hidden_layer_sizes=HIDDEN,
                random_state=seed,
                sparsity=0.0,
                early_stopping=False,
                max_epochs=epochs,
                n_iter_no_change=epochs,
                callbacks=[("gmp", GradualMagnitudePruning(final_sparsity=sparsity))],
            )
            gmp, gmp_seconds = timed_fit(gmp)
            record("gmp", sparsity, gmp, gmp_seconds, gmp[-1].n_iter_)
            # The same CPU: GMP's epochs scaled by the measured ratio of the two fits.
            budget = max(1, round(epochs * (dense_seconds + after) / gmp_seconds))
            gmp_cpu = clone(gmp).set_params(
                net__max_epochs=budget, net__n_iter_no_change=budget
            )  # fmt: skip
            gmp_cpu, cpu_seconds = timed_fit(gmp_cpu)
            record("gmp-cpu", sparsity, gmp_cpu, cpu_seconds, gmp_cpu[-1].n_iter_)
    return pd.DataFrame(rows)


def pruning_checks(frame: pd.DataFrame, default: str = DEFAULT_CONFIGURATION) -> list[str]:
    """Part 1's checks: wins at sparsity >= 0.8, the ratio to ecp-ls, against magnitude."""
    keys = ["dataset", "architecture", "sparsity"]
    high = frame[(frame["sparsity"] >= 0.8) & (frame["method"] != "dense")]
    stats = high.groupby([*keys, "method"])["loss"].agg(["mean", "std"]).reset_index()
    lines = []
    baselines = [default, *(n for n, c in SWEEP_CONFIGURATIONS.items() if c.kind == "baseline")]
    for label, methods in (
        ("the baselines", baselines),
        ("the baselines and distinct methods (no ablations)", competing(stats["method"])),
    ):
        part = stats[stats["method"].isin(methods)]
        best = part.loc[part.groupby(keys)["mean"].idxmin()]
        won, n_cells = int((best["method"] == default).sum()), len(best)
        lines.append(
            f"- Pruning alone, sparsity >= 0.8, against {label}: `{default}` has the lowest "
            f"mean test loss in {won} of {n_cells} cells ({100 * won / max(1, n_cells):.0f} %)."
        )
    if "ecp-ls" in set(stats["method"]):
        means = stats.set_index([*keys, "method"])["mean"].unstack("method")
        ratio = (means[default] / means["ecp-ls"]).dropna()
        lines.append(
            f"- Pruning alone, sparsity >= 0.8: median test-loss ratio of `{default}` to "
            f"`ecp-ls` {ratio.median():.3f} over {len(ratio)} cells (worst {ratio.max():.3f})."
        )
    every = frame[frame["method"] != "dense"].groupby([*keys, "method"])["loss"]
    every = every.agg(["mean", "std"])
    dense = frame[frame["method"] == "dense"].groupby(["dataset", "architecture"])["loss"].mean()
    mine, magnitude = every.xs(default, level="method"), every.xs("magnitude", level="method")
    dense_here = dense.reindex(magnitude.index.droplevel("sparsity")).to_numpy()
    regularises = magnitude["mean"].to_numpy() < dense_here
    worse = (mine["mean"] > magnitude["mean"] + magnitude["std"].fillna(0.0))[~regularises]
    lines.append(
        f"- Pruning alone: cells where `{default}` is worse than global magnitude by more "
        "than one standard deviation, among those where magnitude's loss is not below the "
        f"dense network's: {int(worse.sum())} of {len(worse)}"
        + (f" ({', '.join(map(str, worse[worse].index))})" if worse.any() else "")
        + "."
    )
    seconds = frame[frame["method"] != "dense"].groupby("method")["seconds"].sum()
    lines.append(
        "- Pruning time over the whole part (restore + prune), per configuration: "
        + ", ".join(f"`{m}` {s:.0f} s" for m, s in seconds.sort_values().items())
        + "."
    )
    return lines


def fit_checks(fits: pd.DataFrame) -> tuple[list[str], str]:
    """Part 2's checks and its table of test losses (default, GMP, dense, scikit-learn)."""
    keys = ["dataset", "sparsity"]
    stats = fits.groupby([*keys, "method"])["loss"].agg(["mean", "std"]).unstack("method")
    has_cpu = ("mean", "gmp-cpu") in stats.columns
    cells = pd.DataFrame(
        {
            "default": stats[("mean", "default")],
            "gmp": stats[("mean", "gmp")],
            "std_gmp": stats[("std", "gmp")].fillna(0.0),
            "gmp_cpu": stats[("mean", "gmp-cpu")] if has_cpu else stats[("mean", "gmp")],
        }
    ).dropna()
    cells = cells[cells.index.get_level_values("sparsity") >= 0.8]
    wins = cells["default"] < cells["gmp"]
    worse = cells["default"] > cells["gmp"] + cells["std_gmp"]
    ratio = cells["default"] / cells["gmp"]
    lines = [
        f"- Whole fit against GMP at the same total epochs, sparsity 0.8-0.98: lower mean "
        f"test loss in {int(wins.sum())} of {len(cells)} cells ({100 * wins.mean():.0f} %); "
        f"worse by more than one standard deviation (of GMP's loss) in {int(worse.sum())}; "
        f"median loss ratio {ratio.median():.3f}, worst {ratio.max():.3f}."
    ]
    if has_cpu:
        cpu_ratio = cells["default"] / cells["gmp_cpu"]
        lines.append(
            f"- Whole fit against GMP given the same CPU time (its epochs scaled by the "
            f"measured CPU ratio), sparsity 0.8-0.98: lower mean test loss in "
            f"{int((cpu_ratio < 1).sum())} of {len(cells)} cells "
            f"({100 * (cpu_ratio < 1).mean():.0f} %); median loss ratio "
            f"{cpu_ratio.median():.3f}, worst {cpu_ratio.max():.3f}."
        )
    mean = fits.groupby(["dataset", "sparsity", "method"])["loss"].mean()
    own = mean.xs("default", level="method").unstack("sparsity")
    dense_loss = mean.xs("dense", level="method").droplevel("sparsity")
    to_dense = own.drop(columns=0.0, errors="ignore").div(dense_loss, axis=0)
    for sparsity in to_dense.columns:
        column = to_dense[sparsity].dropna()
        over = column[column > 1.01]
        lines.append(
            f"- Sparsity {sparsity:g} against the own dense network (mean test-loss ratio): "
            f"median {column.median():.3f}, worst {column.max():.3f}; more than 1 % worse "
            f"on {len(over)} of {len(column)} data sets"
            + (f" ({', '.join(f'{d} {r:.3f}' for d, r in over.items())})" if len(over) else "")
            + "."
        )
    accuracy = fits.groupby([*keys, "method"])["score"].mean()
    if ("digits", 0.9, "default") in accuracy.index:
        gap = accuracy[("digits", 0.0, "dense")] - accuracy[("digits", 0.9, "default")]
        lines.append(
            f"- digits at sparsity 0.9: accuracy {100 * accuracy[('digits', 0.9, 'default')]:.2f} "
            f"% against the dense network's {100 * accuracy[('digits', 0.0, 'dense')]:.2f} % "
            f"(a gap of {100 * gap:.2f} points)."
        )
    zero = fits[fits["sparsity"] == 0].groupby(["dataset", "method"])["loss"].mean().unstack()
    not_worse = zero["dense"] <= zero["sklearn-mlp"]
    lines.append(
        f"- Sparsity 0: the default's test loss is no worse than scikit-learn's MLP with "
        f"early_stopping=True on {int(not_worse.sum())} of {len(zero)} data sets"
        + (f" (worse on {', '.join(zero.index[~not_worse])})" if (~not_worse).any() else "")
        + "."
    )
    cost = fits.loc[fits["method"] == "default", "cost_ratio"]
    lines.append(
        f"- Cost of the whole default fit over its dense phase alone (CPU time): median "
        f"{cost.median():.2f}, 90th percentile {cost.quantile(0.9):.2f}, max {cost.max():.2f}; "
        f"{100 * (cost <= 1.25).mean():.0f} % of the fits at most 1.25."
    )
    table = cells.assign(ratio=ratio, win=wins).round(4)
    header = ["data set", "sparsity", "default", "GMP", "GMP std", "ratio", "default wins",
              "GMP, same CPU"]  # fmt: skip
    body = [
        [d, f"{s:g}", f"{r.default:.4g}", f"{r.gmp:.4g}", f"{r.std_gmp:.2g}", f"{r.ratio:.3f}",
         "yes" if r.win else "no", f"{r.gmp_cpu:.4g}" if has_cpu else ""]
        for (d, s), r in table.iterrows()
    ]  # fmt: skip
    lines_table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines_table += ["| " + " | ".join(row) + " |" for row in body]
    zero_rows = [
        "| data set | dense (default) | scikit-learn MLP, early stopping |",
        "|---|---|---|",
    ]
    zero_rows += [
        f"| {d} | {r['dense']:.4g} | {r['sklearn-mlp']:.4g} |" for d, r in zero.iterrows()
    ]
    return lines, "\n".join(lines_table) + "\n\n" + "\n".join(zero_rows) + "\n"


def write_figures(frame: pd.DataFrame, out: Path, suffix: str = "") -> list[str]:
    """``quality{suffix}_{task}.png`` in ``out``; returns the file names."""
    figures = []
    for task, names in FIGURES.items():
        part = frame[frame["dataset"].isin(names)]
        if part.empty:
            continue
        path = out / f"quality{suffix}_{task}.png"
        methods = [m for m in dict.fromkeys(part["method"]) if m != "dense"]
        plot_sweep(part, path, methods=methods, ncols=FIGURE_COLUMNS, metrics=("loss", "score"))
        figures.append(path.name)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 data sets, 1 seed")
    parser.add_argument("--ablations", action="store_true", help="also ecp-obs and step counts")
    parser.add_argument("--out", help="output folder (default: docs/benchmarks)")
    parser.add_argument("--replot", action="store_true", help="only redraw the figures")
    parser.add_argument("--jobs", type=int, default=2, help="processes (one torch thread each)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    datasets, sparsities, fit_sparsities, seeds = DATASETS, SPARSITIES, FIT_SPARSITIES, SEEDS
    configurations = CONFIGURATIONS + (ABLATIONS if args.ablations else [])
    suffix = ""
    if args.quick:
        datasets = [d for d in DATASETS if d[0] in ("digits", "slid")]
        sparsities, fit_sparsities, seeds, suffix = [0.5, 0.9], [0.9], [0], "_quick"
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
        print("wrote", ", ".join(write_figures(frame, out, suffix)))
        return

    start = time.perf_counter()
    jobs = [
        delayed(sweep_one)(label, name, noise, sparsities, seeds, configurations)
        for label, name, noise in datasets
    ] + [
        delayed(fit_one)(label, name, noise, seed, fit_sparsities)
        for label, name, noise in datasets
        for seed in seeds
    ]
    results = list(
        tqdm(
            Parallel(n_jobs=args.jobs, return_as="generator")(jobs),
            total=len(jobs),
            desc="sweeps and fits",
        )
    )
    wall = time.perf_counter() - start
    frame = pd.concat(results[: len(datasets)], ignore_index=True)
    fits = pd.concat(results[len(datasets) :], ignore_index=True)
    frame.to_csv(out / f"quality{suffix}.csv", index=False)
    fits.to_csv(out / f"quality{suffix}_fit.csv", index=False)
    figures = write_figures(frame, out, suffix)

    rows = "\n".join(
        f"| {name} | {SWEEP_CONFIGURATIONS[name].kind} | {SWEEP_CONFIGURATIONS[name].description} "
        f"| `{dict(SWEEP_CONFIGURATIONS[name].params)}` |"
        for name in configurations
    )
    fit_lines, fit_table = fit_checks(fits)
    checks = "\n".join(["## Checks", "", *pruning_checks(frame), *fit_lines]) + "\n"
    header = f"""# Quality benchmark

Generated by `python benchmarks/bench_quality.py{" --quick" if args.quick else ""}` in
{wall / 60:.1f} minutes ({platform.machine()}, torch {torch.__version__}, {args.jobs}
processes of 1 thread). Do not edit by hand.

Data sets: {", ".join(d[0] for d in datasets)} (75/25 split, fixed; tables capped at
{MAX_ROWS} rows; `make_preprocessor`: scaling, imputation and one-hot encoding). Every fit
is a pipeline of that preprocessor and `ECPrunedMLPClassifier`/`Regressor` with hidden
layers {"-".join(map(str, HIDDEN))}, seeds {seeds}. Test loss: log-loss (classifiers);
MSE divided by the variance of the training target (regressors).

Part 1, the pruning alone: the estimator's defaults but `fine_tune_epochs=0` and the
configuration below; each seed's dense network is trained once and restored for every
configuration (`memory=`). A cell is a (data set, architecture, sparsity); a method wins
a cell with the lowest mean test loss over seeds; ablations do not compete.

| name | kind | what | estimator parameters |
|---|---|---|---|
{rows}

Part 2, the whole fit: the estimator's defaults at sparsities {fit_sparsities}, against
gradual magnitude pruning (`GradualMagnitudePruning` on the same estimator at
`sparsity=0`, without early stopping) for as many epochs as the default fit used and for
as many as the default fit's CPU time buys (its epochs scaled by the measured CPU ratio),
against the own dense network, and at sparsity 0 against scikit-learn's MLP with
`early_stopping=True`.

Figures (part 1): {", ".join(f"[{f}]({f})" for f in figures)}.

"""
    text = (
        header
        + checks
        + "\n## Part 2: whole fit against GMP (mean test loss over seeds)\n\n"
        + fit_table
        + "\n## Part 1: tables\n\n"
        + markdown_tables(frame, methods=configurations)
    )
    (out / f"quality{suffix}.md").write_text(text)
    print(checks)
    print(f"wall time {wall / 60:.1f} min; wrote {out / f'quality{suffix}.md'}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
