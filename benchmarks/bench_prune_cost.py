"""Cost of the default pruning method, against the passes it needs and against training.

1. Engine: ``prune_mlp`` with its defaults (``"ecp-cg"``, 10 steps) on 100-w-w-10 ReLU
   MLPs, 2,048 calibration rows, sparsity 0.9, for w = 256 ... 2048: its CPU time
   divided by one forward + K backward pass over the same rows (timed in the same run),
   per step. Target: at most 4 per step at every width. ``"ecp-ls"`` (the exact refit)
   is timed too at the smaller widths (``--exact-widths``).
2. Estimators, at their defaults: the pruning's share of the dense fit on digits
   (hidden (100,)) and on make_classification(50,000 x 100, 10 classes) with hidden
   (512, 256) and max_epochs=20. Target: at most 10 %. At sparsity 0 the prune leaves
   the network bit-identical; its cost is printed (target: under 1 % of the dense fit).
3. Peak extra memory (maxrss, a fresh process each) of the default prune and of
   magnitude pruning on 784-1024-1024-10 with 10,000 rows, sparsity 0.9. Target: the
   default at most 2x magnitude.

All times are CPU times with 1 torch thread; repeats interleaved, medians.

    python benchmarks/bench_prune_cost.py [--repeats 3] [--skip-estimators] [--skip-memory]
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import subprocess
import sys
import tempfile

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

    print("\n## Estimators at their defaults: pruning's share of the dense fit")
    print("| data | hidden | dense fit | prune at 0.9 | share | prune at 0 | share | identical |")
    print("|---|---|---|---|---|---|---|---|")
    digits_X, digits_y = load_digits(return_X_y=True)
    big_X, big_y = make_classification(50_000, 100, n_informative=30, n_classes=10, random_state=0)
    cases = [
        ("digits", StandardScaler().fit_transform(digits_X), digits_y, (100,), {}),
        ("make_classification 50000x100", big_X, big_y, (512, 256), {"max_epochs": 20}),
    ]
    for name, X, y, hidden, extra in cases:
        with tempfile.TemporaryDirectory() as cache:
            params = dict(hidden_layer_sizes=hidden, random_state=0, memory=cache, **extra)

            def fit(sparsity, params=params, X=X, y=y):
                return ECPrunedMLPClassifier(**params, sparsity=sparsity, fine_tune_epochs=0).fit(
                    X, y
                )

            dense_seconds = cpu_seconds(lambda: fit(0.0))  # trains, fills the cache
            dense = fit(0.0)  # restored: the same network
            # Restoring is the same in all three; pruning is the difference.
            t = interleaved_medians(
                {"restore": lambda: fit(0.0), "prune": lambda: fit(0.9)}, repeats
            )
            # The prune at sparsity 0 itself, on the estimator's calibration rows.
            module = copy.deepcopy(dense.module_)
            rows = np.random.default_rng(0).choice(len(X), min(2048, len(X)), replace=False)
            X_cal = torch.as_tensor(X[rows], dtype=torch.float32)
            zero_seconds = cpu_seconds(lambda m=module, x=X_cal: prune_mlp(m, x, 0.0))
            identical = all(
                torch.equal(p, q)
                for p, q in zip(module.parameters(), dense.module_.parameters(), strict=True)
            )
        prune_seconds = t["prune"] - t["restore"]
        print(
            f"| {name} | {hidden} | {dense_seconds:.1f} s | {prune_seconds:.2f} s | "
            f"{100 * prune_seconds / dense_seconds:.1f} % | {zero_seconds * 1e3:.2f} ms | "
            f"{100 * zero_seconds / dense_seconds:.4f} % | {identical} |",
            flush=True,
        )


def _memory_child(method: str) -> None:
    torch.set_num_threads(1)
    net = mlp([784, 1024, 1024, 10])
    X = torch.randn(10_000, 784, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        net(X[:10])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    prune_mlp(net, X, 0.9, method=method)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"method": method, "extra_mb": (after - before) / 1024}))


def memory_cost() -> None:
    print("\n## Peak extra memory, 784-1024-1024-10, 10,000 rows, sparsity 0.9")
    extra = {}
    for method in ("magnitude", "ecp-cg"):
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", method],
            capture_output=True,
            text=True,
            check=True,
        )
        extra[method] = json.loads(out.stdout.strip().splitlines()[-1])["extra_mb"]
        print(f"{method}: +{extra[method]:.0f} MB", flush=True)
    print(f"ratio default / magnitude: {extra['ecp-cg'] / extra['magnitude']:.2f} (target <= 2)")


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
