"""Predict-time speed and file size of fitted estimators, as users call them.

An ``ECPrunedMLPClassifier`` with hidden layers (1024, 1024, 1024) on 784 features and
10 classes (an MNIST-sized network) is fitted on synthetic data at each sparsity (one
dense training, shared through ``memory=``). For each, ``predict_proba`` is timed with
the default ``inference="auto"`` (compacted network, CSR layers where measured faster)
against the same estimator with ``inference="dense"``, at batch 1 and 1024, with 1 and
2 torch threads; the dense estimator is also timed against a direct call of its
module. Timings are interleaved repeats, medians of wall time; the ratios are what to
read. Then the pickle size of each fitted estimator, relative to the unpruned one.

    python benchmarks/bench_inference.py [--repeats 30] [--pruning ecp-ls]
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import tempfile
import time

import numpy as np
import torch

from sklearn_ecprune import ECPrunedMLPClassifier

SPARSITIES = (0.5, 0.9, 0.95, 0.99)
BATCHES = (1, 1024)


def timings(calls: dict, repeats: int) -> dict:
    """Median wall time of each call, the calls interleaved round by round."""
    for call in calls.values():
        call()  # warm up
    samples = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--pruning", default=None, help="pruning method (default: the default)")
    parser.add_argument("--rows", type=int, default=4096, help="training rows")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.rows, 784)).astype(np.float32)
    y = (X[:, :10] @ rng.normal(size=(10, 10))).argmax(1)
    X_batch = {b: rng.normal(size=(b, 784)).astype(np.float32) for b in BATCHES}
    extra = {} if args.pruning is None else {"pruning": args.pruning}
    fitted = {}
    with tempfile.TemporaryDirectory() as cache:
        for sparsity in (0.0, *SPARSITIES):
            start = time.perf_counter()
            fitted[sparsity] = ECPrunedMLPClassifier(
                hidden_layer_sizes=(1024, 1024, 1024),
                sparsity=sparsity,
                max_epochs=2,
                fine_tune_epochs=1,
                random_state=0,
                memory=cache,
                **extra,
            ).fit(X, y)
            print(f"fitted sparsity {sparsity}: {time.perf_counter() - start:.1f} s", flush=True)

    print(f"\npredict_proba speed-up, inference='auto' over 'dense' ({args.repeats} repeats)")
    print("| sparsity | threads | batch 1 | batch 1024 | layers stored sparse |")
    print("|---|---|---|---|---|")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for sparsity in SPARSITIES:
            net = fitted[sparsity]
            dense = pickle.loads(pickle.dumps(net)).set_params(inference="dense")
            net.set_params(inference="auto")  # built for this thread count
            cells = []
            for batch in BATCHES:
                calls = {
                    "auto": lambda b=batch, n=net: n.predict_proba(X_batch[b]),
                    "dense": lambda b=batch, d=dense: d.predict_proba(X_batch[b]),
                }
                t = timings(calls, args.repeats if batch > 1 else 10 * args.repeats)
                cells.append(f"{t['dense'] / t['auto']:.2f}x")
            sparse_layers = sum(
                type(m).__name__ == "SparseLinear" for m in net._inference_module().modules()
            )
            print(f"| {sparsity} | {threads} | {' | '.join(cells)} | {sparse_layers} |")

    print("\npredict_proba of the dense estimator over a direct call of its module")
    torch.set_num_threads(1)
    dense_net = fitted[0.0]
    module = dense_net.module_.eval()
    for batch in BATCHES:
        inputs = torch.from_numpy(X_batch[batch])

        def direct(inputs=inputs):
            with torch.inference_mode():
                return torch.softmax(module(inputs), dim=1).numpy()

        t = timings(
            {"estimator": lambda b=batch: dense_net.predict_proba(X_batch[b]), "module": direct},
            args.repeats if batch > 1 else 10 * args.repeats,
        )
        print(f"batch {batch}: {t['estimator'] / t['module']:.2f}x")

    print("\npickle size relative to the unpruned estimator")
    base = len(pickle.dumps(fitted[0.0]))
    print(f"unpruned: {base / 2**20:.1f} MB")
    for sparsity in SPARSITIES:
        size = len(pickle.dumps(fitted[sparsity]))
        print(f"sparsity {sparsity}: {size / 2**20:.2f} MB, {100 * size / base:.1f} %")


if __name__ == "__main__":
    main()
