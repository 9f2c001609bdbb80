"""The pruning engine: closed forms, exact sparsity, statistics, errors."""

import copy

import numpy as np
import pytest
import torch
from _networks import make_net, make_X
from torch import nn
from torch.func import functional_call, jacrev

from sklearn_ecprune import (
    PRUNING_METHODS,
    apply_masks,
    ecp_importance,
    ecp_statistics,
    nonlinear_importance,
    prune_mlp,
)

ALL_METHODS = sorted(PRUNING_METHODS)


def linearised_least_squares(net, X, layer_name):
    """Importance and shift by a direct solve of min_db E sum_k (J_W W - J_b db)^2."""
    params = {k: v.detach() for k, v in net.named_parameters()}

    def f(p, x):
        return functional_call(net, p, (x[None],))[0]

    w_key, b_key = f"{layer_name}.weight", f"{layer_name}.bias"
    jac = torch.vmap(jacrev(f), in_dims=(None, 0))(params, X)
    J_W = jac[w_key]  # (n, K, out, in)
    J_b = jac[b_key]  # (n, K, out)
    W = params[w_key]
    out_f, in_f = W.shape
    importance = torch.empty_like(W)
    shift = torch.empty_like(W)
    for i in range(out_f):
        for j in range(in_f):
            target = (J_W[:, :, i, j] * W[i, j]).reshape(-1, 1)  # dy from removal
            design = J_b[:, :, i].reshape(-1, 1)
            sol = torch.linalg.lstsq(design, target).solution
            residual = target - design @ sol
            shift[i, j] = sol.item()
            importance[i, j] = residual.square().sum() / X.shape[0]
    return importance, shift


@pytest.mark.parametrize("layer_name", ["0", "2", "4"])
def test_closed_forms_match_least_squares(layer_name):
    net, X = make_net(), make_X()
    importance, shift = ecp_importance(net, X)[layer_name]
    expected_imp, expected_shift = linearised_least_squares(net, X, layer_name)
    torch.testing.assert_close(importance, expected_imp, atol=1e-8, rtol=0)
    torch.testing.assert_close(shift, expected_shift, atol=1e-8, rtol=0)


def test_summed_row_shifts_are_the_joint_optimum():
    net, X = make_net(), make_X()
    name, row, cols = "2", 3, [0, 2, 5]
    _, shift = ecp_importance(net, X)[name]
    params = {k: v.detach() for k, v in net.named_parameters()}

    def f(p, x):
        return functional_call(net, p, (x[None],))[0]

    jac = torch.vmap(jacrev(f), in_dims=(None, 0))(params, X)
    W = params[f"{name}.weight"]
    removal = sum(jac[f"{name}.weight"][:, :, row, j] * W[row, j] for j in cols)
    design = jac[f"{name}.bias"][:, :, row].reshape(-1, 1)
    joint = torch.linalg.lstsq(design, removal.reshape(-1, 1)).solution.item()
    assert joint == pytest.approx(float(shift[row, cols].sum()), abs=1e-10)


def test_linearised_importance_matches_nonlinear_oracle_to_first_order():
    net, X = make_net(), make_X()
    layer = net[2]
    ratios = []
    for scale in (1e-1, 1e-2, 1e-3):
        with torch.no_grad():
            layer.weight[1, 4] = scale
        linear = ecp_importance(net, X, layers=[layer])["2"][0][1, 4]
        exact = nonlinear_importance(net, X, layers=[layer])["2"][1, 4]
        ratios.append(float(exact / linear))
    # The relative error of the linearisation vanishes with the weight's size.
    errors = [abs(r - 1) for r in ratios]
    assert errors[2] < 1e-2
    assert errors[2] < errors[1] < errors[0]


def test_nonlinear_oracle_without_compensation_is_the_plain_removal_error():
    net, X = make_net(), make_X()
    exact = nonlinear_importance(net, X, compensate=False)
    reference = net(X).detach()
    pruned = copy.deepcopy(net)
    with torch.no_grad():
        pruned[0].weight[2, 1] = 0
    with torch.no_grad():
        expected = (pruned(X) - reference).square().sum(1).mean()
    assert float(exact["0"][2, 1]) == pytest.approx(float(expected), rel=1e-10)


@pytest.mark.parametrize("batch_size", [1, 7, 40])
def test_statistics_do_not_depend_on_batch_size(batch_size):
    net, X = make_net(), make_X()
    reference = ecp_statistics(net, X, batch_size=10_000)
    stats = ecp_statistics(net, X, batch_size=batch_size)
    for name, ref in reference.items():
        for field in ("s0", "s1", "s2", "input_sq"):
            torch.testing.assert_close(getattr(stats[name], field), getattr(ref, field))


def test_statistics_in_float32_match_float64():
    net64, X64 = make_net(), make_X(n=200)
    net32 = copy.deepcopy(net64).float()
    s64 = ecp_statistics(net64, X64)
    s32 = ecp_statistics(net32, X64.float())
    for name in s64:
        torch.testing.assert_close(s32[name].s2, s64[name].s2, rtol=1e-4, atol=1e-6)


def test_statistics_leave_the_module_as_it_was():
    net, X = make_net(), make_X()
    net.train()
    before = copy.deepcopy(net.state_dict())
    ecp_statistics(net, X)
    assert net.training
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key])
    assert all(p.grad is None for p in net.parameters())


def test_frozen_parameters_still_give_statistics():
    net, X = make_net(), make_X()
    for p in net.parameters():
        p.requires_grad_(False)
    stats = ecp_statistics(net, X)
    assert float(stats["0"].s0.sum()) > 0


def test_layers_are_found_in_forward_order():
    class Reversed(nn.Module):
        def __init__(self):
            super().__init__()
            self.late = nn.Linear(6, 2)
            self.early = nn.Linear(4, 6)

        def forward(self, x):
            return self.late(torch.relu(self.early(x)))

    stats = ecp_statistics(Reversed(), torch.randn(8, 4))
    assert list(stats) == ["early", "late"]


@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("scope", ["global", "layer"])
@pytest.mark.parametrize("sparsity", [0.0, 0.37, 0.9])
def test_achieved_sparsity_is_exact(method, scope, sparsity):
    net, X = make_net(dtype=torch.float32), make_X(dtype=torch.float32)
    y = torch.randint(0, 3, (X.shape[0],))
    n_weights = sum(m.weight.numel() for m in net if isinstance(m, nn.Linear))
    result = prune_mlp(net, X, sparsity, method=method, scope=scope, y=y, random_state=0)
    n_zero = sum(int((m.weight == 0).sum()) for m in net if isinstance(m, nn.Linear))
    assert n_zero == round(sparsity * n_weights)
    assert result.report.n_weights - result.report.n_kept == n_zero
    for name, mask in result.masks.items():
        assert torch.equal(mask, dict(net.named_modules())[name].weight != 0)
    # No torch.nn.utils.prune reparametrisation is left behind.
    assert not any("orig" in k or "mask" in k for k in net.state_dict())


def test_layer_scope_gives_the_same_ratio_in_every_layer():
    net, X = make_net(sizes=(5, 40, 30, 3), dtype=torch.float32), make_X(dtype=torch.float32)
    result = prune_mlp(net, X, 0.8, scope="layer")
    for row in result.report.layers:
        assert row.sparsity == pytest.approx(0.8, abs=1.0 / row.n_weights)


def test_multi_step_reaches_the_target_and_pruned_weights_stay_zero():
    net, X = make_net(dtype=torch.float32), make_X(dtype=torch.float32)
    first = prune_mlp(net, X, 0.5, random_state=0)
    second = prune_mlp(net, X, 0.8, n_steps=4)
    for name, mask in first.masks.items():
        # Everything pruned by the first call is still pruned after the second.
        assert not bool((second.masks[name] & ~mask).any())
    assert second.sparsity == pytest.approx(0.8, abs=1e-2)


def test_already_zero_weights_count_as_pruned():
    net, X = make_net(dtype=torch.float32), make_X(dtype=torch.float32)
    with torch.no_grad():
        net[0].weight[:, :2] = 0
    n_weights = sum(m.weight.numel() for m in net if isinstance(m, nn.Linear))
    result = prune_mlp(net, X, 0.5, method="magnitude")
    assert not bool(result.masks["0"][:, :2].any())
    assert n_weights - result.report.n_kept == round(0.5 * n_weights)


def test_ecp_compensates_and_magnitude_does_not():
    net, X = make_net(dtype=torch.float32), make_X(dtype=torch.float32)
    biases = [m.bias.detach().clone() for m in net if isinstance(m, nn.Linear)]
    magnitude = copy.deepcopy(net)
    prune_mlp(magnitude, X, 0.5, method="magnitude")
    for m, b in zip([m for m in magnitude if isinstance(m, nn.Linear)], biases, strict=True):
        assert torch.equal(m.bias, b)
    result = prune_mlp(net, X, 0.5, method="ecp")
    assert any(row.mean_abs_bias_shift > 0 for row in result.report.layers)


def test_ecp_compensation_lowers_the_output_error():
    net, X = make_net(dtype=torch.float32), make_X(n=400, dtype=torch.float32)
    reference = net(X).detach()
    errors = {}
    for compensate in (True, False):
        pruned = copy.deepcopy(net)
        prune_mlp(pruned, X, 0.3, method="ecp", n_steps=1, compensate=compensate)
        with torch.no_grad():
            errors[compensate] = float((pruned(X) - reference).square().mean())
    assert errors[True] < errors[False]


def test_random_method_is_seeded():
    net, X = make_net(dtype=torch.float32), make_X(dtype=torch.float32)
    masks = [
        prune_mlp(copy.deepcopy(net), X, 0.5, method="random", random_state=seed).masks["0"]
        for seed in (3, 3, 4)
    ]
    assert torch.equal(masks[0], masks[1])
    assert not torch.equal(masks[0], masks[2])


def test_ties_are_broken_deterministically():
    net, X = make_net(dtype=torch.float32), make_X(dtype=torch.float32)
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Linear):
                m.weight.fill_(0.5)
    a = prune_mlp(copy.deepcopy(net), X, 0.5, method="magnitude").masks
    b = prune_mlp(copy.deepcopy(net), X, 0.5, method="magnitude").masks
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_apply_masks_zeroes_pruned_weights():
    net, X = make_net(dtype=torch.float32), make_X(dtype=torch.float32)
    result = prune_mlp(copy.deepcopy(net), X, 0.6)
    apply_masks(net, result.masks)
    assert all(
        torch.equal(dict(net.named_modules())[k].weight != 0, m) for k, m in result.masks.items()
    )


def test_report_prints_and_converts_to_a_frame():
    pd = pytest.importorskip("pandas")
    net = make_net(sizes=(5, 10, 10, 5), dtype=torch.float32)  # 200 weights
    result = prune_mlp(net, make_X(dtype=torch.float32), 0.9)
    text = str(result)
    assert "sparsity" in text and "total" in text and "90.00%" in text
    frame = result.report.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame["layer"]) == ["0", "2", "4"]


def test_three_layer_mlp_at_ninety_percent():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 4)
    )
    X = torch.randn(300, 20)
    result = prune_mlp(net, X, 0.9)
    weights = [m.weight for m in net if isinstance(m, nn.Linear)]
    n = sum(w.numel() for w in weights)
    assert sum(int((w == 0).sum()) for w in weights) == round(0.9 * n)
    assert len(result.report.layers) == 3


def test_restricting_layers_prunes_only_those():
    net, X = make_net(dtype=torch.float32), make_X(dtype=torch.float32)
    result = prune_mlp(net, X, 0.5, layers=["2"])
    assert list(result.masks) == ["2"]
    assert bool((net[0].weight != 0).all())


def test_layer_without_bias_is_pruned_without_compensation():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 6, bias=False), nn.ReLU(), nn.Linear(6, 2))
    result = prune_mlp(net, torch.randn(30, 4), 0.5)
    assert result.sparsity == 0.5
    assert result.report.layers[0].mean_abs_bias_shift == 0.0


def test_numpy_input_works():
    net = make_net(dtype=torch.float32)
    X = np.random.default_rng(0).normal(size=(30, 5))
    assert prune_mlp(net, X, 0.5).sparsity == pytest.approx(0.5, abs=1 / 95)


# --- bad input: a clear error naming the problem, and the module unchanged ----------


def _bad_calls():
    X = make_X(dtype=torch.float32)
    nan_X = X.clone()
    nan_X[3, 2] = float("nan")
    inf_X = X.clone()
    inf_X[0, 0] = float("inf")
    return [
        (dict(X=X, sparsity=1.0), "sparsity"),
        (dict(X=X, sparsity=-0.1), "sparsity"),
        (dict(X=X, sparsity="0.5"), "sparsity"),
        (dict(X=X, sparsity=0.5, method="nope"), "method"),
        (dict(X=X, sparsity=0.5, scope="row"), "scope"),
        (dict(X=X, sparsity=0.5, n_steps=0), "n_steps"),
        (dict(X=X, sparsity=0.5, batch_size=0), "batch_size"),
        (dict(X=X, sparsity=0.5, method="gradient"), "needs y"),
        (dict(X=X[:, :3], sparsity=0.5), "3 features"),
        (dict(X=nan_X, sparsity=0.5), "NaN"),
        (dict(X=inf_X, sparsity=0.5), "NaN or infinity"),
        (dict(X=X[:0], sparsity=0.5), "empty"),
        (dict(X=X[0], sparsity=0.5), "2-D"),
        (dict(X=X, sparsity=0.5, layers=["1"]), "not a Linear layer"),
    ]


@pytest.mark.parametrize(("kwargs", "message"), _bad_calls())
def test_bad_input_raises_and_leaves_the_module_unchanged(kwargs, message):
    net = make_net(dtype=torch.float32)
    before = copy.deepcopy(net.state_dict())
    X = kwargs.pop("X")
    sparsity = kwargs.pop("sparsity")
    with pytest.raises(ValueError, match=message):
        prune_mlp(net, X, sparsity, **kwargs)
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key])


def test_network_with_nan_weights_is_rejected_and_left_unchanged():
    net = make_net(dtype=torch.float32)
    with torch.no_grad():
        net[2].weight[0, 0] = float("nan")
    before = copy.deepcopy(net.state_dict())
    with pytest.raises(ValueError, match="'2' has NaN or infinite parameters"):
        prune_mlp(net, make_X(dtype=torch.float32), 0.5, method="ecp-ls")
    for key, value in net.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0, equal_nan=True)


def test_module_without_linear_layer_is_rejected():
    with pytest.raises(ValueError, match=r"no nn\.Linear layer"):
        prune_mlp(nn.Sequential(nn.ReLU()), torch.randn(4, 3), 0.5)


def test_failure_half_way_restores_the_module():
    net, X = make_net(dtype=torch.float32), make_X(dtype=torch.float32)
    before = copy.deepcopy(net.state_dict())

    calls = []

    def loss_failing_in_the_second_step(output, target):
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("boom")
        return nn.functional.cross_entropy(output, target)

    # One batch per step: the first step prunes, the second fails.
    with pytest.raises(RuntimeError, match="boom"):
        prune_mlp(
            net,
            X,
            0.5,
            method="gradient",
            n_steps=2,
            batch_size=len(X),
            y=torch.zeros(len(X), dtype=torch.long),
            loss_fn=loss_failing_in_the_second_step,
        )
    assert len(calls) == 2
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key])


def test_capture_of_a_first_layer_input_is_the_data_itself_and_the_refit_leaves_it_unchanged():
    from sklearn_ecprune.engine._refit import capture

    net, X = make_net(seed=0), make_X(seed=0)
    first, second = net[0], net[2]
    assert capture(net, first, X, 7, "in") is X  # no copy of the calibration data
    inputs = capture(net, second, X, 7, "in")
    assert inputs.data_ptr() != X.data_ptr()
    with torch.no_grad():
        torch.testing.assert_close(inputs, net[1](first(X)))
    before = X.clone()
    prune_mlp(net, X, 0.8)  # "ecp-cg" refits the first layer on X itself
    assert torch.equal(X, before)
