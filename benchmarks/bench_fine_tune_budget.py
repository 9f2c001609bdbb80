"""How many fine-tuning epochs a fit needs, by sparsity: the measurement behind ``"auto"``.

On real tables (``sklearn_ecprune.datasets``: three the quality benchmark does not use and
three it does, capped at 5,000 rows, the 75/25 splits of ``bench_quality.py``), hidden
layers (256, 128), seeds 0-1: per (table, seed) the dense network is trained once (a
temporary ``memory=``), then every sparsity is pruned from it and fine-tuned with
``fine_tune_epochs`` set to a multiple of a share of the dense epochs. The fine-tuning
stops on its own rule (the validation score where the fit holds rows out), so a larger
cap costs only the epochs it uses. Per cell: the test loss, the fine-tuning epochs used
and the CPU time of the pruning and fine-tuning (one torch thread).

Usage::

    python benchmarks/bench_fine_tune_budget.py            # 6 tables x 2 seeds, 2 processes
    python benchmarks/bench_fine_tune_budget.py --quick    # 2 tables, 1 seed
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from joblib import Parallel, delayed
from sklearn.base import clone

sys.path.insert(0, str(Path(__file__).parent))
from bench_quality import HIDDEN, split

from sklearn_ecprune.datasets import make_preprocessor
from sklearn_ecprune.sweep import evaluate, make_pipeline_for

TABLES = ["hi_insurance", "diamonds", "wages_panel", "hdma", "slid", "medexp"]
SPARSITIES = [0.5, 0.8, 0.9, 0.95, 0.98]
# Caps as multiples of a fifth of the dense epochs (the "auto" of 0.1.x).
SHARES = [0.2, 0.5, 1.0, 2.0]


def one(name: str, seed: int) -> list[dict]:
    """Every (sparsity, share) on one (table, seed)."""
    torch.set_num_threads(1)
    data, (X_train, X_test, y_train, y_test) = split(name, 0.0)
    rows = []
    with tempfile.TemporaryDirectory(prefix="ecprune-budget-") as cache:
        base = make_pipeline_for(
            data.task, make_preprocessor(data), hidden_layer_sizes=HIDDEN,
            random_state=seed, memory=cache,
        )  # fmt: skip
        dense = clone(base).set_params(net__sparsity=0.0).fit(X_train, y_train)
        dense_epochs = dense[-1].n_iter_
        loss, _ = evaluate(dense, X_test, y_test, task=data.task, y_train=y_train)
        rows.append(dict(dataset=name, seed=seed, sparsity=0.0, share=0.0, loss=loss,
                         epochs=0, cap=0, seconds=0.0, dense_epochs=dense_epochs))  # fmt: skip
        for sparsity in SPARSITIES:
            for share in SHARES:
                cap = max(2, round(share * dense_epochs))
                model = clone(base).set_params(net__sparsity=sparsity, net__fine_tune_epochs=cap)
                start = time.process_time()
                model.fit(X_train, y_train)
                seconds = time.process_time() - start
                loss, _ = evaluate(model, X_test, y_test, task=data.task, y_train=y_train)
                rows.append(dict(dataset=name, seed=seed, sparsity=sparsity, share=share,
                                 loss=loss, epochs=model[-1].n_fine_tune_iter_, cap=cap,
                                 seconds=seconds, dense_epochs=dense_epochs))  # fmt: skip
    return rows


def summary(frame: pd.DataFrame) -> str:
    """Per sparsity and share: loss ratio to the smallest share, wins, epochs used."""
    pruned = frame[frame["sparsity"] > 0]
    keys = ["dataset", "seed", "sparsity"]
    loss = pruned.pivot_table(index=keys, columns="share", values="loss")
    used = pruned.groupby(["sparsity", "share"])[["epochs", "cap", "seconds"]].median()
    dense = frame[frame["sparsity"] == 0].set_index(["dataset", "seed"])["loss"]
    smallest = min(SHARES)
    lines = [
        f"sparsity share  median loss ratio to share {smallest:.1f}  wins  vs dense  "
        "median epochs used/cap  CPU s"
    ]
    for sparsity in SPARSITIES:
        part = loss.xs(sparsity, level="sparsity")
        for share in SHARES:
            ratio = part[share] / part[smallest]
            to_dense = part[share] / dense.reindex(part.index)
            row = used.loc[(sparsity, share)]
            lines.append(
                f"{sparsity:8.2f} {share:5.1f}  {ratio.median():29.3f}  "
                f"{int((ratio < 1).sum()):2d}/{len(ratio)}  {to_dense.median():8.3f}  "
                f"{row['epochs']:10.0f}/{row['cap']:.0f}  {row['seconds']:12.1f}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="CSV of every fit")
    args = parser.parse_args(argv)
    tables, seeds = (TABLES[:2], [0]) if args.quick else (TABLES, [0, 1])
    parts = Parallel(n_jobs=args.jobs)(delayed(one)(t, s) for t in tables for s in seeds)
    frame = pd.DataFrame([row for part in parts for row in part])
    if args.out is not None:
        frame.to_csv(args.out, index=False)
    print(summary(frame))


if __name__ == "__main__":
    main()
