"""The least-squares refit behind ``method="ecp-ls"``.

After a layer's weights are selected, each row's kept weights and bias are refitted
so that the layer's pre-activation matches the original network's, weighted by the
row's output sensitivity:

    min over (w', b')  E[s_i (z_i - w'.a' - b')^2] + lam_i ||(w', b') - (w, b)||^2

with ``s_i = sum_k g_ik^2`` on the current network, ``a'`` the layer's current input
and ``z_i`` the reference network's pre-activation. ECP's bias shift is the special
case of a row that keeps no weight.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ._statistics import _output_matrix, _squared_output_gradients

__all__ = ["refit_layer"]

_F64 = torch.float64
# Most elements of the gathered (rows x samples x kept inputs) block held at once;
# bounds the memory of the refit whatever the layer's width.
_BLOCK_ELEMENTS = 1 << 24


def _collect(
    module: nn.Module,
    reference: nn.Module,
    X: torch.Tensor,
    layer: nn.Linear,
    ref_layer: nn.Linear,
    batch_size: int,
    output_fn: Callable | None,
    dtype: torch.dtype,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per sample: the layer's input (with a constant 1), ``s_i`` and the target ``z_i``."""
    seen: dict[str, torch.Tensor] = {}

    def record(key):
        def hook(_mod, inputs, output):
            seen[key + "_in"] = inputs[0].detach()
            seen[key + "_out"] = output

        return hook

    handles = [
        layer.register_forward_hook(record("cur")),
        ref_layer.register_forward_hook(record("ref")),
    ]
    inputs, sensitivities, targets = [], [], []
    was_training = (module.training, reference.training)
    module.eval()
    reference.eval()
    try:
        for start in range(0, X.shape[0], batch_size):
            batch = X[start : start + batch_size]
            with torch.enable_grad():
                out = _output_matrix(module(batch.detach().requires_grad_(True)), output_fn)
                (weights,) = _squared_output_gradients(out, [seen["cur_out"]])
            with torch.no_grad():
                reference(batch)
            a = seen["cur_in"].to(dtype)
            inputs.append(torch.cat([a, torch.ones_like(a[:, :1])], dim=1))
            sensitivities.append(weights.to(dtype))
            targets.append(seen["ref_out"].detach().to(dtype))
            seen.clear()
    finally:
        for handle in handles:
            handle.remove()
        module.train(was_training[0])
        reference.train(was_training[1])
    return torch.cat(inputs), torch.cat(sensitivities), torch.cat(targets)


def refit_layer(
    module: nn.Module,
    reference: nn.Module,
    X: torch.Tensor,
    layer: nn.Linear,
    ref_layer: nn.Linear,
    keep: torch.Tensor,
    batch_size: int,
    output_fn: Callable | None,
    ridge: float,
) -> None:
    """Apply ``keep`` to ``layer`` and refit each row's kept weights and bias.

    Rows are solved in blocks, each as a batch of small systems over its own kept
    inputs (padded to the widest row of the block), so that memory is bounded by
    ``_BLOCK_ELEMENTS`` and the work scales with the kept weights, not the layer's
    full width. The ridge ``lam_i`` is ``ridge`` times the mean diagonal of the
    row's Gram matrix (unit-free); a tiny floor keeps rows that never reach the
    output at their current weights.
    """
    has_bias = layer.bias is not None
    out_features, in_features = layer.weight.shape
    device = layer.weight.device
    # The Gram products dominate the cost: float32 for a float32 network (the ridge
    # is far above its round-off), solved in float64.
    work = _F64 if layer.weight.dtype == _F64 else torch.float32
    a, s, z = _collect(module, reference, X, layer, ref_layer, batch_size, output_fn, work)
    n = a.shape[0]

    keep = keep.to(device)
    columns = torch.cat([keep, torch.full_like(keep[:, :1], has_bias)], dim=1)
    current = layer.weight.detach().to(_F64)
    bias = layer.bias.detach().to(_F64) if has_bias else torch.zeros_like(current[:, 0])
    current = torch.cat([current, bias[:, None]], dim=1)
    solved = torch.zeros(out_features, in_features + 1, dtype=_F64, device=device)

    # Rows with similar numbers of kept inputs share a block (less padding).
    counts = columns.sum(1)
    order = torch.sort(counts, stable=True).indices
    start = 0
    while start < out_features:
        width = max(1, int(counts[order[start]]))
        rows_fit = max(1, _BLOCK_ELEMENTS // (n * width))
        stop = start + 1
        while stop < out_features and stop - start < rows_fit:
            width = max(width, int(counts[order[stop]]))
            rows_fit = max(1, _BLOCK_ELEMENTS // (n * width))
            stop += 1
        rows = order[start:stop]
        _solve_block(a, s, z, columns, current, solved, rows, width, ridge)
        start = stop

    with torch.no_grad():
        layer.weight.copy_((solved[:, :in_features] * keep).to(layer.weight.dtype))
        if has_bias:
            layer.bias.copy_(solved[:, in_features].to(layer.bias.dtype))


def _solve_block(
    a: torch.Tensor,
    s: torch.Tensor,
    z: torch.Tensor,
    columns: torch.Tensor,
    current: torch.Tensor,
    solved: torch.Tensor,
    rows: torch.Tensor,
    width: int,
    ridge: float,
) -> None:
    """Solve the refit of ``rows``, each over its kept columns padded to ``width``."""
    n = a.shape[0]
    block = columns[rows]
    # A stable sort puts each row's kept columns first, in index order.
    index = torch.sort((~block).to(torch.int8), dim=1, stable=True).indices[:, :width]
    valid = torch.gather(block, 1, index)
    index = torch.where(valid, index, 0)
    # (rows, samples, width): each row's own kept inputs.
    gathered = a[:, index].permute(1, 0, 2)
    weights = s[:, rows].T  # (rows, samples)
    weighted = gathered * weights[:, :, None]
    gram = (weighted.transpose(1, 2) @ gathered).to(_F64) / n
    cross = (weighted * z[:, rows].T[:, :, None]).sum(1).to(_F64) / n
    validf = valid.to(_F64)
    diag = gram.diagonal(dim1=1, dim2=2)
    lam = ridge * (diag * validf).sum(1) / validf.sum(1).clamp_min(1.0) + 1e-12
    system = gram * (validf[:, :, None] * validf[:, None, :]) + torch.diag_embed(
        torch.where(valid, lam[:, None], 1.0)
    )
    start = torch.gather(current[rows], 1, index)
    rhs = (cross + lam[:, None] * start) * validf
    solution = torch.linalg.solve(system, rhs) * validf
    full = torch.zeros(len(rows), current.shape[1], dtype=_F64, device=current.device)
    full.scatter_add_(1, index, solution)
    solved[rows] = full
