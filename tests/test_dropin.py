"""A drop-in for scikit-learn's MLP: skorch features, threads, failed refits, persistence,
the MLP surface (early stopping, alpha, sample weights, attributes) and choosing a sparsity.

Each test is a regression test for an item of the drop-in issue; they fail on the
code before it.
"""

import copy
import pickle
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import _networks
import joblib
import numpy as np
import pytest
import torch
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from skorch.callbacks import (
    Callback,
    Checkpoint,
    EarlyStopping,
    EpochScoring,
    LRScheduler,
    ProgressBar,
)
from skorch.dataset import ValidSplit
from torch import nn

from sklearn_ecprune import (
    PRUNING_METHODS,
    ECPrunedMLPClassifier,
    ECPrunedMLPRegressor,
    EmptyLayerWarning,
    SparsityScoreDisplay,
    apply_masks,
    prune_mlp,
    register_method,
    sparsest_within_one_standard_error,
    to_sparse_module,
)

FAST = {**_networks.FAST, "fine_tune_epochs": 2}


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=200, n_features=5, noise=5.0, random_state=0)
    return X, y


# --- 1. skorch's callbacks across the whole fit (one training run) -----------------------


class Recorder(Callback):
    """A logger-style callback: what it saw, in order, and state kept across the fit."""

    def initialize(self):
        self.calls_ = [*getattr(self, "calls_", []), "initialize"]
        return self

    def on_train_begin(self, net, **kwargs):
        self.calls_.append("train_begin")
        self.epochs_ = 0

    def on_epoch_end(self, net, **kwargs):
        self.epochs_ += 1
        self.calls_.append(net.history[-1, "phase"])

    def on_train_end(self, net, **kwargs):
        self.calls_.append("train_end")


@pytest.mark.parametrize("Estimator", [ECPrunedMLPClassifier, ECPrunedMLPRegressor])
def test_user_callbacks_see_one_training_run_per_fit(Estimator, iris, regression):
    X, y = iris if Estimator is ECPrunedMLPClassifier else regression
    recorder = Recorder()
    net = Estimator(**FAST, random_state=0, callbacks=[("log", recorder)]).fit(X, y)
    calls = dict(net.callbacks_)["log"].calls_
    # Initialised once, one begin and one end, every epoch of both phases in between.
    assert calls.count("initialize") == 1
    assert calls[1] == "train_begin" and calls[-1] == "train_end"
    assert calls.count("train_begin") == calls.count("train_end") == 1
    phases = calls[2:-1]
    assert phases == [row["phase"] for row in net.history_]
    assert phases.index("fine_tune") > 0 and set(phases) == {"dense", "fine_tune"}
    assert phases == sorted(phases)  # dense first, then fine-tuning
    assert dict(net.callbacks_)["log"].epochs_ == len(net.history_)  # state kept throughout


def test_history_marks_phases_and_the_sparsity_of_each_pruning_event(iris):
    X, y = iris
    net = ECPrunedMLPClassifier(**{**FAST, "fine_tune_epochs": 6}, random_state=0).fit(X, y)
    events = [row for row in net.history_ if "sparsity" in row]
    assert [row["phase"] for row in events] == ["fine_tune"] * 3
    reached = [row["sparsity"] for row in events]
    assert reached == sorted(reached) and reached[-1] == pytest.approx(net.sparsity_)
    assert all(row["phase"] == "dense" for row in net.history_[: net.history_[0]["epoch"]])


@pytest.mark.parametrize("Estimator", [ECPrunedMLPClassifier, ECPrunedMLPRegressor])
def test_valid_split_and_epoch_scoring_run_through_the_whole_fit(Estimator, iris, regression):
    X, y = iris if Estimator is ECPrunedMLPClassifier else regression
    scoring = "accuracy" if Estimator is ECPrunedMLPClassifier else "r2"
    net = Estimator(
        **FAST,
        random_state=0,
        train_split=ValidSplit(5),
        callbacks=[("score", EpochScoring(scoring, lower_is_better=False, name="valid_metric"))],
    ).fit(X, y)
    assert all("valid_metric" in row and "valid_loss" in row for row in net.history_)
    assert {row["phase"] for row in net.history_} == {"dense", "fine_tune"}


def test_user_early_stopping_works_across_the_phases(iris):
    X, y = iris
    # The validation set stays through the fine-tuning: valid_loss is there in every
    # epoch, and the user's early stopping can end the run in either phase.
    stopping = EarlyStopping(monitor="valid_loss", patience=3)
    net = ECPrunedMLPClassifier(
        **{**FAST, "max_epochs": 200, "lr": 0.05, "fine_tune_epochs": 30},
        random_state=0,
        early_stopping=True,  # a validation set on iris' 150 rows
        n_iter_no_change=100,
        callbacks=[("stop", stopping)],
    ).fit(X, y)
    assert all("valid_loss" in row for row in net.history_)
    assert len(net.history_) < 200 + 30  # the user's callback ended the run
    # Stopped anywhere, the fit still ends at its sparsity.
    assert net.sparsity_ == pytest.approx(0.8, abs=0.01)


def test_a_monitor_that_no_phase_produces_is_an_error_at_the_start(iris):
    X, y = iris
    net = ECPrunedMLPClassifier(
        **FAST, early_stopping=False, callbacks=[("stop", EarlyStopping(monitor="valid_loss"))]
    )
    with pytest.raises(ValueError, match=r"'stop'.*monitors 'valid_loss'.*no validation set"):
        net.fit(X, y)
    assert not hasattr(net, "history_") or net.history_ is None


def test_checkpoint_lr_scheduler_and_progress_bar_work_across_the_fit(iris, tmp_path, capsys):
    X, y = iris
    scheduler = LRScheduler(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.9)
    checkpoint = Checkpoint(monitor="valid_loss_best", dirname=str(tmp_path / "ckpt"))
    net = ECPrunedMLPClassifier(
        **FAST,
        random_state=0,
        early_stopping=True,
        callbacks=[("lr", scheduler), ("checkpoint", checkpoint), ("bar", ProgressBar())],
    ).fit(X, y)
    assert (tmp_path / "ckpt" / "params.pt").exists()
    assert any(row["event_cp"] for row in net.history_)
    assert all("event_cp" in row for row in net.history_)  # in both phases
    # One scheduler for the whole run: the rate falls at every epoch of both phases.
    assert net.optimizer_.param_groups[0]["lr"] == pytest.approx(0.01 * 0.9 ** len(net.history_))
    assert "fine" not in capsys.readouterr().out  # the bar writes to stderr


def test_dense_training_stops_by_scikit_learns_rule_and_warns_at_max_epochs(iris):
    X, y = iris
    with pytest.warns(ConvergenceWarning, match="max_epochs=3"):
        ECPrunedMLPClassifier(**{**FAST, "max_epochs": 3}, random_state=0).fit(X, y)
    net = ECPrunedMLPClassifier(**{**FAST, "max_epochs": 500}, random_state=0, tol=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        net.fit(X, y)
    dense = [row for row in net.history_ if row["phase"] == "dense"]
    # No validation score better than the first by tol=0.5: n_iter_no_change epochs
    # after the first, the dense phase ends.
    assert len(dense) == 1 + net.n_iter_no_change


# --- 2. reproducible in threads, processes and dask workers -----------------------------


def test_eight_fits_in_threads_equal_a_serial_fit(iris):
    X, y = iris
    serial = ECPrunedMLPClassifier(**FAST, random_state=0).fit(X, y).predict_proba(X)
    start = threading.Barrier(8)

    def fit(_):
        start.wait()  # all threads train at the same time
        return ECPrunedMLPClassifier(**FAST, random_state=0).fit(X, y).predict_proba(X)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(fit, range(8)))
    for result in results:
        np.testing.assert_array_equal(result, serial)


def test_global_random_state_is_neither_used_nor_changed(iris):
    X, y = iris
    torch.manual_seed(123)
    np.random.seed(7)  # noqa: NPY002 (the legacy global state is what must stay untouched)
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()  # noqa: NPY002
    a = ECPrunedMLPClassifier(**FAST, random_state=0).fit(X, y).predict_proba(X)
    assert torch.equal(torch.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)  # noqa: NPY002
    torch.manual_seed(999)  # a different global state gives the same model
    b = ECPrunedMLPClassifier(**FAST, random_state=0).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_grid_search_with_threads_is_reproducible(iris):
    X, y = iris
    scores = []
    for _ in range(2):
        with joblib.parallel_backend("threading", n_jobs=2):
            search = GridSearchCV(
                ECPrunedMLPClassifier(**FAST, random_state=0), {"sparsity": [0.5, 0.9]}, cv=3
            ).fit(X, y)
        scores.append(search.cv_results_["mean_test_score"])
    np.testing.assert_array_equal(*scores)


@pytest.mark.slow
def test_dask_workers_with_several_threads_give_the_serial_result(iris):
    distributed = pytest.importorskip("dask.distributed")
    X, y = iris
    serial = ECPrunedMLPClassifier(**FAST, random_state=0).fit(X, y).predict_proba(X)
    with (
        distributed.LocalCluster(n_workers=1, threads_per_worker=4, processes=True) as cluster,
        distributed.Client(cluster) as client,
    ):
        futures = [
            client.submit(
                lambda seed: (
                    ECPrunedMLPClassifier(**FAST, random_state=0).fit(X, y).predict_proba(X)
                ),
                i,
                pure=False,
            )
            for i in range(4)
        ]
        for result in client.gather(futures):
            np.testing.assert_array_equal(result, serial)


# --- 3. a failed refit leaves the fitted model as it was --------------------------------


@pytest.mark.parametrize(
    ("bad_y", "message"),
    [(lambda y: y[:-1], "inconsistent numbers"), (lambda y: y + 0.5, "Unknown label type")],
)
def test_failed_refit_keeps_the_model_and_its_input_metadata(iris, bad_y, message):
    pd = pytest.importorskip("pandas")
    X, y = iris
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    net = ECPrunedMLPClassifier(**FAST, random_state=0).fit(frame, y)
    expected = net.predict_proba(frame)
    with pytest.raises(ValueError, match=message):
        net.fit(frame.iloc[:, :3], bad_y(y))
    assert net.n_features_in_ == 4 and list(net.feature_names_in_) == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(net.predict_proba(frame), expected)


def test_target_too_large_for_float32_is_rejected_and_keeps_the_model(regression):
    X, y = regression
    net = ECPrunedMLPRegressor(**FAST, random_state=0, standardize_target=False).fit(X, y)
    expected = net.predict(X)
    with pytest.raises(ValueError, match="too large for the float32 network"):
        net.fit(X, np.full_like(y, 1e39))
    np.testing.assert_array_equal(net.predict(X), expected)


def test_diverging_training_is_an_error_and_keeps_the_model(iris):
    X, y = iris
    net = ECPrunedMLPClassifier(**FAST, random_state=0).fit(X, y)
    expected = net.predict_proba(X)
    with pytest.raises(ValueError, match="Training diverged"):
        net.set_params(lr=1e30, optimizer=torch.optim.SGD).fit(X * 1e10, y)
    np.testing.assert_array_equal(net.predict_proba(X), expected)


# --- 4. custom pruning methods reach worker processes ---------------------------------


def test_registered_method_reaches_loky_workers(iris):
    X, y = iris
    register_method(_networks.LargestInputs)
    try:
        search = GridSearchCV(
            ECPrunedMLPClassifier(**FAST, random_state=0, pruning="largest-inputs"),
            {"sparsity": [0.5, 0.7]},
            cv=2,
            n_jobs=2,
            error_score="raise",
        ).fit(X, y)
    finally:
        del PRUNING_METHODS["largest-inputs"]
    assert search.best_estimator_.pruning_report_.method == "largest-inputs"


def test_method_instance_reaches_loky_workers_without_registration(iris):
    X, y = iris
    search = GridSearchCV(
        ECPrunedMLPClassifier(**FAST, random_state=0, pruning=_networks.LargestInputs()),
        {"sparsity": [0.5, 0.7]},
        cv=2,
        n_jobs=2,
        error_score="raise",
    ).fit(X, y)
    assert "largest-inputs" not in PRUNING_METHODS
    best = search.best_estimator_
    assert best.sparsity_ == pytest.approx(search.best_params_["sparsity"], abs=0.02)
    assert best.pruning_report_.method == "largest-inputs"


# --- 5. save_params / load_params -----------------------------------------------------


def test_load_params_into_a_fresh_classifier(iris, tmp_path):
    X, y = iris
    net = ECPrunedMLPClassifier(**FAST, random_state=0, sparsity=0.6).fit(X, y)
    net.save_params(f_params=tmp_path / "params.pt")
    fresh = ECPrunedMLPClassifier(**FAST)
    with pytest.warns(UserWarning, match="class labels are not part"):
        fresh.load_params(f_params=tmp_path / "params.pt")
    np.testing.assert_array_equal(fresh.predict(X), net.predict(X))  # labels are 0, 1, 2
    assert fresh.sparsity_ == net.sparsity_


def test_load_params_replaces_the_masks_of_a_model_fitted_at_another_sparsity(iris, tmp_path):
    X, y = iris
    sparse_net = ECPrunedMLPClassifier(**FAST, random_state=0, sparsity=0.9).fit(X, y)
    sparse_net.save_params(f_params=tmp_path / "sparse.pt")
    other = ECPrunedMLPClassifier(**FAST, random_state=1, sparsity=0.3).fit(X, y)
    other.load_params(f_params=tmp_path / "sparse.pt")
    assert other.sparsity_ == pytest.approx(sparse_net.sparsity_)
    assert all(torch.equal(other.masks_[k], sparse_net.masks_[k]) for k in other.masks_)
    other.partial_fit(X, y)  # continued training keeps the loaded zeros
    assert other.sparsity_ == pytest.approx(sparse_net.sparsity_)


def test_load_params_into_a_fresh_standardizing_regressor_is_refused(regression, tmp_path):
    X, y = regression
    net = ECPrunedMLPRegressor(**FAST, random_state=0).fit(X, y)
    net.save_params(f_params=tmp_path / "params.pt")
    with pytest.raises(ValueError, match="not part of the saved parameters"):
        ECPrunedMLPRegressor(**FAST).load_params(f_params=tmp_path / "params.pt")
    plain = ECPrunedMLPRegressor(**FAST, random_state=0, standardize_target=False).fit(X, y)
    plain.save_params(f_params=tmp_path / "plain.pt")
    fresh = ECPrunedMLPRegressor(**FAST, standardize_target=False)
    fresh.load_params(f_params=tmp_path / "plain.pt")
    np.testing.assert_array_equal(fresh.predict(X), plain.predict(X))


# --- 6. the engine refuses what it cannot prune, and warns about emptied layers ---------


def test_tied_weights_are_rejected():
    first, second = nn.Linear(4, 4), nn.Linear(4, 4)
    second.weight = first.weight
    net = nn.Sequential(first, nn.ReLU(), second)
    with pytest.raises(ValueError, match="share one weight tensor"):
        prune_mlp(net, torch.randn(20, 4), 0.5)


def test_absurd_step_counts_are_refused_at_once():
    net = _networks.make_net(dtype=torch.float32)
    with pytest.raises(ValueError, match="n_steps"):
        prune_mlp(net, _networks.make_X(dtype=torch.float32), 0.5, n_steps=10**9)


def test_emptying_a_layer_warns():
    net = _networks.make_net(sizes=(5, 4, 3), dtype=torch.float32)
    with pytest.warns(EmptyLayerWarning, match="left no weight"):
        prune_mlp(net, _networks.make_X(dtype=torch.float32), 0.9999, method="magnitude")


# --- 7. clear errors instead of raw ones -------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"pruning": ["ecp"]}, "'pruning' parameter"),
        ({"device": "meta"}, "'device' parameter"),
        ({"random_state": -1}, "'random_state' parameter"),
        ({"random_state": 2**70}, "'random_state' parameter"),
        ({"pruning_params": {"n_steps": 3}}, "unknown keys"),
        ({"early_stopping": "sometimes"}, "'early_stopping' parameter"),
        ({"validation_fraction": 1.0}, "'validation_fraction' parameter"),
        ({"alpha": -1.0}, "'alpha' parameter"),
    ],
)
def test_bad_parameters_name_themselves(iris, params, message):
    X, y = iris
    with pytest.raises(ValueError, match=message):
        ECPrunedMLPClassifier(**FAST, **params).fit(X, y)


class WrongShape(_networks.LargestInputs):
    name = "wrong-shape"

    def compute_scores(self, ctx):
        return ctx.layer.weight.detach().abs().sum(1)


def test_engine_errors_name_the_problem():
    net, X = _networks.make_net(dtype=torch.float32), _networks.make_X(dtype=torch.float32)
    with pytest.raises(ValueError, match="must return a tensor of scores of the weight's shape"):
        prune_mlp(copy.deepcopy(net), X, 0.5, method=WrongShape())
    with pytest.raises(ValueError, match="labels must lie in"):
        prune_mlp(copy.deepcopy(net), X, 0.5, method="gradient", y=torch.full((len(X),), 7))
    with pytest.raises(ValueError, match="not a Linear layer of the module"):
        apply_masks(net, {"1": torch.ones(7, 5, dtype=torch.bool)})
    with pytest.raises(ValueError, match="float32 and float64"):
        to_sparse_module(copy.deepcopy(net).half())
    with pytest.raises(ValueError, match="'random_state' parameter of prune_mlp"):
        prune_mlp(copy.deepcopy(net), X, 0.5, random_state=2**70)


def test_partial_fit_with_other_classes_later_is_an_error(iris):
    X, y = iris
    net = ECPrunedMLPClassifier(**FAST, random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    net.partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="is not the same as on the first call"):
        net.partial_fit(X, y, classes=[0, 1, 2, 3])


# --- 8. sparse input ---------------------------------------------------------------------


def test_sparse_one_hot_input_gives_the_dense_result():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame(
        {"size": rng.normal(size=n), "city": rng.choice([f"c{i}" for i in range(40)], n)}
    )
    y = (frame["size"] + (frame["city"].str[1:].astype(int) % 3 == 0) > 0.5).to_numpy()

    def pipeline(sparse_output):
        encode = ColumnTransformer(
            [("num", StandardScaler(), ["size"]),
             ("cat", OneHotEncoder(sparse_output=sparse_output), ["city"])],
            sparse_threshold=1.0 if sparse_output else 0.0,
        )  # fmt: skip
        return make_pipeline(encode, ECPrunedMLPClassifier(**FAST, random_state=0))

    as_sparse = pipeline(True).fit(frame, y)
    assert sparse.issparse(as_sparse[0].transform(frame))
    dense = pipeline(False).fit(frame, y)
    np.testing.assert_allclose(as_sparse.predict_proba(frame), dense.predict_proba(frame))
    assert as_sparse.score(frame, y) > 0.8


# --- 9. scikit-learn's MLP surface --------------------------------------------------------


def test_early_stopping_holds_out_a_validation_set_and_restores_the_best_epoch(iris):
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer

    X, y = iris
    net = ECPrunedMLPClassifier(
        **{**FAST, "max_epochs": 60},
        sparsity=0.0,
        random_state=0,
        early_stopping=True,
        validation_fraction=0.2,
    ).fit(X, y)
    # One score per epoch: the validation set stays through the whole fit.
    assert len(net.validation_scores_) == net.n_iter_
    assert len(net.history_[:, "valid_score"]) == net.n_iter_ + net.n_fine_tune_iter_
    assert all(0 <= s <= 1 for s in net.validation_scores_)
    assert net.best_validation_score_ == max(net.validation_scores_)
    assert net.best_loss_ is None
    # The held-out rows are 20 % of the data, stratified: one batch.
    assert net.history_[-1]["valid_batch_count"] == 1
    # The weights are the best epoch's: they score the best score on the held-out rows
    # (stratified as scikit-learn stratifies: on the binarised labels).
    _, valid = train_test_split(
        np.arange(len(y)),
        test_size=0.2,
        stratify=LabelBinarizer().fit_transform(y).astype(bool),
        random_state=net._plan_.split_seed,
    )
    assert net.score(X[valid], y[valid]) == pytest.approx(net.best_validation_score_)
    # It stopped by the rule: its last n_iter_no_change epochs did not improve by tol.
    scores = net.validation_scores_
    assert net.n_iter_ < 60 and max(scores[-10:]) <= max(scores[:-10]) + net.tol


def test_early_stopping_auto_holds_out_where_true_can():
    X, y = make_classification(n_samples=300, random_state=0)
    fitted = ECPrunedMLPClassifier(**FAST, random_state=0).fit(X, y)
    assert fitted.early_stopping == "auto" and len(fitted.validation_scores_) == fitted.n_iter_
    assert fitted.history_[0, "valid_batch_count"] == 1  # 30 rows, the least "auto" holds
    # Fewer than 30 validation rows: "auto" trains on every row, True holds them out.
    X, y = X[:290], y[:290]
    assert ECPrunedMLPClassifier(**FAST).fit(X, y).validation_scores_ is None
    assert ECPrunedMLPClassifier(**FAST, early_stopping=True).fit(X, y).validation_scores_
    # Where scikit-learn's early_stopping=True raises, "auto" trains on every row.
    X, y = X[:40], y[:40]
    y_rare = np.r_[np.ones(39, int), 0]
    with pytest.raises(ValueError, match="least populated class"):
        ECPrunedMLPClassifier(**FAST, early_stopping=True).fit(X, y_rare)
    rare = ECPrunedMLPClassifier(**FAST, random_state=0).fit(X, y_rare)
    assert rare.validation_scores_ is None and rare.best_loss_ is not None
    with pytest.raises(ValueError, match="The validation set is too small"):
        ECPrunedMLPRegressor(**FAST, early_stopping=True).fit(X[:2], y[:2])
    assert ECPrunedMLPRegressor(**FAST).fit(X[:2], y[:2]).validation_scores_ is None
    # partial_fit never holds rows out; with early_stopping=True it refuses, as
    # scikit-learn's does, and leaves the estimator as it was.
    net = ECPrunedMLPClassifier(**FAST, random_state=0).partial_fit(X, y)
    assert net.validation_scores_ is None
    before = net.coefs_[0].copy()
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        net.set_params(early_stopping=True).partial_fit(X, y)
    np.testing.assert_array_equal(net.coefs_[0], before)


def test_multilabel_targets_get_a_sigmoid_per_label():
    from sklearn.datasets import make_multilabel_classification

    X, Y = make_multilabel_classification(n_samples=300, n_classes=4, random_state=0)
    net = ECPrunedMLPClassifier(**{**FAST, "max_epochs": 100}, random_state=0).fit(X, Y)
    assert net.out_activation_ == "logistic" and net.classes_.tolist() == [0, 1, 2, 3]
    proba = net.predict_proba(X)
    assert proba.shape == Y.shape and not np.allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(net.predict(X), (proba > 0.5).astype(int))
    assert (net.predict(X) == Y).mean() > 0.8 and net.sparsity_ == pytest.approx(0.8, abs=0.01)
    # The loss of a row is the sum over its labels, as scikit-learn's log-loss.
    logits, targets = torch.zeros(1, 4), torch.ones(1, 4)
    assert float(net.criterion_(logits, targets)) == pytest.approx(4 * np.log(2))
    with pytest.raises(ValueError, match="4 labels"):
        net.set_params(warm_start=True).fit(X, Y[:, :3])


def test_a_single_class_is_learned_as_scikit_learn_does(iris):
    X, _ = iris
    y = np.full(len(X), "only")
    net = ECPrunedMLPClassifier(**FAST, random_state=0).fit(X, y)
    assert net.classes_.tolist() == ["only"] and net.n_outputs_ == 1
    assert (net.predict(X) == "only").all() and (net.predict_proba(X) == 1.0).all()


def test_coefs_and_intercepts_can_be_set_and_pruned_weights_stay_zero(iris):
    from sklearn.exceptions import NotFittedError

    X, y = iris
    net = ECPrunedMLPClassifier(**FAST, random_state=0).fit(X, y)
    coefs = [c + 1.0 for c in net.coefs_]
    pruned = [~(net.masks_[name].numpy().T) for name in ("0", "2")]
    net.coefs_ = coefs
    net.intercepts_ = [np.zeros_like(b) for b in net.intercepts_]
    for written, wanted, out in zip(net.coefs_, coefs, pruned, strict=True):
        np.testing.assert_allclose(written[~out], wanted[~out])
        assert not written[out].any()  # the masks are respected
    assert not any(b.any() for b in net.intercepts_)
    # predict uses the new weights (the inference network is rebuilt).
    hidden = np.maximum(X @ net.coefs_[0], 0)
    np.testing.assert_array_equal(net.predict(X), (hidden @ net.coefs_[1]).argmax(1))
    before = net.coefs_
    with pytest.raises(ValueError, match="shapes"):
        net.coefs_ = [c.T for c in coefs]
    for a, b in zip(net.coefs_, before, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(NotFittedError, match="fit or partial_fit first"):
        ECPrunedMLPClassifier().coefs_ = coefs


def test_alpha_shrinks_the_weights(iris):
    X, y = iris
    norms = [
        sum(float(np.square(c).sum()) for c in ECPrunedMLPClassifier(
            **FAST, random_state=0, sparsity=0.0, alpha=alpha).fit(X, y).coefs_)
        for alpha in (0.0, 10.0)
    ]  # fmt: skip
    assert norms[1] < 0.8 * norms[0]


def test_sample_weight_of_zero_removes_samples(iris):
    X, y = iris
    keep = y != 2
    weights = keep.astype(float)
    weighted = ECPrunedMLPClassifier(**FAST, random_state=0).fit(X, y, sample_weight=weights)
    assert list(weighted.classes_) == [0, 1, 2]
    # The zero-weight class is never learned: it is hardly ever predicted.
    assert (weighted.predict(X) == 2).mean() < 0.1
    with pytest.raises(ValueError, match="sample_weight"):
        ECPrunedMLPClassifier(**FAST).fit(X, y, sample_weight=-np.ones(len(y)))


def test_sample_weights_weigh_the_loss(regression):
    X, y = regression
    net = ECPrunedMLPRegressor(
        **FAST, random_state=0, sparsity=0.0, standardize_target=False, early_stopping=False
    )
    net.fit(X[:10], y[:10], sample_weight=np.arange(10.0))
    out = torch.as_tensor(net.predict(X[:10]), dtype=torch.float32)
    weights = {"sample_weight": torch.arange(10.0), "X": None}
    expected = float((torch.arange(10.0) * (out - torch.as_tensor(y[:10])) ** 2).sum() / 45)
    net.set_params(alpha=0.0)
    loss = net.get_loss(out[:, None], torch.as_tensor(y[:10], dtype=torch.float32)[:, None],
                        X=weights, training=True)  # fmt: skip
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_scikit_learn_attributes(iris, regression):
    X, y = iris
    net = ECPrunedMLPClassifier(
        **{**FAST, "hidden_layer_sizes": (16, 8)}, random_state=0, early_stopping=False
    )
    net.fit(X, y)
    assert [c.shape for c in net.coefs_] == [(4, 16), (16, 8), (8, 3)]
    assert [b.shape for b in net.intercepts_] == [(16,), (8,), (3,)]
    assert net.n_layers_ == 4 and net.out_activation_ == "softmax"
    np.testing.assert_array_equal(net.coefs_[0].T, net.module_[0].weight.detach().numpy())
    assert len(net.loss_curve_) == net.n_iter_
    assert net.n_iter_ + net.n_fine_tune_iter_ == len(net.history_)
    assert net.best_loss_ == min(net.loss_curve_)
    assert net.validation_scores_ is None
    np.testing.assert_allclose(np.exp(net.predict_log_proba(X)), net.predict_proba(X))
    reg = ECPrunedMLPRegressor(**FAST, random_state=0).fit(*regression)
    assert reg.out_activation_ == "identity"
    with pytest.raises(AttributeError):
        ECPrunedMLPClassifier().coefs_  # noqa: B018


def test_pickle_keeps_the_surface(iris):
    X, y = iris
    net = ECPrunedMLPClassifier(**FAST, random_state=0, early_stopping=True).fit(X, y)
    again = pickle.loads(pickle.dumps(net))
    assert again.validation_scores_ == net.validation_scores_
    np.testing.assert_array_equal(again.predict_proba(X), net.predict_proba(X))


# --- choosing a sparsity ---------------------------------------------------------------


def test_refit_rule_picks_the_sparsest_candidate_within_one_standard_error(iris):
    X, y = iris
    search = GridSearchCV(
        ECPrunedMLPClassifier(**FAST, random_state=0),
        {"sparsity": [0.3, 0.6, 0.9, 0.97]},
        cv=3,
        refit=sparsest_within_one_standard_error,
    ).fit(X, y)
    results = search.cv_results_
    means, errors = results["mean_test_score"], results["std_test_score"] / np.sqrt(3)
    best = int(np.argmax(means))
    within = [i for i in range(4) if means[i] >= means[best] - errors[best]]
    assert search.best_index_ == max(within, key=lambda i: results["param_sparsity"][i])
    assert search.best_estimator_.sparsity_ == pytest.approx(
        results["param_sparsity"][search.best_index_], abs=0.02
    )


def test_display_from_search_and_from_estimator(iris):
    import matplotlib

    matplotlib.use("Agg")
    X, y = iris
    pipe = make_pipeline(StandardScaler(), ECPrunedMLPClassifier(**FAST, random_state=0))
    display = SparsityScoreDisplay.from_estimator(pipe, X, y, sparsities=[0.5, 0.9], cv=2)
    assert display.chosen_sparsity_ in (0.5, 0.9)
    assert display.ax_.get_xlabel().startswith("sparsity")
    line = display.ax_.lines[0]
    np.testing.assert_array_equal(line.get_xdata(), [0.5, 0.9])
    search = GridSearchCV(pipe, {"ecprunedmlpclassifier__sparsity": [0.5, 0.9]}, cv=2).fit(X, y)
    again = SparsityScoreDisplay.from_search(search)
    np.testing.assert_allclose(again.mean_scores, search.cv_results_["mean_test_score"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        matplotlib.pyplot.close("all")
