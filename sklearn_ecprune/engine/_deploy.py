"""Networks for prediction and storage: compacted, aligned, CSR; pruned layers as CSR arrays.

One place builds what a fitted network predicts with (:func:`inference_module`) and
what it is stored as (:func:`sparse_weights`, :func:`without_weights`,
:func:`restore_weights`), from the engine's :func:`~sklearn_ecprune.engine.compact_module`
and :class:`~sklearn_ecprune.engine.SparseLinear`.
"""

from __future__ import annotations

import copy

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from ._sparse import SparseLinear, prefers_sparse, replace_submodule
from ._structured import compact_module

__all__ = [
    "LAYOUTS",
    "AlignedNet",
    "aligned",
    "inference_module",
    "padded_forward",
    "restore_weights",
    "sparse_weights",
    "without_weights",
]

# Layer widths are padded to a multiple of this many features: float32 matrix products
# on the CPU round a row differently depending on its alignment in memory otherwise.
WIDTH_MULTIPLE = 16
# Chunks of fewer rows are padded with zero rows to this many: CPU matrix products take
# another kernel (which rounds differently) for one to three rows, and a prediction
# must not depend on which other rows it was computed with (scikit-learn checks this on
# single rows). Four rows cost about three times one row; sixteen, which the padding
# used to be, about six times (784-1024-1024-1024-10, one thread).
MIN_ROWS = 4
# "auto", "dense" and "sparse" are the estimators' ``inference``; "compact" and
# "torch-sparse" what ``to_torch`` exports.
LAYOUTS = ("auto", "dense", "sparse", "compact", "torch-sparse")


def padded_forward(module: nn.Module, chunk: torch.Tensor, device) -> torch.Tensor:
    """``module(chunk)``, a chunk of fewer than ``MIN_ROWS`` rows padded with zero rows."""
    n = chunk.shape[0]
    padding = max(MIN_ROWS - n, 0)
    if padding:
        chunk = torch.cat([chunk, chunk.new_zeros((padding, *chunk.shape[1:]))])
    return module(chunk.to(device))[:n]


class AlignedNet(nn.Module):
    """A network whose Linear layers are padded with zeros to multiples of 16 features.

    float32 products on the CPU round a row differently depending on its alignment in
    memory when the feature count is not a multiple of the vector width; with every
    width a multiple of 16 (zero weights, zero biases, so the function is the same),
    a prediction does not depend on the other rows of the batch or on its position.

    Parameters
    ----------
    inner : torch.nn.Module
        The padded network.
    n_inputs, width, n_outputs : int
        The real input width, the padded one, and the real output width.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ecprune.engine._deploy import aligned
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2))
    >>> wide = aligned(net)
    >>> wide.inner[0].weight.shape, wide(torch.ones(1, 3)).shape
    (torch.Size([16, 16]), torch.Size([1, 2]))
    """

    def __init__(self, inner: nn.Module, n_inputs: int, width: int, n_outputs: int):
        super().__init__()
        self.inner, self.n_inputs, self.width, self.n_outputs = inner, n_inputs, width, n_outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The inner network on ``x`` padded with zero columns; the real outputs."""
        if self.width > self.n_inputs:
            x = torch.cat([x, x.new_zeros((x.shape[0], self.width - self.n_inputs))], dim=1)
        return self.inner(x)[:, : self.n_outputs]


def aligned(module: nn.Module) -> nn.Module:
    """``module`` with zero-padded Linear layers (an nn.Sequential MLP), else itself."""
    layers = [(n, m) for n, m in module.named_children() if isinstance(m, nn.Linear)]
    if not isinstance(module, nn.Sequential) or not layers:
        return module
    padded = copy.deepcopy(module)
    width = -(-layers[0][1].in_features // WIDTH_MULTIPLE) * WIDTH_MULTIPLE
    for name, layer in layers:
        out = -(-layer.out_features // WIDTH_MULTIPLE) * WIDTH_MULTIPLE
        wide = nn.Linear(width, out, bias=layer.bias is not None, device="meta")
        wide = wide.to_empty(device=layer.weight.device).to(layer.weight.dtype)
        with torch.no_grad():
            wide.weight.zero_()
            wide.weight[: layer.out_features, : layer.in_features] = layer.weight
            if layer.bias is not None:
                wide.bias.zero_()
                wide.bias[: layer.out_features] = layer.bias
        replace_submodule(padded, name, wide)
        width = out
    first, last = layers[0][1], layers[-1][1]
    inner_width = padded.get_submodule(layers[0][0]).in_features
    return AlignedNet(padded, first.in_features, inner_width, last.out_features).eval()


def inference_module(module: nn.Module, layout: str, *, align: bool = True) -> nn.Module:
    """A copy of a fitted ``module`` to predict with, in eval mode.

    Parameters
    ----------
    module : torch.nn.Module
        The trained (pruned) network; left unchanged.
    layout : {"auto", "dense", "sparse", "compact", "torch-sparse"}
        ``"dense"``: a copy. The others start from a compacted copy
        (:func:`~sklearn_ecprune.engine.compact_module`: constant and unused hidden
        neurons removed, exactly; a network that is not a plain MLP keeps its
        structure). ``"auto"`` then stores each Linear layer that
        :func:`~sklearn_ecprune.engine.prefers_sparse` as CSR (scipy's kernel),
        ``"sparse"`` all of them, ``"torch-sparse"`` all of them with torch's kernel
        (for export); ``"compact"`` keeps them dense.
    align : bool, default=True
        Pad the dense layers to aligned widths (:class:`AlignedNet`), so that a row's
        prediction does not depend on its batch.

    Returns
    -------
    torch.nn.Module

    Examples
    --------
    >>> import torch
    >>> from sklearn_ecprune.engine._deploy import inference_module
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    >>> with torch.no_grad():
    ...     net[0].weight[1:] = 0
    >>> inference_module(net, "compact", align=False)[0].out_features
    1
    """
    if layout == "dense":
        built = copy.deepcopy(module).eval()
    else:
        try:
            built = compact_module(module)
        except ValueError:  # not a plain MLP: keep its structure
            built = copy.deepcopy(module).eval()
    if align:
        built = aligned(built)
    if layout in ("dense", "compact"):
        return built
    kernel = "torch" if layout == "torch-sparse" else "scipy"
    for name, layer in list(built.named_modules()):
        if not isinstance(layer, nn.Linear):
            continue
        density = float((layer.weight != 0).float().mean())
        if layout != "auto" or prefers_sparse(layer.weight.numel(), density):
            replace_submodule(built, name, SparseLinear(layer, kernel=kernel))
    return built.eval()


def sparse_weights(module: nn.Module, masks: dict[str, torch.Tensor]) -> dict[str, dict]:
    """The kept weights of the layers sparser than half, as CSR arrays (int32 indices).

    Examples
    --------
    >>> import torch
    >>> from sklearn_ecprune.engine._deploy import sparse_weights
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 2))
    >>> stored = sparse_weights(net, {"0": torch.eye(2, 4, dtype=torch.bool)})
    >>> stored["0"]["indices"].tolist(), stored["0"]["shape"]
    ([0, 1], (2, 4))
    """
    layers = dict(module.named_modules())
    stored = {}
    for name, mask in masks.items():
        weight = layers[name].weight.detach()
        if mask.shape != weight.shape or float(mask.float().mean()) > 0.5:
            continue
        csr = sp.csr_matrix(mask.cpu().numpy(), dtype=np.bool_)
        stored[name] = {
            "indptr": csr.indptr.astype(np.int32),
            "indices": csr.indices.astype(np.int32),
            "values": weight.cpu().numpy()[mask.cpu().numpy()],
            "shape": tuple(weight.shape),
        }
    return stored


def without_weights(module: nn.Module, stored: dict[str, dict]) -> nn.Module:
    """A copy of ``module`` whose ``stored`` layers hold empty weights (restored on load)."""
    shared = {
        id(p): p
        for name, layer in module.named_modules()
        if name not in stored
        for p in layer.parameters(recurse=False)
    }
    empty = copy.deepcopy(module, shared)
    layers = dict(empty.named_modules())
    for name in stored:
        layers[name].weight = nn.Parameter(layers[name].weight.new_empty(0))
    return empty


def restore_weights(
    module: nn.Module, masks: dict[str, torch.Tensor], stored: dict[str, dict]
) -> None:
    """Put the ``stored`` CSR weights back into ``module`` and their masks into ``masks``."""
    layers = dict(module.named_modules())
    for name, arrays in stored.items():
        mask = sp.csr_matrix(
            (np.ones(len(arrays["indices"]), np.bool_), arrays["indices"], arrays["indptr"]),
            shape=arrays["shape"],
        ).toarray()
        weight = np.zeros(arrays["shape"], dtype=arrays["values"].dtype)
        weight[mask] = arrays["values"]
        device = layers[name].bias.device if layers[name].bias is not None else "cpu"
        layers[name].weight = nn.Parameter(torch.from_numpy(weight).to(device))
        masks[name] = torch.from_numpy(mask).to(device)
