"""Sparse inference: pruned Linear layers stored and run as sparse CSR matrices.

Unstructured pruning leaves zeros in dense matrices, which cost as much as any other
number. :func:`to_sparse_module` stores each sufficiently sparse Linear layer's weight
as a CSR matrix (inference only), which pays off at high sparsity.
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch import nn

from ._validation import UNIT_FLOAT, validate_params

__all__ = ["SparseLinear", "replace_submodule", "to_sparse_module"]


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
    validate_params(
        {"min_sparsity": min_sparsity}, {"min_sparsity": UNIT_FLOAT}, "to_sparse_module"
    )
    for name, param in module.named_parameters():
        if param.dtype not in (torch.float32, torch.float64):
            raise ValueError(
                f"to_sparse_module supports float32 and float64 networks; parameter "
                f"{name!r} is {param.dtype}. Convert the network first, e.g. module.float()."
            )
    converted = copy.deepcopy(module).eval()
    targets = [
        (name, layer)
        for name, layer in converted.named_modules()
        if isinstance(layer, nn.Linear)
        and float((layer.weight == 0).float().mean()) >= min_sparsity
    ]
    for name, layer in targets:
        replace_submodule(converted, name, SparseLinear(layer))
    return converted


def replace_submodule(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, new)
