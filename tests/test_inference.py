"""Sparsity that pays: sparse and compacted inference, small files, plain modules out,
neuron pruning in the estimators, and searches on a distributed engine."""

import pickle

import _networks
import joblib
import numpy as np
import pytest
import torch
from torch import nn

from sklearn_ecprune import (
    ECPrunedMLPClassifier,
    ECPrunedMLPRegressor,
    SparseLinear,
    prune_mlp,
    to_sparse_module,
)
from sklearn_ecprune.engine import compact_module, prefers_sparse
from sklearn_ecprune.engine._deploy import inference_module

FAST = dict(max_epochs=15, lr=0.01, n_steps=3, fine_tune_epochs=1, random_state=0)


@pytest.fixture(scope="module")
def very_sparse(digits):
    X, y = digits
    return ECPrunedMLPClassifier(**FAST, hidden_layer_sizes=(256, 256), sparsity=0.97).fit(X, y)


# --- predictions run on the pruned structure --------------------------------------------


def test_sparse_inference_uses_sparse_layers_and_predicts_like_the_dense_network(
    very_sparse, digits
):
    X, _ = digits
    module = very_sparse.set_params(inference="sparse")._inference_module()
    assert any(isinstance(m, SparseLinear) for m in module.modules())
    dense = very_sparse.set_params(inference="dense").predict_proba(X)
    assert not any(isinstance(m, SparseLinear) for m in very_sparse._inference_module().modules())
    for layout in ("auto", "sparse"):
        proba = very_sparse.set_params(inference=layout).predict_proba(X)
        np.testing.assert_allclose(proba, dense, rtol=1e-4, atol=1e-6)
    very_sparse.set_params(inference="auto")


def test_auto_stores_large_very_sparse_layers_as_csr():
    generator = torch.Generator().manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(32, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 1024),
        torch.nn.ReLU(), torch.nn.Linear(1024, 10),
    )  # fmt: skip
    with torch.no_grad():
        net[2].weight.mul_(torch.rand(1024, 1024, generator=generator) < 0.01)
    module = inference_module(net, "auto")
    kinds = [type(m).__name__ for m in module.modules() if hasattr(m, "in_features")]
    assert kinds == ["Linear", "SparseLinear", "Linear"]  # only the large, sparse one
    X = torch.randn(7, 32, generator=generator)
    with torch.inference_mode():
        torch.testing.assert_close(module(X), net(X), rtol=1e-4, atol=1e-5)


def test_auto_keeps_dense_layers_where_sparse_products_are_slower(digits):
    X, y = digits
    half = ECPrunedMLPClassifier(**FAST, hidden_layer_sizes=(256, 256), sparsity=0.5).fit(X, y)
    module = half._inference_module()
    assert not any(isinstance(m, SparseLinear) for m in module.modules())
    assert not prefers_sparse(256 * 256, 0.5, threads=1)
    assert not prefers_sparse(256 * 256, 0.01, threads=1)  # too small to pay
    assert prefers_sparse(1024 * 1024, 0.02, threads=1)
    assert not prefers_sparse(1024 * 1024, 0.05, threads=1)


def test_predict_on_arrays_does_not_go_through_a_dataloader(very_sparse, digits, monkeypatch):
    X, _ = digits
    expected = very_sparse.predict(X[:50])

    def no_dataloader(*args, **kwargs):
        raise AssertionError("predict on an array went through skorch's DataLoader path")

    monkeypatch.setattr(type(very_sparse), "forward_iter", no_dataloader)
    np.testing.assert_array_equal(very_sparse.predict(X[:50]), expected)


@pytest.mark.parametrize("inference", ["auto", "dense"])
@pytest.mark.parametrize("rows", [1, 2, 3, 5, 17])
def test_a_row_is_predicted_as_in_any_batch(very_sparse, digits, inference, rows):
    # Small chunks are padded to the rows the CPU's matrix kernel needs to round as in
    # a large batch; without it one to three rows come out differently.
    X = digits[0][:40]
    very_sparse.set_params(inference=inference)
    try:
        batch = very_sparse.predict_proba(X)
        parts = [very_sparse.predict_proba(X[i : i + rows]) for i in range(0, len(X), rows)]
    finally:
        very_sparse.set_params(inference="auto")
    np.testing.assert_array_equal(np.vstack(parts), batch)


@pytest.mark.parametrize("rows", [1, 3])
def test_a_row_is_predicted_as_in_any_batch_by_a_wide_network(digits, rows):
    # The 512x512 layer runs oneDNN's product on packed weights (no padding), the
    # small ones F.linear on padded rows: both must give a row the batch's values.
    X, y = digits
    clf = ECPrunedMLPClassifier(
        **{**FAST, "max_epochs": 3}, hidden_layer_sizes=(512, 512), sparsity=0.5
    ).fit(X, y)
    _, row_exact = clf._inference_module()._plain_steps()
    if torch.backends.mkldnn.is_available():
        assert row_exact
    batch = clf.predict_proba(X[:40])
    parts = [clf.predict_proba(X[i : min(i + rows, 40)]) for i in range(0, 40, rows)]
    np.testing.assert_array_equal(np.vstack(parts), batch)
    with torch.inference_mode():
        plain = torch.softmax(clf.module_(torch.from_numpy(X[:40])), dim=1).numpy()
    np.testing.assert_allclose(batch, plain, rtol=1e-4, atol=1e-6)


# --- compaction and sparse layers in the engine ------------------------------------------


def test_compact_module_folds_constant_neurons_and_drops_unused_ones():
    net = _networks.make_net((6, 10, 8, 3), activation=nn.ReLU, dtype=torch.float64)
    with torch.no_grad():
        net[0].weight[:4] = 0  # four constant neurons in the first hidden layer
        net[2].weight[:, 6:] = 0  # ...whose last four neurons feed nothing
        net[4].weight[:, :2] = 0  # two neurons of the second layer feed nothing
    small = compact_module(net)
    assert [small[0].out_features, small[2].out_features] == [2, 6]
    X = _networks.make_X(50, d=6)
    torch.testing.assert_close(small(X), net(X))
    assert net[0].out_features == 10  # the original is untouched


def test_to_sparse_module_counts_the_threshold_exactly():
    layer = nn.Linear(100, 200)
    with torch.no_grad():
        layer.weight.view(-1)[: int(0.95 * layer.weight.numel())] = 0  # exactly 95 %
    converted = to_sparse_module(nn.Sequential(layer), min_sparsity=0.95)
    assert isinstance(converted[0], SparseLinear)


@pytest.mark.parametrize("kernel", ["scipy", "torch"])
def test_sparse_linear_kernels_match_the_dense_layer(kernel):
    net = _networks.make_net((20, 40, 5), dtype=torch.float32)
    X = _networks.make_X(64, d=20, dtype=torch.float32)
    prune_mlp(net, X, 0.9, method="magnitude", n_steps=1)
    sparse = to_sparse_module(net, min_sparsity=0.0, kernel=kernel)
    torch.testing.assert_close(sparse(X), net(X), rtol=1e-5, atol=1e-5)
    again = pickle.loads(pickle.dumps(sparse))
    torch.testing.assert_close(again(X), sparse(X))


# --- small files ----------------------------------------------------------------------------


def test_pickles_store_pruned_layers_sparsely_and_round_trip_exactly(digits):
    X, y = digits
    sizes, nets = {}, {}
    for sparsity in (0.0, 0.9, 0.99):
        nets[sparsity] = ECPrunedMLPClassifier(
            **{**FAST, "max_epochs": 3, "n_steps": 1, "pruning": "magnitude"},
            hidden_layer_sizes=(256, 256),
            sparsity=sparsity,
        ).fit(X, y)
        sizes[sparsity] = len(pickle.dumps(nets[sparsity]))
    assert sizes[0.9] < 0.3 * sizes[0.0]
    assert sizes[0.99] < 0.08 * sizes[0.0]
    for net in nets.values():
        again = pickle.loads(pickle.dumps(net))
        np.testing.assert_array_equal(again.predict_proba(X), net.predict_proba(X))
        assert all(torch.equal(again.masks_[k], net.masks_[k]) for k in net.masks_)
        assert again.sparsity_ == net.sparsity_
        again.partial_fit(X, y)  # continued training starts from a fresh optimizer
        assert again.sparsity_ == pytest.approx(net.sparsity_)


def test_joblib_files_are_small_too(very_sparse, tmp_path):
    joblib.dump(very_sparse, tmp_path / "net.joblib")
    weights = sum(
        m.weight.numel() for m in very_sparse.module_.modules() if isinstance(m, nn.Linear)
    )
    assert (tmp_path / "net.joblib").stat().st_size < 4 * weights * 0.2


# --- a plain module out ---------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_to_torch_exports_and_predicts_like_the_estimator(very_sparse, digits):
    X, _ = digits
    compact = very_sparse.to_torch()
    assert all(isinstance(m, nn.Linear | nn.ReLU) for m in compact)
    inputs = torch.as_tensor(X[:32])
    exported = torch.export.export(compact, (inputs,))
    logits = exported.module()(inputs)
    np.testing.assert_allclose(
        torch.softmax(logits, 1).detach().numpy(), very_sparse.predict_proba(X[:32]), rtol=1e-4,
        atol=1e-6,
    )  # fmt: skip
    scripted = torch.jit.script(compact)
    torch.testing.assert_close(scripted(inputs), logits)
    sparse = very_sparse.to_torch("sparse")
    torch.testing.assert_close(sparse(inputs), logits, rtol=1e-4, atol=1e-5)
    dense = very_sparse.to_torch("dense")
    torch.testing.assert_close(dense(inputs), logits, rtol=1e-4, atol=1e-5)


# --- whole neurons ----------------------------------------------------------------------------


def test_pruning_unit_neuron_gives_a_smaller_dense_network(digits):
    X, y = digits
    net = ECPrunedMLPClassifier(
        **FAST, hidden_layer_sizes=(128, 64), sparsity=0.8, pruning_unit="neuron"
    ).fit(X, y)
    widths = net.hidden_layer_sizes_
    assert widths[0] < 128 and widths[1] < 64
    n_now = sum(m.weight.numel() for m in net.module_.modules() if isinstance(m, nn.Linear))
    assert n_now <= 0.2 * (64 * 128 + 128 * 64 + 64 * 10) + 1
    assert net.sparsity_ == pytest.approx(0.8, abs=0.01)
    assert net.score(X, y) > 0.8
    again = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(again.predict(X), net.predict(X))


def test_pruning_unit_neuron_needs_a_sequential_network(digits):
    X, y = digits

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner, self.outer = nn.Linear(64, 16), nn.Linear(16, 10)

        def forward(self, x):
            return self.outer(torch.relu(self.inner(x)))

    with pytest.raises(ValueError, match=r"pruning_unit='neuron' needs an nn\.Sequential"):
        ECPrunedMLPClassifier(Net, **FAST, pruning_unit="neuron").fit(X, y)


@pytest.mark.parametrize("layout", ["compact", "dense", "sparse"])
def test_regressor_to_torch_predicts_in_the_targets_units(layout):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4)).astype(np.float32)
    y = 100 + 10 * X[:, 0]
    reg = ECPrunedMLPRegressor(**FAST, sparsity=0.5).fit(X, y)
    net = reg.to_torch(layout)
    out = net(torch.as_tensor(X)).detach().numpy()
    assert out.shape == (200, 1)
    np.testing.assert_allclose(out.ravel(), reg.predict(X), rtol=1e-4)
    if layout == "compact":  # the layout for export (torch.export has no CSR kernels)
        torch.export.export(net, (torch.as_tensor(X[:2]),))


# --- a distributed engine ---------------------------------------------------------------------


@pytest.mark.slow
def test_grid_search_on_a_dask_cluster_equals_the_serial_one(digits, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    X, y = digits
    X, y = X[:600], y[:600]

    def search(memory, counts):
        grid = _networks.counted_grid_search(X, y, memory, counts, **FAST)
        return grid.cv_results_["mean_test_score"]

    serial = search(None, tmp_path / "serial")
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster,
        distributed.Client(cluster),
        joblib.parallel_backend("dask"),
    ):
        on_dask = search(tmp_path / "cache", tmp_path / "dask")
    np.testing.assert_array_equal(on_dask, serial)
    assert _networks.dense_trainings(tmp_path / "dask") == 3 + 1  # folds + refit
