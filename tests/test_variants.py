"""The project's ECP variants: least-squares refit, density floor, sequential mode."""

import copy
import math

import _networks
import pytest
import torch
from _networks import linears, n_weights, n_zero
from torch import nn

from sklearn_ecprune import ecp_statistics, prune_mlp
from sklearn_ecprune.engine._methods import ecp_closed_form
from sklearn_ecprune.engine._refit import (
    RefitProblem,
    _cholesky,
    capture,
    refit_importance,
    refit_layer,
)
from sklearn_ecprune.engine._statistics import statistics_pass


def make_net(sizes=(5, 12, 10, 3), **kwargs):
    return _networks.make_net(sizes, **kwargs)


def make_X(n=200, **kwargs):
    return _networks.make_X(n, **kwargs)


def refit_problem(net, X, name, keep, ridge, reference=None):
    """Layer ``name``'s refit towards ``reference``, with sensitivities on ``net``."""
    layer = linears(net)[name]
    _, sensitivities = statistics_pass(net, X, [(name, layer)], 1024, keep_sensitivities=True)

    def target(start, stop):
        return capture(reference, linears(reference)[name], X[start:stop], 1024, "out")

    inputs = capture(net, layer, X, 1024, "in")
    return RefitProblem(layer, keep, inputs, sensitivities[name], target, ridge, chunk=1024)


def weighted_error(reference, pruned, X, name):
    """E[sum_i s_i (z_i - z_i')^2] of one layer's pre-activation, s from the reference."""
    outputs = {}

    def grab(key):
        def hook(_m, _inp, out):
            outputs[key] = out

        return hook

    h1 = linears(reference)[name].register_forward_hook(grab("ref"))
    h2 = linears(pruned)[name].register_forward_hook(grab("new"))
    Xg = X.clone().requires_grad_(True)
    y = reference(Xg)
    s = torch.zeros_like(outputs["ref"])
    for k in range(y.shape[1]):
        (g,) = torch.autograd.grad(y[:, k].sum(), outputs["ref"], retain_graph=True)
        s += g.square()
    with torch.no_grad():
        pruned(X)
    h1.remove()
    h2.remove()
    diff = (outputs["ref"] - outputs["new"]).detach()
    return float((s * diff.square()).sum(1).mean())


# --- exact sparsity and masks ----------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(method="ecp-ls"),
        dict(method="ecp-ls", n_steps=3),
        dict(method="ecp-ls", scope="layer"),
        dict(method="ecp", sequential=True, n_steps=2),
        dict(method="ecp-ls", sequential=True),
        dict(method="ecp-obs", n_steps=2),
        dict(method="ecp", min_density=0.2),
        dict(method="ecp-ls", min_density=0.05, n_steps=4),
        dict(method="magnitude", min_density=0.5),
    ],
)
@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.9, 0.97])
def test_variants_reach_the_exact_sparsity(kwargs, sparsity):
    net, X = make_net(dtype=torch.float32), make_X(dtype=torch.float32)
    result = prune_mlp(net, X, sparsity, **kwargs)
    assert n_zero(net) == round(sparsity * n_weights(net))
    for name, mask in result.masks.items():
        assert torch.equal(mask, linears(net)[name].weight != 0)


@pytest.mark.parametrize("kwargs", [dict(method="ecp-ls"), dict(sequential=True)])
def test_already_pruned_weights_stay_pruned(kwargs):
    net, X = make_net(), make_X()
    with torch.no_grad():
        net[2].weight[:, :4] = 0
    result = prune_mlp(net, X, 0.6, n_steps=3, **kwargs)
    assert not bool(result.masks["2"][:, :4].any())
    assert bool((net[2].weight[:, :4] == 0).all())


# --- least-squares refit ---------------------------------------------------------


def test_refit_lowers_the_weighted_error_below_plain_ecp():
    net, X = make_net(), make_X()
    plain, refit = copy.deepcopy(net), copy.deepcopy(net)
    a = prune_mlp(plain, X, 0.6, method="ecp", n_steps=1, layers=["2"])
    b = prune_mlp(refit, X, 0.6, method="ecp-ls", n_steps=1, layers=["2"], ridge=1e-8)
    # Same ranking, so the same weights go; only the update of the rest differs.
    assert torch.equal(a.masks["2"], b.masks["2"])
    err_plain = weighted_error(net, plain, X, "2")
    err_refit = weighted_error(net, refit, X, "2")
    assert err_refit < 0.5 * err_plain


def test_refit_lowers_the_output_error_of_the_whole_network():
    net, X = make_net(), make_X()
    reference = net(X).detach()
    errors = {}
    for method in ("ecp", "ecp-ls"):
        pruned = copy.deepcopy(net)
        prune_mlp(pruned, X, 0.7, method=method, n_steps=3)
        with torch.no_grad():
            errors[method] = float((pruned(X) - reference).square().sum(1).mean())
    assert errors["ecp-ls"] < 0.5 * errors["ecp"]


def test_refit_of_a_row_without_weights_is_the_ecp_bias_shift():
    # One input: a pruned row keeps only its bias, whose refit is the ECP optimum.
    net = make_net(sizes=(1, 6, 2))
    X = make_X(d=1)
    plain, refit = copy.deepcopy(net), copy.deepcopy(net)
    a = prune_mlp(plain, X, 0.5, method="ecp", n_steps=1, layers=["0"])
    b = prune_mlp(refit, X, 0.5, method="ecp-ls", n_steps=1, layers=["0"], ridge=0.0)
    assert torch.equal(a.masks["0"], b.masks["0"])
    pruned_rows = ~a.masks["0"][:, 0]
    assert int(pruned_rows.sum()) == 3
    torch.testing.assert_close(refit[0].bias[pruned_rows], plain[0].bias[pruned_rows])
    # The kept rows are refit too (their bias changes in general, never for the worse).
    assert weighted_error(net, refit, X, "0") <= weighted_error(net, plain, X, "0") + 1e-12


@pytest.mark.parametrize("method", ["ecp-cg", "ecp-ls", "ecp", "ecp-obs"])
def test_sparsity_zero_leaves_the_network_bit_identical(method):
    net, X = make_net(), make_X()
    pruned = copy.deepcopy(net)
    prune_mlp(pruned, X, 0.0, method=method)
    for p, q in zip(net.parameters(), pruned.parameters(), strict=True):
        assert torch.equal(p, q)


def test_a_huge_ridge_keeps_the_masked_weights():
    net, X = make_net(), make_X()
    pruned = copy.deepcopy(net)
    result = prune_mlp(pruned, X, 0.5, method="ecp-ls", n_steps=1, ridge=1e9)
    for name, layer in linears(pruned).items():
        expected = linears(net)[name].weight * result.masks[name]
        torch.testing.assert_close(layer.weight, expected, atol=1e-6, rtol=0)


def test_refit_works_without_a_bias_and_in_float32():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8, bias=False), nn.ReLU(), nn.Linear(8, 2))
    X = torch.randn(64, 4)
    result = prune_mlp(net, X, 0.5, method="ecp-ls")
    assert result.sparsity == 0.5
    assert all(bool(torch.isfinite(p).all()) for p in net.parameters())


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("method", ["ecp-ls", pytest.param("ecp-obs", marks=pytest.mark.slow)])
def test_refit_of_rows_wider_than_150_with_two_threads(two_threads, method):
    # Batched LU fails on CPU with several threads beyond about 150 unknowns
    # (pytorch/pytorch#142815); the refit's SPD systems must not depend on it.
    net, X = make_net(sizes=(8, 200, 160, 2)), make_X(n=300, d=8)
    plain, refit = copy.deepcopy(net), copy.deepcopy(net)
    prune_mlp(plain, X, 0.1, method="ecp", n_steps=1, layers=["2"])
    result = prune_mlp(refit, X, 0.1, method=method, n_steps=1, layers=["2"])
    assert result.masks["2"].sum(1).max() > 150
    assert all(bool(torch.isfinite(p).all()) for p in refit.parameters())
    assert weighted_error(net, refit, X, "2") < weighted_error(net, plain, X, "2")


def test_cholesky_lifts_a_system_that_round_off_left_indefinite():
    v = torch.randn(6, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    system = (v @ v.T - 1e-10 * torch.eye(6, dtype=torch.float64))[None]
    assert int(torch.linalg.cholesky_ex(system).info) != 0
    factor = _cholesky(system)
    torch.testing.assert_close(factor @ factor.mT, system, rtol=0, atol=1e-8)


def test_cholesky_of_a_non_finite_system_raises():
    system = torch.eye(3, dtype=torch.float64)[None].clone()
    system[0, 1, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        _cholesky(system)


# --- density floor ---------------------------------------------------------------


def test_refit_importance_with_only_the_bias_free_is_ecp_importance():
    # One input: each row's only weight can be compensated by its bias alone.
    net, X = make_net(sizes=(1, 6, 2)), make_X(d=1)
    stats = ecp_statistics(net, X)
    expected, _ = ecp_closed_form(net[0].weight, stats["0"])
    scores = refit_importance(refit_problem(net, X, "0", net[0].weight != 0, ridge=0.0))
    torch.testing.assert_close(scores, expected)


@pytest.mark.parametrize("row, col", [(0, 0), (2, 3), (5, 6)])
def test_refit_importance_is_the_error_left_after_the_refit(row, col):
    net, X = make_net(), make_X()
    scores = refit_importance(refit_problem(net, X, "2", net[2].weight != 0, ridge=0.0))
    keep = torch.ones_like(net[2].weight, dtype=torch.bool)
    keep[row, col] = False
    pruned = copy.deepcopy(net)
    refit_layer(refit_problem(pruned, X, "2", keep, ridge=0.0, reference=net))
    assert float(pruned[2].weight.detach()[row, col]) == 0.0
    error = weighted_error(net, pruned, X, "2")
    assert math.isclose(float(scores[row, col]), error, rel_tol=1e-6)
    # Below the error of the bias-only compensation, which ECP ranks by.
    ecp, _ = ecp_closed_form(net[2].weight, ecp_statistics(net, X)["2"])
    assert error <= float(ecp[row, col]) * (1 + 1e-9)


def test_refit_importance_of_pruned_weights_is_zero():
    net, X = make_net(), make_X()
    with torch.no_grad():
        net[2].weight[:, :3] = 0
    scores = refit_importance(refit_problem(net, X, "2", net[2].weight != 0, ridge=1e-3))
    assert bool((scores[:, :3] == 0).all())
    assert bool((scores[:, 3:] > 0).all())


def _net_with_a_weak_layer():
    net = make_net(sizes=(5, 20, 20, 3), dtype=torch.float32)
    with torch.no_grad():
        net[0].weight.mul_(1e-3)  # magnitude pruning would wipe this layer out
    return net


def test_a_weak_layer_keeps_its_best_weight_without_a_floor():
    net = _net_with_a_weak_layer()
    weak = net[0].weight.detach().abs().clone()
    prune_mlp(net, make_X(dtype=torch.float32), 0.6, method="magnitude")
    # Global magnitude would empty it (the output would no longer depend on the input):
    # the one weight it keeps is its largest, and the target is still met exactly.
    kept = net[0].weight != 0
    assert int(kept.sum()) == 1 and bool(kept.reshape(-1)[weak.argmax()])
    assert n_zero(net) == round(0.6 * n_weights(net))


@pytest.mark.parametrize("min_density", [0.05, 0.1, 0.3])
def test_density_floor_holds(min_density):
    net = _net_with_a_weak_layer()
    X = make_X(dtype=torch.float32)
    result = prune_mlp(net, X, 0.6, method="magnitude", min_density=min_density)
    for row in result.report.layers:
        assert row.n_kept >= math.ceil(min_density * row.n_weights)
    assert n_zero(net) == round(0.6 * n_weights(net))


def test_density_floor_is_capped_at_the_uniform_density():
    net = _net_with_a_weak_layer()
    result = prune_mlp(net, make_X(dtype=torch.float32), 0.9, min_density=0.5)
    # The target is still reached: the floor cannot exceed 1 - sparsity per layer.
    assert n_zero(net) == round(0.9 * n_weights(net))
    for row in result.report.layers:
        assert row.n_kept >= math.floor(0.1 * row.n_weights)


# --- sequential mode -------------------------------------------------------------


def test_sequential_keeps_the_allocation_and_the_first_layer():
    net, X = make_net(), make_X()
    base, seq = copy.deepcopy(net), copy.deepcopy(net)
    a = prune_mlp(base, X, 0.7, method="ecp", n_steps=1)
    b = prune_mlp(seq, X, 0.7, method="ecp", n_steps=1, sequential=True)
    assert [r.n_kept for r in a.report.layers] == [r.n_kept for r in b.report.layers]
    assert torch.equal(a.masks["0"], b.masks["0"])
    # Later layers are re-ranked on the partly pruned network: here they differ.
    assert not all(torch.equal(a.masks[k], b.masks[k]) for k in ("2", "4"))


def test_sequential_scores_see_the_pruned_earlier_layers():
    net, X = make_net(), make_X()
    seq = copy.deepcopy(net)
    result = prune_mlp(seq, X, 0.7, method="ecp", n_steps=1, sequential=True, layers=["0", "2"])
    # Layer 2's mask must be what ECP picks on a network whose layer 0 is pruned
    # and compensated (the final layer 0 of ``seq``) and whose layer 2 is dense.
    manual = copy.deepcopy(net)
    with torch.no_grad():
        manual[0].weight.copy_(seq[0].weight)
        manual[0].bias.copy_(seq[0].bias)
    n_prune = int((~result.masks["2"]).sum())
    expected = prune_mlp(
        manual, X, n_prune / net[2].weight.numel(), method="ecp", n_steps=1, layers=["2"]
    )
    assert torch.equal(expected.masks["2"], result.masks["2"])


# --- bad input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(min_density=1.5), "min_density"),
        (dict(min_density=-0.1), "min_density"),
        (dict(min_density=True), "min_density"),
        (dict(sequential="yes"), "sequential"),
        (dict(ridge=-1.0), "ridge"),
        (dict(ridge=float("nan")), "ridge"),
    ],
)
def test_bad_variant_options_raise_and_leave_the_module_unchanged(kwargs, message):
    net, X = make_net(dtype=torch.float32), make_X(dtype=torch.float32)
    before = copy.deepcopy(net.state_dict())
    with pytest.raises(ValueError, match=message):
        prune_mlp(net, X, 0.5, method="ecp-ls", **kwargs)
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key])


def test_refitting_method_rejects_compensate_false():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    with pytest.raises(ValueError, match="compensate=False"):
        prune_mlp(net, torch.randn(20, 4), 0.5, method="ecp-ls", compensate=False)


# --- the conjugate-gradient refit (ecp-cg) ------------------------------------------


def test_conjugate_gradients_converge_to_the_exact_refit():
    # One layer pruned, so both refits weigh its rows with the same sensitivities.
    net, X = make_net(), make_X()
    exact, iterative = copy.deepcopy(net), copy.deepcopy(net)
    a = prune_mlp(exact, X, 0.6, method="ecp-ls", n_steps=1, layers=["2"])
    b = prune_mlp(iterative, X, 0.6, method="ecp-cg", n_steps=1, layers=["2"], cg_iterations=60)
    assert torch.equal(a.masks["2"], b.masks["2"])
    torch.testing.assert_close(iterative[2].weight, exact[2].weight, rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(iterative[2].bias, exact[2].bias, rtol=1e-6, atol=1e-8)


def test_a_few_conjugate_gradient_steps_do_most_of_the_exact_refit_s_work():
    net, X = make_net(), make_X()
    errors = {}
    for method, iterations in (("ecp", 4), ("ecp-cg", 1), ("ecp-cg", 4), ("ecp-ls", 4)):
        pruned = copy.deepcopy(net)
        prune_mlp(pruned, X, 0.6, method=method, n_steps=1, layers=["2"], cg_iterations=iterations)
        errors[method, iterations] = weighted_error(net, pruned, X, "2")
    assert errors["ecp-cg", 1] < errors["ecp", 4]  # better than the bias shift alone
    assert errors["ecp-cg", 4] <= errors["ecp-cg", 1]
    assert errors["ecp-cg", 4] < 1.3 * errors["ecp-ls", 4]


def test_the_default_method_is_the_conjugate_gradient_refit():
    from sklearn_ecprune.engine import DEFAULT_METHOD

    net, X = make_net(), make_X()
    a, b = copy.deepcopy(net), copy.deepcopy(net)
    prune_mlp(a, X, 0.7)
    prune_mlp(b, X, 0.7, method="ecp-cg", n_steps=10)
    assert DEFAULT_METHOD == "ecp-cg"
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


@pytest.mark.parametrize("method", ["ecp", "ecp-cg", "ecp-ls", "wanda"])
def test_integer_sample_weights_prune_like_repeated_rows(method):
    net, X = make_net(), make_X(60)
    weights = torch.arange(60) % 3  # 0, 1 or 2 copies of each row
    repeated, weighted = copy.deepcopy(net), copy.deepcopy(net)
    a = prune_mlp(repeated, X.repeat_interleave(weights, dim=0), 0.6, method=method, n_steps=3)
    b = prune_mlp(weighted, X, 0.6, method=method, n_steps=3, sample_weight=weights)
    assert all(torch.equal(a.masks[k], b.masks[k]) for k in a.masks)
    for p, q in zip(repeated.parameters(), weighted.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-7, atol=1e-9)


def test_bad_sample_weights_are_rejected():
    net, X = make_net(), make_X(20)
    for weights in (torch.ones(19), -torch.ones(20), torch.zeros(20)):
        with pytest.raises(ValueError, match="sample_weight"):
            prune_mlp(copy.deepcopy(net), X, 0.5, sample_weight=weights)
