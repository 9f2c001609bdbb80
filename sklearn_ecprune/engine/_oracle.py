"""The paper's "non-linear" baseline: the true output error of every single removal.

Each weight W_ij is set to 0 (and, with compensation, b_i shifted by its optimal
``db_ij``) on its own, the network is run on the data, and the mean squared output
change ``E[sum_k (y_k' - y_k)^2]`` is its importance. One forward pass per weight:
exact, expensive, for tiny networks and as an oracle for the linearised criterion.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from ._layers import as_input_tensor, evaluating, find_linear_layers, forward_hooks
from ._statistics import ecp_closed_form, output_matrix, statistics_pass
from ._validation import BATCH_SIZE, validate_params

__all__ = ["nonlinear_importance"]

# Rows (weights x samples) evaluated in one forward pass.
_ROWS_PER_PASS = 1 << 16


def nonlinear_importance(
    module: nn.Module,
    X,
    *,
    layers: Iterable[nn.Linear | str] | None = None,
    compensate: bool = True,
    batch_size: int = 1024,
) -> dict[str, torch.Tensor]:
    """True mean squared output change of removing each weight on its own.

    The expensive baseline of the paper: for every weight, the network output on
    ``X`` with that weight set to zero (and its bias shifted by the ECP optimum
    when ``compensate``) is compared with the unpruned output. The module is left
    unchanged. Cost: one forward pass over ``X`` per weight.

    Parameters
    ----------
    module : torch.nn.Module
        The network.
    X : array-like or torch.Tensor of shape (n_samples, n_features)
        Calibration inputs.
    layers : iterable of nn.Linear or str, default=None
        Restrict to these layers. ``None`` means every Linear layer.
    compensate : bool, default=True
        Shift the adjacent bias by the ECP optimum ``W_ij S1_ij / S0_i``.
    batch_size : int, default=1024
        Samples per pass.

    Returns
    -------
    importance : dict of str to torch.Tensor
        Per layer name, a float64 tensor of the weight's shape.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ecprune import nonlinear_importance
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(),
    ...                           torch.nn.Linear(4, 1))
    >>> imp = nonlinear_importance(net, torch.randn(20, 3))
    >>> imp["0"].shape
    torch.Size([4, 3])
    """
    validate_params(
        {"compensate": compensate, "batch_size": batch_size},
        {"compensate": ["boolean"], "batch_size": BATCH_SIZE},
        "nonlinear_importance",
    )
    X_t = as_input_tensor(X, module)
    named = find_linear_layers(module, X_t, layers)
    stats = statistics_pass(module, X_t, named, batch_size)[0] if compensate else None
    result = {}
    for name, layer in named:
        if stats is None:
            shift = torch.zeros_like(layer.weight, dtype=torch.float64)
        else:
            _, shift = ecp_closed_form(layer.weight, stats[name], layer.bias is not None)
        result[name] = layer_nonlinear_importance(module, X_t, layer, shift, batch_size)
    return result


def layer_nonlinear_importance(
    module: nn.Module,
    X: torch.Tensor,
    layer: nn.Linear,
    shift: torch.Tensor,
    batch_size: int,
) -> torch.Tensor:
    """:func:`nonlinear_importance` of one layer, with the bias shifts given."""
    weight = layer.weight.detach()
    out_features, in_features = weight.shape
    shift = shift.to(weight.dtype)
    rows, cols = (
        idx.reshape(-1)
        for idx in torch.meshgrid(
            torch.arange(out_features, device=weight.device),
            torch.arange(in_features, device=weight.device),
            indexing="ij",
        )
    )
    error = torch.zeros(weight.numel(), dtype=torch.float64, device=weight.device)
    chunk: dict[str, torch.Tensor] = {}

    def perturb(_mod, inputs, output):
        # The batch is the data repeated once per weight of the chunk: block p sees
        # weight (i_p, j_p) removed, i.e. z_i -= W_ij a_j, and its bias shifted.
        i, j = chunk["rows"], chunk["cols"]
        n_weights = i.shape[0]
        a = inputs[0].reshape(n_weights, -1, in_features)
        z = output.reshape(n_weights, -1, out_features).clone()
        block = torch.arange(n_weights, device=z.device)
        z[block, :, i] += -weight[i, j][:, None] * a[block, :, j] + shift[i, j][:, None]
        return z.reshape(output.shape)

    with evaluating(module), torch.no_grad():
        for start in range(0, X.shape[0], batch_size):
            batch = X[start : start + batch_size]
            reference = output_matrix(module(batch), None)
            per_pass = max(1, _ROWS_PER_PASS // batch.shape[0])
            with forward_hooks({layer: perturb}):
                for first in range(0, weight.numel(), per_pass):
                    chunk["rows"] = rows[first : first + per_pass]
                    chunk["cols"] = cols[first : first + per_pass]
                    n_weights = chunk["rows"].shape[0]
                    repeated = batch.repeat(n_weights, 1)
                    y = output_matrix(module(repeated), None)
                    diff = y.reshape(n_weights, *reference.shape) - reference
                    error[first : first + n_weights] += (
                        diff.to(torch.float64).square().sum(dim=(1, 2))
                    )
    return (error / X.shape[0]).reshape(weight.shape)
