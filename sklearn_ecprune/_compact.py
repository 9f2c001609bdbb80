"""Making a pruned network cheaper to run: sparse weights and removed neurons.

Unstructured pruning leaves zeros in dense matrices, which cost as much as any other
number. Two ways to turn sparsity into speed:

- :func:`to_sparse_module` stores each pruned Linear layer's weight as a CSR matrix
  (inference only); it pays off at high sparsity.
- :func:`prune_neurons` removes whole hidden neurons, compensating each removal
  through the next layer's biases with the same ECP statistics; the result is a
  smaller dense network, faster at any sparsity.
"""

from __future__ import annotations

import copy
import itertools
import math
import numbers
import warnings
from collections.abc import Callable

import torch
from torch import nn

from ._layers import as_input_tensor, find_linear_layers
from ._methods import ecp_closed_form
from ._report import LayerReport, PruningReport
from ._statistics import _check_batch_size, _collect_statistics

__all__ = ["SparseLinear", "prune_neurons", "to_sparse_module"]

# Modules that act on each feature separately: a hidden neuron can be removed
# across them by slicing the Linear layers on both sides.
_ELEMENTWISE = (
    nn.ReLU, nn.LeakyReLU, nn.ReLU6, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Tanh, nn.Sigmoid, nn.Softplus, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid,
    nn.Identity, nn.Dropout,
)  # fmt: skip


class SparseLinear(nn.Module):
    """An inference-only Linear layer whose weight is a sparse CSR matrix.

    Built from a pruned ``nn.Linear`` by :func:`to_sparse_module`; computes the same
    ``x W^T + b`` with a sparse-dense product.

    Parameters
    ----------
    linear : torch.nn.Linear
        The (pruned) layer to convert.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ecprune import SparseLinear
    >>> dense = torch.nn.Linear(4, 3)
    >>> with torch.no_grad():
    ...     dense.weight[:, :2] = 0
    >>> sparse = SparseLinear(dense)
    >>> x = torch.randn(5, 4)
    >>> torch.allclose(sparse(x), dense(x), atol=1e-6)
    True
    """

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "CSR support is in beta"
            self.register_buffer("weight", linear.weight.detach().to_sparse_csr())
        bias = None if linear.bias is None else linear.bias.detach().clone()
        self.register_buffer("bias", bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x W^T + b`` with a sparse-dense matrix product."""
        flat = x.reshape(-1, self.in_features)
        out = torch.sparse.mm(self.weight, flat.T).T
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        """Sizes and the density of the stored weight."""
        nnz = self.weight.values().numel()
        density = nnz / (self.in_features * self.out_features)
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"density={density:.3f}"
        )


def to_sparse_module(module: nn.Module, min_sparsity: float = 0.95) -> nn.Module:
    """A copy of ``module`` for inference, its sparse Linear layers stored as CSR.

    Every ``nn.Linear`` with at least ``min_sparsity`` of its weights at zero is
    replaced by a :class:`SparseLinear`; the others stay dense. The copy computes
    the same function (up to float rounding) and cannot be trained.

    Parameters
    ----------
    module : torch.nn.Module
        A (pruned) network; left unchanged.
    min_sparsity : float, default=0.95
        Layers at least this sparse are converted. On CPU a CSR product beats a
        dense one only at very high sparsity (in ``benchmarks/bench_inference.py``
        on a 784-1024-1024-10 MLP: 0.55x at 90 %, 1.0x at 95 %, 2.4x at 99 %);
        removing neurons with :func:`prune_neurons` is the way to a fast network
        at moderate sparsity.

    Returns
    -------
    sparse_module : torch.nn.Module
        The converted copy, in eval mode.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ecprune import prune_mlp, to_sparse_module
    >>> net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(),
    ...                           torch.nn.Linear(16, 2))
    >>> X = torch.randn(64, 8)
    >>> _ = prune_mlp(net, X, 0.95, scope="layer")
    >>> fast = to_sparse_module(net)
    >>> type(fast[0]).__name__
    'SparseLinear'
    >>> torch.allclose(fast(X), net(X), atol=1e-5)
    True
    """
    if not isinstance(min_sparsity, numbers.Real) or not 0.0 <= min_sparsity <= 1.0:
        raise ValueError(f"min_sparsity must be a float in [0, 1], got {min_sparsity!r}.")
    converted = copy.deepcopy(module).eval()
    targets = [
        (name, layer)
        for name, layer in converted.named_modules()
        if isinstance(layer, nn.Linear)
        and float((layer.weight == 0).float().mean()) >= min_sparsity
    ]
    for name, layer in targets:
        _replace(converted, name, SparseLinear(layer))
    return converted


def _replace(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, new)


def _consecutive_pairs(
    module: nn.Module, named: list[tuple[str, nn.Linear]]
) -> list[tuple[str, str]]:
    """Pairs of Linear layers joined only by elementwise modules in an nn.Sequential."""
    if not isinstance(module, nn.Sequential):
        raise ValueError(
            "prune_neurons needs an nn.Sequential of Linear layers and elementwise "
            f"activations, got {type(module).__name__}."
        )
    children = list(module.named_children())
    order = {name: i for i, (name, _) in enumerate(children)}
    pairs = []
    for (first, _), (second, _) in itertools.pairwise(named):
        if first not in order or second not in order:
            raise ValueError("prune_neurons needs the Linear layers as direct children.")
        between = children[order[first] + 1 : order[second]]
        if not all(isinstance(m, _ELEMENTWISE) for _, m in between):
            odd = [type(m).__name__ for _, m in between if not isinstance(m, _ELEMENTWISE)]
            raise ValueError(
                f"Between Linear layers {first!r} and {second!r} there are modules that "
                f"mix features ({odd}); neurons cannot be removed across them."
            )
        pairs.append((first, second))
    return pairs


def prune_neurons(
    module: nn.Sequential,
    X,
    fraction: float,
    *,
    n_steps: int = 1,
    compensate: bool = True,
    batch_size: int = 1024,
    output_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> PruningReport:
    """Remove whole hidden neurons, compensating through the next layer's bias.

    Removing hidden neuron ``i`` of a layer removes column ``i`` of the next Linear
    layer; each of that layer's rows ``k`` shifts its bias by the ECP optimum
    ``W_ki S1_ki / S0_k``, and the neuron's importance is the summed error left,
    ``sum_k W_ki^2 (S2_ki - S1_ki^2 / S0_k)`` (the rows' errors are added, ignoring
    their cross terms, as OBD does). The lowest-ranked neurons are removed across
    all hidden layers at once (each keeps at least one), and the Linear layers are
    replaced in place by smaller dense ones: the network gets faster at predict.

    Parameters
    ----------
    module : torch.nn.Sequential
        Linear layers with elementwise activations (or dropout) between them;
        modified in place.
    X : array-like or torch.Tensor of shape (n_samples, n_features)
        Calibration inputs.
    fraction : float in [0, 1)
        Fraction of the hidden neurons to remove.
    n_steps : int, default=1
        Steps of a geometric schedule on the kept fraction, with the statistics
        recomputed after each.
    compensate : bool, default=True
        Shift the next layer's biases; ``False`` ranks by ``sum_k W_ki^2 S2_ki``
        and shifts nothing.
    batch_size : int, default=1024
        Samples per pass over the data.
    output_fn : callable, default=None
        Applied to the module's output before measuring the error.

    Returns
    -------
    report : PruningReport
        Per Linear layer: its new shape, its original number of weights and the
        number left.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ecprune import prune_neurons
    >>> net = torch.nn.Sequential(torch.nn.Linear(6, 32), torch.nn.ReLU(),
    ...                           torch.nn.Linear(32, 16), torch.nn.ReLU(),
    ...                           torch.nn.Linear(16, 2))
    >>> report = prune_neurons(net, torch.randn(100, 6), 0.5)
    >>> net[0].out_features + net[2].out_features
    24
    >>> net[2].in_features == net[0].out_features
    True
    >>> print(report)  # doctest: +SKIP
    layer  shape  weights  kept  sparsity  mean |bias shift|
    0      17x6   192      102   46.88%    0
    2      7x17   512      119   76.76%    0
    4      2x7    32       14    56.25%    0.0713
    total         736      235   68.07%
    """
    if (
        isinstance(fraction, bool)
        or not isinstance(fraction, numbers.Real)
        or not 0.0 <= fraction < 1.0
    ):
        raise ValueError(
            f"fraction must be a float in [0, 1): the share of hidden neurons to remove; "
            f"got {fraction!r}."
        )
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}.")
    _check_batch_size(batch_size)
    X_t = as_input_tensor(X, module)
    named = find_linear_layers(module, X_t)
    pairs = _consecutive_pairs(module, named)
    original = {name: layer.weight.numel() for name, layer in named}
    bias_before = {
        name: None if layer.bias is None else layer.bias.detach().clone() for name, layer in named
    }
    # Original index of each current row, so the report compares a layer's biases
    # with their own values before, also when the layer itself lost neurons.
    kept_rows = {name: torch.arange(layer.out_features) for name, layer in named}
    total_hidden = sum(module.get_submodule(first).out_features for first, _ in pairs)
    keep_fraction = 1.0 - float(fraction)
    for step in range(1, n_steps + 1):
        n_keep_total = max(len(pairs), round(total_hidden * keep_fraction ** (step / n_steps)))
        named = find_linear_layers(module, X_t)
        stats = _collect_statistics(module, X_t, named, batch_size, output_fn)
        scores, shifts = [], []
        for _, second in pairs:
            layer = module.get_submodule(second)
            importance, shift = ecp_closed_form(
                layer.weight, stats[second], compensate and layer.bias is not None
            )
            scores.append(importance.sum(0))
            shifts.append(shift)
        keeps = _keep_per_layer(scores, n_keep_total)
        for (first, second), keep, shift in zip(pairs, keeps, shifts, strict=True):
            _remove_neurons(module, first, second, keep, shift)
            kept_rows[first] = kept_rows[first][keep.cpu()]

    rows = []
    for name, _ in named:
        layer = module.get_submodule(name)
        before = bias_before[name]
        shifted = 0.0
        if before is not None and layer.bias is not None:
            before = before[kept_rows[name].to(before.device)]
            shifted = float((layer.bias.detach() - before).abs().mean())
        rows.append(
            LayerReport(
                name=name,
                shape=tuple(layer.weight.shape),
                n_weights=original[name],
                n_kept=int((layer.weight != 0).sum()),
                mean_abs_bias_shift=shifted,
            )
        )
    return PruningReport(rows, "ecp-neurons" if compensate else "obd-neurons", float(fraction))


def _keep_per_layer(scores: list[torch.Tensor], n_keep: int) -> list[torch.Tensor]:
    """Keep the ``n_keep`` best neurons over all layers, at least one per layer."""
    flat = torch.cat(scores).clone()
    sizes = [s.numel() for s in scores]
    # Each layer's best neuron is kept whatever its score: a layer must not vanish.
    offsets = [0, *list(torch.tensor(sizes).cumsum(0)[:-1].tolist())]
    for offset, s in zip(offsets, scores, strict=True):
        flat[offset + int(s.argmax())] = math.inf
    order = torch.sort(flat, descending=True, stable=True).indices
    keep = torch.zeros_like(flat, dtype=torch.bool)
    keep[order[:n_keep]] = True
    return list(keep.split(sizes))


def _remove_neurons(
    module: nn.Sequential, first: str, second: str, keep: torch.Tensor, shift: torch.Tensor
) -> None:
    layer_in, layer_out = module.get_submodule(first), module.get_submodule(second)
    rows = keep.nonzero().squeeze(1).to(layer_in.weight.device)
    smaller_in = nn.Linear(layer_in.in_features, rows.numel(), bias=layer_in.bias is not None).to(
        layer_in.weight
    )
    smaller_out = nn.Linear(
        rows.numel(), layer_out.out_features, bias=layer_out.bias is not None
    ).to(layer_out.weight)
    with torch.no_grad():
        smaller_in.weight.copy_(layer_in.weight[rows])
        if layer_in.bias is not None:
            smaller_in.bias.copy_(layer_in.bias[rows])
        smaller_out.weight.copy_(layer_out.weight[:, rows])
        if layer_out.bias is not None:
            removed = ~keep.to(shift.device)
            compensation = (shift * removed).sum(1).to(layer_out.bias.dtype)
            smaller_out.bias.copy_(layer_out.bias + compensation)
    _replace(module, first, smaller_in)
    _replace(module, second, smaller_out)
