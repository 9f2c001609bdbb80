"""The default fully-connected network of the estimators."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["ACTIVATIONS", "MLPModule", "TargetScale"]

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "identity": nn.Identity,
}


class MLPModule(nn.Sequential):
    """A multilayer perceptron: Linear layers with an activation between them.

    Weights and biases are drawn like scikit-learn's ``MLPClassifier`` does
    (Glorot uniform, with gain 2 for ``"logistic"``), so that training behaves
    like the estimators users compare against.

    Parameters
    ----------
    n_features : int
        Input size.
    n_outputs : int
        Output size (classes of a classifier, targets of a regressor).
    hidden_layer_sizes : sequence of int, default=(100,)
        Width of each hidden layer.
    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        Non-linearity after every hidden layer.
    generator : torch.Generator or None, default=None
        Draws the initial weights. With a generator, torch's global random state is
        neither used nor changed (the estimators pass one per fit, so that fits in
        parallel threads are reproducible); ``None`` draws from the global state.

    Examples
    --------
    >>> from sklearn_ecprune import MLPModule
    >>> MLPModule(4, 3, hidden_layer_sizes=(8,))
    MLPModule(
      (0): Linear(in_features=4, out_features=8, bias=True)
      (1): ReLU()
      (2): Linear(in_features=8, out_features=3, bias=True)
    )
    """

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        hidden_layer_sizes: Sequence[int] = (100,),
        activation: str = "relu",
        *,
        generator: torch.Generator | None = None,
    ):
        sizes = [n_features, *hidden_layer_sizes, n_outputs]
        layers: list[nn.Module] = []
        for i in range(len(sizes) - 1):
            # Built on the meta device: torch's own initialisation would draw from
            # the global random state, which this module leaves alone.
            layers.append(nn.Linear(sizes[i], sizes[i + 1], device="meta"))
            if i < len(sizes) - 2:
                layers.append(ACTIVATIONS[activation]())
        super().__init__(*layers)
        self.to_empty(device="cpu")
        gain = 2.0 if activation == "logistic" else 6.0
        with torch.no_grad():
            for layer in self:
                if isinstance(layer, nn.Linear):
                    bound = math.sqrt(gain / (layer.in_features + layer.out_features))
                    nn.init.uniform_(layer.weight, -bound, bound, generator=generator)
                    nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


class TargetScale(nn.Module):
    """Map a network's standardised outputs back to the target's units.

    ``forward(z) = z * scale + mean`` (of ``exp(z)`` with ``log_link``): what
    ``ECPrunedMLPRegressor.to_torch`` appends when the regressor was trained on a
    standardised target or with the Poisson loss.

    Parameters
    ----------
    mean, scale : array-like of shape (n_outputs,)
        The training target's mean and standard deviation.
    log_link : bool, default=False
        The network's output is the log of the prediction.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ecprune.estimators._module import TargetScale
    >>> TargetScale([10.0], [2.0])(torch.tensor([[0.5]]))
    tensor([[11.]])
    """

    def __init__(self, mean, scale, log_link: bool = False) -> None:
        super().__init__()
        self.log_link = log_link
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).reshape(-1))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32).reshape(-1))

    def forward(self, output: torch.Tensor) -> torch.Tensor:
        if self.log_link:
            output = output.exp()
        return output * self.scale + self.mean
