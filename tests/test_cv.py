"""The cross-validated sparsity path: ECPrunedMLPClassifierCV and ECPrunedMLPRegressorCV."""

from __future__ import annotations

import warnings

import _networks
import joblib
import matplotlib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_regression
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_ecprune import (
    ECPrunedMLPClassifier,
    ECPrunedMLPClassifierCV,
    ECPrunedMLPRegressor,
    ECPrunedMLPRegressorCV,
    SparsityScoreDisplay,
)
from sklearn_ecprune.estimators._cv import fit_sparsity_path

matplotlib.use("Agg")

FAST = {**_networks.FAST, "random_state": 0}
PATH = [0.5, 0.8, 0.9]


def test_the_path_is_a_loop_of_warm_fits_scored_per_fold(iris):
    X, y = iris
    cv = ECPrunedMLPClassifierCV(ECPrunedMLPClassifier(**FAST), sparsities=[0.9, 0.5, 0.8], cv=3)
    cv.fit(X, y)
    # By hand: per fold, one ordinary fit at the lowest sparsity, then warm steps.
    expected = []
    for train, test in StratifiedKFold(3).split(X, y):
        net = ECPrunedMLPClassifier(**FAST, sparsity=PATH[0]).fit(X[train], y[train])
        scores = [net.score(X[test], y[test])]
        for sparsity in PATH[1:]:
            net.set_params(warm_start=True, sparsity=sparsity).fit(X[train], y[train])
            assert net.n_iter_ == 0 and net.n_fine_tune_iter_ > 0  # no dense epochs
            scores.append(net.score(X[test], y[test]))
        expected.append(scores)
    np.testing.assert_array_equal(cv.scores_, expected)
    np.testing.assert_array_equal(cv.cv_results_["mean_test_score"], np.mean(expected, axis=0))
    assert [p["sparsity"] for p in cv.cv_results_["params"]] == PATH  # increasing
    # The refit: the same path on all the rows, up to the chosen sparsity.
    best = PATH[int(np.argmax(np.mean(expected, axis=0)))]
    assert cv.sparsity_ == best and cv.estimator_.sparsity_ == pytest.approx(best, abs=0.01)
    chosen = PATH[: PATH.index(best) + 1]
    by_hand = fit_sparsity_path(ECPrunedMLPClassifier(**FAST), X, y, chosen)
    np.testing.assert_array_equal(cv.predict_proba(X), by_hand.predict_proba(X))
    assert cv.score(X, y) == by_hand.score(X, y) and cv.classes_.tolist() == [0, 1, 2]
    assert cv.n_iter_.shape == (3, 3) and (cv.n_iter_ > 0).all()
    assert not cv.estimator_.warm_start  # the path restores the parameter


def test_refit_one_standard_error_takes_the_sparsest_within_it(iris):
    X, y = iris
    net = ECPrunedMLPClassifier(**FAST)
    best = ECPrunedMLPClassifierCV(net, sparsities=PATH, cv=3).fit(X, y)
    sparse = ECPrunedMLPClassifierCV(net, sparsities=PATH, cv=3, refit="one_standard_error")
    sparse.fit(X, y)
    np.testing.assert_array_equal(sparse.scores_, best.scores_)
    means, scores = best.cv_results_["mean_test_score"], best.scores_
    threshold = means.max() - scores.std(axis=0)[means.argmax()] / np.sqrt(3)
    assert sparse.sparsity_ == max(s for s, m in zip(PATH, means, strict=True) if m >= threshold)
    display = SparsityScoreDisplay.from_search(sparse)
    assert display.chosen_sparsity_ == sparse.sparsity_


def test_scores_are_reproducible_across_joblib_backends():
    cv = ECPrunedMLPRegressorCV(ECPrunedMLPRegressor(**FAST), sparsities=[0.5, 0.9], cv=3)
    X_reg, y_reg = make_regression(150, 4, noise=5.0, random_state=0)
    serial = clone(cv).fit(X_reg, y_reg)
    in_processes = clone(cv).set_params(n_jobs=2).fit(X_reg, y_reg)
    with joblib.parallel_backend("threading", n_jobs=2):
        in_threads = clone(cv).set_params(n_jobs=2).fit(X_reg, y_reg)
    for other in (in_processes, in_threads):
        np.testing.assert_array_equal(other.scores_, serial.scores_)
        assert other.sparsity_ == serial.sparsity_
        np.testing.assert_array_equal(other.predict(X_reg), serial.predict(X_reg))


@pytest.mark.slow
def test_scores_on_a_dask_cluster_equal_the_serial_ones(iris):
    distributed = pytest.importorskip("dask.distributed")
    X, y = iris
    cv = ECPrunedMLPClassifierCV(ECPrunedMLPClassifier(**FAST), sparsities=[0.5, 0.9], cv=3)
    serial = clone(cv).fit(X, y)
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True) as cluster,
        distributed.Client(cluster),
        joblib.parallel_backend("dask"),
    ):
        on_dask = clone(cv).set_params(n_jobs=-1).fit(X, y)
    np.testing.assert_array_equal(on_dask.scores_, serial.scores_)
    np.testing.assert_array_equal(on_dask.predict_proba(X), serial.predict_proba(X))


def test_parameters_reach_the_estimator_and_bad_ones_are_named(iris):
    X, y = iris
    cv = ECPrunedMLPClassifierCV(ECPrunedMLPClassifier(**FAST), sparsities=[0.5], cv=2)
    cv.set_params(estimator__alpha=1.0).fit(X, y)
    assert cv.estimator_.alpha == 1.0 and cv.estimator.alpha == 1.0
    for bad, match in [
        (dict(sparsities=[0.5, 1.0]), "sparsities"),
        (dict(sparsities=[]), "sparsities"),
        (dict(refit="worst"), "'refit'"),
        (dict(estimator=ECPrunedMLPRegressor()), "must be an ECPrunedMLPClassifier"),
    ]:
        with pytest.raises(ValueError, match=match):
            clone(cv).set_params(**bad).fit(X, y)
    assert not hasattr(ECPrunedMLPClassifierCV(), "partial_fit")
    with pytest.raises(AttributeError):
        ECPrunedMLPRegressorCV().predict_proba  # noqa: B018


def test_kfold_for_the_regressor_and_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = make_regression(120, 3, noise=1.0, random_state=0)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    reg = ECPrunedMLPRegressorCV(ECPrunedMLPRegressor(**FAST), sparsities=[0.5], cv=KFold(4))
    reg.fit(frame, y)
    assert reg.scores_.shape == (4, 1) and list(reg.feature_names_in_) == ["a", "b", "c"]
    assert reg.predict(frame).shape == (120,)


SMALL = dict(hidden_layer_sizes=(32,), max_epochs=30, lr=0.01, fine_tune_epochs=2, n_steps=2,
             random_state=0)  # fmt: skip


@parametrize_with_checks(
    [
        ECPrunedMLPClassifierCV(ECPrunedMLPClassifier(**SMALL), sparsities=[0.5, 0.8], cv=2),
        ECPrunedMLPRegressorCV(ECPrunedMLPRegressor(**SMALL), sparsities=[0.5, 0.8], cv=2),
    ],
    expected_failed_checks=lambda estimator: {
        "check_sample_weight_equivalence_on_dense_data": "float32 minibatch training",
        "check_sample_weight_equivalence_on_sparse_data": "float32 minibatch training",
    },
)
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check(estimator)
