"""Cost of a grid search over sparsity, with and without ``memory=``.

GridSearchCV over ``sparsity`` in (0.5, 0.7, 0.8, 0.9, 0.95) with 3-fold CV on
scikit-learn's digits, once with ``memory=None`` (every candidate trains its dense
network again) and once with ``memory=`` a temporary directory (each fold's dense
network is trained once), side by side in one run. Prints both times, their ratio, and
checks that the two searches found the same scores.

    python benchmarks/bench_grid_search.py [--max-epochs 60] [--n-jobs 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_ecprune import ECPrunedMLPClassifier


def search(memory, max_epochs: int, n_jobs: int, X, y) -> tuple[float, np.ndarray]:
    net = ECPrunedMLPClassifier(max_epochs=max_epochs, random_state=0, memory=memory)
    pipe = make_pipeline(StandardScaler(), net)
    grid = {"ecprunedmlpclassifier__sparsity": [0.5, 0.7, 0.8, 0.9, 0.95]}
    start = time.perf_counter()
    result = GridSearchCV(pipe, grid, cv=3, n_jobs=n_jobs).fit(X, y)
    return time.perf_counter() - start, result.cv_results_["mean_test_score"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-epochs", type=int, default=60)
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    X, y = load_digits(return_X_y=True)
    uncached, scores_uncached = search(None, args.max_epochs, args.n_jobs, X, y)
    with tempfile.TemporaryDirectory() as folder:
        cached, scores_cached = search(folder, args.max_epochs, args.n_jobs, X, y)
    print(f"GridSearchCV, 5 sparsities x 3 folds + refit, digits, n_jobs={args.n_jobs}")
    print(f"memory=None     : {uncached:7.1f} s")
    print(f"memory=<folder> : {cached:7.1f} s")
    print(f"speed-up: {uncached / cached:.2f}x")
    print(f"same mean test scores: {np.array_equal(scores_uncached, scores_cached)}")
    print("mean test score per sparsity:", np.round(scores_cached, 3).tolist())


if __name__ == "__main__":
    main()
