"""Sparse inference: pruned Linear layers stored as CSR matrices and run with a sparse kernel.

Unstructured pruning leaves zeros in dense matrices, which cost as much as any other
number. :class:`SparseLinear` keeps only the kept weights (CSR) and multiplies with
scipy's CSR kernel on the CPU (measured fastest: ``benchmarks/bench_inference.py``)
or torch's sparse product elsewhere. :func:`to_sparse_module` converts the layers of a
network that are sparse enough; :func:`prefers_sparse` is the measured rule for when a
sparse product beats a dense one.
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import torch
from torch import nn

from ._validation import UNIT_FLOAT, Options, validate_params

__all__ = ["SparseLinear", "prefers_sparse", "replace_submodule", "to_sparse_module"]

# Densities at or below which scipy's CSR product beats the dense one (oneDNN on packed
# weights, see engine._deploy) at every batch size from 1 to 1024, one thread: on
# 1024x1024 and 784x1024 layers CSR is 1.4-2.9x faster at 2 % density, but at 5 % it
# already loses at batch 1024 (0.81x) and at 10 % at batch 16 (0.6-0.7x). With several
# threads the dense product gets faster on large batches and the crossover moves down.
SPARSE_DENSITY = {1: 0.03, 2: 0.02}
KERNEL = [Options(str, {"scipy", "torch"})]
# Layers smaller than this stay dense: the sparse kernel's transposes and fixed cost
# dominate (a 256x128 or 64x256 layer at 1 % density: 1.0-1.3x at batch 1, 0.3-0.8x at
# batch 1024).
SMALL_LAYER = 2**19


def prefers_sparse(n_weights: int, density: float, threads: int | None = None) -> bool:
    """Whether a sparse (CSR) product is expected to beat a dense one for a layer.

    The rule does not depend on the batch size, so that a row's prediction does not
    depend on which other rows it is predicted with.

    Parameters
    ----------
    n_weights : int
        Weights of the layer (``in_features * out_features``).
    density : float
        Share of the weights that are not zero.
    threads : int or None, default=None
        torch's intra-op threads; ``None`` reads ``torch.get_num_threads()``.

    Returns
    -------
    bool

    Examples
    --------
    >>> from sklearn_ecprune.engine import prefers_sparse
    >>> prefers_sparse(1024 * 1024, 0.02, threads=1), prefers_sparse(1024 * 1024, 0.1)
    (True, False)
    >>> prefers_sparse(256 * 128, 0.01, threads=1)  # too small to pay
    False
    """
    if n_weights < SMALL_LAYER:
        return False
    threads = torch.get_num_threads() if threads is None else threads
    limit = SPARSE_DENSITY.get(threads, SPARSE_DENSITY[2] / np.sqrt(threads / 2))
    return density <= limit


class DerivedCache:
    """A module mixin for one attribute derived from the tensors and rebuilt on use.

    The attribute named by ``_cache`` (a view or a prepared form of the weights) is
    forgotten when the tensors are replaced (``.to()``, ``.float()``) and is never
    copied or pickled: a copy or an unpickled module builds its own from its tensors.
    """

    _cache: str

    def _apply(self, fn, recurse=True):
        setattr(self, self._cache, None)
        return super()._apply(fn, recurse)

    def __getstate__(self):
        state = super().__getstate__()
        state[self._cache] = None
        return state

    def __deepcopy__(self, memo):
        copied = type(self).__new__(type(self))
        memo[id(self)] = copied
        state = {k: v for k, v in self.__dict__.items() if k != self._cache}
        copied.__dict__.update(copy.deepcopy(state, memo))
        setattr(copied, self._cache, None)
        return copied


class SparseLinear(DerivedCache, nn.Module):
    """An inference-only Linear layer whose weight is stored as a CSR matrix.

    Computes ``x W^T + b`` with scipy's CSR product on the CPU (``kernel="scipy"``,
    the default there: single-threaded and about twice as fast as torch's sparse
    product at batch 1) or with ``torch.sparse.mm`` (``kernel="torch"``: any
    device). Each output row is computed on its own, so predictions do not depend on
    the batch. No gradients flow through it.

    Parameters
    ----------
    linear : torch.nn.Linear
        The (pruned) layer to convert; float32 or float64.
    kernel : {"scipy", "torch"}, default="scipy"
        The sparse product; ``"scipy"`` falls back to ``"torch"`` off the CPU.

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

    _cache = "_scipy"  # scipy's CSR view of the buffers

    def __init__(self, linear: nn.Linear, kernel: str = "scipy"):
        super().__init__()
        validate_params({"kernel": kernel}, {"kernel": KERNEL}, "SparseLinear")
        weight = linear.weight.detach()
        if weight.dtype not in (torch.float32, torch.float64):
            raise ValueError(
                f"SparseLinear supports float32 and float64 weights, got {weight.dtype}."
            )
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        self.kernel = kernel
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "CSR support is in beta"
            csr = weight.to_sparse_csr()
        # The CSR arrays as plain buffers: copies, pickles, state dicts and .to() all
        # work as for any module; the sparse tensor is a view built when needed.
        self.register_buffer("crow_indices", csr.crow_indices().to(torch.int32))
        self.register_buffer("col_indices", csr.col_indices().to(torch.int32))
        self.register_buffer("values", csr.values().clone())
        bias = None if linear.bias is None else linear.bias.detach().clone()
        self.register_buffer("bias", bias)
        self._scipy = None

    @property
    def weight(self) -> torch.Tensor:
        """The weight as a sparse CSR tensor (a view of the stored arrays)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return torch.sparse_csr_tensor(
                self.crow_indices,
                self.col_indices,
                self.values,
                (self.out_features, self.in_features),
            )

    @property
    def density(self) -> float:
        """Share of the weights that are stored (not zero)."""
        return self.values.numel() / max(1, self.in_features * self.out_features)

    def _scipy_matrix(self):
        if self._scipy is None:
            import scipy.sparse as sp

            self._scipy = sp.csr_matrix(
                (self.values.numpy(), self.col_indices.numpy(), self.crow_indices.numpy()),
                shape=(self.out_features, self.in_features),
            )
        return self._scipy

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x W^T + b`` with a sparse-dense matrix product."""
        flat = x.reshape(-1, self.in_features)
        on_cpu = flat.device.type == "cpu" and self.values.device.type == "cpu"
        if self.kernel == "scipy" and on_cpu:
            product = self._scipy_matrix() @ flat.detach().numpy().T
            out = torch.from_numpy(np.ascontiguousarray(product.T))
        else:
            out = torch.sparse.mm(self.weight, flat.T).T
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        """Sizes, the density of the stored weight and the kernel."""
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"density={self.density:.3f}, kernel={self.kernel!r}"
        )


def to_sparse_module(
    module: nn.Module, min_sparsity: float | None = None, *, kernel: str = "scipy"
) -> nn.Module:
    """A copy of ``module`` for inference, its sparse Linear layers stored as CSR.

    Every ``nn.Linear`` sparse enough is replaced by a :class:`SparseLinear`; the
    others stay dense. The copy computes the same function (up to float rounding)
    and cannot be trained.

    Parameters
    ----------
    module : torch.nn.Module
        A (pruned) network of float32 or float64 parameters; left unchanged.
    min_sparsity : float in [0, 1] or None, default=None
        Layers with at least this share of zero weights are converted (the share is
        counted exactly). ``None`` converts the layers for which a sparse product is
        measured to be faster (:func:`prefers_sparse`: 97 % sparsity and up on one
        thread, in layers of at least 2**19 weights).
    kernel : {"scipy", "torch"}, default="scipy"
        The sparse product of the converted layers (see :class:`SparseLinear`).

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
    >>> fast = to_sparse_module(net, min_sparsity=0.9)
    >>> type(fast[0]).__name__
    'SparseLinear'
    >>> torch.allclose(fast(X), net(X), atol=1e-5)
    True
    """
    validate_params(
        {"min_sparsity": min_sparsity, "kernel": kernel},
        {"min_sparsity": [None, *UNIT_FLOAT], "kernel": KERNEL},
        "to_sparse_module",
    )
    for name, param in module.named_parameters():
        if param.dtype not in (torch.float32, torch.float64):
            raise ValueError(
                f"to_sparse_module supports float32 and float64 networks; parameter "
                f"{name!r} is {param.dtype}. Convert the network first, e.g. module.float()."
            )
    converted = copy.deepcopy(module).eval()
    for name, layer in list(converted.named_modules()):
        if isinstance(layer, nn.Linear) and _converts(layer, min_sparsity):
            replace_submodule(converted, name, SparseLinear(layer, kernel=kernel))
    return converted


def _converts(layer: nn.Linear, min_sparsity: float | None) -> bool:
    n = layer.weight.numel()
    n_zero = int((layer.weight == 0).sum())
    if min_sparsity is None:
        return prefers_sparse(n, 1.0 - n_zero / n)
    # Integer counts: a float32 share such as 0.94999981 must not fail ">= 0.95".
    return n_zero >= math.ceil(min_sparsity * n - 1e-9)


def replace_submodule(root: nn.Module, name: str, new: nn.Module) -> None:
    """Put ``new`` in place of the submodule called ``name`` (dotted path)."""
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, new)
