"""Cost of a grid search over sparsity, with and without the dense-network cache.

GridSearchCV over ``sparsity`` in (0.5, 0.7, 0.8, 0.9, 0.95) with 3-fold CV on
scikit-learn's digits, once with ``cache_dense=False`` (every candidate trains its
dense network again) and once with the default ``cache_dense=True`` (each fold's
dense network is trained once), in the same run. Prints both times, their ratio,
and checks that the two searches found the same scores.

    python benchmarks/bench_grid_search.py [--max-epochs 60]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_ecprune import ECPrunedMLPClassifier
from sklearn_ecprune._estimators import DENSE_CACHE


def search(cache_dense: bool, max_epochs: int, X, y) -> tuple[float, np.ndarray]:
    DENSE_CACHE.clear()
    net = ECPrunedMLPClassifier(max_epochs=max_epochs, random_state=0, cache_dense=cache_dense)
    pipe = make_pipeline(StandardScaler(), net)
    grid = {"ecprunedmlpclassifier__sparsity": [0.5, 0.7, 0.8, 0.9, 0.95]}
    start = time.perf_counter()
    result = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    return time.perf_counter() - start, result.cv_results_["mean_test_score"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-epochs", type=int, default=60)
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True)
    uncached, scores_uncached = search(False, args.max_epochs, X, y)
    cached, scores_cached = search(True, args.max_epochs, X, y)
    print("GridSearchCV, 5 sparsities x 3 folds + refit, digits")
    print(f"cache_dense=False: {uncached:7.1f} s")
    print(f"cache_dense=True : {cached:7.1f} s")
    print(f"speed-up: {uncached / cached:.2f}x")
    print(f"same mean test scores: {np.array_equal(scores_uncached, scores_cached)}")
    print("mean test score per sparsity:", np.round(scores_cached, 3).tolist())


if __name__ == "__main__":
    main()
