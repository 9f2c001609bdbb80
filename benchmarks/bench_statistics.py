"""Cost of the ECP statistics relative to one training pass over the same data.

For a 784-300-100-10 ReLU MLP and 10,000 samples (MNIST-sized), times
``ecp_statistics`` (one forward and K = 10 backward passes per batch) and one
training epoch (forward + backward + Adam step per batch) on the same data, in the
same run, and prints their ratio. The target: at most 1.5 x K.

    python benchmarks/bench_statistics.py [--repeats 5] [--batch-size 1024]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from sklearn_ecprune import ecp_statistics


def make_mlp() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10)
    )


def training_pass(net: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int) -> None:
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    net.train()
    for start in range(0, len(X), batch_size):
        optimizer.zero_grad()
        loss = loss_fn(net(X[start : start + batch_size]), y[start : start + batch_size])
        loss.backward()
        optimizer.step()


def best_time(fn, repeats: int) -> float:
    """Fastest of ``repeats`` runs: the least disturbed by other work on the machine."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    torch.manual_seed(0)
    net = make_mlp()
    X = torch.randn(args.samples, 784)
    y = torch.randint(0, 10, (args.samples,))
    n_outputs = 10

    # Interleave the two measurements so that both see the same machine load.
    train_times, stats_times = [], []
    for _ in range(args.repeats):
        train_times.append(best_time(lambda: training_pass(net, X, y, args.batch_size), 1))
        stats_times.append(
            best_time(lambda: ecp_statistics(net, X, batch_size=args.batch_size), 1)
        )
    train, stats = min(train_times), min(stats_times)
    ratio = stats / train
    print(
        f"MLP 784-300-100-10, {args.samples} samples, batch {args.batch_size}, "
        f"{torch.get_num_threads()} threads"
    )
    print(f"one training pass (fwd + bwd + Adam step): {train * 1e3:8.1f} ms")
    print(f"ecp_statistics (1 fwd + {n_outputs} bwd per batch): {stats * 1e3:8.1f} ms")
    print(
        f"ratio: {ratio:.2f} (target <= 1.5 x K = {1.5 * n_outputs:.0f}; "
        f"ratio / K = {ratio / n_outputs:.2f})"
    )


if __name__ == "__main__":
    main()
