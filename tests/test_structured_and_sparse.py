"""Sparse inference and structured (neuron) pruning."""

import copy

import _networks
import pytest
import torch
from torch import nn

from sklearn_ecprune import SparseLinear, prune_mlp, prune_neurons, to_sparse_module


def make_net(seed=0):
    """ReLU then Tanh: prune_neurons must slice across any elementwise activation."""
    net = _networks.make_net((6, 32, 16, 3), activation=nn.ReLU, dtype=torch.float32, seed=seed)
    net[3] = nn.Tanh()
    return net


def make_X(n=200, seed=1):
    return _networks.make_X(n, d=6, dtype=torch.float32, seed=seed)


def test_sparse_module_computes_the_same_function():
    net, X = make_net(), make_X()
    prune_mlp(net, X, 0.9, scope="layer")
    fast = to_sparse_module(net, min_sparsity=0.85)
    assert all(isinstance(fast[i], SparseLinear) for i in (0, 2, 4))
    torch.testing.assert_close(fast(X), net(X), rtol=1e-5, atol=1e-5)
    # The original is untouched and still trainable.
    assert isinstance(net[0], nn.Linear)


def test_sparse_module_keeps_dense_layers_below_the_threshold():
    net, X = make_net(), make_X()
    prune_mlp(net, X, 0.3, scope="layer")
    fast = to_sparse_module(net, min_sparsity=0.5)
    assert all(isinstance(m, nn.Linear) for m in fast if not isinstance(m, nn.ReLU | nn.Tanh))
    with pytest.raises(ValueError, match="min_sparsity"):
        to_sparse_module(net, min_sparsity=2)


def test_prune_neurons_shrinks_the_hidden_layers():
    net, X = make_net(), make_X()
    report = prune_neurons(net, X, 0.5)
    assert net[0].out_features + net[2].out_features == 24
    assert net[2].in_features == net[0].out_features
    assert net[4].in_features == net[2].out_features
    assert net(X).shape == (200, 3)
    assert report.layers[-1].shape == (3, net[2].out_features)
    assert report.sparsity > 0.4


def test_neuron_compensation_lowers_the_output_error():
    net, X = make_net(), make_X(n=500)
    reference = net(X).detach()
    errors = {}
    for compensate in (True, False):
        pruned = copy.deepcopy(net)
        prune_neurons(pruned, X, 0.3, compensate=compensate)
        with torch.no_grad():
            errors[compensate] = float((pruned(X) - reference).square().mean())
    assert errors[True] < errors[False]


def test_a_constant_neuron_is_removed_first_and_compensated_exactly():
    net, X = make_net(), make_X()
    with torch.no_grad():
        # Neuron 5 of the first layer outputs a constant 2.0 (ReLU of a bias).
        net[0].weight[5] = 0
        net[0].bias[5] = 2.0
        net[2].weight[:, 5] *= 10  # a large outgoing weight does not save it
    reference = net(X).detach()
    prune_neurons(net, X, 1 / 48)  # one neuron out of 48
    assert net[0].out_features == 31
    torch.testing.assert_close(net(X), reference, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("compensate", [True, False])
def test_report_shows_the_bias_shift_of_a_layer_that_also_lost_neurons(compensate):
    net, X = make_net(), make_X()
    report = prune_neurons(net, X, 0.5, compensate=compensate)
    assert net[2].out_features < 16  # the middle layer lost neurons of its own
    middle = report.layers[1]
    # Each kept bias is compared with its own value before: exactly 0 without
    # compensation, the compensation's size with it.
    if compensate:
        assert middle.mean_abs_bias_shift > 1e-3
    else:
        assert middle.mean_abs_bias_shift == 0.0


def test_every_hidden_layer_keeps_a_neuron():
    net, X = make_net(), make_X()
    prune_neurons(net, X, 0.99, n_steps=3)
    assert net[0].out_features >= 1 and net[2].out_features >= 1


@pytest.mark.parametrize(
    ("module", "message"),
    [
        (nn.Sequential(nn.Linear(6, 4), nn.LayerNorm(4), nn.Linear(4, 2)), "mix features"),
        (nn.Linear(6, 2), "nn.Sequential"),
    ],
)
def test_prune_neurons_rejects_unsupported_modules(module, message):
    with pytest.raises(ValueError, match=message):
        prune_neurons(module, make_X(), 0.5)


def test_prune_neurons_validates_the_fraction():
    with pytest.raises(ValueError, match="fraction"):
        prune_neurons(make_net(), make_X(), 1.0)
