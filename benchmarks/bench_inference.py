"""Predict-time speed of a pruned network: dense zeros, CSR weights, removed neurons.

A 784-1024-1024-10 ReLU MLP (an MNIST-sized classifier), random weights, 4096
samples. For each sparsity the network is pruned with ECP (unstructured, global);
its forward pass is timed as is (zeros stored densely), after
``to_sparse_module`` (CSR weights), and, for comparison, a copy pruned with
``prune_neurons`` to the same number of weights (a smaller dense network). All
timings are taken side by side in one run, interleaved; the ratios are what to
read.

    python benchmarks/bench_inference.py [--threads 1]
"""

from __future__ import annotations

import argparse
import copy
import math
import time

import torch
from torch import nn

from sklearn_ecprune import prune_mlp, prune_neurons, to_sparse_module


def make_mlp() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10)
    )


def timed(module: nn.Module, X: torch.Tensor, repeats: int) -> float:
    with torch.no_grad():
        module(X)
        best = math.inf
        for _ in range(repeats):
            start = time.perf_counter()
            module(X)
            best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    X = torch.randn(4096, 784)
    calibration = X[:512]
    dense = make_mlp().eval()
    n_weights = sum(m.weight.numel() for m in dense if isinstance(m, nn.Linear))
    base = timed(dense, X, args.repeats)
    print(
        f"784-1024-1024-10 MLP, {len(X)} samples, {args.threads} thread(s); "
        f"dense forward {base * 1e3:.1f} ms"
    )
    print("| sparsity | zeros in dense | CSR (to_sparse_module) | fewer neurons (prune_neurons) |")
    print("|---|---|---|---|")
    for sparsity in (0.5, 0.9, 0.95, 0.99):
        pruned = copy.deepcopy(dense)
        prune_mlp(pruned, calibration, sparsity)
        sparse = to_sparse_module(pruned, min_sparsity=0.0)
        # The neuron fraction whose removal leaves about the same number of weights.
        hidden = 2048
        small = copy.deepcopy(dense)
        target = (1 - sparsity) * n_weights
        fraction = min(
            (f / 1000 for f in range(1000)),
            key=lambda f: abs(_weights_after(hidden, f) - target),
        )
        prune_neurons(small, calibration, fraction)
        t_pruned, t_sparse, t_small = (timed(m, X, args.repeats) for m in (pruned, sparse, small))
        print(
            f"| {sparsity:.2f} | {base / t_pruned:.2f}x | {base / t_sparse:.2f}x | "
            f"{base / t_small:.2f}x |"
        )
    print("(speed-up over the dense network; higher is faster)")


def _weights_after(hidden: int, fraction: float) -> float:
    """Weights of the 784-h-h-10 MLP after removing ``fraction`` of its 2h neurons."""
    h = hidden / 2 * (1 - fraction)
    return 784 * h + h * h + h * 10


if __name__ == "__main__":
    main()
