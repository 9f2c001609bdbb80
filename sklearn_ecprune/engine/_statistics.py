"""Streaming per-layer statistics for elimination-compensation pruning.

For a Linear layer ``z = W a + b`` inside a network with output ``y`` (K outputs),
let ``g_ik = dy_k / dz_i``. Over the calibration data the engine needs

    S0_i  = E[sum_k g_ik^2]
    S1_ij = E[sum_k g_ik^2 a_j]
    S2_ij = E[sum_k g_ik^2 a_j^2]

(see the method page of the docs for the derivation). All of them come from one
forward pass and K backward passes per batch, for every layer at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

from ._layers import as_input_tensor, evaluating, find_linear_layers, forward_hooks
from ._validation import BATCH_SIZE, validate_params

__all__ = [
    "LayerStatistics",
    "ecp_closed_form",
    "ecp_statistics",
    "loss_gradients",
    "statistics_pass",
]

# Sums over many samples of products of squares cancel in S2 - S1^2 / S0; they are
# accumulated in float64 whatever the module's dtype.
_ACC = torch.float64


@dataclass
class LayerStatistics:
    """Calibration statistics of one Linear layer (means over the data).

    Attributes
    ----------
    s0 : torch.Tensor of shape (out_features,)
        ``E[sum_k g_ik^2]``, the output sensitivity of each neuron.
    s1 : torch.Tensor of shape (out_features, in_features)
        ``E[sum_k g_ik^2 a_j]``.
    s2 : torch.Tensor of shape (out_features, in_features)
        ``E[sum_k g_ik^2 a_j^2]``.
    input_sq : torch.Tensor of shape (in_features,)
        ``E[a_j^2]``, the mean squared input (used by Wanda).
    n_samples : int
        Number of calibration samples.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ecprune import ecp_statistics
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(),
    ...                           torch.nn.Linear(4, 2))
    >>> stats = ecp_statistics(net, torch.randn(16, 3))
    >>> stats["0"].s1.shape
    torch.Size([4, 3])
    """

    s0: torch.Tensor
    s1: torch.Tensor
    s2: torch.Tensor
    input_sq: torch.Tensor
    n_samples: int


def output_matrix(output, output_fn: Callable | None) -> torch.Tensor:
    if output_fn is not None:
        output = output_fn(output)
    if not isinstance(output, torch.Tensor):
        raise ValueError(f"The module must return a tensor, got {type(output).__name__}.")
    if output.ndim == 1:
        return output[:, None]
    if output.ndim != 2:
        raise ValueError(
            f"The module's output must be 1-D or 2-D (n_samples, n_outputs), got "
            f"shape {tuple(output.shape)}."
        )
    return output


def ecp_statistics(
    module: nn.Module,
    X,
    *,
    layers: Iterable[nn.Linear | str] | None = None,
    batch_size: int = 1024,
    output_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> dict[str, LayerStatistics]:
    """Compute the ECP statistics S0, S1 and S2 of every Linear layer.

    One streaming pass over ``X``: per batch, one forward pass and one backward pass
    per network output, for all layers at once. Memory is bounded by ``batch_size``,
    not by ``len(X)``. Runs on the module's device, in eval mode (dropout off); the
    module's training mode and parameters are left as they were.

    Parameters
    ----------
    module : torch.nn.Module
        The network. Its prunable layers are its ``nn.Linear`` layers.
    X : array-like or torch.Tensor of shape (n_samples, n_features)
        Calibration inputs.
    layers : iterable of nn.Linear or str, default=None
        Restrict the statistics to these layers (modules or names from
        ``module.named_modules()``). ``None`` means every Linear layer.
    batch_size : int, default=1024
        Samples per forward/backward pass.
    output_fn : callable, default=None
        Applied to the module's output before differentiating, e.g.
        ``lambda y: y.softmax(-1)`` to measure the error on probabilities instead
        of logits.

    Returns
    -------
    statistics : dict of str to LayerStatistics
        Keyed by layer name, in forward order.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ecprune import ecp_statistics
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> net = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(),
    ...                           torch.nn.Linear(8, 3))
    >>> stats = ecp_statistics(net, torch.randn(100, 5), batch_size=32)
    >>> list(stats), stats["2"].s0.shape
    (['0', '2'], torch.Size([3]))
    """
    validate_params(
        {"batch_size": batch_size, "output_fn": output_fn},
        {"batch_size": BATCH_SIZE, "output_fn": [None, "callable"]},
        "ecp_statistics",
    )
    X_t = as_input_tensor(X, module)
    named = find_linear_layers(module, X_t, layers)
    stats, _ = statistics_pass(module, X_t, named, batch_size, output_fn)
    return stats


def statistics_pass(
    module: nn.Module,
    X: torch.Tensor,
    named: list[tuple[str, nn.Linear]],
    batch_size: int,
    output_fn: Callable | None = None,
    with_output_grads: bool = True,
    keep_sensitivities: bool = False,
    sample_weight: torch.Tensor | None = None,
) -> tuple[dict[str, LayerStatistics], dict[str, torch.Tensor] | None]:
    """One streaming pass: per batch one forward and K backward passes, all layers.

    The products ``(g^2)^T a`` and ``(g^2)^T a^2`` run in the network's dtype on inputs
    centred by the first batch's mean (so float32 keeps the precision that
    ``S2 - S1^2 / S0`` needs) and are summed in float64; the uncentred statistics are
    recovered exactly in float64. With ``keep_sensitivities`` the per-sample
    ``s_i(x) = sum_k g_ik(x)^2`` of every layer, ``(n, out_features)``, come back too
    (the conjugate-gradient refit weighs its rows with them; bfloat16 for a float32
    network). ``sample_weight`` (mean 1) weighs every sample's contribution: the
    expectations become weighted means.
    """
    n = X.shape[0]
    device = X.device
    layers = [layer for _, layer in named]
    s0 = [torch.zeros(layer.out_features, dtype=_ACC, device=device) for layer in layers]
    s1 = [torch.zeros_like(layer.weight, dtype=_ACC) for layer in layers]
    s2 = [torch.zeros_like(layer.weight, dtype=_ACC) for layer in layers]
    input_sum = [torch.zeros(layer.in_features, dtype=_ACC, device=device) for layer in layers]
    input_sq = [torch.zeros(layer.in_features, dtype=_ACC, device=device) for layer in layers]
    centres: list[torch.Tensor | None] = [None] * len(layers)
    # Kept in bfloat16 for a float32 network: they only weigh the refit's samples, and
    # half the memory (n x all outputs) matters more than their last digits.
    kept_dtype = torch.bfloat16 if X.dtype == torch.float32 else X.dtype
    kept = (
        [torch.empty(n, layer.out_features, dtype=kept_dtype, device=device) for layer in layers]
        if keep_sensitivities and with_output_grads
        else None
    )
    inputs: dict[nn.Linear, torch.Tensor] = {}
    outputs: dict[nn.Linear, torch.Tensor] = {}  # attached to the graph, for the backward

    def record(layer: nn.Linear, layer_inputs: tuple, output: torch.Tensor) -> None:
        inputs[layer] = layer_inputs[0].detach()
        outputs[layer] = output

    with forward_hooks(dict.fromkeys(layers, record)), evaluating(module):
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            batch = X[start:stop]
            if with_output_grads:
                # Gradients w.r.t. the layers' outputs need a graph even when the
                # parameters are frozen; a leaf input gives one.
                with torch.enable_grad():
                    y = output_matrix(module(batch.detach().requires_grad_(True)), output_fn)
                    g_sq = squared_output_gradients(y, [outputs[m] for m in layers])
            else:
                with torch.no_grad():
                    module(batch)
            for i, layer in enumerate(layers):
                a = inputs[layer]
                if a.ndim != 2:
                    raise ValueError(
                        f"Linear layer {named[i][0]!r} receives a {a.ndim}-D input; "
                        "only 2-D (n_samples, features) inputs are supported."
                    )
                if centres[i] is None:
                    centres[i] = a.mean(0)
                centred = a - centres[i]
                rows = None if sample_weight is None else sample_weight[start:stop, None]
                input_sum[i] += _column_sums(centred, rows)
                if with_output_grads:
                    weights = g_sq[i].to(a.dtype)
                    if rows is not None:
                        weights = weights * rows.to(a.dtype)
                    s0[i] += weights.sum(0, dtype=_ACC)
                    s1[i] += weights.T @ centred  # summed into float64 in place
                centred.square_()
                input_sq[i] += _column_sums(centred, rows)
                if with_output_grads:
                    s2[i] += weights.T @ centred
                    if kept is not None:
                        kept[i][start:stop] = weights
                del centred
            inputs.clear()
            outputs.clear()

    stats = {}
    for i, (name, _) in enumerate(named):
        c = centres[i].to(_ACC)
        mean_s0 = (s0[i] / n)[:, None]
        s1c, s2c = s1[i] / n, s2[i] / n
        stats[name] = LayerStatistics(
            s0=s0[i] / n,
            s1=s1c + c[None, :] * mean_s0,
            s2=s2c + 2.0 * c[None, :] * s1c + c[None, :] ** 2 * mean_s0,
            # E[a^2] from the centred sums: E[(a - c)^2] + 2 c E[a - c] + c^2.
            input_sq=input_sq[i] / n + 2.0 * c * input_sum[i] / n + c**2,
            n_samples=n,
        )
    sensitivities = None if kept is None else {name: kept[i] for i, (name, _) in enumerate(named)}
    return stats, sensitivities


def _column_sums(values: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
    """Column sums of ``values`` in float64, each row weighted by ``rows`` if given."""
    return (values if rows is None else values * rows).sum(0, dtype=_ACC)


def squared_output_gradients(y: torch.Tensor, outputs: list[torch.Tensor]) -> list[torch.Tensor]:
    """``sum_k (dy_k / dz)^2`` per sample for each layer output z (one backward per k).

    Accumulated in the outputs' dtype (a sum of K squares); K sequential backward
    passes measured faster on the CPU than one batched (``is_grads_batched``) pass.
    """
    g_sq = [torch.zeros(z.shape, dtype=z.dtype, device=z.device) for z in outputs]
    n_outputs = y.shape[1]
    for k in range(n_outputs):
        grads = torch.autograd.grad(
            y[:, k].sum(),
            outputs,
            retain_graph=k < n_outputs - 1,
            allow_unused=True,
        )
        for acc, grad in zip(g_sq, grads, strict=True):
            if grad is not None:
                acc.addcmul_(grad, grad)
    return g_sq


def loss_gradients(
    module: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    named: list[tuple[str, nn.Linear]],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    batch_size: int,
) -> dict[str, torch.Tensor]:
    """Mean gradient of ``loss_fn`` w.r.t. each layer's weight over the data."""
    weights = [layer.weight for _, layer in named]
    totals = [torch.zeros_like(w, dtype=_ACC) for w in weights]
    with evaluating(module):
        for start in range(0, X.shape[0], batch_size):
            stop = start + batch_size
            with torch.enable_grad():
                loss = loss_fn(module(X[start:stop]), y[start:stop])
                # loss_fn averages over its batch: weight by the batch's share.
                grads = torch.autograd.grad(loss, weights, allow_unused=True)
            n_batch = min(stop, X.shape[0]) - start
            for total, grad in zip(totals, grads, strict=True):
                if grad is not None:
                    total += grad.to(_ACC) * n_batch
    return {name: total / X.shape[0] for (name, _), total in zip(named, totals, strict=True)}


def ecp_closed_form(
    weight: torch.Tensor, stats: LayerStatistics, has_bias: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ECP importance and optimal bias shift of every weight of a layer.

    ``I_ij = W_ij^2 (S2_ij - S1_ij^2 / S0_i)`` and ``db_ij = W_ij S1_ij / S0_i``;
    a neuron with ``S0_i = 0`` never reaches the output (importance 0, shift 0).
    Without a bias nothing can compensate: the importance is ``W^2 S2`` (OBD).
    Both are returned in float64.
    """
    w = weight.detach().to(torch.float64)
    if not has_bias:
        return w.square() * stats.s2, torch.zeros_like(w)
    s0 = stats.s0[:, None]
    reachable = s0 > 0
    # g^2-weighted mean of a_j; where S0 = 0 the weight has no effect at all.
    weighted_mean = torch.where(reachable, stats.s1 / torch.where(reachable, s0, 1.0), 0.0)
    # The weighted variance S2 - S1^2/S0 is >= 0; clamp round-off below zero.
    variance = (stats.s2 - stats.s1 * weighted_mean).clamp_min(0.0)
    return w.square() * variance, w * weighted_mean
