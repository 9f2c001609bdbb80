"""The pruning engine: statistics -> scores -> selection -> apply (-> refit), in pure PyTorch.

:func:`prune_mlp` checks its arguments, freezes them into a :class:`PruneConfig` and
runs the schedule: at every step the method scores the weights on the current network
(``_methods``), the selection decides which go (``_selection``), and the removed
weights are compensated, by ECP's bias shift or by a least-squares refit (``_refit``).
"""

from __future__ import annotations

import copy
import dataclasses
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ._compensators import Compensator, LayerStep
from ._layers import as_input_tensor, find_linear_layers
from ._methods import (
    DEFAULT_METHOD,
    METHOD,
    LayerContext,
    PruningMethod,
    compensator_for,
    get_method,
)
from ._report import LayerReport, PruningReport, PruningResult
from ._selection import lowest, removes_anything, schedule, select
from ._statistics import (
    LayerStatistics,
    ecp_closed_form,
    ecp_statistics,
    loss_gradients,
    statistics_pass,
)
from ._validation import (
    BATCH_SIZE,
    COMPENSATE,
    FINITE_NON_NEGATIVE_FLOAT,
    N_STEPS,
    POSITIVE_INT,
    SCOPE,
    SEED,
    SPARSITY,
    UNIT_FLOAT,
    validate_params,
)

__all__ = ["EmptyLayerWarning", "PruneConfig", "apply_masks", "ecp_importance", "prune_mlp"]


class EmptyLayerWarning(UserWarning):
    """A pruned layer kept no weight: its output no longer depends on its input.

    Examples
    --------
    >>> import warnings
    >>> import torch
    >>> from sklearn_ecprune import EmptyLayerWarning, prune_mlp
    >>> net = torch.nn.Sequential(torch.nn.Linear(50, 50), torch.nn.ReLU(),
    ...                           torch.nn.Linear(50, 1))
    >>> with torch.no_grad():
    ...     _ = net[2].weight.mul_(1e-4)  # a tiny last layer goes first
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = prune_mlp(net, torch.randn(64, 50), 0.99, method="magnitude")
    >>> any(issubclass(w.category, EmptyLayerWarning) for w in caught)
    True
    """


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
    validate_params({"batch_size": batch_size}, {"batch_size": BATCH_SIZE}, "ecp_importance")
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
    for name, mask in masks.items():
        layer = layer_by_name.get(name)
        if not isinstance(layer, nn.Linear):
            valid = sorted(n for n, m in layer_by_name.items() if isinstance(m, nn.Linear))
            raise ValueError(
                f"masks names {name!r}, which is not a Linear layer of the module; "
                f"its Linear layers are {valid}."
            )
        if tuple(mask.shape) != tuple(layer.weight.shape):
            raise ValueError(
                f"The mask of layer {name!r} has shape {tuple(mask.shape)}, but its "
                f"weight has shape {tuple(layer.weight.shape)}."
            )
    with torch.no_grad():
        for name, mask in masks.items():
            weight = layer_by_name[name].weight
            weight.mul_(mask.to(device=weight.device, dtype=weight.dtype))


_CALLABLE = [None, "callable"]


def _checked(constraints: list, convert: Callable | None = None) -> dict[str, Any]:
    """A :class:`PruneConfig` field's metadata: what ``prune_mlp`` accepts for it, and
    how an accepted value becomes the field's (``float`` for a NumPy float, ...)."""
    return {"constraints": constraints, "convert": convert}


@dataclass(frozen=True)
class PruneConfig:
    """The checked options of one :func:`~sklearn_ecprune.prune_mlp` run.

    Built once by ``prune_mlp`` from its arguments (:meth:`from_arguments`, which
    checks them against the constraints of each field), and passed as it is to the
    steps of the run (statistics, scoring, selection, compensation).

    Examples
    --------
    >>> from sklearn_ecprune.engine import PRUNING_METHODS, PruneConfig
    >>> config = PruneConfig(sparsity=0.9, method=PRUNING_METHODS["ecp-cg"]())
    >>> config.n_steps, config.batch_size
    (10, 512)
    >>> config.compensator
    ConjugateGradientRefit()
    """

    sparsity: float = field(metadata=_checked(SPARSITY, float))
    method: PruningMethod = field(metadata=_checked(METHOD, get_method))
    scope: str = field(default="global", metadata=_checked(SCOPE))
    n_steps: int = field(default=10, metadata=_checked(N_STEPS, int))
    compensate: bool = field(default=True, metadata=_checked(COMPENSATE))
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = field(
        default=None, metadata=_checked(_CALLABLE)
    )
    output_fn: Callable[[torch.Tensor], torch.Tensor] | None = field(
        default=None, metadata=_checked(_CALLABLE)
    )
    batch_size: int = field(default=512, metadata=_checked(BATCH_SIZE, int))
    random_state: int | None = field(default=None, metadata=_checked(SEED, int))
    min_density: float = field(default=0.0, metadata=_checked(UNIT_FLOAT, float))
    sequential: bool = field(default=False, metadata=_checked(["boolean"], bool))
    ridge: float = field(default=1e-3, metadata=_checked(FINITE_NON_NEGATIVE_FLOAT, float))
    cg_iterations: int = field(default=4, metadata=_checked(POSITIVE_INT, int))
    sample_weight: torch.Tensor | None = None

    @property
    def compensator(self) -> Compensator:
        """How the removed weights are compensated: the method's own, or masking only."""
        return compensator_for(self.method, self.compensate)

    @classmethod
    def constraints(cls) -> dict[str, list]:
        """What ``prune_mlp`` accepts for each option, by name."""
        return {f.name: f.metadata["constraints"] for f in dataclasses.fields(cls) if f.metadata}

    @classmethod
    def from_arguments(cls, arguments: Mapping[str, Any]) -> PruneConfig:
        """Check ``prune_mlp``'s options and freeze them, with defaults resolved.

        Raises ``InvalidParameterError`` for an option outside its constraints and
        ``ValueError`` for ``compensate=False`` with a refit. ``sample_weight`` is
        data, checked against the rows of ``X``: ``prune_mlp`` sets it afterwards.
        """
        validate_params(arguments, cls.constraints(), "prune_mlp")
        values = {}
        for f in dataclasses.fields(cls):
            if f.metadata:
                value, convert = arguments[f.name], f.metadata["convert"]
                values[f.name] = value if convert is None or value is None else convert(value)
        method, compensate = values["method"], values["compensate"]
        compensator_for(method, compensate)  # a refit switched off is an error, now
        return cls(
            **{
                **values,
                "compensate": bool(method.compensates if compensate is None else compensate),
                "loss_fn": values["loss_fn"] or _default_loss,
            }
        )


def _as_weights(sample_weight, X: torch.Tensor) -> torch.Tensor:
    """Sample weights as a tensor of mean 1 (so that means stay means), checked."""
    w = torch.as_tensor(np.asarray(sample_weight, dtype=np.float64))
    if w.ndim != 1 or w.shape[0] != X.shape[0]:
        raise ValueError(
            f"sample_weight must be 1-D with one weight per row of X ({X.shape[0]}), got "
            f"shape {tuple(w.shape)}."
        )
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()) or not float(w.sum()) > 0:
        raise ValueError("sample_weight must be finite, non-negative and not all zero.")
    return (w * (len(w) / w.sum())).to(device=X.device, dtype=X.dtype)


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
        if target.numel() and (int(target.min()) < 0 or int(target.max()) >= output.shape[1]):
            raise ValueError(
                f"y holds class indices in [{int(target.min())}, {int(target.max())}], but "
                f"the module has {output.shape[1]} outputs: labels must lie in "
                f"[0, {output.shape[1] - 1}]."
            )
        return nn.functional.cross_entropy(output, target)
    return nn.functional.mse_loss(output, target.reshape(output.shape))


# The public signature: every option a keyword, as in scikit-learn's functions.
def prune_mlp(  # noqa: PLR0913
    module: nn.Module,
    X,
    sparsity: float,
    *,
    method: str | PruningMethod | type[PruningMethod] = DEFAULT_METHOD,
    scope: str = "global",
    n_steps: int = 10,
    compensate: bool | None = None,
    layers: Iterable[nn.Linear | str] | None = None,
    y=None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    output_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    batch_size: int = 512,
    random_state: int | None = None,
    min_density: float = 0.0,
    sequential: bool = False,
    ridge: float = 1e-3,
    cg_iterations: int = 4,
    sample_weight=None,
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
    method : str, PruningMethod or PruningMethod subclass, default="ecp-cg"
        The criterion: a key of :data:`PRUNING_METHODS` (:data:`DEFAULT_METHOD`,
        ``"ecp-cg"``, is ECP's ranking with a conjugate-gradient refit of the kept
        weights; ``"ecp"`` is the paper's method; ``"ecp-ls"`` refits exactly;
        ``"ecp-obs"`` ranks by the error left after that refit; ``"magnitude"``,
        ``"gradient"`` (needs ``y``), ``"obd"``, ``"wanda"``, ``"random"``,
        ``"nonlinear"`` (exact and slow)), or a method instance or class (see
        :func:`register_method`).
    scope : {"global", "layer"}, default="global"
        One threshold across layers, or the same ratio in every layer.
    n_steps : int, default=10
        Steps of a geometric schedule on density; the statistics are recomputed
        on the partly pruned network at every step. A step that removes nothing
        is skipped, so ``sparsity=0`` leaves the network bit-identical.
    compensate : bool or None, default=None
        Shift the biases of pruned weights. ``None`` uses the method's default
        (on for the ECP methods and ``"nonlinear"``, off for the others). The
        refitting methods (``"ecp-cg"``, ``"ecp-ls"``, ``"ecp-obs"``) always
        compensate, through their refit of the kept weights and the bias;
        ``compensate=False`` is an error there.
    layers : iterable of nn.Linear or str, default=None
        Prune only these layers. ``None`` means every Linear layer.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
        Targets, needed by ``"gradient"``.
    loss_fn : callable, default=None
        ``loss_fn(output, y)`` for ``"gradient"``; default cross-entropy for
        integer ``y`` and mean squared error otherwise.
    output_fn : callable, default=None
        Applied to the module's output before measuring the error (e.g. softmax).
    batch_size : int, default=512
        Samples per pass over the data; the memory of a pass grows with it.
    random_state : int, default=None
        Seed of the ``"random"`` method.
    min_density : float in [0, 1], default=0.0
        With ``scope="global"``, no layer keeps fewer than ``ceil(min_density *
        n_weights)`` of its weights (its best-scored ones), and none fewer than
        one: a layer is never emptied (which would leave the output constant)
        while the uniform density gives it a weight. Capped at the uniform density
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
        (``"ecp-cg"``, ``"ecp-ls"``): the refit is pulled towards the current
        weights with ``ridge`` times the mean diagonal of each row's Gram matrix.
        Unused by other methods.
    cg_iterations : int >= 1, default=4
        Conjugate-gradient steps of ``"ecp-cg"``'s refit per layer and step (each
        costs two products over the calibration data). Unused by other methods.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the calibration samples in the statistics and the refits (the
        expectations become weighted means). The loss gradient of ``"gradient"``
        and the exact removal error of ``"nonlinear"`` stay unweighted.

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
    arguments = dict(locals())
    config = PruneConfig.from_arguments(arguments)  # the options, checked and frozen
    validate_params(arguments, {"layers": [None, Iterable]}, "prune_mlp")
    strategy = config.method
    if any(p.is_meta for p in module.parameters()):
        raise ValueError(
            "The module's parameters are on the meta device (shapes without values): "
            "build or load it on a real device (e.g. module.to_empty(device='cpu') and "
            "load its weights) before pruning."
        )
    X_t = as_input_tensor(X, module)
    named = find_linear_layers(module, X_t, layers)
    y_t = None
    if strategy.needs_loss_gradient:
        if y is None:
            raise ValueError(f"method={strategy.name!r} ranks by the loss gradient and needs y.")
        y_t = _as_target(y, X_t, X_t.shape[0])
    if sample_weight is not None:
        config = dataclasses.replace(config, sample_weight=_as_weights(sample_weight, X_t))
    # Work on the module itself but restore it if anything fails half-way.
    backup = {key: value.detach().clone() for key, value in module.state_dict().items()}
    # Loss gradients need weights that take gradients; frozen ones are thawed meanwhile.
    frozen = [layer.weight for _, layer in named if not layer.weight.requires_grad]
    try:
        for weight in frozen:
            weight.requires_grad_(True)
        return _prune(module, X_t, y_t, named, config)
    except BaseException:
        module.load_state_dict(backup)
        raise
    finally:
        for weight in frozen:
            weight.requires_grad_(False)


def _prune(
    module: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor | None,
    named: list[tuple[str, nn.Linear]],
    config: PruneConfig,
) -> PruningResult:
    compensator = config.compensator
    generator = torch.Generator()
    if config.random_state is None:
        generator.seed()
    else:
        generator.manual_seed(config.random_state)
    layers = [layer for _, layer in named]
    keeps = [layer.weight.detach() != 0 for layer in layers]
    bias_before = [None if layer.bias is None else layer.bias.detach().clone() for layer in layers]
    fractions = [
        f
        for f in schedule(config.sparsity, config.n_steps)
        if removes_anything(keeps, f, config.scope)
    ]
    # A refit matches the pre-activations of the network as it was given.
    reference = copy.deepcopy(module) if compensator.needs_reference and fractions else None

    def scores_of(subset: list[tuple[str, nn.Linear]]):
        stats, sensitivities = _step_statistics(module, X, subset, config)
        grads = (
            loss_gradients(module, X, y, subset, config.loss_fn, config.batch_size)
            if config.method.needs_loss_gradient
            else {}
        )
        scores = [
            _checked_scores(
                config.method,
                LayerContext(
                    name=name,
                    layer=layer,
                    stats=stats.get(name),
                    loss_grad=grads.get(name),
                    generator=generator,
                    module=module,
                    X=X,
                    batch_size=config.batch_size,
                    output_fn=config.output_fn,
                    ridge=config.ridge,
                    sample_weight=config.sample_weight,
                    sensitivities=sensitivities.get(name),
                ),
            )
            for name, layer in subset
        ]
        return stats, sensitivities, scores

    for fraction in fractions:
        if not removes_anything(keeps, fraction, config.scope):
            continue
        stats, sensitivities, scores = scores_of(named)
        new_keeps = select(scores, keeps, fraction, config.scope, config.min_density)
        del scores  # the compensation below needs memory more than these
        for index, (name, layer) in enumerate(named):
            new_keep = new_keeps[index]
            if config.sequential and index > 0:
                # Same number of weights, chosen by scores that see the layers
                # before this one already pruned and compensated.
                layer_stats, layer_sensitivities, (layer_scores,) = scores_of([(name, layer)])
                stats.update(layer_stats)
                sensitivities.update(layer_sensitivities)
                new_keep = new_keeps[index] = lowest(
                    layer_scores, keeps[index], int((~new_keep).sum())
                )
            step = LayerStep(
                name=name,
                layer=layer,
                keep=keeps[index],
                new_keep=new_keep,
                module=module,
                X=X,
                config=config,
                # Popped: a layer's statistics are not needed after its compensation.
                stats=stats.pop(name, None),
                sensitivities=sensitivities.pop(name, None),
                reference=reference,
            )
            compensator.compensate(step)
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
    empty = [row.name for row in rows if row.n_kept == 0 and row.n_weights > 0]
    if empty:
        warnings.warn(
            f"Pruning to sparsity {config.sparsity:g} left no weight in layer(s) "
            f"{', '.join(map(repr, empty))}: the network's output no longer depends on its "
            "input there (only biases remain). Use a lower sparsity, or min_density to keep "
            "a share of every layer.",
            EmptyLayerWarning,
            stacklevel=3,
        )
    masks = {name: keep.clone() for (name, _), keep in zip(named, keeps, strict=True)}
    report = PruningReport(rows, config.method.name, config.sparsity)
    return PruningResult(masks=masks, report=report)


def _checked_scores(strategy: PruningMethod, ctx: LayerContext) -> torch.Tensor:
    """The method's scores, checked: a custom method must return one per weight."""
    scores = strategy.compute_scores(ctx)
    shape = tuple(ctx.layer.weight.shape)
    if not isinstance(scores, torch.Tensor) or tuple(scores.shape) != shape:
        got = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise ValueError(
            f"Pruning method {strategy.name!r} must return a tensor of scores of the "
            f"weight's shape {shape} for layer {ctx.name!r}; it returned {got}."
        )
    if bool(torch.isnan(scores).any()):
        raise ValueError(
            f"Pruning method {strategy.name!r} returned NaN scores for layer {ctx.name!r}: "
            "which weights it would prune is undefined. Check the method's computation "
            "(and the network's weights and inputs for NaN)."
        )
    return scores.to(device=ctx.layer.weight.device)


def _step_statistics(
    module: nn.Module,
    X: torch.Tensor,
    named: list[tuple[str, nn.Linear]],
    config: PruneConfig,
) -> tuple[dict[str, LayerStatistics], dict[str, torch.Tensor]]:
    """One pass over the data for what the step's scorer and compensator need.

    Returns the statistics (with only ``input_sq`` when nothing needs the output
    gradients) and, when asked for, each layer's per-sample sensitivities.
    """
    needs = [config.method, config.compensator]
    keep_sensitivities = any(part.needs_sensitivities for part in needs)
    with_output_grads = keep_sensitivities or any(part.needs_statistics for part in needs)
    if not (with_output_grads or config.method.needs_inputs):
        return {}, {}
    stats, sensitivities = statistics_pass(
        module,
        X,
        named,
        config.batch_size,
        config.output_fn,
        with_output_grads=with_output_grads,
        keep_sensitivities=keep_sensitivities,
        sample_weight=config.sample_weight,
    )
    return stats, sensitivities or {}
