"""The cost of a default fit against scikit-learn's MLP, a grid search, and busy cores.

Side by side in one process, one thread for torch and BLAS (``threadpoolctl``), CPU
time, the two estimators run in turn (interleaved) and the median of ``--repeats``:

1. Four data sets: ``ECPrunedMLPClassifier()`` / ``ECPrunedMLPRegressor()`` at their
   defaults (sparsity 0.8, hidden layer 100) against ``MLPClassifier`` /
   ``MLPRegressor(hidden_layer_sizes=(100,), early_stopping=True)``, on
   standardised inputs, 25 % of the rows held out for the test score. Prints the
   whole fit's ratio, the ratio per epoch, the epochs (scikit-learn / our dense
   phase / our whole fit) and the test accuracy or R^2; and, for the floor of any
   torch training, the cost per epoch of a plain torch loop (the same network,
   fused Adam, batches of 200 gathered from tensors, the L2 term) over
   scikit-learn's.
2. ``GridSearchCV`` over 5 sparsities with ``memory=`` (cv=3) against scikit-learn's
   search over 5 values of ``alpha``, on digits.
3. Busy cores: the wall time of a default fit while two other processes keep both
   cores busy, with ``n_threads="auto"`` (the default), with torch's own thread count
   and with one thread.

One small fit of each estimator runs first, so that the one-time imports of the
first torch optimizer (about a second) are not counted.

    python benchmarks/bench_fit.py [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sklearn_ecprune import ECPrunedMLPClassifier, ECPrunedMLPRegressor

SPARSITIES = [0.5, 0.7, 0.8, 0.9, 0.95]
ALPHAS = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1]


def cases(quick: bool):
    digits_X, digits_y = load_digits(return_X_y=True)
    yield "digits", digits_X, digits_y, True
    n = 5_000 if quick else 20_000
    X, y = make_classification(n, 50, n_informative=20, random_state=0)
    yield f"make_classification({n}, 50)", X, y, True
    X, y = make_regression(n, 50, n_informative=20, noise=1.0, random_state=0)
    yield f"make_regression({n}, 50)", X, y, False
    if not quick:
        X, y = make_classification(100_000, 50, n_informative=20, random_state=0)
        yield "make_classification(100000, 50)", X, y, True


def cpu(call) -> tuple[float, object]:
    start = time.process_time()
    result = call()
    return time.process_time() - start, result


def plain_torch_loop(X, y, epochs: int, classification: bool) -> None:
    """What a user would write instead: the same network and batches, no framework."""
    X = torch.as_tensor(X, dtype=torch.float32)
    if classification:
        y = torch.as_tensor(y, dtype=torch.int64)
        outputs, loss_fn = int(y.max()) + 1, torch.nn.functional.cross_entropy
    else:
        y = torch.as_tensor((y - y.mean()) / y.std(), dtype=torch.float32)[:, None]
        outputs, loss_fn = 1, torch.nn.functional.mse_loss
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(X.shape[1], 100), torch.nn.ReLU(), torch.nn.Linear(100, outputs)
    )
    weights = [net[0].weight, net[2].weight]
    optimizer = torch.optim.Adam(net.parameters(), fused=True)
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=generator)
        for start in range(0, len(X), 200):
            rows = order[start : start + 200]
            optimizer.zero_grad()
            penalty = sum(w.square().sum() for w in weights) * (0.5 * 1e-4 / len(rows))
            loss = loss_fn(net(X[rows]), y[rows]) + penalty
            loss.backward()
            optimizer.step()


def fit_cases(repeats: int, quick: bool) -> None:
    print("## 1. Default fit against scikit-learn's MLP with early stopping (CPU time)\n")
    print(
        "| case | whole fit / sklearn | per epoch | epochs sklearn / dense / whole | "
        "test score sklearn vs ours | sklearn fit | our fit | plain torch loop per epoch |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, X, y, classification in cases(quick):
        X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        Ours = ECPrunedMLPClassifier if classification else ECPrunedMLPRegressor
        Theirs = MLPClassifier if classification else MLPRegressor
        samples: dict[str, list] = {"sklearn": [], "ours": [], "torch": []}
        for _ in range(repeats):
            seconds, theirs = cpu(
                lambda Theirs=Theirs, X_train=X_train, y_train=y_train: Theirs(
                    hidden_layer_sizes=(100,), early_stopping=True, random_state=0
                ).fit(X_train, y_train)
            )
            samples["sklearn"].append((seconds, theirs))
            seconds, ours = cpu(
                lambda Ours=Ours, X_train=X_train, y_train=y_train: Ours(random_state=0).fit(
                    X_train, y_train
                )
            )
            samples["ours"].append((seconds, ours))
            epochs = len(ours.history_)  # the plain loop runs as many epochs in all
            seconds, _ = cpu(
                lambda X_train=X_train, y_train=y_train, n=epochs, c=classification: (
                    plain_torch_loop(X_train, y_train, n, c)
                )
            )
            samples["torch"].append((seconds / len(ours.history_), None))
        theirs_s = statistics.median(s for s, _ in samples["sklearn"])
        ours_s = statistics.median(s for s, _ in samples["ours"])
        theirs, ours = samples["sklearn"][0][1], samples["ours"][0][1]
        dense, epochs = ours.n_iter_, len(ours.history_)  # dense epochs; all epochs
        per_epoch = (ours_s / epochs) / (theirs_s / theirs.n_iter_)
        plain = statistics.median(s for s, _ in samples["torch"]) / (theirs_s / theirs.n_iter_)
        print(
            f"| {name} | {ours_s / theirs_s:.2f}x | {per_epoch:.2f}x | "
            f"{theirs.n_iter_} / {dense} / {epochs} | "
            f"{theirs.score(X_test, y_test):.4f} vs {ours.score(X_test, y_test):.4f} | "
            f"{theirs_s:.2f} s | {ours_s:.2f} s | {plain:.2f}x |",
            flush=True,
        )


def grid_searches(repeats: int) -> None:
    print("\n## 2. GridSearchCV on digits, cv=3, one process (CPU time)\n")
    X, y = load_digits(return_X_y=True)
    ours_s, theirs_s, scores = [], [], None
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as folder:
            pipe = make_pipeline(
                StandardScaler(), ECPrunedMLPClassifier(random_state=0, memory=folder)
            )
            grid = {"ecprunedmlpclassifier__sparsity": SPARSITIES}
            seconds, search = cpu(
                lambda pipe=pipe, grid=grid: GridSearchCV(pipe, grid, cv=3).fit(X, y)
            )
        ours_s.append(seconds)
        scores = search.cv_results_["mean_test_score"]
        pipe = make_pipeline(
            StandardScaler(), MLPClassifier((100,), early_stopping=True, random_state=0)
        )
        grid = {"mlpclassifier__alpha": ALPHAS}
        seconds, theirs = cpu(
            lambda pipe=pipe, grid=grid: GridSearchCV(pipe, grid, cv=3).fit(X, y)
        )
        theirs_s.append(seconds)
    ours_m, theirs_m = statistics.median(ours_s), statistics.median(theirs_s)
    print("| search | CPU | ratio | mean test scores |")
    print("|---|---|---|---|")
    print(
        f"| scikit-learn, 5 alphas | {theirs_m:.1f} s | 1.00x | "
        f"{np.round(theirs.cv_results_['mean_test_score'], 3).tolist()} |"
    )
    print(
        f"| ours, 5 sparsities, memory= | {ours_m:.1f} s | {ours_m / theirs_m:.2f}x | "
        f"{np.round(scores, 3).tolist()} |",
        flush=True,
    )


def _spin(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def busy_cores(repeats: int, quick: bool) -> None:
    print("\n## 3. A default fit while other processes keep every core busy (wall time)\n")
    n = 5_000 if quick else 20_000
    X, y = make_classification(n, 50, n_informative=20, random_state=0)
    X = StandardScaler().fit_transform(X)
    stop = multiprocessing.Event()
    spinners = [
        multiprocessing.Process(target=_spin, args=(stop,), daemon=True)
        for _ in range(os.cpu_count() or 2)
    ]
    for process in spinners:
        process.start()
    cores = os.cpu_count() or 2
    settings = {"auto (default)": "auto", f"{cores} threads": cores, "1 thread": 1}
    walls: dict[str, list[float]] = {name: [] for name in settings}
    try:
        for _ in range(repeats):
            for name, threads in settings.items():
                start = time.perf_counter()
                ECPrunedMLPClassifier(random_state=0, n_threads=threads).fit(X, y)
                walls[name].append(time.perf_counter() - start)
    finally:
        stop.set()
        for process in spinners:
            process.join()
    one = statistics.median(walls["1 thread"])
    print(f"make_classification({n}, 50), {cores} cores, each kept busy by another process\n")
    print("| n_threads | wall time | / one thread |")
    print("|---|---|---|")
    for name, values in walls.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.2f} s | {median / one:.2f}x |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smaller data, for a smoke run")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    start = time.perf_counter()
    X, y = load_digits(return_X_y=True)
    ECPrunedMLPClassifier(max_epochs=2).fit(X[:200], y[:200])  # torch's one-time imports
    MLPClassifier(max_iter=2).fit(X[:200], y[:200])
    print(f"torch {torch.__version__}, one thread for torch and BLAS, median of {args.repeats}\n")
    torch.set_num_threads(1)
    with threadpool_limits(1):
        fit_cases(args.repeats, args.quick)
        grid_searches(args.repeats)
    torch.set_num_threads(os.cpu_count() or 1)
    busy_cores(args.repeats, args.quick)
    print(f"\n(script wall time {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
