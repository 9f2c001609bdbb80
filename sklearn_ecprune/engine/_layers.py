"""Finding the prunable ``nn.Linear`` layers of a module and checking its input.

Pure PyTorch: nothing here knows about scikit-learn or skorch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch import nn

__all__ = [
    "as_input_tensor",
    "evaluating",
    "find_linear_layers",
    "forward_hooks",
    "module_device_dtype",
]

ForwardHook = Callable[[nn.Module, tuple, torch.Tensor], torch.Tensor | None]


@contextlib.contextmanager
def evaluating(*modules: nn.Module) -> Iterator[None]:
    """Run the block with ``modules`` in eval mode, then give every submodule its mode back.

    Each submodule's own mode is restored (``module.train(mode)`` would set them all
    to the top module's), also when the block raises.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ecprune.engine._layers import evaluating
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout())
    >>> net[1].eval()  # a submodule kept in eval mode on purpose
    Dropout(p=0.5, inplace=False)
    >>> with evaluating(net):
    ...     net.training, net[1].training
    (False, False)
    >>> net.training, net[0].training, net[1].training
    (True, True, False)
    """
    modes = [(sub, sub.training) for module in modules for sub in module.modules()]
    for module in modules:
        module.eval()
    try:
        yield
    finally:
        for sub, mode in modes:
            sub.training = mode


@contextlib.contextmanager
def forward_hooks(hooks: Mapping[nn.Module, ForwardHook]) -> Iterator[None]:
    """Run the block with a forward hook on each module; all are removed afterwards.

    The engine's one way to watch (or change) what a layer computes: the statistics
    pass, the refits, the layer order and the exact removal error all use it. A hook
    that returns a tensor replaces the layer's output, as in ``register_forward_hook``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ecprune.engine._layers import forward_hooks
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU())
    >>> seen = []
    >>> with forward_hooks({net[0]: lambda layer, inputs, output: seen.append(output.shape)}):
    ...     _ = net(torch.randn(4, 2))
    >>> seen, len(net[0]._forward_hooks)
    ([torch.Size([4, 3])], 0)
    """
    handles = []
    try:
        for module, hook in hooks.items():
            handles.append(module.register_forward_hook(hook))
        yield
    finally:
        for handle in handles:
            handle.remove()


def module_device_dtype(module: nn.Module) -> tuple[torch.device, torch.dtype]:
    """The device and floating dtype of the module's first parameter."""
    for param in module.parameters():
        return param.device, param.dtype
    return torch.device("cpu"), torch.get_default_dtype()


def as_input_tensor(X, module: nn.Module) -> torch.Tensor:
    """Check X and return it as a 2-D float tensor on the module's device.

    Raises ``ValueError`` naming the problem for empty X, X that is not 2-D, and
    NaN or infinite values; nothing is modified.
    """
    device, dtype = module_device_dtype(module)
    if isinstance(X, torch.Tensor):
        X_t = X.detach()
    else:
        try:
            X_np = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"X could not be converted to a float array: {exc}") from exc
        X_t = torch.from_numpy(X_np)
    if X_t.ndim != 2:
        raise ValueError(
            f"X must be a 2-D array of shape (n_samples, n_features), got an array "
            f"with {X_t.ndim} dimension(s) of shape {tuple(X_t.shape)}."
        )
    if X_t.shape[0] == 0:
        raise ValueError("X is empty: found 0 samples, at least 1 is required.")
    if not torch.is_floating_point(X_t):
        X_t = X_t.to(dtype)
    if not bool(torch.isfinite(X_t).all()):
        raise ValueError("X contains NaN or infinity; clean or impute it before pruning.")
    return X_t.to(device=device, dtype=dtype)


def _named_linears(module: nn.Module) -> dict[nn.Module, str]:
    return {layer: name for name, layer in module.named_modules() if isinstance(layer, nn.Linear)}


def find_linear_layers(
    module: nn.Module,
    X: torch.Tensor,
    layers: Iterable[nn.Linear | str] | None = None,
) -> list[tuple[str, nn.Linear]]:
    """The module's ``nn.Linear`` layers in the order the forward pass calls them.

    The order comes from one forward pass on the first row of ``X`` (in eval mode,
    without gradients), so it holds for any module, not only ``nn.Sequential``.
    ``layers`` restricts the result to the given layers or layer names.

    Raises ``ValueError`` when the module has no Linear layer, when X does not fit
    the module, when a layer's parameters are not finite, or when ``layers`` names
    something that is not a Linear layer of it.
    """
    names = _named_linears(module)
    if not names:
        raise ValueError(f"The module {type(module).__name__} has no nn.Linear layer to prune.")
    order: list[nn.Linear] = []
    record = dict.fromkeys(names, lambda layer, _inputs, _output: order.append(layer))
    try:
        with forward_hooks(record), evaluating(module), torch.no_grad():
            module(X[:1])
    except Exception as exc:  # a user's module can raise anything on a bad shape
        first = next(iter(names))
        if X.shape[1] != first.in_features:
            raise ValueError(
                f"X has {X.shape[1]} features, but the module's first Linear layer "
                f"expects {first.in_features}."
            ) from exc
        raise ValueError(f"The module's forward pass failed on X: {exc}") from exc

    shared: dict[int, str] = {}
    for layer, name in names.items():
        other = shared.setdefault(id(layer.weight), name)
        if other != name:
            raise ValueError(
                f"Linear layers {other!r} and {name!r} share one weight tensor (tied "
                "weights); pruning one would prune the other, so they cannot be pruned."
            )
    seen: list[nn.Linear] = []
    for layer in order:
        if layer in seen:
            raise ValueError(
                f"Linear layer {names[layer]!r} is called more than once in the forward "
                "pass; shared layers cannot be pruned with bias compensation."
            )
        seen.append(layer)
    found = [(names[layer], layer) for layer in seen]
    for name, layer in found:
        params = [p for p in (layer.weight, layer.bias) if p is not None]
        if not all(bool(torch.isfinite(p).all()) for p in params):
            raise ValueError(
                f"Linear layer {name!r} has NaN or infinite parameters (did training "
                "diverge?); fix or retrain the network first."
            )
    if layers is None:
        if not found:
            raise ValueError("None of the module's Linear layers is used in its forward pass.")
        return found
    return _restrict(found, names, layers)


def _restrict(
    found: list[tuple[str, nn.Linear]],
    names: dict[nn.Module, str],
    layers: Iterable[nn.Linear | str],
) -> list[tuple[str, nn.Linear]]:
    by_name = dict(found)
    wanted: set[str] = set()
    requested: Sequence = list(layers)
    if not requested:
        raise ValueError("layers is empty; pass None to prune every Linear layer.")
    for item in requested:
        name = item if isinstance(item, str) else names.get(item)
        if name is None or name not in by_name:
            raise ValueError(
                f"layers contains {item!r}, which is not a Linear layer used in the "
                f"module's forward pass; valid names are {sorted(by_name)}."
            )
        wanted.add(name)
    return [(name, layer) for name, layer in found if name in wanted]
