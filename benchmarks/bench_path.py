"""The sparsity path against pruning every sparsity from the dense network.

What ``ECPrunedMLPClassifierCV``/``RegressorCV`` refit (the path: one dense fit, then
each sparsity warm-started from the previous pruned model) against what a
``GridSearchCV`` over ``sparsity`` with ``memory=`` refits (each sparsity pruned from the
same dense network, restored from the cache), on the data sets of ``bench_quality.py``
(the same 75/25 splits, hidden layers (256, 128), the estimators' defaults), seeds 0-1,
sparsities 0.5, 0.8, 0.9, 0.95, 0.98. Per cell: the test loss of the two models at a
sparsity, and the CPU time (one torch thread) of the whole path against that of the
five ``memory=`` fits (the first one training the dense network).

Usage::

    python benchmarks/bench_path.py             # 12 data sets x 2 seeds, 2 processes
    python benchmarks/bench_path.py --quick     # 2 data sets, 1 seed
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from sklearn.base import clone

sys.path.insert(0, str(Path(__file__).parent))
from bench_quality import DATASETS, HIDDEN, split

from sklearn_ecprune.datasets import make_preprocessor
from sklearn_ecprune.sweep import evaluate, make_pipeline_for

SPARSITIES = [0.5, 0.8, 0.9, 0.95, 0.98]


def one(label: str, name: str, noise: float, seed: int) -> list[dict]:
    """Both ways on one (data set, seed): test loss at every sparsity, CPU seconds."""
    torch.set_num_threads(1)
    data, (X_train, X_test, y_train, y_test) = split(name, noise)
    rows = []

    def record(method, sparsity, model, seconds):
        loss, score = evaluate(model, X_test, y_test, task=data.task, y_train=y_train)
        rows.append(dict(dataset=label, seed=seed, method=method, sparsity=sparsity,
                         loss=loss, score=score, seconds=seconds))  # fmt: skip

    base = make_pipeline_for(
        data.task, make_preprocessor(data), hidden_layer_sizes=HIDDEN, random_state=seed
    )
    with tempfile.TemporaryDirectory(prefix="ecprune-path-") as cache:
        for sparsity in SPARSITIES:
            start = time.process_time()
            model = clone(base).set_params(net__sparsity=sparsity, net__memory=cache)
            model.fit(X_train, y_train)
            record("grid+memory", sparsity, model, time.process_time() - start)
    # The path, as a user writes it: warm-started fits of the same pipeline.
    path = clone(base)
    for step, sparsity in enumerate(SPARSITIES):
        start = time.process_time()
        path.set_params(net__sparsity=sparsity, net__warm_start=step > 0).fit(X_train, y_train)
        record("path", sparsity, path, time.process_time() - start)
    return rows


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="write the rows as CSV here")
    args = parser.parse_args(argv)
    datasets = DATASETS[:2] if args.quick else DATASETS
    seeds = [0] if args.quick else [0, 1]
    jobs = [(label, name, noise, seed) for label, name, noise in datasets for seed in seeds]
    results = Parallel(n_jobs=args.n_jobs)(delayed(one)(*job) for job in jobs)
    frame = pd.DataFrame([row for rows in results for row in rows])
    if args.out is not None:
        frame.to_csv(args.out, index=False)
    means = frame.groupby(["dataset", "sparsity", "method"])[["loss", "seconds"]].mean()
    table = means["loss"].unstack("method")
    table["ratio"] = table["path"] / table["grid+memory"]
    table["path wins"] = np.where(table["path"] < table["grid+memory"], "yes", "no")
    print(table.round(4).to_markdown())
    for sparsities in ([0.95, 0.98], [0.8, 0.9], [0.5]):
        part = table[table.index.get_level_values("sparsity").isin(sparsities)]
        wins = int((part["path"] < part["grid+memory"]).sum())
        print(
            f"\nsparsity {sparsities}: the path has the lower mean test loss in {wins} of "
            f"{len(part)} cells; median loss ratio {part['ratio'].median():.3f}"
        )
    seconds = frame.groupby(["dataset", "seed", "method"])["seconds"].sum().unstack("method")
    ratio = seconds["path"] / seconds["grid+memory"]
    print(
        f"CPU of the whole path / the five memory= fits: median {ratio.median():.2f}x "
        f"(range {ratio.min():.2f}-{ratio.max():.2f}x) over {len(ratio)} (data set, seed)"
    )
    # A warm step 0.9 -> 0.95 against a fresh fit at 0.95 whose dense phase memory=
    # restores (its cost: the fine-tuning of a fresh fit, and the restore).
    at = frame[frame["sparsity"] == 0.95].set_index(["dataset", "seed", "method"])
    step = at["seconds"].unstack("method")
    loss = at["loss"].unstack("method")
    cost = step["path"] / step["grid+memory"]
    print(
        f"Warm step 0.9 -> 0.95 / fresh fit at 0.95 with its dense phase restored: CPU "
        f"median {cost.median():.2f}x (max {cost.max():.2f}x); test loss no worse in "
        f"{int((loss['path'] <= loss['grid+memory']).sum())} of {len(loss)} (data set, seed)"
    )
    return frame


if __name__ == "__main__":
    main()
