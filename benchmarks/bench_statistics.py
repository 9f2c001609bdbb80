"""Cost of ``ecp_statistics`` relative to its minimum: one forward and K backward passes.

The statistics need, per batch, one forward pass and one backward pass per network
output (K = 10 here) to every Linear layer's output; everything else (the products
``(g^2)^T a`` and ``(g^2)^T a^2``) is overhead. Both are timed on the same rows in
the same run (CPU time, 1 torch thread, interleaved repeats, medians), on 100-w-w-10
ReLU MLPs with 2,048 rows and on an MNIST-sized 784-300-100-10 MLP with 10,000 rows.
Target: at most 1.5.

    python benchmarks/bench_statistics.py [--repeats 5]
"""

from __future__ import annotations

import argparse

import torch
from _timing import forward_k_backward, interleaved_medians, mlp

from sklearn_ecprune import ecp_statistics

NETWORKS = [
    ([100, 256, 256, 10], 2048),
    ([100, 512, 512, 10], 2048),
    ([100, 1024, 1024, 10], 2048),
    ([100, 2048, 2048, 10], 2048),
    ([784, 300, 100, 10], 10_000),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| network | rows | forward + K backward | ecp_statistics | ratio |")
    print("|---|---|---|---|---|")
    for sizes, rows in NETWORKS:
        net = mlp(sizes)
        X = torch.randn(rows, sizes[0], generator=torch.Generator().manual_seed(1))
        t = interleaved_medians(
            {
                "minimum": lambda net=net, X=X: forward_k_backward(net, X),
                "stats": lambda net=net, X=X: ecp_statistics(net, X),
            },
            args.repeats,
        )
        name = "-".join(map(str, sizes))
        print(
            f"| {name} | {rows} | {t['minimum']:.3f} s | {t['stats']:.3f} s | "
            f"{t['stats'] / t['minimum']:.2f} |",
            flush=True,
        )
    print("(CPU time, 1 thread, medians; target: ratio <= 1.5)")


if __name__ == "__main__":
    main()
