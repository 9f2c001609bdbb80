"""Structured pruning: remove whole hidden neurons, compensating through the next layer.

Removing hidden neuron ``i`` removes column ``i`` of the next Linear layer; ECP's
statistics of that layer give the optimal bias shift of each of its rows and the
error left. The result is a smaller dense network, faster at any sparsity.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable

import torch
from torch import nn

from ._layers import as_input_tensor, find_linear_layers
from ._report import LayerReport, PruningReport
from ._selection import densities
from ._sparse import replace_submodule
from ._statistics import ecp_closed_form, statistics_pass
from ._validation import BATCH_SIZE, N_STEPS, SPARSITY, Options, validate_params

__all__ = ["compact_module", "prune_neurons"]

# Modules that act on each feature separately: a hidden neuron can be removed
# across them by slicing the Linear layers on both sides.
_ELEMENTWISE = (
    nn.ReLU, nn.LeakyReLU, nn.ReLU6, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Tanh, nn.Sigmoid, nn.Softplus, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid,
    nn.Identity, nn.Dropout,
)  # fmt: skip


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
    target: str = "neurons",
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
        Fraction of the hidden neurons to remove (``target="neurons"``) or of the
        weights of the Linear layers (``target="weights"``).
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
    target : {"neurons", "weights"}, default="neurons"
        What ``fraction`` counts. With ``"weights"`` the lowest-ranked neurons go
        until the network has at most ``(1 - fraction)`` of its weights left (a
        neuron takes its incoming and outgoing weights with it), so that the result
        compares with unstructured pruning at the same sparsity.

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
    validate_params(
        {
            "fraction": fraction,
            "n_steps": n_steps,
            "compensate": compensate,
            "batch_size": batch_size,
            "output_fn": output_fn,
            "target": target,
        },
        {
            "fraction": SPARSITY,
            "n_steps": N_STEPS,
            "compensate": ["boolean"],
            "batch_size": BATCH_SIZE,
            "output_fn": [None, "callable"],
            "target": [Options(str, {"neurons", "weights"})],
        },
        "prune_neurons",
    )
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
    total_weights = sum(original.values())
    for share in densities(float(fraction), n_steps):
        n_keep_total = max(len(pairs), round(total_hidden * share))
        named = find_linear_layers(module, X_t)
        stats, _ = statistics_pass(module, X_t, named, batch_size, output_fn)
        scores, shifts = [], []
        for _, second in pairs:
            layer = module.get_submodule(second)
            importance, shift = ecp_closed_form(
                layer.weight, stats[second], compensate and layer.bias is not None
            )
            scores.append(importance.sum(0))
            shifts.append(shift)
        if target == "weights":
            widths = [
                named[0][1].in_features,
                *(s.numel() for s in scores),
                named[-1][1].out_features,
            ]
            keeps = _keep_for_weights(scores, widths, total_weights * share)
        else:
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
    method = "ecp-neurons" if compensate else "obd-neurons"
    return PruningReport(rows, method, float(fraction))


def _keep_for_weights(
    scores: list[torch.Tensor], widths: list[int], max_weights: float
) -> list[torch.Tensor]:
    """Drop the lowest-scored neurons until at most ``max_weights`` weights are left.

    ``widths`` are the input size, the hidden widths and the output size; removing a
    neuron of hidden layer ``l`` removes ``widths[l] * widths[l + 2]``-sized slices,
    counted exactly as the widths shrink. Each layer keeps its best neuron.
    """
    widths = list(widths)
    keeps = [torch.ones_like(s, dtype=torch.bool) for s in scores]

    def n_weights() -> int:
        return sum(a * b for a, b in itertools.pairwise(widths))

    candidates = sorted(
        (float(score), layer, int(index))
        for layer, s in enumerate(scores)
        for index, score in enumerate(s.tolist())
        if index != int(s.argmax())
    )
    for _, layer, index in candidates:
        if n_weights() <= max_weights + 1e-9:
            break
        keeps[layer][index] = False
        widths[layer + 1] -= 1
    return keeps


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


def _empty_linear(in_features: int, out_features: int, like: nn.Linear) -> nn.Linear:
    """An uninitialised Linear layer (its values are copied in): no random draws."""
    layer = nn.Linear(in_features, out_features, bias=like.bias is not None, device="meta")
    return layer.to_empty(device=like.weight.device).to(like.weight.dtype)


def _remove_neurons(
    module: nn.Sequential, first: str, second: str, keep: torch.Tensor, shift: torch.Tensor
) -> None:
    layer_in, layer_out = module.get_submodule(first), module.get_submodule(second)
    rows = keep.nonzero().squeeze(1).to(layer_in.weight.device)
    smaller_in = _empty_linear(layer_in.in_features, rows.numel(), layer_in)
    smaller_out = _empty_linear(rows.numel(), layer_out.out_features, layer_out)
    with torch.no_grad():
        smaller_in.weight.copy_(layer_in.weight[rows])
        if layer_in.bias is not None:
            smaller_in.bias.copy_(layer_in.bias[rows])
        smaller_out.weight.copy_(layer_out.weight[:, rows])
        if layer_out.bias is not None:
            removed = ~keep.to(shift.device)
            compensation = (shift * removed).sum(1).to(layer_out.bias.dtype)
            smaller_out.bias.copy_(layer_out.bias + compensation)
    replace_submodule(module, first, smaller_in)
    replace_submodule(module, second, smaller_out)


def compact_module(module: nn.Sequential) -> nn.Sequential:
    """A smaller copy of a pruned MLP that computes the same function.

    A hidden neuron whose incoming weights are all zero outputs a constant; it is
    removed and its constant, times its outgoing weights, added to the next layer's
    bias. A hidden neuron whose outgoing weights are all zero has no effect; it is
    removed. Repeated until nothing changes (removing a neuron can empty another's
    weights). Every hidden layer keeps at least one neuron. The result is a plain
    ``nn.Sequential`` of smaller dense layers (``torch.export`` and ``torch.jit``
    handle it), equal to the original up to float rounding.

    Parameters
    ----------
    module : torch.nn.Sequential
        Linear layers with elementwise activations (or dropout) between them, as
        :class:`~sklearn_ecprune.MLPModule`; left unchanged.

    Returns
    -------
    compact : torch.nn.Sequential
        The smaller copy, in eval mode.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ecprune.engine import compact_module
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(),
    ...                           torch.nn.Linear(4, 2))
    >>> with torch.no_grad():
    ...     net[0].weight[1:] = 0  # neurons 1-3 are constants now
    >>> small = compact_module(net)
    >>> small[0].out_features
    1
    >>> x = torch.randn(5, 3)
    >>> torch.allclose(small(x), net(x), atol=1e-6)
    True
    """
    net = copy.deepcopy(module).eval()
    if not isinstance(net, nn.Sequential):
        raise ValueError(f"compact_module needs an nn.Sequential, got {type(module).__name__}.")
    named = [(name, m) for name, m in net.named_children() if isinstance(m, nn.Linear)]
    pairs = _consecutive_pairs(net, named)
    children = dict(net.named_children())
    order = list(children)
    changed = True
    while changed:
        changed = False
        for first, second in pairs:
            layer_in, layer_out = net.get_submodule(first), net.get_submodule(second)
            with torch.no_grad():
                constant = (layer_in.weight == 0).all(dim=1)
                useless = (layer_out.weight == 0).all(dim=0)
                if layer_out.bias is None:
                    constant = constant & useless  # nothing to fold a constant into
                remove = constant | useless
                if bool(remove.all()):
                    remove[0] = False  # a layer keeps a neuron
                if not bool(remove.any()):
                    continue
                # The constant outputs: the activations applied to the bias alone.
                value = torch.zeros(1, layer_in.out_features, dtype=layer_in.weight.dtype)
                if layer_in.bias is not None:
                    value = layer_in.bias.detach()[None].clone()
                for name in order[order.index(first) + 1 : order.index(second)]:
                    value = children[name](value)
                folded = (constant & ~useless & remove).to(value.dtype) * value[0]
                shift = layer_out.weight.detach() * folded[None, :]
            _remove_neurons(net, first, second, ~remove, shift)
            children = dict(net.named_children())
            changed = True
    return net
