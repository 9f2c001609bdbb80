"""A method is a scorer and a compensator: what the engine gives a compensator, and when."""

import copy

import pytest
import torch
from _networks import linears, make_net, make_X

from sklearn_ecprune import PRUNING_METHODS, PruningMethod, prune_mlp
from sklearn_ecprune.engine import (
    BiasShift,
    Compensator,
    ConjugateGradientRefit,
    ExactRefit,
    MaskOnly,
    PruneConfig,
    _statistics,
)
from sklearn_ecprune.engine._layers import forward_hooks


class RecordingCompensator(MaskOnly):
    """Masks, and keeps what the engine handed it."""

    needs_statistics = True
    needs_sensitivities = True
    needs_reference = True

    def __init__(self):
        self.steps = []

    def compensate(self, step):
        self.steps.append(step)
        super().compensate(step)


def magnitude_with(compensator, compensates=True):
    return type(
        "Custom",
        (PruningMethod,),
        {
            "name": "custom",
            "compensator": compensator,
            "compensates": compensates,
            "compute_scores": lambda self, ctx: ctx.layer.weight.detach().abs(),
        },
    )


def test_built_in_methods_own_their_compensators():
    assert isinstance(PRUNING_METHODS["ecp"].compensator, BiasShift)
    assert isinstance(PRUNING_METHODS["ecp-ls"].compensator, ExactRefit)
    assert isinstance(PRUNING_METHODS["ecp-obs"].compensator, ExactRefit)
    assert isinstance(PRUNING_METHODS["ecp-cg"].compensator, ConjugateGradientRefit)
    # compensate=False switches an optional compensator off, and only that one.
    ecp, magnitude = PRUNING_METHODS["ecp"](), PRUNING_METHODS["magnitude"]()
    assert isinstance(PruneConfig(0.5, ecp, compensate=False).compensator, MaskOnly)
    assert isinstance(PruneConfig(0.5, magnitude, compensate=True).compensator, BiasShift)
    with pytest.raises(ValueError, match="compensate=False is not available"):
        _ = PruneConfig(0.5, PRUNING_METHODS["ecp-cg"](), compensate=False).compensator


def test_a_compensator_gets_what_it_declares_for_every_layer_and_step():
    net, X = make_net(), make_X()
    compensator = RecordingCompensator()
    result = prune_mlp(net, X, 0.6, method=magnitude_with(compensator), n_steps=2)
    layers = linears(net)
    assert [step.name for step in compensator.steps] == [*layers] * 2
    for step in compensator.steps:
        layer = layers[step.name]
        assert step.layer is layer
        assert step.stats.s1.shape == layer.weight.shape
        assert step.sensitivities.shape == (len(X), layer.out_features)
        # The reference is the network as it was given, not the one being pruned.
        assert step.reference is not net
        assert step.reference.get_submodule(step.name).weight.count_nonzero() == (
            layer.weight.numel()
        )
        assert torch.equal(step.removed, step.keep & ~step.new_keep)
    assert result.sparsity == 0.6


def test_a_compensator_that_needs_nothing_gets_nothing():
    class Bare(MaskOnly):
        def __init__(self):
            self.steps = []

        def compensate(self, step):
            self.steps.append(step)
            super().compensate(step)

    compensator = Bare()
    prune_mlp(make_net(), make_X(), 0.5, method=magnitude_with(compensator), n_steps=1)
    assert compensator.steps
    assert all(s.stats is None and s.sensitivities is None for s in compensator.steps)
    assert all(s.reference is None for s in compensator.steps)


def test_mask_only_leaves_the_biases_and_bias_shift_moves_them():
    net, X = make_net(), make_X()
    masked, shifted = copy.deepcopy(net), copy.deepcopy(net)
    prune_mlp(masked, X, 0.5, method=magnitude_with(MaskOnly()), n_steps=1)
    prune_mlp(shifted, X, 0.5, method=magnitude_with(BiasShift()), n_steps=1)
    for name, layer in linears(net).items():
        assert torch.equal(linears(masked)[name].bias, layer.bias)
        assert not torch.equal(linears(shifted)[name].bias, layer.bias)
        assert torch.equal(linears(masked)[name].weight, linears(shifted)[name].weight)


@pytest.mark.parametrize("method", ["ecp-ls", "ecp-obs", "ecp-cg"])
def test_every_refit_takes_its_sensitivities_from_the_one_pass_of_each_step(method, monkeypatch):
    # Per batch, the backward passes for the sensitivities run once per step, for all
    # layers at once (not once more per layer for the refit or the scores).
    calls = []
    original = _statistics.squared_output_gradients

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(_statistics, "squared_output_gradients", counted)
    net, X = make_net(), make_X(n=40)
    prune_mlp(net, X, 0.6, method=method, n_steps=3, batch_size=20)
    assert len(calls) == 3 * 2  # steps x batches


def test_a_method_written_for_refit_strings_gets_a_migration_message():
    with pytest.raises(TypeError, match=r"compensator = ExactRefit\(\)"):

        class OldStyle(PruningMethod):
            name = "old-style"
            refit = "exact"

    with pytest.raises(TypeError, match="must be a Compensator instance"):

        class WrongKind(PruningMethod):
            name = "wrong-kind"
            compensator = BiasShift  # the class, not an instance


def test_forward_hooks_are_removed_when_the_block_raises():
    net = make_net()
    seen = []
    with pytest.raises(RuntimeError), forward_hooks({net[0]: lambda *args: seen.append(1)}):
        net(make_X())
        raise RuntimeError
    assert seen == [1]
    assert not net[0]._forward_hooks


def test_compensator_base_class_must_be_subclassed():
    with pytest.raises(NotImplementedError):
        Compensator().compensate(None)
