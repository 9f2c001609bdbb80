"""Predict-time speed and file size of fitted estimators, as users call them.

Two networks: 64-256-128-10 (digits-sized; fitted on digits) and 784-1024-1024-1024-10
(MNIST-sized; fitted on synthetic data), each pruned by the default fit
(``pruning="ecp-cg"``) and by global magnitude (``pruning="magnitude"``) to sparsity 0,
0.5, 0.9, 0.95 and 0.99 (one dense training per network and pruning, shared through
``memory=``). For each, ``predict_proba`` with the default ``inference="auto"`` is timed
against the same estimator with ``inference="dense"``, against scikit-learn's
``MLPClassifier.predict_proba`` with the same layer sizes, and (at batch 1) against a
direct call of the compacted network (``to_torch()``, softmax included), at batch 1,
16, 1024 and 100,000 rows. One thread for torch and BLAS (``threadpoolctl``), CPU time,
the calls interleaved, medians. Then the pickle size of each fitted estimator, relative
to the unpruned one.

    python benchmarks/bench_inference.py [--repeats 15] [--quick] [--out FILE]
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

from sklearn_ecprune import ECPrunedMLPClassifier, SparseLinear

SPARSITIES = (0.0, 0.5, 0.9, 0.95, 0.99)
BATCHES = (1, 16, 1024, 100_000)
PRUNINGS = {"default": "ecp-cg", "magnitude": "magnitude"}


def data(features: int):
    """Training rows and labels: digits (standardised) or 4,096 synthetic rows of 784."""
    if features == 64:
        X, y = load_digits(return_X_y=True)
        X = ((X - X.mean(0)) / (X.std(0) + 1e-6)).astype(np.float32)
        return X, y
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4096, features)).astype(np.float32)
    return X, (X[:, :10] @ rng.normal(size=(10, 10))).argmax(1)


def per_call(call, calls: int) -> float:
    """CPU seconds of one call, timed over ``calls`` calls in a row."""
    start = time.process_time()
    for _ in range(calls):
        call()
    return (time.process_time() - start) / calls


def medians(calls: dict, repeats: int, inner: int) -> dict:
    """Median per-call CPU time of each call, the calls interleaved round by round."""
    for call in calls.values():
        call()  # warm up (builds the inference network)
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            samples[name].append(per_call(call, inner))
    return {name: statistics.median(values) for name, values in samples.items()}


def sklearn_twin(hidden: tuple, X, y) -> MLPClassifier:
    """scikit-learn's MLP with the same layer sizes (one iteration: its speed is the point)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLPClassifier(hidden, max_iter=1, random_state=0).fit(X[:512], y[:512])


def raw_module(estimator):
    """The compacted network as a plain torch call on float32 numpy rows."""
    net = estimator.to_torch()

    def call(rows):
        with torch.inference_mode():
            return torch.softmax(net(torch.from_numpy(rows)), dim=1).numpy()

    return call


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="the small network, 3 repeats")
    parser.add_argument("--out", type=Path, default=None, help="also write the tables here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    networks = {"64-256-128-10": (64, (256, 128)), "784-1024x3-10": (784, (1024, 1024, 1024))}
    repeats = 3 if args.quick else args.repeats
    if args.quick:
        networks = {"64-256-128-10": networks["64-256-128-10"]}
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    rng = np.random.default_rng(1)
    for label, (features, hidden) in networks.items():
        X, y = data(features)
        inputs = {b: rng.normal(size=(b, features)).astype(np.float32) for b in BATCHES}
        sk = sklearn_twin(hidden, X, y)
        say(f"\n## {label}\n")
        say("Per cell: auto / dense speed-up (dense time over auto time); auto's time over "
            "scikit-learn's MLPClassifier (lower is faster); at batch 1 also over the "
            "compacted raw module.")  # fmt: skip
        say("")
        columns = " | ".join(f"batch {b:,}" for b in BATCHES)
        say(f"| pruning | sparsity | {columns} | CSR layers | pickle |")
        say("|---|---|" + "---|" * len(BATCHES) + "---|---|")
        for pruning, method in PRUNINGS.items():
            base_size = None
            with tempfile.TemporaryDirectory() as cache:
                for sparsity in SPARSITIES:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        est = ECPrunedMLPClassifier(
                            hidden_layer_sizes=hidden, sparsity=sparsity, pruning=method,
                            max_epochs=5 if features == 784 else 30, random_state=0,
                            memory=cache,
                        ).fit(X, y)  # fmt: skip
                    dense = pickle.loads(pickle.dumps(est)).set_params(inference="dense")
                    raw = raw_module(est)
                    cells = []
                    for batch in BATCHES:
                        rows = inputs[batch]
                        calls = {
                            "auto": lambda r=rows, e=est: e.predict_proba(r),
                            "dense": lambda r=rows, d=dense: d.predict_proba(r),
                            "sklearn": lambda r=rows, s=sk: s.predict_proba(r),
                        }
                        if batch == 1:
                            calls["raw"] = lambda r=rows, f=raw: f(r)
                        inner = max(1, 2000 // batch) if batch < 1024 else 1
                        times = repeats if batch < 100_000 else max(1, repeats // 5)
                        with threadpool_limits(1):
                            t = medians(calls, times, inner)
                        cell = f"{t['dense'] / t['auto']:.2f}x, {t['auto'] / t['sklearn']:.2f}"
                        if "raw" in t:
                            cell += f", raw {t['auto'] / t['raw']:.2f}"
                        cells.append(cell)
                    n_csr = sum(
                        isinstance(m, SparseLinear) for m in est._inference_module().modules()
                    )
                    size = len(pickle.dumps(est))
                    base_size = base_size or size
                    say(f"| {pruning} | {sparsity} | " + " | ".join(cells)
                        + f" | {n_csr} | {100 * size / base_size:.1f} % |")  # fmt: skip
    if args.out is not None:
        args.out.write_text("\n".join(lines).lstrip() + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
