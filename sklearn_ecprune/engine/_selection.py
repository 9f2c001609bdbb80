"""Selection and schedule: which weights go, and how many at each step.

Scores come from a method (``_methods``); this module turns them into keep-masks. It
knows nothing about how the scores were computed.
"""

from __future__ import annotations

import math

import torch

__all__ = ["densities", "lowest", "n_to_prune", "removes_anything", "schedule", "select"]


def densities(sparsity: float, n_steps: int) -> list[float]:
    """Density after each of ``n_steps`` steps: geometric, from 1 to ``1 - sparsity``.

    Each step keeps the same share of what the previous step kept, so late steps,
    where every weight matters more, remove fewer weights.

    Examples
    --------
    >>> from sklearn_ecprune.engine._selection import densities
    >>> [round(d, 3) for d in densities(0.75, 2)]
    [0.5, 0.25]
    """
    final = 1.0 - sparsity
    return [final ** (step / n_steps) for step in range(1, n_steps + 1)]


def schedule(sparsity: float, n_steps: int) -> list[float]:
    """Sparsity after each step (:func:`densities`), ending exactly at the target."""
    return [1.0 - density for density in densities(sparsity, n_steps)[:-1]] + [sparsity]


def n_to_prune(sizes: list[int], fraction: float, scope: str) -> list[int]:
    """Weights each layer should have pruned at ``fraction`` (before the floors)."""
    total = round(fraction * sum(sizes))
    if scope == "layer":
        return _layer_quotas(sizes, fraction, total)
    return [total]


def removes_anything(keeps: list[torch.Tensor], fraction: float, scope: str) -> bool:
    """Whether a step to ``fraction`` prunes any weight that is not pruned yet."""
    sizes = [k.numel() for k in keeps]
    pruned = [int((~k).sum()) for k in keeps]
    targets = n_to_prune(sizes, fraction, scope)
    if scope == "layer":
        return any(t > p for t, p in zip(targets, pruned, strict=True))
    return targets[0] > sum(pruned)


def _layer_quotas(sizes: list[int], fraction: float, total: int) -> list[int]:
    """Split ``total`` over layers in proportion to their size (largest remainder)."""
    exact = [fraction * n for n in sizes]
    quotas = [min(n, math.floor(q)) for n, q in zip(sizes, exact, strict=True)]
    by_remainder = sorted(range(len(sizes)), key=lambda i: (-(exact[i] - quotas[i]), i))
    for i in by_remainder[: max(0, total - sum(quotas))]:
        quotas[i] += 1
    return quotas


def lowest(scores: torch.Tensor, keep: torch.Tensor, n_prune: int) -> torch.Tensor:
    """A keep-mask removing the ``n_prune`` lowest scores; pruned weights stay pruned.

    Already pruned weights rank first; ties go to the lower flat index (stable sort),
    so the result is deterministic.
    """
    flat = torch.where(keep.reshape(-1), scores.reshape(-1).nan_to_num(nan=math.inf), -math.inf)
    n_prune = min(max(n_prune, int((~keep).sum())), flat.numel())
    pruned = torch.zeros_like(flat, dtype=torch.bool)
    if n_prune > 0:
        # A linear-time threshold instead of a full sort: everything below the
        # n_prune-th value goes, and ties at it go in flat-index order (as a stable
        # sort would).
        threshold = torch.kthvalue(flat.cpu(), n_prune).values.to(flat.device)
        pruned = flat < threshold
        missing = n_prune - int(pruned.sum())
        if missing > 0:
            pruned[torch.nonzero(flat == threshold).squeeze(1)[:missing]] = True
    return (~pruned).reshape(keep.shape)


def _floors(
    sizes: list[int], keeps: list[torch.Tensor], fraction: float, min_density: float
) -> list[int]:
    """Weights each layer keeps at least: ``min_density`` of it and at least one (an
    emptied layer leaves the output constant), never more than the layer would keep
    at the uniform ratio (so the target stays reachable) nor more than it still has."""
    return [
        # The epsilons undo round-off such as (1 - 0.9) * 100 = 9.999...
        min(
            max(math.ceil(min_density * n - 1e-9), 1),
            math.floor((1.0 - fraction) * n + 1e-9),
            int(k.sum()),
        )
        for n, k in zip(sizes, keeps, strict=True)
    ]


def _protect(scores: torch.Tensor, keep: torch.Tensor, n_protect: int) -> torch.Tensor:
    """Scores with the ``n_protect`` best kept weights raised to +inf (never pruned)."""
    if n_protect <= 0:
        return scores
    flat = torch.where(keep.reshape(-1), scores.reshape(-1).nan_to_num(nan=math.inf), -math.inf)
    if n_protect == 1:  # the common floor: one pass, not a sort
        best = flat.argmax().reshape(1)
    else:
        best = torch.sort(flat, descending=True, stable=True).indices[:n_protect]
    protected = scores.reshape(-1).clone()
    protected[best] = math.inf
    return protected.reshape(scores.shape)


def select(
    scores: list[torch.Tensor],
    keeps: list[torch.Tensor],
    fraction: float,
    scope: str,
    min_density: float = 0.0,
) -> list[torch.Tensor]:
    """New keep-masks at sparsity ``fraction``: the lowest scores go.

    ``scope="global"`` ranks all layers together, above a per-layer density floor
    (``min_density``); ``scope="layer"`` prunes the same ratio in every layer.
    """
    sizes = [k.numel() for k in keeps]
    targets = n_to_prune(sizes, fraction, scope)
    if scope == "layer":
        return [lowest(s, k, q) for s, k, q in zip(scores, keeps, targets, strict=True)]
    floors = _floors(sizes, keeps, fraction, min_density)
    scores = [_protect(s, k, f) for s, k, f in zip(scores, keeps, floors, strict=True)]
    flat = lowest(
        torch.cat([s.reshape(-1) for s in scores]),
        torch.cat([k.reshape(-1) for k in keeps]),
        targets[0],
    )
    return [part.reshape(k.shape) for part, k in zip(flat.split(sizes), keeps, strict=True)]
