"""The pruning engine: statistics -> scores -> selection -> apply, in pure PyTorch."""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable, Iterable

import numpy as np
import torch
from torch import nn

from ._layers import as_input_tensor, find_linear_layers
from ._methods import LayerContext, PruningMethod, ecp_closed_form, get_method
from ._refit import refit_layer
from ._report import LayerReport, PruningReport, PruningResult
from ._statistics import (
    LayerStatistics,
    _check_batch_size,
    _collect_statistics,
    ecp_statistics,
    loss_gradients,
)

__all__ = ["SCOPES", "apply_masks", "ecp_importance", "prune_mlp"]

SCOPES = ("global", "layer")

_F64 = torch.float64


def ecp_importance(
    module: nn.Module,
    X,
    *,
    layers: Iterable[nn.Linear | str] | None = None,
    batch_size: int = 1024,
    output_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """ECP importance and optimal bias shift of every weight.

    ``I_ij = W_ij^2 (S2_ij - S1_ij^2 / S0_i)`` is the mean squared output change
    left after removing ``W_ij`` and shifting ``b_i`` by the optimal
    ``db_ij = W_ij S1_ij / S0_i`` (first-order Taylor expansion of the output).
    The module is not modified.

    Parameters
    ----------
    module : torch.nn.Module
        The network.
    X : array-like or torch.Tensor of shape (n_samples, n_features)
        Calibration inputs.
    layers : iterable of nn.Linear or str, default=None
        Restrict to these layers. ``None`` means every Linear layer.
    batch_size : int, default=1024
        Samples per forward/backward pass.
    output_fn : callable, default=None
        Applied to the module's output before measuring the error.

    Returns
    -------
    importance : dict of str to (torch.Tensor, torch.Tensor)
        Per layer name, ``(importance, shift)``, float64 tensors of the weight's
        shape. Removing a set of weights of row ``i`` shifts ``b_i`` by the sum of
        their shifts (the joint optimum).

    Examples
    --------
    >>> import torch
    >>> from sklearn_ecprune import ecp_importance
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(),
    ...                           torch.nn.Linear(4, 2))
    >>> importance, shift = ecp_importance(net, torch.randn(50, 3))["0"]
    >>> importance.shape, bool((importance >= 0).all())
    (torch.Size([4, 3]), True)
    """
    stats = ecp_statistics(module, X, layers=layers, batch_size=batch_size, output_fn=output_fn)
    layer_by_name = dict(module.named_modules())
    return {
        name: ecp_closed_form(
            layer_by_name[name].weight, stat, layer_by_name[name].bias is not None
        )
        for name, stat in stats.items()
    }


def apply_masks(module: nn.Module, masks: dict[str, torch.Tensor]) -> None:
    """Zero the pruned weights of ``module`` in place (``masks[name]`` False).

    Used to keep pruned weights at exactly 0 while fine-tuning.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ecprune import apply_masks
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2))
    >>> apply_masks(net, {"0": torch.tensor([[True, False], [False, True]])})
    >>> int((net[0].weight == 0).sum())
    2
    """
    layer_by_name = dict(module.named_modules())
    with torch.no_grad():
        for name, mask in masks.items():
            weight = layer_by_name[name].weight
            weight.mul_(mask.to(device=weight.device, dtype=weight.dtype))


def _check_params(sparsity, scope, n_steps, compensate, random_state) -> None:
    if (
        isinstance(sparsity, bool)
        or not isinstance(sparsity, numbers.Real)
        or not 0.0 <= float(sparsity) < 1.0
    ):
        raise ValueError(
            f"sparsity must be a float in [0, 1): the fraction of weights to remove; "
            f"got {sparsity!r}."
        )
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {list(SCOPES)}, got {scope!r}.")
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}.")
    if compensate not in (None, True, False):
        raise ValueError(f"compensate must be None, True or False, got {compensate!r}.")
    if random_state is not None and (
        isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral)
    ):
        raise ValueError(f"random_state must be None or an integer, got {random_state!r}.")


def _check_variant_params(min_density, sequential, ridge) -> None:
    if (
        isinstance(min_density, bool)
        or not isinstance(min_density, numbers.Real)
        or not 0.0 <= float(min_density) <= 1.0
    ):
        raise ValueError(f"min_density must be a float in [0, 1], got {min_density!r}.")
    if not isinstance(sequential, bool):
        raise ValueError(f"sequential must be True or False, got {sequential!r}.")
    if (
        isinstance(ridge, bool)
        or not isinstance(ridge, numbers.Real)
        or not math.isfinite(float(ridge))
        or float(ridge) < 0.0
    ):
        raise ValueError(f"ridge must be a finite float >= 0, got {ridge!r}.")


def _as_target(y, X: torch.Tensor, n_samples: int) -> torch.Tensor:
    y_t = y.detach() if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y))
    if y_t.shape[0] != n_samples:
        raise ValueError(f"y has {y_t.shape[0]} samples, but X has {n_samples}.")
    if torch.is_floating_point(y_t):
        if not bool(torch.isfinite(y_t).all()):
            raise ValueError("y contains NaN or infinity.")
        return y_t.to(device=X.device, dtype=X.dtype)
    return y_t.to(device=X.device, dtype=torch.long)


def _default_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for class indices, mean squared error otherwise."""
    if target.dtype == torch.long:
        return nn.functional.cross_entropy(output, target)
    return nn.functional.mse_loss(output, target.reshape(output.shape))


def _schedule(sparsity: float, n_steps: int) -> list[float]:
    """Sparsity after each step: geometric on density, ending exactly at the target."""
    density = 1.0 - sparsity
    return [1.0 - density ** (step / n_steps) for step in range(1, n_steps)] + [sparsity]


def _layer_quotas(sizes: list[int], fraction: float, total: int) -> list[int]:
    """Split ``total`` over layers in proportion to their size (largest remainder)."""
    exact = [fraction * n for n in sizes]
    quotas = [min(n, math.floor(q)) for n, q in zip(sizes, exact, strict=True)]
    by_remainder = sorted(range(len(sizes)), key=lambda i: (-(exact[i] - quotas[i]), i))
    for i in by_remainder[: max(0, total - sum(quotas))]:
        quotas[i] += 1
    return quotas


def _lowest(scores: torch.Tensor, keep: torch.Tensor, n_prune: int) -> torch.Tensor:
    """A keep-mask removing the ``n_prune`` lowest scores; pruned weights stay pruned.

    Already pruned weights rank first; ties go to the lower flat index (stable sort),
    so the result is deterministic.
    """
    flat = torch.where(keep.reshape(-1), scores.reshape(-1).nan_to_num(nan=math.inf), -math.inf)
    n_prune = max(n_prune, int((~keep).sum()))
    order = torch.sort(flat, stable=True).indices
    new_keep = torch.ones_like(flat, dtype=torch.bool)
    new_keep[order[:n_prune]] = False
    return new_keep.reshape(keep.shape)


def _floors(
    sizes: list[int], keeps: list[torch.Tensor], fraction: float, min_density: float
) -> list[int]:
    """Weights each layer keeps at least: ``min_density`` of it, never more than the
    layer would keep at the uniform ratio (so the target stays reachable) nor more
    than it still has."""
    if min_density <= 0.0:
        return [0] * len(sizes)
    return [
        # The epsilons undo round-off such as (1 - 0.9) * 100 = 9.999...
        min(
            math.ceil(min_density * n - 1e-9),
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
    best = torch.sort(flat, descending=True, stable=True).indices[:n_protect]
    protected = scores.reshape(-1).clone()
    protected[best] = math.inf
    return protected.reshape(scores.shape)


def _select(
    scores: list[torch.Tensor],
    keeps: list[torch.Tensor],
    fraction: float,
    scope: str,
    min_density: float = 0.0,
) -> list[torch.Tensor]:
    sizes = [k.numel() for k in keeps]
    n_prune = round(fraction * sum(sizes))
    if scope == "layer":
        quotas = _layer_quotas(sizes, fraction, n_prune)
        return [_lowest(s, k, q) for s, k, q in zip(scores, keeps, quotas, strict=True)]
    # Global: one threshold across layers, above the per-layer density floor.
    floors = _floors(sizes, keeps, fraction, min_density)
    scores = [_protect(s, k, f) for s, k, f in zip(scores, keeps, floors, strict=True)]
    flat = _lowest(
        torch.cat([s.reshape(-1) for s in scores]),
        torch.cat([k.reshape(-1) for k in keeps]),
        n_prune,
    )
    return [part.reshape(k.shape) for part, k in zip(flat.split(sizes), keeps, strict=True)]


def prune_mlp(
    module: nn.Module,
    X,
    sparsity: float,
    *,
    method: str = "ecp",
    scope: str = "global",
    n_steps: int = 1,
    compensate: bool | None = None,
    layers: Iterable[nn.Linear | str] | None = None,
    y=None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    output_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    batch_size: int = 1024,
    random_state: int | None = None,
    min_density: float = 0.0,
    sequential: bool = False,
    ridge: float = 1e-3,
) -> PruningResult:
    """Prune the Linear layers of a network in place to a target sparsity.

    Weights are ranked by the chosen criterion and the lowest are set to exactly 0
    (plain parameters, no reparametrisation). With compensation, each removed
    weight shifts its row's bias by the ECP optimum ``W_ij S1_ij / S0_i``; the
    shifts of one row add up (the joint optimum). Biases are never pruned and do
    not count in the sparsity.

    Parameters
    ----------
    module : torch.nn.Module
        The network; modified in place.
    X : array-like or torch.Tensor of shape (n_samples, n_features)
        Calibration inputs.
    sparsity : float in [0, 1)
        Fraction of the weights of the pruned layers that end at zero; exactly
        ``round(sparsity * n_weights)`` weights. Weights already at zero count as
        pruned and stay pruned.
    method : str, default="ecp"
        The criterion, a key of :data:`PRUNING_METHODS`: ``"ecp"`` (the paper),
        ``"ecp-ls"`` (ECP ranking with a least-squares refit of the kept weights),
        ``"magnitude"``, ``"gradient"`` (needs ``y``), ``"obd"``, ``"wanda"``,
        ``"random"``, ``"nonlinear"`` (exact and slow).
    scope : {"global", "layer"}, default="global"
        One threshold across layers, or the same ratio in every layer.
    n_steps : int, default=1
        Steps of a geometric schedule on density; the statistics are recomputed
        on the partly pruned network at every step.
    compensate : bool or None, default=None
        Shift the biases of pruned weights. ``None`` uses the method's default
        (on for ``"ecp"`` and ``"nonlinear"``, off for the others). A refitting
        method (``"ecp-ls"``) always compensates, through its refit of the kept
        weights and the bias; ``compensate=False`` is an error there.
    layers : iterable of nn.Linear or str, default=None
        Prune only these layers. ``None`` means every Linear layer.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
        Targets, needed by ``"gradient"``.
    loss_fn : callable, default=None
        ``loss_fn(output, y)`` for ``"gradient"``; default cross-entropy for
        integer ``y`` and mean squared error otherwise.
    output_fn : callable, default=None
        Applied to the module's output before measuring the error (e.g. softmax).
    batch_size : int, default=1024
        Samples per pass over the data.
    random_state : int, default=None
        Seed of the ``"random"`` method.
    min_density : float in [0, 1], default=0.0
        With ``scope="global"``, no layer keeps fewer than ``ceil(min_density *
        n_weights)`` of its weights (its best-scored ones), which prevents the
        collapse of a whole layer at high sparsity. Capped at the uniform density
        ``1 - sparsity`` so that the target stays reachable; ignored with
        ``scope="layer"``.
    sequential : bool, default=False
        Within each step, prune the layers one after the other in forward order,
        recomputing the statistics and scores of layer ``l`` after the layers
        before it were pruned and compensated. How many weights each layer loses
        is still decided up front from the scores of all layers (global or per
        layer), so the sparsity is the same as without it.
    ridge : float >= 0, default=1e-3
        Relative ridge of the least-squares refit of refitting methods
        (``"ecp-ls"``): the refit is pulled towards the current weights with
        ``ridge`` times the mean diagonal of each row's Gram matrix. Unused by
        other methods.

    Returns
    -------
    result : PruningResult
        The masks (True = kept) and the per-layer report; prints as a table.

    Raises
    ------
    ValueError
        For invalid parameters or data; the module is then left unchanged.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ecprune import prune_mlp
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> net = torch.nn.Sequential(
    ...     torch.nn.Linear(10, 32), torch.nn.ReLU(),
    ...     torch.nn.Linear(32, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    >>> result = prune_mlp(net, torch.randn(200, 10), 0.9)
    >>> result.sparsity
    0.9
    >>> print(result)  # doctest: +SKIP
    layer  shape  weights  kept  sparsity  mean |bias shift|
    0      32x10  320      ...

    The project's improved variant: several steps, a density floor and a
    least-squares refit of the kept weights.

    >>> result = prune_mlp(net, torch.randn(200, 10), 0.95, method="ecp-ls",
    ...                    n_steps=5, min_density=0.02)
    >>> result.sparsity
    0.95
    """
    _check_params(sparsity, scope, n_steps, compensate, random_state)
    _check_variant_params(min_density, sequential, ridge)
    _check_batch_size(batch_size)
    strategy = get_method(method)
    X_t = as_input_tensor(X, module)
    named = find_linear_layers(module, X_t, layers)
    y_t = None
    if strategy.needs_loss_gradient:
        if y is None:
            raise ValueError(f"method={method!r} ranks by the loss gradient and needs y.")
        y_t = _as_target(y, X_t, X_t.shape[0])
    if compensate is False and strategy.refits:
        raise ValueError(
            f"method={method!r} compensates through its least-squares refit; "
            "compensate=False is not available with it (use method='ecp' for that)."
        )
    if compensate is None:
        compensate = strategy.compensates

    # Work on the module itself but restore it if anything fails half-way.
    backup = {key: value.detach().clone() for key, value in module.state_dict().items()}
    try:
        return _prune(
            module,
            X_t,
            y_t,
            named,
            float(sparsity),
            strategy,
            scope,
            int(n_steps),
            bool(compensate),
            loss_fn or _default_loss,
            output_fn,
            batch_size,
            random_state,
            float(min_density),
            sequential,
            float(ridge),
        )
    except BaseException:
        module.load_state_dict(backup)
        raise


def _prune(
    module: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor | None,
    named: list[tuple[str, nn.Linear]],
    sparsity: float,
    strategy: PruningMethod,
    scope: str,
    n_steps: int,
    compensate: bool,
    loss_fn: Callable,
    output_fn: Callable | None,
    batch_size: int,
    random_state: int | None,
    min_density: float = 0.0,
    sequential: bool = False,
    ridge: float = 1e-3,
) -> PruningResult:
    generator = torch.Generator()
    if random_state is None:
        generator.seed()
    else:
        generator.manual_seed(int(random_state))
    layers = [layer for _, layer in named]
    keeps = [layer.weight.detach() != 0 for layer in layers]
    bias_before = [None if layer.bias is None else layer.bias.detach().clone() for layer in layers]
    # The refit matches the pre-activations of the network as it was given.
    reference = copy.deepcopy(module) if strategy.refits else None

    def scores_of(subset: list[tuple[str, nn.Linear]]):
        stats = _step_statistics(module, X, subset, strategy, compensate, batch_size, output_fn)
        grads = (
            loss_gradients(module, X, y, subset, loss_fn, batch_size)
            if strategy.needs_loss_gradient
            else {}
        )
        scores = [
            strategy.compute_scores(
                LayerContext(
                    name=name,
                    layer=layer,
                    stats=stats.get(name),
                    loss_grad=grads.get(name),
                    generator=generator,
                    module=module,
                    X=X,
                    batch_size=batch_size,
                    output_fn=output_fn,
                    ridge=ridge,
                )
            )
            for name, layer in subset
        ]
        return stats, scores

    for fraction in _schedule(sparsity, n_steps):
        stats, scores = scores_of(named)
        new_keeps = _select(scores, keeps, fraction, scope, min_density)
        for index, (name, layer) in enumerate(named):
            keep, new_keep = keeps[index], new_keeps[index]
            if sequential and index > 0:
                # Same number of weights, chosen by scores that see the layers
                # before this one already pruned and compensated.
                layer_stats, (layer_scores,) = scores_of([(name, layer)])
                stats[name] = layer_stats.get(name)
                new_keep = _lowest(layer_scores, keep, int((~new_keep).sum()))
                new_keeps[index] = new_keep
            if reference is not None:
                refit_layer(
                    module,
                    reference,
                    X,
                    layer,
                    dict(reference.named_modules())[name],
                    new_keep,
                    batch_size,
                    output_fn,
                    ridge,
                )
                continue
            with torch.no_grad():
                removed = keep & ~new_keep
                if compensate and layer.bias is not None:
                    _, shift = ecp_closed_form(layer.weight, stats[name])
                    layer.bias += (shift * removed).sum(1).to(layer.bias.dtype)
                layer.weight.mul_(new_keep.to(layer.weight.dtype))
        keeps = new_keeps

    rows = [
        LayerReport(
            name=name,
            shape=tuple(layer.weight.shape),
            n_weights=layer.weight.numel(),
            n_kept=int((layer.weight != 0).sum()),
            mean_abs_bias_shift=(
                0.0 if before is None else float((layer.bias.detach() - before).abs().mean())
            ),
        )
        for (name, layer), before in zip(named, bias_before, strict=True)
    ]
    masks = {name: keep.clone() for (name, _), keep in zip(named, keeps, strict=True)}
    report = PruningReport(rows, strategy.name, sparsity)
    return PruningResult(masks=masks, report=report)


def _step_statistics(
    module: nn.Module,
    X: torch.Tensor,
    named: list[tuple[str, nn.Linear]],
    strategy: PruningMethod,
    compensate: bool,
    batch_size: int,
    output_fn: Callable | None,
) -> dict[str, LayerStatistics]:
    """The statistics this step needs, computed on the current (partly pruned) network."""
    # A refitting method compensates through its refit, which needs no statistics.
    if strategy.needs_statistics or (compensate and not strategy.refits):
        return _collect_statistics(module, X, named, batch_size, output_fn)
    if strategy.needs_inputs:
        return _collect_statistics(module, X, named, batch_size, with_output_grads=False)
    return {}
