"""Small float64 MLPs and shifted inputs shared by the engine tests."""

import itertools

import torch
from torch import nn


def make_net(sizes=(5, 7, 6, 3), activation=nn.Tanh, dtype=torch.float64, seed=0):
    """Linear layers of the given sizes with ``activation`` between them."""
    torch.manual_seed(seed)
    layers = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers).to(dtype)


def make_X(n=40, d=5, dtype=torch.float64, seed=1):
    """Gaussian inputs with a non-zero mean, which the bias compensation exploits."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, d, generator=g) + 0.5).to(dtype)
