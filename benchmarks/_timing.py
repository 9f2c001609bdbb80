"""Shared by the benchmarks: CPU timing of interleaved repeats, and the unit pass.

Run the benchmarks from the repository root (``python benchmarks/bench_*.py``); this
module is imported from the script's folder.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import nn


def cpu_seconds(call: Callable[[], object]) -> float:
    """CPU time of one call (with one torch thread, the work done, whatever the load)."""
    start = time.process_time()
    call()
    return time.process_time() - start


def interleaved_medians(calls: dict[str, Callable[[], object]], repeats: int) -> dict:
    """Median CPU time of each call, the calls run in turn ``repeats`` times."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            samples[name].append(cpu_seconds(call))
    return {name: statistics.median(values) for name, values in samples.items()}


def forward_k_backward(module: nn.Module, X: torch.Tensor, batch_size: int = 1024) -> None:
    """The unit of cost: per batch, one forward and one backward pass per output (K).

    The backward passes reach every Linear layer's output, as the ECP statistics
    need, and nothing else is computed.
    """
    outputs: list[torch.Tensor] = []
    handles = [
        m.register_forward_hook(lambda _m, _i, out: outputs.append(out))
        for m in module.modules()
        if isinstance(m, nn.Linear)
    ]
    try:
        for start in range(0, X.shape[0], batch_size):
            outputs.clear()
            with torch.enable_grad():
                y = module(X[start : start + batch_size].detach().requires_grad_(True))
                for k in range(y.shape[1]):
                    torch.autograd.grad(y[:, k].sum(), outputs, retain_graph=k < y.shape[1] - 1)
    finally:
        for handle in handles:
            handle.remove()


def mlp(sizes: list[int]) -> nn.Sequential:
    """A ReLU MLP with the given layer sizes, seeded."""
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)
