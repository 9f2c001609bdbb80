"""early_stopping=True against False on the quality benchmark's tables, by their size.

The measurement behind ``early_stopping="auto"`` (a hold-out only where it gives at least
30 validation rows): per data set of ``bench_quality.py`` (the same 75/25 splits, hidden
layers (256, 128), the estimators' defaults otherwise), the mean test loss over seeds
0-2 of the dense fit and of the 0.8-sparse fit, with and without the hold-out, and
their CPU time (one torch thread).

Usage::

    python benchmarks/bench_early_stopping.py                       # the eight tables
    python benchmarks/bench_early_stopping.py --datasets wine,digits
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_quality import DATASETS, HIDDEN, split

from sklearn_ecprune.datasets import make_preprocessor
from sklearn_ecprune.sweep import evaluate, make_pipeline_for

TABLES = "digits,breast_cancer,wine,diabetes,friedman1,hdma,chile,slid"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=TABLES, help="comma-separated labels")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    wanted = args.datasets.split(",")
    for label, name, noise in DATASETS:
        if label not in wanted:
            continue
        data, (X_train, X_test, y_train, y_test) = split(name, noise)
        for sparsity in (0.0, 0.8):
            result = {}
            for early_stopping in (True, False):
                losses, seconds = [], []
                for seed in (0, 1, 2):
                    model = make_pipeline_for(
                        data.task, make_preprocessor(data), hidden_layer_sizes=HIDDEN,
                        random_state=seed, sparsity=sparsity, early_stopping=early_stopping,
                    )  # fmt: skip
                    start = time.process_time()
                    model.fit(X_train, y_train)
                    seconds.append(time.process_time() - start)
                    loss, _ = evaluate(model, X_test, y_test, task=data.task, y_train=y_train)
                    losses.append(loss)
                result[early_stopping] = (np.mean(losses), np.mean(seconds))
            print(
                f"{label:14s} n_train={len(y_train):5d} sparsity={sparsity}: "
                f"True loss {result[True][0]:.4f} ({result[True][1]:.1f} s), "
                f"False loss {result[False][0]:.4f} ({result[False][1]:.1f} s), "
                f"False/True {result[False][0] / result[True][0]:.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
