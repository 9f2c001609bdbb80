"""Test helpers shared by every test file: small networks, inputs and weight counts, and
the training parameters of a quick fit.

The data sets the tests share are fixtures of ``conftest.py``.
"""

import itertools
from pathlib import Path

import torch
from skorch.callbacks import Callback
from torch import nn

from sklearn_ecprune import PruningMethod

# A small network trained briefly: what the estimator tests have in common. A test file
# writes only what it changes, e.g. ``FAST = {**_networks.FAST, "random_state": 0}``.
FAST = dict(hidden_layer_sizes=(16,), max_epochs=20, lr=0.01, n_steps=2)


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


def linears(net):
    """The Linear layers of a module, by name."""
    return {name: m for name, m in net.named_modules() if isinstance(m, nn.Linear)}


def n_zero(net):
    """Weights of the Linear layers that are exactly zero."""
    return sum(int((m.weight == 0).sum()) for m in linears(net).values())


def n_weights(net):
    """Weights of the Linear layers."""
    return sum(m.weight.numel() for m in linears(net).values())


class DenseTrainingCounter(Callback):
    """Writes a file per dense training to ``folder``, from any worker process.

    Stateless (it is part of the estimator's parameters, and so of ``memory``'s key):
    a dense training starts at an epoch of the dense phase that follows none.
    """

    def __init__(self, folder):
        self.folder = folder

    def on_epoch_end(self, net, **kwargs):
        history = net.history
        starts = history[-1, "phase"] == "dense" and (
            len(history) == 1 or history[-2, "phase"] != "dense"
        )
        if starts:
            path = Path(self.folder)
            path.mkdir(parents=True, exist_ok=True)
            (path / f"{id(net)}-{len(list(path.iterdir()))}").touch()


def dense_trainings(folder):
    """How many dense trainings a :class:`DenseTrainingCounter` recorded."""
    path = Path(folder)
    return len(list(path.iterdir())) if path.exists() else 0


class LargestInputs(PruningMethod):
    """A user's criterion in an importable module, not registered on import."""

    name = "largest-inputs"

    def compute_scores(self, ctx):
        return ctx.layer.weight.detach().abs() * (1.0 + torch.arange(ctx.layer.in_features))


def counted_grid_search(X, y, memory, counts, **params):
    """``GridSearchCV`` (cv=3, refit) over three sparsities of a small classifier whose
    dense trainings a :class:`DenseTrainingCounter` records in ``counts``."""
    from sklearn.model_selection import GridSearchCV

    from sklearn_ecprune import ECPrunedMLPClassifier

    net = ECPrunedMLPClassifier(
        **params,
        hidden_layer_sizes=(32,),
        memory=memory,
        callbacks=[("count", DenseTrainingCounter(counts))],
    )
    return GridSearchCV(net, {"sparsity": [0.5, 0.8, 0.9]}, cv=3).fit(X, y)
