"""Networks for prediction and storage: compacted, aligned, CSR; pruned layers as CSR arrays.

One place builds what a fitted network predicts with (:func:`inference_module`) and
what it is stored as (:func:`sparse_weights`, :func:`without_weights`,
:func:`restore_weights`), from the engine's :func:`~sklearn_ecprune.engine.compact_module`
and :class:`~sklearn_ecprune.engine.SparseLinear`.
"""

from __future__ import annotations

import copy
import functools

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from ._sparse import DerivedCache, SparseLinear, prefers_sparse, replace_submodule
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
# Layers with fewer weights keep F.linear: oneDNN's call costs about 15 us more (on
# 224x128, 23 us against 5-11 us for one to four rows; on 784x1024, 78 us against 84 us
# for one row and 204 us for four, one thread).
PACKED_MIN_WEIGHTS = 131_072
# The batch size oneDNN's weights are packed for (a hint: any batch runs; packed for one
# row, a one-row product takes another kernel again).
PACKED_BATCH = 4
# "auto", "dense" and "sparse" are the estimators' ``inference``; "compact" and
# "torch-sparse" what ``to_torch`` exports.
LAYOUTS = ("auto", "dense", "sparse", "compact", "torch-sparse")


def padded_forward(module: nn.Module, rows: np.ndarray, device) -> torch.Tensor:
    """``module`` on a block of float32 rows, fewer than ``MIN_ROWS`` padded with zero rows.

    An :class:`AlignedNet` takes its own direct path (:meth:`AlignedNet.forward_rows`).
    """
    if isinstance(module, AlignedNet):
        return module.forward_rows(rows, device)
    padded = _zero_padded(rows, MIN_ROWS, rows.shape[1])
    return module(torch.from_numpy(padded).to(device))[: rows.shape[0]]


def _zero_padded(rows: np.ndarray, n_rows: int, width: int) -> np.ndarray:
    """``rows`` with zero rows up to ``n_rows`` and zero columns up to ``width`` (one
    copy), or ``rows`` itself where none is missing."""
    if rows.shape[0] >= n_rows and rows.shape[1] >= width:
        return rows
    padded = np.zeros((max(rows.shape[0], n_rows), width), dtype=rows.dtype)
    padded[: rows.shape[0], : rows.shape[1]] = rows
    return padded


class AlignedNet(DerivedCache, nn.Module):
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

    _cache = "_steps"  # the layers as plain functions (packed weights included)

    def __init__(self, inner: nn.Module, n_inputs: int, width: int, n_outputs: int):
        super().__init__()
        self.inner, self.n_inputs, self.width, self.n_outputs = inner, n_inputs, width, n_outputs
        self._steps = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The inner network on ``x`` padded with zero columns; the real outputs."""
        if self.width > self.n_inputs:
            x = torch.cat([x, x.new_zeros((x.shape[0], self.width - self.n_inputs))], dim=1)
        return self.inner(x)[:, : self.n_outputs]

    def forward_rows(self, rows: np.ndarray, device=None) -> torch.Tensor:
        """:meth:`forward` on float32 rows given as numpy, for predictions.

        The same function as :meth:`forward` (up to float rounding), at the cost of
        the products: the layers run as plain functions, without the module calls
        (their hooks and dispatch cost more than a one-row product of a small
        network), the large ones as oneDNN's product on packed weights
        (:func:`packed_linear`), and a row comes out the same in a batch of any size.
        Zero columns, and zero rows where a product needs them, are added in one
        numpy copy. The layers are read at the first call (the packed weights are
        copies), so the weights of a network built to predict with must not change
        afterwards (the estimators build a new one when theirs change).
        """
        n = rows.shape[0]
        steps, row_exact = self._plain_steps()
        x = torch.from_numpy(_zero_padded(rows, 1 if row_exact else MIN_ROWS, self.width))
        if device is not None and x.device != torch.device(device):
            x = x.to(device)
        for step in steps:
            x = step(x)
        return x[:n, : self.n_outputs]

    def _plain_steps(self) -> tuple[list, bool]:
        """The inner network's layers as plain functions, and whether each of them
        computes a row the same way in a batch of any size (then a row needs no
        padding). Built once, then kept."""
        if self._steps is None:
            inner = self.inner
            # A Sequential that runs its layers in order (not one with its own forward).
            in_order = type(inner).forward is nn.Sequential.forward
            layers = list(inner) if isinstance(inner, nn.Sequential) and in_order else [inner]
            steps, kinds = zip(*(_plain_step(layer) for layer in layers), strict=True)
            if "other" in kinds or "packed" not in kinds:
                # Pad the whole block once (cheapest where every product is small).
                self._steps = (list(steps), set(kinds) <= {"packed", "rowwise"})
            else:  # the large products packed: only the small ones pad their input
                pairs = zip(steps, kinds, strict=True)
                steps = [_padded(step) if kind == "linear" else step for step, kind in pairs]
                self._steps = (steps, True)
        return self._steps


# Elementwise layers: a row's values do not depend on the other rows.
_ROWWISE = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.Identity, nn.LeakyReLU, nn.ELU, nn.GELU)


def _plain_step(layer: nn.Module) -> tuple:
    """A layer as a function of its input, without ``nn.Module.__call__``'s machinery,
    and its kind: ``"packed"`` or ``"rowwise"`` (each row computed the same way in a
    batch of any size), ``"linear"`` (not for fewer than ``MIN_ROWS`` rows) or
    ``"other"``."""
    if type(layer) is nn.Linear:
        packed = packed_linear(layer) if layer.weight.numel() >= PACKED_MIN_WEIGHTS else None
        if packed is not None:
            return packed, "packed"
        return functools.partial(F.linear, weight=layer.weight, bias=layer.bias), "linear"
    if type(layer) is nn.ReLU:
        return torch.relu, "rowwise"
    if type(layer) is SparseLinear:
        return layer.forward, "rowwise"  # each output row on its own (scipy's CSR kernel)
    return layer, "rowwise" if type(layer) in _ROWWISE else "other"  # keeps its own call


def _padded(step):
    """``step`` on at least ``MIN_ROWS`` rows (zero rows added, their outputs dropped)."""

    def padded(x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        if n >= MIN_ROWS:
            return step(x)
        return step(torch.cat([x, x.new_zeros((MIN_ROWS - n, x.shape[1]))]))[:n]

    return padded


def packed_linear(layer: nn.Linear):
    """oneDNN's product on a pre-packed weight, where it computes each row exactly the
    same way in a batch of any size; else ``None``.

    CPU matrix products (MKL's) take another kernel for one to three rows, which rounds
    differently: a row's prediction would depend on its batch. oneDNN's product on a
    weight packed for small batches is measured, here and now, to compute rows 1, 2-3,
    4-5 and 1-9 of a batch exactly as in the batch of nine, and to agree with
    ``F.linear`` up to float rounding; where oneDNN is missing or either check fails,
    the caller pads small batches instead. Also faster than ``F.linear`` at every batch
    size measured (``benchmarks/bench_inference.py``).
    """
    weight = layer.weight.detach()
    if weight.device.type != "cpu" or weight.dtype != torch.float32:
        return None
    if not torch.backends.mkldnn.is_available():
        return None
    bias = None if layer.bias is None else layer.bias.detach()
    try:
        with torch.no_grad():
            packed = torch.ops.mkldnn._reorder_linear_weight(weight, PACKED_BATCH)
            product = torch.ops.mkldnn._linear_pointwise

            def step(x: torch.Tensor) -> torch.Tensor:
                return product(x, packed, bias, "none", [], "")

            generator = torch.Generator().manual_seed(0)
            x = torch.randn(9, layer.in_features, generator=generator)
            full = step(x)
            exact = all(
                torch.equal(step(x[a:b].clone()), full[a:b])
                for a, b in ((0, 1), (1, 3), (3, 5), (0, 9))
            )
            scale = x.abs() @ weight.abs().T + (0.0 if bias is None else bias.abs())
            close = bool(((full - F.linear(x, weight, bias)).abs() <= 1e-5 * scale + 1e-6).all())
    except (AttributeError, RuntimeError, NotImplementedError):  # no such kernel here
        return None
    return step if exact and close else None


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
