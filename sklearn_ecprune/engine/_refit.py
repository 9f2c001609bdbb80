"""The least-squares refits behind ``method="ecp-ls"`` (exact) and ``"ecp-cg"`` (iterative).

After a layer's weights are selected, each row's kept weights and bias are refitted
so that the layer's pre-activation matches the original network's, weighted by the
row's output sensitivity:

    min over (w', b')  E[s_i (z_i - w'.a' - b')^2] + lam_i ||(w', b') - (w, b)||^2

with ``s_i = sum_k g_ik^2`` on the current network, ``a'`` the layer's current input
and ``z_i`` the reference network's pre-activation. ECP's bias shift is the special
case of a row that keeps no weight.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from ._layers import evaluating, forward_hooks

__all__ = ["RefitProblem", "capture", "refit_importance", "refit_layer", "refit_layer_cg"]

_F64 = torch.float64
# Most elements of the gathered (rows x samples x kept inputs) block held at once;
# bounds the memory of the refit whatever the layer's width.
_BLOCK_ELEMENTS = 1 << 24


@dataclass
class RefitProblem:
    """One layer's weighted least-squares refit, as both solvers take it.

    Per row ``i``: ``min E[s_i (z_i - w'.a~)^2] + lam_i ||w' - w||^2`` over the row's
    kept weights and its bias, where ``a~`` is ``inputs`` with a constant 1.
    """

    layer: nn.Linear  # refitted in place; its weights are the start and the ridge's centre
    keep: torch.Tensor  # (out, in) the weights that stay
    inputs: torch.Tensor  # (n, in) the layer's input in the current (partly pruned) network
    sensitivities: torch.Tensor  # (n, out) each row's per-sample output sensitivity s_i
    # target(start, stop): the reference pre-activations z of those samples, (stop - start,
    # out); None where only the systems are needed (the refit importance).
    target: Callable[[int, int], torch.Tensor] | None
    ridge: float  # lam_i = ridge * the mean diagonal of row i's Gram matrix
    chunk: int  # samples per product: bounds the memory

    @property
    def columns(self) -> torch.Tensor:
        """Which columns of ``[W | b]`` each row fits: its kept weights and the bias."""
        has_bias = self.layer.bias is not None
        return torch.cat([self.keep, torch.full_like(self.keep[:, :1], has_bias)], dim=1)

    def augmented_inputs(self, dtype: torch.dtype) -> torch.Tensor:
        """``[a | 1]`` in ``dtype``: the bias is the weight of a constant input."""
        a = self.inputs.to(dtype)
        return torch.cat([a, torch.ones_like(a[:, :1])], dim=1)


def refit_layer(problem: RefitProblem) -> None:
    """Apply ``problem.keep`` to the layer and refit each row's kept weights and bias.

    Rows are solved in blocks, each as a batch of small systems over its own kept
    inputs (padded to the widest row of the block), so that memory is bounded by
    ``_BLOCK_ELEMENTS`` and the work scales with the kept weights, not the layer's
    full width. The ridge ``lam_i`` is ``ridge`` times the mean diagonal of the
    row's Gram matrix (unit-free); a tiny floor keeps rows that never reach the
    output at their current weights.
    """
    work = _work_dtype(problem.layer)
    a = problem.augmented_inputs(work)
    s = problem.sensitivities.to(work)
    z = problem.target(0, a.shape[0]).to(work)
    current = _augmented_weight(problem.layer)
    solved = torch.zeros_like(current)
    for block in _row_systems(a, s, problem.columns, problem.ridge):
        # E[s_i z_i a~] as (sqrt(s_i) a~) @ (sqrt(s_i) z_i).
        target = (block.root_s * z[:, block.rows].T)[:, :, None]
        cross = (block.scaled @ target)[:, :, 0].to(_F64) / a.shape[0]
        start = torch.gather(current[block.rows], 1, block.index)
        rhs = (cross + block.lam[:, None] * start) * block.validf
        solution = torch.cholesky_solve(rhs[:, :, None], _cholesky(block.system))[:, :, 0]
        solved[block.rows] = block.scatter(solution * block.validf, current.shape[1])
    _write_back(problem.layer, solved, problem.keep)


def refit_importance(problem: RefitProblem) -> torch.Tensor:
    """The output error left by removing each weight after the refit compensates.

    For row ``i`` with weighted Gram matrix ``H_i = E[s_i a~ a~^T]`` over its kept
    inputs and the constant 1 (plus the ridge), removing weight ``j`` and refitting
    the others leaves ``W_ij^2 / [H_i^-1]_jj`` (the OBS saliency, with ECP's
    sensitivity weights). With only the bias free this is exactly ECP's importance.
    Weights outside ``problem.keep`` score 0. Returned in float64.
    """
    work = _work_dtype(problem.layer)
    a = problem.augmented_inputs(work)
    current = _augmented_weight(problem.layer)
    scores = torch.zeros_like(current)
    for block in _row_systems(a, problem.sensitivities.to(work), problem.columns, problem.ridge):
        inverse = torch.cholesky_inverse(_cholesky(block.system))
        inverse_diag = inverse.diagonal(dim1=1, dim2=2)
        w = torch.gather(current[block.rows], 1, block.index)
        saliency = w.square() / inverse_diag * block.validf
        scores[block.rows] = block.scatter(saliency, current.shape[1])
    return scores[:, : problem.layer.in_features] * problem.keep


def _cholesky(system: torch.Tensor) -> torch.Tensor:
    """Lower Cholesky factors of a batch of symmetric positive definite systems.

    The systems (weighted Gram plus ridge) are SPD, so Cholesky is the natural solver,
    at half the cost of LU. It also avoids batched LU on CPU, which fails with
    several threads for systems wider than about 150 (pytorch/pytorch#142815).
    Round-off can leave a nearly singular Gram matrix (``ridge=0``) indefinite:
    such systems get a diagonal jitter, raised tenfold until they factor.
    """
    factor, info = torch.linalg.cholesky_ex(system)
    if not bool(info.any()):
        return factor
    scale = system.diagonal(dim1=1, dim2=2).abs().amax(1)
    eye = torch.eye(system.shape[1], dtype=system.dtype, device=system.device)
    jitter = 1e-12
    while bool(info.any()):
        if jitter > 1.0:
            # A jitter as large as the diagonal factors any finite system.
            raise ValueError(
                "The least-squares refit met non-finite values: the network's outputs "
                "or the calibration data contain NaN or inf."
            )
        failed = info != 0
        lifted = system[failed] + (jitter * scale[failed])[:, None, None] * eye
        factor[failed], info[failed] = torch.linalg.cholesky_ex(lifted)
        jitter *= 10.0
    return factor


def _work_dtype(layer: nn.Linear) -> torch.dtype:
    # The Gram products dominate the cost: float32 for a float32 network (the ridge
    # is far above its round-off), solved in float64.
    return _F64 if layer.weight.dtype == _F64 else torch.float32


def _ridge(diagonal: torch.Tensor, mask: torch.Tensor, ridge: float) -> torch.Tensor:
    """Each row's ridge: ``ridge`` times its mean diagonal over the columns it fits.

    A tiny floor keeps rows that never reach the output at their current weights.
    """
    return ridge * (diagonal * mask).sum(1) / mask.sum(1).clamp_min(1.0) + 1e-12


def _write_back(layer: nn.Linear, augmented: torch.Tensor, keep: torch.Tensor) -> None:
    """Store ``[W | b]`` in the layer, its weights masked by ``keep``."""
    in_features = layer.in_features
    with torch.no_grad():
        layer.weight.copy_((augmented[:, :in_features] * keep).to(layer.weight.dtype))
        if layer.bias is not None:
            layer.bias.copy_(augmented[:, in_features].to(layer.bias.dtype))


def _augmented_weight(layer: nn.Linear) -> torch.Tensor:
    """``[W | b]`` in float64 (a zero column without a bias)."""
    weight = layer.weight.detach().to(_F64)
    if layer.bias is None:
        return torch.cat([weight, weight.new_zeros(len(weight), 1)], dim=1)
    return torch.cat([weight, layer.bias.detach().to(_F64)[:, None]], dim=1)


@dataclass
class _RowBlock:
    """The weighted least-squares systems of a block of rows."""

    rows: torch.Tensor  # (r,) row indices
    index: torch.Tensor  # (r, width) column of each slot (0 where padded)
    valid: torch.Tensor  # (r, width) whether a slot is a real column
    validf: torch.Tensor  # valid as float64
    scaled: torch.Tensor  # (r, width, n) kept inputs times sqrt of the row's sensitivity
    root_s: torch.Tensor  # (r, n) sqrt of the row's sensitivity
    system: torch.Tensor  # (r, width, width) Gram matrix plus ridge, identity where padded
    lam: torch.Tensor  # (r,) ridge of each row

    def scatter(self, values: torch.Tensor, width: int) -> torch.Tensor:
        """Per-slot ``values`` (r, slots) back in the full rows of ``[W | b]``."""
        full = values.new_zeros(len(self.rows), width)
        return full.scatter_add_(1, self.index, values)


def _row_systems(
    a: torch.Tensor, s: torch.Tensor, columns: torch.Tensor, ridge: float
) -> Iterator[_RowBlock]:
    """The systems of all rows, in blocks of similar width and bounded memory."""
    n, out_features = a.shape[0], columns.shape[0]
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
        yield _block_system(a, s, columns, order[start:stop], width, ridge)
        start = stop


def _block_system(
    a: torch.Tensor,
    s: torch.Tensor,
    columns: torch.Tensor,
    rows: torch.Tensor,
    width: int,
    ridge: float,
) -> _RowBlock:
    """The systems of ``rows``, each over its own columns padded to ``width``."""
    n = a.shape[0]
    block = columns[rows]
    # A stable sort puts each row's kept columns first, in index order.
    index = torch.sort((~block).to(torch.int8), dim=1, stable=True).indices[:, :width]
    valid = torch.gather(block, 1, index)
    index = torch.where(valid, index, 0)
    # (rows, width, samples): each row's own kept inputs, times sqrt(s_i) so that the
    # weighted Gram matrix is one symmetric product (one block-sized tensor, not two).
    root_s = s[:, rows].T.sqrt()
    scaled = a.T[index].mul_(root_s[:, None, :])
    gram = (scaled @ scaled.transpose(1, 2)).to(_F64) / n
    validf = valid.to(_F64)
    lam = _ridge(gram.diagonal(dim1=1, dim2=2), validf, ridge)
    system = gram * (validf[:, :, None] * validf[:, None, :]) + torch.diag_embed(
        torch.where(valid, lam[:, None], 1.0)
    )
    return _RowBlock(rows, index, valid, validf, scaled, root_s, system, lam)


# --- The conjugate-gradient refit behind method="ecp-cg" -----------------------------


class _StopForward(Exception):
    """Raised by a hook to end a forward pass once the layer of interest has run."""


def _is_view_of(value: torch.Tensor, X: torch.Tensor) -> bool:
    """Whether ``value`` is the leading rows of ``X`` itself (same memory, same layout)."""
    return (
        value.dtype == X.dtype
        and value.device == X.device
        and value.ndim == X.ndim == 2
        and value.shape[1] == X.shape[1]
        and value.data_ptr() == X.data_ptr()
        and value.stride() == X.stride()
    )


def capture(
    module: nn.Module, layer: nn.Linear, X: torch.Tensor, batch_size: int, what: str
) -> torch.Tensor:
    """The input (``what="in"``) or output (``"out"``) of ``layer`` over ``X``.

    The forward pass stops at ``layer``, so capturing a layer's input costs only the
    layers before it. Returns ``(n_samples, features)`` in the network's dtype.
    """
    captured: list[torch.Tensor] = []  # one (n, features) buffer, filled batch by batch
    position = [0]

    def hook(_mod, inputs, output):
        value = (output if what == "out" else inputs[0]).detach()
        if not captured and what == "in" and _is_view_of(value, X):
            # The layer reads the network's input as it is (a first layer): no copy.
            captured.append(X)
            position[0] = X.shape[0]
            raise _StopForward
        if not captured:
            captured.append(value.new_empty((X.shape[0], value.shape[1])))
        captured[0][position[0] : position[0] + len(value)] = value
        position[0] += len(value)
        raise _StopForward

    with forward_hooks({layer: hook}), evaluating(module), torch.no_grad():
        for start in range(0, X.shape[0], batch_size):
            try:
                module(X[start : start + batch_size])
            except _StopForward:
                pass
            if position[0] >= X.shape[0]:
                break
    return captured[0]


def _weighted_residual(
    a: torch.Tensor,
    s: torch.Tensor,
    weights: torch.Tensor,
    target: Callable[[int, int], torch.Tensor] | None,
    chunk: int,
) -> torch.Tensor:
    """``E[s (z - a W^T - b) a~]`` (out, in + 1) for ``weights = [W | b]``, by chunks.

    Without a ``target`` (z = 0) the sign is flipped: ``E[s (a W^T + b) a~]``, the
    weighted Gram matrices of all rows applied to their own directions at once.
    """
    n, in_features = a.shape
    total = torch.zeros_like(weights)
    w, b = weights[:, :in_features], weights[:, in_features]
    for start in range(0, n, chunk):
        rows = a[start : start + chunk]
        if target is None:
            residual = torch.addmm(b, rows, w.T)
        else:
            residual = torch.addmm(b, rows, w.T, beta=-1.0, alpha=-1.0)
            residual += target(start, start + chunk)
        residual *= s[start : start + chunk].to(residual.dtype)
        total[:, :in_features].addmm_(residual.T, rows)
        total[:, in_features] += residual.sum(0)
    return total.div_(n)


def refit_layer_cg(
    problem: RefitProblem,
    diagonal: torch.Tensor,
    bias_shift: torch.Tensor | None,
    iterations: int,
) -> None:
    """Apply ``problem.keep`` and refit the kept weights and bias by conjugate gradients.

    The objective is :func:`refit_layer`'s, per row ``i``:
    ``(H_i + lam_i I) w = E[s_i z_i a~] + lam_i w0`` over its kept columns and the
    bias, with ``H_i = E[s_i a~ a~^T]``. Instead of forming and factoring ``H_i`` for
    every row, ``iterations`` steps of Jacobi-preconditioned conjugate gradients run
    for all rows at once: each step applies every ``H_i`` with two dense products per
    chunk of samples (:func:`_weighted_residual`), whatever the density. The products
    run in the network's dtype.

    Parameters
    ----------
    problem : RefitProblem
        The layer (modified in place), its inputs, sensitivities and target.
    diagonal : torch.Tensor of shape (out, in + 1)
        ``[S2 | S0]``, the diagonal of every ``H_i``: it sets the preconditioner and
        the ridge ``lam_i = ridge * mean kept diagonal``.
    bias_shift : torch.Tensor of shape (out,) or None
        ECP's bias shift of each row: the start is the masked weights with it, the
        exact optimum when only the bias is free.
    iterations : int
        Conjugate-gradient steps.
    """
    a, s, target, chunk = problem.inputs, problem.sensitivities, problem.target, problem.chunk
    layer = problem.layer
    dtype = a.dtype
    start = _augmented_weight(layer).to(dtype)
    mask = problem.columns.to(dtype)
    diag = diagonal.to(dtype)
    lam = _ridge(diag, mask, problem.ridge)
    preconditioner = (diag + lam[:, None]) * mask + (1 - mask)
    x = start * mask
    if bias_shift is not None and layer.bias is not None:
        x[:, layer.in_features] += bias_shift.to(dtype)
    residual = _weighted_residual(a, s, x, target, chunk)
    residual.sub_(lam[:, None] * (x - start)).mul_(mask)
    del start, diag  # not needed any more: the iterations run at the peak memory
    z = residual / preconditioner
    direction = z.clone()
    rz = (residual * z).sum(1, dtype=_F64)
    for _ in range(iterations):
        applied = _weighted_residual(a, s, direction, None, chunk)
        applied.addcmul_(lam[:, None], direction).mul_(mask)
        curvature = (direction * applied).sum(1, dtype=_F64)
        alpha = torch.where(curvature > 0, rz / curvature.clamp_min(1e-300), 0.0).to(dtype)
        x.addcmul_(alpha[:, None], direction)
        residual.addcmul_(alpha[:, None], applied, value=-1.0)
        z = residual / preconditioner
        rz_new = (residual * z).sum(1, dtype=_F64)
        beta = torch.where(rz > 0, rz_new / rz.clamp_min(1e-300), 0.0).to(dtype)
        direction = z.add_(direction * beta[:, None])
        rz = rz_new
    if not bool(torch.isfinite(x).all()):
        largest = float(a.abs().max())
        if dtype == torch.float16:  # its range (6.5e4) is what overflowed, not the inputs
            raise ValueError(
                "The conjugate-gradient refit overflowed float16's range (at most 6.5e4) "
                "in its sums of squares. Prune a float32 or bfloat16 copy of the network "
                "(module.float()), or use method='ecp', which does not refit."
            )
        raise ValueError(
            "The conjugate-gradient refit produced non-finite weights: the layer inputs "
            f"reach |a| = {largest:.3g}, too large for {dtype} products. Scale the "
            "inputs (e.g. StandardScaler) before pruning."
        )
    _write_back(layer, x, problem.keep)
