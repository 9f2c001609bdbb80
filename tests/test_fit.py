"""The fit issue: the batch data path, threads, one run per fit and its plan.

Each test asserts a behaviour that breaks without the feature.
"""

import _networks
import numpy as np
import pytest
import torch
from scipy import sparse
from skorch.callbacks import Callback
from torch.utils.data import DataLoader

from sklearn_ecprune import ECPrunedMLPClassifier, ECPrunedMLPRegressor
from sklearn_ecprune.estimators._data import BatchDataset, BatchIterator, collate_batch
from sklearn_ecprune.estimators._threads import THREADED_MACS, threads_for, torch_threads

FAST = {**_networks.FAST, "max_epochs": 8, "fine_tune_epochs": 2}


# --- the batch data path ------------------------------------------------------------------


@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_iterator_cuts_the_dataloaders_batches(drop_last):
    X = np.arange(23 * 2, dtype=np.float32).reshape(23, 2)
    data = BatchDataset({"X": X, "sample_weight": np.ones(23, np.float32)}, np.arange(23))
    ours = BatchIterator(
        data, batch_size=5, shuffle=True, drop_last=drop_last,
        generator=torch.Generator().manual_seed(3),
    )  # fmt: skip
    loader = DataLoader(
        data, batch_size=5, shuffle=True, drop_last=drop_last, collate_fn=collate_batch,
        generator=torch.Generator().manual_seed(3),
    )  # fmt: skip
    assert len(ours) == len(loader)
    for _ in range(2):  # a second pass draws a new order, the same in both
        pairs = list(zip(ours, loader, strict=True))
        for (Xa, ya), (Xb, yb) in pairs:
            assert torch.equal(ya, yb) and torch.equal(Xa["X"], Xb["X"])
            assert torch.equal(Xa["X"][:, 0], 2 * ya.float())  # rows stay together


def test_sparse_rows_are_densified_a_batch_at_a_time():
    X = sparse.random(40, 7, density=0.2, format="csr", random_state=0, dtype=np.float32)
    data = BatchDataset(X, np.zeros(40))
    Xb, _ = data.__getitems__([3, 1, 30])
    np.testing.assert_array_equal(Xb.numpy(), X[[3, 1, 30]].toarray())
    assert sparse.issparse(data.subset(np.arange(10)).X)  # a subset stays sparse


def test_dataloader_options_still_apply(iris):
    X, y = iris
    kwargs = dict(FAST, random_state=0, early_stopping=False)
    net = ECPrunedMLPClassifier(**kwargs, iterator_train__batch_size=32).fit(X, y)
    assert net.history_[0, "train_batch_count"] == 5  # 150 rows in batches of 32
    net = ECPrunedMLPClassifier(
        **kwargs, iterator_train__batch_size=32, iterator_train__drop_last=True
    ).fit(X, y)
    assert net.history_[0, "train_batch_count"] == 4
    # Any other DataLoader option goes to a real DataLoader, fed whole batches.
    net = ECPrunedMLPClassifier(**kwargs, iterator_train__num_workers=0).fit(X, y)
    assert isinstance(net.get_iterator(net.get_dataset(X, y), training=True), DataLoader)
    assert net.score(X, y) > 0.5


def test_the_batch_path_trains_like_the_row_path(iris):
    """A user dataset goes through skorch's row-by-row path; the result is the same."""
    from skorch.dataset import Dataset

    class RowData(Dataset):  # skorch's own dataset, one row at a time
        pass

    X, y = iris
    kwargs = dict(FAST, random_state=0, sparsity=0.0)
    batched = ECPrunedMLPClassifier(**kwargs).fit(X, y)
    by_row = ECPrunedMLPClassifier(**kwargs, dataset=RowData).fit(X, y)
    np.testing.assert_allclose(
        batched.predict_proba(X), by_row.predict_proba(X), rtol=1e-5, atol=1e-6
    )


def test_the_l2_gradient_added_to_the_weights_equals_autograd_of_the_penalty(iris):
    X, y = iris
    net = ECPrunedMLPClassifier(**FAST, sparsity=0.0, alpha=3.0, random_state=0).fit(X, y)
    Xb, yb = torch.as_tensor(X[:22], dtype=torch.float32), torch.as_tensor(y[:22])
    weights = [m.weight for m in net.module_.modules() if isinstance(m, torch.nn.Linear)]

    def gradients(with_hook: bool) -> list[torch.Tensor]:
        net.module_.zero_grad()
        out = net.module_(Xb)
        if with_hook:  # the estimator's way: the value in the loss, the gradient added
            net.get_loss(out, yb, training=True).backward()
            net.on_grad_computed(net, [], training=True)
        else:  # autograd through the penalty term
            loss = torch.nn.functional.cross_entropy(out, yb)
            penalty = sum(w.square().sum() for w in weights) * 0.5 * 3.0 / 22
            (loss + penalty).backward()
        return [p.grad.clone() for p in net.module_.parameters()]

    for ours, autograd in zip(gradients(True), gradients(False), strict=True):
        torch.testing.assert_close(ours, autograd)
    with torch.no_grad():
        value = net.get_loss(net.module_(Xb), yb, training=True)
        plain = net.get_loss(net.module_(Xb), yb, training=False)
        penalty = float(sum(w.square().sum() for w in weights)) * 0.5 * 3.0 / 22
    assert float(value - plain) == pytest.approx(penalty, rel=1e-5)


# --- threads --------------------------------------------------------------------------------


class ThreadProbe(Callback):
    """Records torch's thread count while the fit trains."""

    def on_epoch_begin(self, net, **kwargs):
        self.threads_ = torch.get_num_threads()


def test_small_networks_train_on_one_thread_and_the_setting_is_restored(iris):
    X, y = iris
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        net = ECPrunedMLPClassifier(**FAST, random_state=0, callbacks=[("probe", ThreadProbe())])
        net.fit(X, y)
        assert dict(net.callbacks_)["probe"].threads_ == 1
        assert torch.get_num_threads() == 2
        net.set_params(n_threads=2).fit(X, y)
        assert dict(net.callbacks_)["probe"].threads_ == 2
        net.predict(X)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_threads_for_follows_the_size_of_the_products():
    assert threads_for("auto", 200, 5_000) == 1
    assert threads_for("auto", 1024, THREADED_MACS) is None  # torch's own setting
    assert threads_for(3, 1, 1) == 3
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_n_threads_is_checked(iris):
    X, y = iris
    with pytest.raises(ValueError, match="n_threads"):
        ECPrunedMLPClassifier(n_threads=0).fit(X, y)


# --- one run, one plan ------------------------------------------------------------------


def test_no_dense_snapshot_without_memory(iris, monkeypatch):
    X, y = iris
    taken = []
    original = ECPrunedMLPClassifier._dense_state
    monkeypatch.setattr(
        ECPrunedMLPClassifier, "_dense_state", lambda self: taken.append(1) or original(self)
    )
    ECPrunedMLPClassifier(**FAST, random_state=0).fit(X, y)
    assert taken == []


def test_fitted_state_is_the_trailing_underscore_attributes(iris):
    X, y = iris
    net = ECPrunedMLPRegressor(**FAST, random_state=0).fit(X, y)
    private = {k for k in vars(net) if k.startswith("_") and not k.endswith("_")}
    # Only skorch's registries and what the caller set (parameters to check) are private
    # without the trailing underscore: no per-fit state escapes the plan.
    assert private <= {"_modules", "_criteria", "_optimizers", "_params_to_validate"}
    assert net._plan_.calibration is None  # the fit's rows are not kept
