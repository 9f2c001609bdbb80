"""The table "MLPClassifier parameter -> this estimator" of the user guide, row by row.

Each test sets the estimator the way the table says a scikit-learn MLP parameter maps,
and checks that the fitted estimator shows the effect.
"""

import inspect

import numpy as np
import pytest
import torch
from skorch.callbacks import LRScheduler

from sklearn_ecprune import ECPrunedMLPClassifier, ECPrunedMLPRegressor

BASE = dict(max_epochs=8, n_steps=2, fine_tune_epochs=1, random_state=0, sparsity=0.5)


def fit(iris, **params):
    return ECPrunedMLPClassifier(**{**BASE, **params}).fit(*iris)


def test_hidden_layer_sizes_and_activation(iris):
    net = fit(iris, hidden_layer_sizes=(7, 5), activation="tanh")
    assert net.hidden_layer_sizes_ == (7, 5)
    assert isinstance(net.module_[1], torch.nn.Tanh)


@pytest.mark.parametrize(
    ("solver", "optimizer", "extra"),
    [
        ("adam", torch.optim.Adam, {"optimizer__betas": (0.8, 0.99), "optimizer__eps": 1e-7}),
        ("sgd", torch.optim.SGD, {"optimizer__momentum": 0.8, "optimizer__nesterov": True}),
    ],
)
def test_solver_and_its_settings(iris, solver, optimizer, extra):
    net = fit(iris, optimizer=optimizer, lr=0.02, **extra)
    assert isinstance(net.optimizer_, optimizer)
    group = net.optimizer_.param_groups[0]
    assert group["lr"] == 0.02  # learning_rate_init
    for key, value in extra.items():
        assert group[key.removeprefix("optimizer__")] == value


def test_alpha_is_the_l2_penalty(iris):
    net = fit(iris, alpha=0.5)
    out = net.module_(torch.as_tensor(iris[0][:20], dtype=torch.float32))
    target = torch.as_tensor(iris[1][:20])
    plain = net.get_loss(out, target, training=False)
    penalised = net.get_loss(out, target, training=True)
    squares = sum(float(np.square(c).sum()) for c in net.coefs_)
    gap = float((penalised - plain).detach())
    assert gap == pytest.approx(0.5 * 0.5 * squares / 20, rel=1e-4)


def test_batch_size_max_iter_and_n_iter_no_change(iris):
    net = fit(iris, batch_size=32, max_epochs=6, n_iter_no_change=100, fine_tune_epochs=0)
    held_out = len(iris[1]) // 10  # early stopping's validation rows
    assert net.history_[0]["train_batch_count"] == int(np.ceil((len(iris[1]) - held_out) / 32))
    assert net.n_iter_ == 6  # max_iter: every epoch ran, early stopping never triggered


def test_tol_and_n_iter_no_change_stop_early(iris):
    net = fit(iris, max_epochs=200, tol=10.0, n_iter_no_change=2, fine_tune_epochs=0)
    assert net.n_iter_ == 3  # no improvement by 10 in 2 epochs after the first


def test_learning_rate_schedule_is_a_callback(iris):
    scheduler = LRScheduler(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5)
    net = fit(iris, lr=0.04, fine_tune_epochs=0, callbacks=[("lr", scheduler)])
    assert net.optimizer_.param_groups[0]["lr"] == pytest.approx(0.04 * 0.5**8)


def test_shuffle_off_gives_the_same_batches_every_epoch(iris):
    a = fit(iris, iterator_train__shuffle=False, batch_size=16)
    b = fit(iris, iterator_train__shuffle=False, batch_size=16, random_state=5)
    # Only the initialisation differs; without shuffling nothing else is random.
    assert a.n_iter_ == b.n_iter_
    c = fit(iris, batch_size=16)
    assert not np.array_equal(a.predict_proba(iris[0]), c.predict_proba(iris[0]))


def test_random_state_verbose_and_warm_start(iris, capsys):
    a = fit(iris, verbose=1)
    assert "train_loss" in capsys.readouterr().out
    b = fit(iris)
    np.testing.assert_array_equal(a.predict_proba(iris[0]), b.predict_proba(iris[0]))
    rows = len(b.history_)
    b.set_params(warm_start=True, max_epochs=2).fit(*iris)
    # n_iter_ counts this fit's dense epochs, as scikit-learn's; the history goes on.
    assert (b.n_iter_, b.n_fine_tune_iter_) == (2, BASE["fine_tune_epochs"])
    assert len(b.history_) == rows + 2 + BASE["fine_tune_epochs"]


def test_early_stopping_and_validation_fraction(iris):
    net = fit(iris, early_stopping=True, validation_fraction=0.2, max_epochs=30)
    assert net.history_[0]["valid_batch_count"] == 1
    dense = [row for row in net.history_ if row["phase"] == "dense"]
    assert len(net.validation_scores_) == len(dense) == net.n_iter_
    assert net.best_validation_score_ == max(net.validation_scores_)
    assert net.best_loss_ is None


def test_validation_score_is_recorded_at_the_epoch_that_stops_training(iris):
    net = fit(iris, early_stopping=True, max_epochs=500, n_iter_no_change=2, tol=0.5)
    validated = [row for row in net.history_ if "valid_loss" in row]
    assert len(validated) < 500  # stopped early
    assert all("valid_score" in row for row in validated)


def test_attributes(iris):
    net = fit(iris, hidden_layer_sizes=(6,), early_stopping=False)
    assert net.n_features_in_ == 4 and net.n_outputs_ == 3 and net.n_layers_ == 3
    assert net.out_activation_ == "softmax"
    assert [c.shape for c in net.coefs_] == [(4, 6), (6, 3)]
    assert [b.shape for b in net.intercepts_] == [(6,), (3,)]
    assert len(net.loss_curve_) == net.n_iter_  # the dense epochs, as scikit-learn's
    assert net.best_loss_ == min(net.loss_curve_)
    assert list(net.classes_) == [0, 1, 2]
    np.testing.assert_allclose(np.exp(net.predict_log_proba(iris[0])), net.predict_proba(iris[0]))


def test_partial_fit_arguments_are_in_scikit_learns_order():
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    for ours, theirs in [
        (ECPrunedMLPClassifier, MLPClassifier),
        (ECPrunedMLPRegressor, MLPRegressor),
    ]:
        names = list(inspect.signature(ours.partial_fit).parameters)
        assert names[: len(inspect.signature(theirs.partial_fit).parameters)] == list(
            inspect.signature(theirs.partial_fit).parameters
        )


def test_partial_fit_takes_classes_and_sample_weight(iris):
    net = ECPrunedMLPClassifier(**BASE)
    net.partial_fit(iris[0], iris[1], classes=[0, 1, 2], sample_weight=np.ones(len(iris[1])))
    assert list(net.classes_) == [0, 1, 2]
