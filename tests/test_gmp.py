"""Gradual magnitude pruning (Zhu & Gupta 2017), the train-time baseline, as a skorch callback."""

import itertools
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier, NeuralNetRegressor
from torch import nn

from sklearn_ecprune import GradualMagnitudePruning
from sklearn_ecprune.estimators._callbacks import cubic_sparsity


class MLP(nn.Module):
    def __init__(self, d_in=64, hidden=(128, 64), n_out=10, dropout=0.0):
        super().__init__()
        layers, d = [], d_in
        for h in hidden:
            layers += [nn.Linear(d, h), nn.ReLU(), nn.Dropout(dropout)]
            d = h
        layers.append(nn.Linear(d, n_out))
        self.seq = nn.Sequential(*layers)

    def forward(self, X):
        return self.seq(X)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y.astype(np.int64), test_size=0.25, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def fitted(digits):
    Xtr, Xte, ytr, yte = digits
    torch.manual_seed(0)
    gmp = GradualMagnitudePruning(final_sparsity=0.9, start=0.0, end=0.75, update_every=10)
    net = NeuralNetClassifier(
        MLP,
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=30,
        batch_size=64,
        callbacks=[gmp],
        verbose=0,
        iterator_train__shuffle=True,
    )
    net.fit(Xtr, ytr)
    return net, gmp, (Xte, yte)


def _linear(net):
    return [m for m in net.module_.modules() if isinstance(m, nn.Linear)]


def test_cubic_schedule_values():
    assert cubic_sparsity(0, 0, 100, 0.0, 0.9) == 0.0
    assert cubic_sparsity(100, 0, 100, 0.0, 0.9) == 0.9
    assert cubic_sparsity(500, 0, 100, 0.0, 0.9) == 0.9
    assert cubic_sparsity(50, 0, 100, 0.0, 0.9) == pytest.approx(0.9 * (1 - 0.5**3))
    assert cubic_sparsity(5, 10, 100, 0.0, 0.9) == 0.0


def test_final_sparsity_is_exact(fitted):
    net, gmp, _ = fitted
    ws = [m.weight for m in _linear(net)]
    n = sum(w.numel() for w in ws)
    zeros = sum(int((w == 0).sum()) for w in ws)
    assert zeros == round(0.9 * n)
    assert global_weight_sparsity(net.module_) == pytest.approx(0.9, abs=1 / n)
    # biases are never pruned
    assert all(int((m.bias == 0).sum()) == 0 for m in _linear(net))
    # masks are consistent with the weights
    for w, m in zip(ws, gmp.masks_, strict=True):
        assert torch.all(w[~m] == 0)


def test_schedule_monotone_and_cubic(fitted):
    net, gmp, _ = fitted
    sp = [h["sparsity"] for h in gmp.history_]
    assert len(sp) == 30
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(sp))
    assert sp[0] > 0.0 and sp[0] < 0.3
    assert sp[-1] == pytest.approx(0.9, abs=1e-4)
    # the net's history has the same numbers
    assert net.history[:, "sparsity"] == sp
    # every mask update follows the cubic formula, steps are dt apart, last at t_end
    steps = [s for s, _ in gmp.updates_]
    assert steps == sorted(steps)
    assert all(b - a == 10 for a, b in itertools.pairwise(steps[:-1]))
    assert steps[-1] == gmp.t_end_
    for s, target in gmp.updates_:
        assert target == pytest.approx(cubic_sparsity(s, gmp.t_start_, gmp.t_end_, 0.0, 0.9))
    # the per-epoch actual sparsity equals the last target: pruned weights stay 0
    for h in gmp.history_:
        assert h["sparsity"] == pytest.approx(h["target"], abs=1e-4)
    # target reached at 75% of training and then constant
    end_epoch = int(np.ceil(gmp.t_end_ / gmp.steps_per_epoch_))
    assert all(s == pytest.approx(0.9, abs=1e-4) for s in sp[end_epoch - 1 :])
    assert sp[end_epoch - 3] < 0.9


def test_accuracy_after_pruning(fitted):
    net, _, (Xte, yte) = fitted
    assert np.isfinite(net.history[:, "train_loss"]).all()
    assert (net.predict(Xte) == yte).mean() > 0.9


def test_pickle_roundtrip(fitted):
    net, _, (Xte, _) = fitted
    net2 = pickle.loads(pickle.dumps(net))
    np.testing.assert_allclose(net2.predict_proba(Xte), net.predict_proba(Xte))


def test_start_epoch_and_regressor():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 8)).astype(np.float32)
    y = (X @ rng.normal(size=8)).astype(np.float32).reshape(-1, 1)
    gmp = GradualMagnitudePruning(final_sparsity=0.5, start_epoch=3, end=0.8, update_every=3)
    torch.manual_seed(0)
    net = NeuralNetRegressor(
        MLP,
        module__d_in=8,
        module__n_out=1,
        module__hidden=(32,),
        module__dropout=0.1,
        optimizer=torch.optim.Adam,
        lr=1e-2,
        max_epochs=10,
        batch_size=32,
        train_split=None,
        callbacks=[gmp],
        verbose=0,
    )
    net.fit(X, y)
    sp = [h["sparsity"] for h in gmp.history_]
    assert gmp.steps_per_epoch_ == 10  # ceil(300 / 32), no validation split
    assert gmp.t_start_ == 30 and gmp.t_end_ == 80
    assert sp[:3] == [0.0, 0.0, 0.0]
    assert sp[-1] == pytest.approx(0.5, abs=1e-3)
    # clone gives an unfitted copy that refits the same way
    net2 = clone(net)
    torch.manual_seed(0)
    net2.fit(X, y)
    assert global_weight_sparsity(net2.module_) == pytest.approx(0.5, abs=1e-3)


@pytest.mark.parametrize(
    "kwargs",
    [{"final_sparsity": 1.0}, {"start": 0.8, "end": 0.5}, {"update_every": 0}],
)
def test_bad_params(kwargs):
    with pytest.raises(ValueError):
        GradualMagnitudePruning(**kwargs).initialize()


def global_weight_sparsity(module):
    weights = [m.weight for m in module.modules() if isinstance(m, nn.Linear)]
    return sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights)
