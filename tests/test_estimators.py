"""The skorch estimators: scikit-learn compatibility, pruning, persistence, errors."""

import pickle
import warnings

import _networks
import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes, load_digits, load_iris, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch.callbacks import Callback
from torch import nn

from sklearn_ecprune import ECPrunedMLPClassifier, ECPrunedMLPRegressor

# Small and fast, but enough to pass scikit-learn's accuracy checks.
FAST = {
    **_networks.FAST,
    "hidden_layer_sizes": (32,),
    "max_epochs": 30,
    "fine_tune_epochs": 2,
    "random_state": 0,
}


# Fitting with integer sample weights is not bit-for-bit fitting on repeated rows with
# float32 minibatch training (scikit-learn itself checks its MLP's equivalence only with
# the full-batch float64 lbfgs solver); see the drop-in issue's closing note.
SAMPLE_WEIGHT_EQUIVALENCE = {
    "check_sample_weight_equivalence_on_dense_data": "float32 minibatch training",
    "check_sample_weight_equivalence_on_sparse_data": "float32 minibatch training",
}


@parametrize_with_checks(
    [ECPrunedMLPClassifier(**FAST), ECPrunedMLPRegressor(**FAST)],
    expected_failed_checks=lambda estimator: SAMPLE_WEIGHT_EQUIVALENCE,
)
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check(estimator)


def n_zero_weights(est):
    return _networks.n_zero(est.module_)


def n_weights(est):
    return _networks.n_weights(est.module_)


# --- pruning inside fit -------------------------------------------------------------


@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.9])
def test_fit_reaches_the_target_sparsity(iris, sparsity):
    X, y = iris
    clf = ECPrunedMLPClassifier(**{**FAST, "sparsity": sparsity}).fit(X, y)
    assert n_zero_weights(clf) == round(sparsity * n_weights(clf))
    assert clf.sparsity_ == pytest.approx(sparsity, abs=1 / n_weights(clf))
    assert clf.pruning_report_.sparsity == pytest.approx(clf.sparsity_)
    assert set(clf.masks_) == {"0", "2"}


class PrunedWeightsSpy(Callback):
    """Before every batch (so after every optimizer step), look at the pruned weights."""

    def __init__(self):
        self.violations = 0
        self.batches_checked = 0

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        masks = getattr(net, "masks_", None)
        if training and masks:
            modules = dict(net.module_.named_modules())
            self.batches_checked += 1
            self.violations += sum(
                int((modules[name].weight[~mask] != 0).sum()) for name, mask in masks.items()
            )


def test_pruned_weights_stay_zero_through_every_step_with_adam_and_weight_decay(iris):
    X, y = iris
    spy = PrunedWeightsSpy()
    clf = ECPrunedMLPClassifier(
        **{**FAST, "fine_tune_epochs": 5, "sparsity": 0.7},
        optimizer__weight_decay=0.1,
        callbacks=[("spy", spy)],
    )
    clf.fit(X, y)
    # Continue training: partial_fit and a warm-started fit keep the masks.
    before = {k: m.clone() for k, m in clf.masks_.items()}
    clf.partial_fit(X, y)
    clf.set_params(warm_start=True, max_epochs=3).fit(X, y)
    modules = dict(clf.module_.named_modules())
    for name, mask in before.items():
        assert torch.all(modules[name].weight[~mask] == 0)
    assert spy.batches_checked > 5
    assert spy.violations == 0
    assert clf.sparsity_ == pytest.approx(0.7, abs=1 / n_weights(clf))


def test_partial_fit_on_a_fresh_estimator_prunes_to_the_target(iris):
    X, y = iris
    clf = ECPrunedMLPClassifier(**{**FAST, "sparsity": 0.6})
    clf.partial_fit(X, y, classes=np.unique(y))
    assert clf.sparsity_ == pytest.approx(0.6, abs=1 / n_weights(clf))
    clf.partial_fit(X, y)
    assert clf.sparsity_ == pytest.approx(0.6, abs=1 / n_weights(clf))


def test_refit_starts_from_a_dense_network(iris):
    X, y = iris
    clf = ECPrunedMLPClassifier(**{**FAST, "sparsity": 0.9}).fit(X, y)
    clf.set_params(sparsity=0.3).fit(X, y)
    assert clf.sparsity_ == pytest.approx(0.3, abs=1 / n_weights(clf))


@pytest.mark.parametrize("pruning", ["magnitude", "random", "gradient", "wanda", "obd"])
def test_every_pruning_method_works_in_the_estimator(iris, pruning):
    X, y = iris
    clf = ECPrunedMLPClassifier(**FAST, pruning=pruning, sparsity=0.5).fit(X, y)
    assert clf.sparsity_ == pytest.approx(0.5, abs=1 / n_weights(clf))
    assert clf.score(X, y) > 0.8


@pytest.mark.parametrize(
    ("calibration_size", "schedule", "rows"),
    [(20, "before", [20]), (None, "before", [150]), (None, "interleaved", [150, 150, 150])],
)
def test_calibration_size_bounds_the_rows_the_pruning_sees(
    iris, monkeypatch, calibration_size, schedule, rows
):
    import sklearn_ecprune.estimators._schedule as base

    seen = []
    original = base.prune_mlp

    def spy(module, X, *args, **kwargs):
        seen.append(len(X))
        return original(module, X, *args, **kwargs)

    monkeypatch.setattr(base, "prune_mlp", spy)
    X, y = iris
    clf = ECPrunedMLPClassifier(
        **{**FAST, "fine_tune_epochs": 6},
        calibration_size=calibration_size,
        pruning_schedule=schedule,
        early_stopping=False,
    ).fit(X, y)
    # Interleaved: one call per pruning event, on at most 512 rows each.
    assert seen == rows
    assert clf.sparsity_ == pytest.approx(0.8, abs=1 / n_weights(clf))


def test_interleaved_report_sums_the_bias_shifts_of_all_events(iris, monkeypatch):
    import sklearn_ecprune.estimators._schedule as base

    reports = []
    original = base.prune_mlp

    def spy(*args, **kwargs):
        result = original(*args, **kwargs)
        reports.append(result.report)
        return result

    monkeypatch.setattr(base, "prune_mlp", spy)
    X, y = iris
    clf = ECPrunedMLPClassifier(**{**FAST, "fine_tune_epochs": 6}, early_stopping=False)
    clf.fit(X, y)
    report = clf.pruning_report_
    assert len(reports) == 3 and report.extra == {"events": 3}
    assert report.n_kept == reports[-1].n_kept
    for i, row in enumerate(report.layers):
        expected = sum(r.layers[i].mean_abs_bias_shift for r in reports)
        assert row.mean_abs_bias_shift == pytest.approx(expected)
        assert row.mean_abs_bias_shift > reports[-1].layers[i].mean_abs_bias_shift


def test_partial_fit_prunes_again_only_when_sparsity_was_raised(iris, monkeypatch):
    import sklearn_ecprune.estimators._schedule as base

    calls = []
    original = base.prune_mlp
    monkeypatch.setattr(base, "prune_mlp", lambda *a, **k: calls.append(a[2]) or original(*a, **k))
    X, y = iris
    # 4 * 7 + 7 * 3 = 49 weights: 0.8 of them is not a whole number.
    clf = ECPrunedMLPClassifier(**{**FAST, "hidden_layer_sizes": (7,)}, sparsity=0.8)
    clf.partial_fit(X, y)
    report = clf.pruning_report_
    clf.partial_fit(X, y).partial_fit(X, y)
    assert calls == [0.8] and clf.pruning_report_ == report
    clf.set_params(sparsity=0.9).partial_fit(X, y)
    assert calls == [0.8, 0.9]
    assert clf.sparsity_ == pytest.approx(0.9, abs=1 / 49)


def test_auto_fine_tuning_counts_the_dense_epochs_of_this_fit(iris):
    X, y = iris
    clf = ECPrunedMLPClassifier(
        **{**FAST, "fine_tune_epochs": "auto", "max_epochs": 20},
        early_stopping=False,
        warm_start=True,
    )
    clf.fit(X, y)
    first = len(clf.history_)
    clf.fit(X, y)
    assert first == 20 + 4  # a fifth of 20 dense epochs
    assert len(clf.history_) - first == 20 + 4  # not a fifth of all 44


@pytest.mark.parametrize(("sparsity", "budget"), [(0.8, 4), (0.95, 8), (0.98, 20)])
def test_auto_fine_tuning_grows_above_a_sparsity_of_0_9(iris, sparsity, budget):
    X, y = iris
    clf = ECPrunedMLPClassifier(
        **{**FAST, "fine_tune_epochs": "auto", "max_epochs": 20},
        early_stopping=False,
        n_iter_no_change=1000,  # the budget, not the stopping rule, ends the fine-tuning
        sparsity=sparsity,
    ).fit(X, y)
    assert (clf.n_iter_, clf.n_fine_tune_iter_) == (20, budget)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"pruning_params": {"min_density": 0.1}}, r"\['min_density'\] .* apply to weights"),
        ({"pruning": "magnitude"}, "ranks neurons by ECP"),
        ({"scope": "layer"}, "scope='global'"),
    ],
)
def test_neuron_pruning_refuses_settings_it_cannot_honour(iris, params, message):
    X, y = iris
    clf = ECPrunedMLPClassifier(**FAST, pruning_unit="neuron", **params)
    with pytest.raises(ValueError, match=message):
        clf.fit(X, y)
    assert not hasattr(clf, "module_")


# --- scikit-learn workflows ---------------------------------------------------------


def test_pipeline_grid_search_over_sparsity_and_hidden_layer_sizes(iris):
    X, y = iris
    pipe = Pipeline([("scale", StandardScaler()), ("net", ECPrunedMLPClassifier(**FAST))])
    grid = {"net__sparsity": [0.5, 0.9], "net__hidden_layer_sizes": [(16,), (32, 16)]}
    search = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    best = search.best_estimator_.named_steps["net"]
    assert best.sparsity_ == pytest.approx(search.best_params_["net__sparsity"], abs=1e-2)
    assert len(search.cv_results_["params"]) == 4


def test_grid_search_with_two_jobs_refits_at_each_sparsity(iris):
    X, y = iris
    for sparsity in (0.5, 0.8):
        search = GridSearchCV(
            ECPrunedMLPClassifier(**FAST), {"sparsity": [sparsity]}, cv=2, n_jobs=2
        ).fit(X, y)
        est = search.best_estimator_
        assert est.sparsity_ == pytest.approx(sparsity, abs=1 / n_weights(est))


def test_cross_val_score_clone_and_set_params(iris):
    X, y = iris
    clf = ECPrunedMLPClassifier(**FAST)
    scores = cross_val_score(clf, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.6
    twin = clone(clf).set_params(sparsity=0.3, module__activation="tanh")
    assert twin.get_params()["sparsity"] == 0.3
    twin.fit(X, y)
    assert isinstance(twin.module_[1], nn.Tanh)
    assert twin.sparsity_ == pytest.approx(0.3, abs=1 / n_weights(twin))


def test_dataframe_with_categorical_columns_through_a_column_transformer():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "income": rng.lognormal(10, 1, n),
            "city": rng.choice(["paris", "rome", "oslo"], n),
        }
    )
    y = np.where((frame["age"] > 40) ^ (frame["city"] == "rome"), "yes", "no")
    pre = ColumnTransformer(
        [("num", StandardScaler(), ["age", "income"]), ("cat", OneHotEncoder(), ["city"])]
    )
    pipe = make_pipeline(pre, ECPrunedMLPClassifier(**{**FAST, "sparsity": 0.5}))
    pipe.fit(frame, y)
    assert set(pipe.predict(frame)) <= {"yes", "no"}
    assert pipe.score(frame, y) > 0.8


def test_feature_names_are_recorded_for_dataframes(iris):
    pd = pytest.importorskip("pandas")
    X, y = iris
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = ECPrunedMLPClassifier(**FAST).fit(frame, y)
    assert list(clf.feature_names_in_) == ["a", "b", "c", "d"]
    assert clf.n_features_in_ == 4
    assert clf.pruning_report_.to_frame().shape[0] == 2


@pytest.mark.parametrize(
    "labels", [np.array(["setosa", "versicolor", "virginica"]), np.array([2, 5, 9])]
)
def test_any_label_type_comes_back(iris, labels):
    X, y = iris
    clf = ECPrunedMLPClassifier(**FAST).fit(X, labels[y])
    assert list(clf.classes_) == sorted(labels)
    assert set(clf.predict(X)) <= set(labels)
    assert clf.predict_proba(X).shape == (len(X), 3)


def test_boolean_labels(iris):
    X, y = iris
    clf = ECPrunedMLPClassifier(**FAST).fit(X, y == 0)
    assert clf.predict(X).dtype == bool
    assert clf.score(X, y == 0) > 0.9


@pytest.mark.parametrize("shape", [(200,), (200, 1), (200, 2)])
def test_regressor_predicts_the_shape_it_was_fitted_on(shape):
    X, y = make_regression(n_samples=200, n_features=5, n_targets=1, random_state=0)
    y = y / y.std()
    if len(shape) == 2:
        y = np.column_stack([y] * shape[1])
    reg = ECPrunedMLPRegressor(**FAST).fit(X, y)
    assert reg.predict(X).shape == shape
    assert reg.n_outputs_ == (1 if len(shape) == 1 else shape[1])
    assert not hasattr(reg, "predict_proba")


def test_same_random_state_gives_identical_predictions_and_keeps_the_global_rng(iris):
    X, y = iris
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = ECPrunedMLPClassifier(**FAST).fit(X, y).predict_proba(X)
    b = ECPrunedMLPClassifier(**FAST).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert torch.equal(torch.get_rng_state(), state)
    c = ECPrunedMLPClassifier(**{**FAST, "random_state": 1}).fit(X, y).predict_proba(X)
    assert not np.array_equal(a, c)


def test_user_module_with_linear_layers(iris):
    X, y = iris

    class Net(nn.Module):
        def __init__(self, hidden=20):
            super().__init__()
            self.inner = nn.Linear(4, hidden)
            self.outer = nn.Linear(hidden, 3)

        def forward(self, x):
            return self.outer(torch.relu(self.inner(x)))

    clf = ECPrunedMLPClassifier(Net, module__hidden=24, **{**FAST, "sparsity": 0.5}).fit(X, y)
    assert set(clf.masks_) == {"inner", "outer"}
    assert clf.module_.inner.out_features == 24
    assert clf.score(X, y) > 0.8


def test_verbose_prints_the_epoch_table_and_the_pruning_report(iris, capsys):
    X, y = iris
    ECPrunedMLPClassifier(**{**FAST, "max_epochs": 3}, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert "train_loss" in out
    assert "mean |bias shift|" in out and "total" in out


# --- persistence ---------------------------------------------------------------------


def test_pickle_and_joblib_round_trips(iris, tmp_path):
    X, y = iris
    clf = ECPrunedMLPClassifier(**FAST).fit(X, y)
    expected = clf.predict_proba(X)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), expected)
    assert restored.sparsity_ == clf.sparsity_
    path = tmp_path / "clf.joblib"
    joblib.dump(clf, path)
    again = joblib.load(path)
    np.testing.assert_array_equal(again.predict_proba(X), expected)
    assert n_zero_weights(again) == n_zero_weights(clf)


def test_save_params_and_load_params_into_a_fresh_estimator(iris, tmp_path):
    X, y = iris
    clf = ECPrunedMLPClassifier(**FAST).fit(X, y)
    clf.save_params(f_params=tmp_path / "params.pt")
    fresh = ECPrunedMLPClassifier(**FAST).fit(X[::5], y[::5])  # sized like clf
    fresh.load_params(f_params=tmp_path / "params.pt")
    np.testing.assert_array_equal(fresh.predict(X), clf.predict(X))
    assert n_zero_weights(fresh) == n_zero_weights(clf)


# --- defaults compared with scikit-learn ----------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("load", "ours", "theirs"),
    [
        (load_digits, ECPrunedMLPClassifier, MLPClassifier),
        (load_diabetes, ECPrunedMLPRegressor, MLPRegressor),
    ],
)
@pytest.mark.parametrize("early_stopping", [False, True])
def test_dense_defaults_match_scikit_learn(load, ours, theirs, early_stopping):
    # Like for like: scikit-learn's MLP with and without its early stopping (ours holds
    # out a validation set by default on these data, scikit-learn's does not), the mean
    # test score over three seeds.
    X, y = load(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    scores = {ours: [], theirs: []}
    for seed in range(3):
        for make in (ours, theirs):
            estimator = make(random_state=seed, early_stopping=early_stopping)
            if make is ours:
                estimator.set_params(sparsity=0)
            pipe = make_pipeline(StandardScaler(), estimator)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scores[make].append(pipe.fit(X_train, y_train).score(X_test, y_test))
    assert np.mean(scores[ours]) >= np.mean(scores[theirs]) - 0.01


# --- bad input ------------------------------------------------------------------------


@pytest.fixture
def data():
    X, y = load_iris(return_X_y=True)
    return X, y


def _with(X, row, col, value):
    X = X.copy()
    X[row, col] = value
    return X


@pytest.mark.parametrize(
    ("make_call", "error", "message"),
    [
        (lambda X, y: ({"X": _with(X, 0, 0, np.nan), "y": y}, {}), ValueError, "NaN"),
        (lambda X, y: ({"X": _with(X, 1, 2, np.inf), "y": y}, {}), ValueError, "infinity"),
        (lambda X, y: ({"X": X, "y": y[:-1]}, {}), ValueError, "inconsistent numbers"),
        (lambda X, y: ({"X": X[:0], "y": y[:0]}, {}), ValueError, "0 sample"),
        (lambda X, y: ({"X": X, "y": y}, {"sparsity": 1.0}), ValueError, "sparsity"),
        (lambda X, y: ({"X": X, "y": y}, {"sparsity": -0.1}), ValueError, "sparsity"),
        (lambda X, y: ({"X": X, "y": y}, {"pruning": "nope"}), ValueError, "pruning"),
        (lambda X, y: ({"X": X, "y": y}, {"scope": "row"}), ValueError, "scope"),
        (lambda X, y: ({"X": X, "y": y}, {"n_steps": 0}), ValueError, "n_steps"),
        (lambda X, y: ({"X": X, "y": y}, {"activation": "gelu"}), ValueError, "activation"),
        (
            lambda X, y: ({"X": X, "y": y}, {"hidden_layer_sizes": (10, -1)}),
            ValueError,
            "hidden_layer_sizes",
        ),
        (
            lambda X, y: ({"X": X, "y": y}, {"fine_tune_epochs": -1}),
            ValueError,
            "fine_tune_epochs",
        ),
        (
            lambda X, y: ({"X": X, "y": y}, {"calibration_size": 0}),
            ValueError,
            "calibration_size",
        ),
    ],
)
def test_bad_fit_input_raises_a_clear_error(data, make_call, error, message):
    X, y = data
    call, params = make_call(X, y)
    clf = ECPrunedMLPClassifier(**{**FAST, **params})
    with pytest.raises(error, match=message):
        clf.fit(call["X"], call["y"])
    assert not hasattr(clf, "masks_")


def test_wrong_feature_count_at_predict(data):
    X, y = data
    clf = ECPrunedMLPClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but ECPrunedMLPClassifier"):
        clf.predict(X[:, :3])


def test_predict_before_fit_raises_not_fitted(data):
    X, _ = data
    for est in (ECPrunedMLPClassifier(), ECPrunedMLPRegressor()):
        with pytest.raises(NotFittedError):
            est.predict(X)


def test_failed_refit_keeps_the_fitted_model(data):
    X, y = data
    clf = ECPrunedMLPClassifier(**FAST).fit(X, y)
    expected = clf.predict_proba(X)
    with pytest.raises(ValueError, match="sparsity"):
        clf.set_params(sparsity=2.0).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), expected)


def test_unknown_skorch_argument_is_reported(data):
    X, y = data
    with pytest.raises(ValueError, match="unexpected argument"):
        ECPrunedMLPClassifier(**FAST, optimizer_lr=0.1).fit(X, y)


@pytest.mark.slow
@parametrize_with_checks(
    [ECPrunedMLPClassifier(random_state=0), ECPrunedMLPRegressor(random_state=0)],
    expected_failed_checks=lambda estimator: SAMPLE_WEIGHT_EQUIVALENCE,
)
def test_scikit_learn_estimator_checks_at_the_default_parameters(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check(estimator)
