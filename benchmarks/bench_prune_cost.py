"""Cost of the default pruning method, against the passes it needs and against training.

1. Engine: ``prune_mlp`` with its defaults (``"ecp-cg"``, 10 steps) on 100-w-w-10 ReLU
   MLPs, 2,048 calibration rows, sparsity 0.9, for w = 256 ... 2048: its CPU time
   divided by one forward + K backward pass over the same rows (timed in the same run),
   per step. Target: at most 4 per step at every width. ``"ecp-ls"`` (the exact refit)
   is timed too at the smaller widths (``--exact-widths``).
2. Estimators, at their defaults: the pruning's share of the dense fit on digits
   (hidden (100,)) and on make_classification(50,000 x 100, 10 classes) with hidden
   (512, 256) and max_epochs=20. Target: at most 10 %. Printed too: all that the
   default fit adds to the dense fit (pruning events and fine-tuning), and the
   one-shot prune (``fine_tune_epochs=0``). At sparsity 0 the prune leaves the network
   bit-identical; its cost is printed (target: under 1 % of the dense fit).
3. Peak extra memory (sampled resident memory, a fresh process each, three runs) of
   the default prune and of magnitude pruning on 784-1024-1024-10 with 10,000 rows,
   sparsity 0.9. Target: the default at most 2x magnitude.

All times are CPU times with 1 torch thread; repeats interleaved, medians.

    python benchmarks/bench_prune_cost.py [--repeats 3] [--skip-estimators] [--skip-memory]
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import torch
from _timing import cpu_seconds, forward_k_backward, interleaved_medians, mlp

from sklearn_ecprune import ECPrunedMLPClassifier, prune_mlp

WIDTHS = (256, 512, 1024, 2048)
STEPS = 10


def engine_cost(repeats: int, exact_widths: list[int]) -> None:
    print("## Engine: prune_mlp defaults, sparsity 0.9, 2,048 rows, per step in passes")
    print("| width | one pass | default prune | passes per step | ecp-ls passes per step |")
    print("|---|---|---|---|---|")
    for width in WIDTHS:
        net = mlp([100, width, width, 10])
        X = torch.randn(2048, 100, generator=torch.Generator().manual_seed(1))
        calls = {
            "pass": lambda net=net, X=X: forward_k_backward(net, X),
            "default": lambda net=net, X=X: prune_mlp(copy.deepcopy(net), X, 0.9),
        }
        if width in exact_widths:
            calls["ecp-ls"] = lambda net=net, X=X: prune_mlp(
                copy.deepcopy(net), X, 0.9, method="ecp-ls"
            )
        t = interleaved_medians(calls, repeats if width < 2048 else max(1, repeats - 1))
        exact = f"{t['ecp-ls'] / t['pass'] / STEPS:.1f}" if "ecp-ls" in t else "-"
        print(
            f"| {width} | {t['pass']:.3f} s | {t['default']:.2f} s | "
            f"{t['default'] / t['pass'] / STEPS:.2f} | {exact} |",
            flush=True,
        )


def estimator_cost(repeats: int) -> None:
    from sklearn.datasets import load_digits, make_classification
    from sklearn.preprocessing import StandardScaler

    import sklearn_ecprune.estimators._schedule as estimator_base

    # CPU time spent inside the estimators' pruning calls (events and final prune).
    pruning_seconds: list[float] = []
    engine_prune = estimator_base.prune_mlp

    def timed_prune(*args, **kwargs):
        start = time.process_time()
        try:
            return engine_prune(*args, **kwargs)
        finally:
            pruning_seconds.append(time.process_time() - start)

    estimator_base.prune_mlp = timed_prune

    print("\n## Estimators at their defaults: pruning's share of the dense fit")
    print(
        "Default fit: dense phase with early stopping, then three pruning events "
        "interleaved with fine-tuning. `pruning` is the CPU time inside the pruning "
        "calls of a default fit; `after dense` is everything the default fit adds to "
        "the dense fit (pruning and fine-tuning); `one-shot` is a fit with "
        "`fine_tune_epochs=0` (10 steps on 2,048 rows) minus the restore of the cached "
        "dense network.\n"
    )
    print(
        "| data | hidden | dense epochs | dense fit | pruning (default) | share | "
        "after dense | ratio fit/dense | one-shot prune | share | prune at 0 | share | "
        "identical |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    digits_X, digits_y = load_digits(return_X_y=True)
    big_X, big_y = make_classification(50_000, 100, n_informative=30, n_classes=10, random_state=0)
    cases = [
        ("digits", StandardScaler().fit_transform(digits_X), digits_y, (100,), {}),
        ("make_classification 50000x100", big_X, big_y, (512, 256), {"max_epochs": 20}),
    ]
    for name, X, y, hidden, extra in cases:
        with tempfile.TemporaryDirectory() as cache:
            params = dict(hidden_layer_sizes=hidden, random_state=0, memory=cache, **extra)

            def fit(sparsity, params=params, X=X, y=y, **more):
                return ECPrunedMLPClassifier(**params, sparsity=sparsity, **more).fit(X, y)

            dense_seconds = cpu_seconds(lambda: fit(0.0))  # trains, fills the cache
            dense = fit(0.0)  # restored: the same network
            dense_epochs = len(dense.history_)
            shares = []

            def default_fit(fit=fit, shares=shares):
                pruning_seconds.clear()
                fit(0.9)
                shares.append(sum(pruning_seconds))

            # Restoring the cached dense network is common to all; the rest is the prune.
            t = interleaved_medians(
                {
                    "restore": lambda: fit(0.0),
                    "default": default_fit,
                    "one-shot": lambda: fit(0.9, fine_tune_epochs=0),
                },
                repeats,
            )
            pruning = statistics.median(shares)
            # The prune at sparsity 0 itself, on the estimator's calibration rows.
            module = copy.deepcopy(dense.module_)
            rows = np.random.default_rng(0).choice(len(X), min(2048, len(X)), replace=False)
            X_cal = torch.as_tensor(X[rows], dtype=torch.float32)
            zero_seconds = cpu_seconds(lambda m=module, x=X_cal: engine_prune(m, x, 0.0))
            identical = all(
                torch.equal(p, q)
                for p, q in zip(module.parameters(), dense.module_.parameters(), strict=True)
            )
        after_dense = t["default"] - t["restore"]
        one_shot = t["one-shot"] - t["restore"]
        print(
            f"| {name} | {hidden} | {dense_epochs} | {dense_seconds:.1f} s | {pruning:.2f} s | "
            f"{100 * pruning / dense_seconds:.1f} % | {after_dense:.1f} s | "
            f"{(dense_seconds + after_dense) / dense_seconds:.2f} | {one_shot:.2f} s | "
            f"{100 * one_shot / dense_seconds:.1f} % | {zero_seconds * 1e3:.2f} ms | "
            f"{100 * zero_seconds / dense_seconds:.4f} % | {identical} |",
            flush=True,
        )
    estimator_base.prune_mlp = engine_prune


def _resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def _memory_child(method: str) -> None:
    """Peak resident memory during the prune minus the resident memory just before.

    A sampling thread reads the resident set every millisecond (torch releases the
    GIL in its kernels); ``ru_maxrss`` cannot be used, as the setup's own peak may
    exceed the prune's.
    """
    torch.set_num_threads(1)
    net = mlp([784, 1024, 1024, 10])
    X = torch.randn(10_000, 784, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        net(X[:10])
    before = _resident_mb()
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _resident_mb())
            time.sleep(0.001)

    sampler = threading.Thread(target=sample)
    sampler.start()
    prune_mlp(net, X, 0.9, method=method)
    done.set()
    sampler.join()
    print(json.dumps({"method": method, "extra_mb": peak[0] - before}))


def memory_cost() -> None:
    print("\n## Peak extra memory, 784-1024-1024-10, 10,000 rows, sparsity 0.9")
    print("(peak resident memory during the prune minus before it; a fresh process each)")
    extra: dict[str, list[float]] = {"magnitude": [], "ecp-cg": []}
    for _ in range(3):
        for method in extra:
            out = subprocess.run(
                [sys.executable, __file__, "--memory-child", method],
                capture_output=True,
                text=True,
                check=True,
            )
            extra[method].append(json.loads(out.stdout.strip().splitlines()[-1])["extra_mb"])
    for method, values in extra.items():
        runs = ", ".join(f"{v:.0f}" for v in values)
        print(f"{method}: +{statistics.median(values):.0f} MB (runs: {runs})", flush=True)
    ratio = statistics.median(extra["ecp-cg"]) / statistics.median(extra["magnitude"])
    print(f"ratio default / magnitude: {ratio:.2f} (target <= 2)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--exact-widths", type=int, nargs="*", default=[256])
    parser.add_argument("--skip-engine", action="store_true")
    parser.add_argument("--skip-estimators", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        _memory_child(args.memory_child)
        return
    torch.set_num_threads(1)
    if not args.skip_engine:
        engine_cost(args.repeats, args.exact_widths)
    if not args.skip_estimators:
        estimator_cost(args.repeats)
    if not args.skip_memory:
        memory_cost()


if __name__ == "__main__":
    main()
