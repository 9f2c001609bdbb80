"""Regression tests for the causes in shared/notes/reliability-eef5f32.md (issue 20).

Each test is named after the cause it covers (H = high, M = medium, L = low) and
failed on the code of that note.
"""

import importlib
import io
import os
import pickle
import sys
import textwrap
import warnings

import _networks
import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning
from skorch.dataset import Dataset
from torch import nn

from sklearn_ecprune import (
    PRUNING_METHODS,
    ECPrunedMLPClassifier,
    ECPrunedMLPRegressor,
    PruningMethod,
    prune_mlp,
    register_method,
)

FAST = {**_networks.FAST, "max_epochs": 4, "fine_tune_epochs": 2}


@pytest.fixture(scope="module")
def iris(iris):
    """conftest's standardized iris, in float32."""
    X, y = iris
    return X.astype(np.float32), y


def _state(net):
    return {k: v.detach().clone() for k, v in net.module_.state_dict().items()}


def _same_state(net, state):
    now = net.module_.state_dict()
    return now.keys() == state.keys() and all(torch.equal(now[k], state[k]) for k in state)


# --- high -------------------------------------------------------------------------------


def test_H1_module_and_criterion_instances_can_be_passed(iris):
    X, y = iris
    module = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    net = ECPrunedMLPClassifier(
        module=module, criterion=nn.CrossEntropyLoss(), **{**FAST, "max_epochs": 6},
        random_state=0,
    ).fit(X, y)  # fmt: skip
    assert net.module is module and net.sparsity_ == pytest.approx(0.8, abs=0.02)
    replacement = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))
    net.set_params(module=replacement).fit(X, y)
    assert net.hidden_layer_sizes_ == (5,)


def test_H2_memory_keys_cover_the_module_level_code_a_module_class_uses(iris, tmp_path):
    X, y = iris
    source = """
        import torch
        from torch import nn
        ACT = "{act}"

        def activate(x):
            return getattr(torch, ACT)(x)

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.a, self.b = nn.Linear(4, 8), nn.Linear(8, 3)

            def forward(self, x):
                return self.b(activate(self.a(x)))
    """
    sys.path.insert(0, str(tmp_path))
    try:
        path = tmp_path / "usernet_h2.py"
        path.write_text(textwrap.dedent(source.format(act="relu")))
        usernet = importlib.import_module("usernet_h2")
        cache = tmp_path / "cache"
        kwargs = dict(FAST, random_state=0, memory=cache)
        ECPrunedMLPClassifier(module=usernet.Net, **kwargs).fit(X, y)
        path.write_text(textwrap.dedent(source.format(act="tanh")))
        usernet = importlib.reload(usernet)
        cached = ECPrunedMLPClassifier(module=usernet.Net, **kwargs).fit(X, y)
        fresh = ECPrunedMLPClassifier(module=usernet.Net, **{**kwargs, "memory": None}).fit(X, y)
        np.testing.assert_array_equal(cached.predict_proba(X), fresh.predict_proba(X))
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("usernet_h2", None)


@pytest.mark.skipif(not hasattr(os, "O_NOFOLLOW"), reason="POSIX links")
def test_H3_the_cache_lock_never_follows_a_link_nor_truncates(iris, tmp_path):
    X, y = iris
    kwargs = dict(FAST, random_state=0)
    ECPrunedMLPClassifier(**kwargs, memory=tmp_path / "a").fit(X, y)
    (lock,) = os.listdir(tmp_path / "a" / "sklearn_ecprune_locks")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    planted = tmp_path / "b" / "sklearn_ecprune_locks"
    planted.mkdir(parents=True)
    os.symlink(victim, planted / lock)
    with pytest.raises(OSError):
        ECPrunedMLPClassifier(**kwargs, memory=tmp_path / "b").fit(X, y)
    assert victim.read_text() == "precious"


def test_H4_the_docs_say_which_files_must_be_trusted():
    root = os.path.join(os.path.dirname(__file__), "..")
    with open(os.path.join(root, "docs", "user_guide.rst"), encoding="utf-8") as handle:
        guide = handle.read()
    assert "Which files to trust" in guide
    for words in ("memory=", "pickle", "load_params", "weights_only"):
        assert words in guide.split("Which files to trust")[1][:3000]


def test_H5_a_failed_load_params_leaves_an_unfitted_estimator_unfitted(iris):
    X, y = iris
    clf = ECPrunedMLPClassifier(**FAST, random_state=0).fit(X, y)
    buffer = io.BytesIO()
    clf.save_params(f_params=buffer)
    buffer.seek(0)
    fresh = ECPrunedMLPClassifier()  # hidden_layer_sizes=(100,)
    with pytest.raises(ValueError, match=r"hidden_layer_sizes=\(16,\)"):
        fresh.load_params(buffer)
    assert not fresh.__sklearn_is_fitted__()
    buffer.seek(0)
    with pytest.warns(UserWarning, match="class labels are not part"):
        loaded = ECPrunedMLPClassifier(hidden_layer_sizes=(16,)).load_params(buffer)
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=1e-6)


# --- medium ------------------------------------------------------------------------------


def test_M1_a_failed_load_params_leaves_a_fitted_estimator_as_it_was(iris):
    X, y = iris
    clf = ECPrunedMLPClassifier(**FAST, random_state=0).fit(X, y)
    other = ECPrunedMLPClassifier(**FAST, random_state=1).fit(X, (y > 0).astype(int))
    buffer = io.BytesIO()
    other.save_params(f_params=buffer)
    buffer.seek(0)
    state, proba = _state(clf), clf.predict_proba(X)
    with pytest.raises(ValueError, match=r"do not fit the network.*unchanged"):
        clf.load_params(buffer)
    assert _same_state(clf, state)
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    logits = clf.to_torch()(torch.as_tensor(X)).softmax(1).detach().numpy()
    np.testing.assert_allclose(logits, proba, atol=1e-6)


def test_M2_set_params_device_acts_at_the_next_fit(iris):
    X, y = iris
    clf = ECPrunedMLPClassifier(**FAST, random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    clf.set_params(device="meta")
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


def test_M3_predict_on_a_torch_dataset(iris):
    X, y = iris
    clf = ECPrunedMLPClassifier(**FAST, random_state=0).fit(X, y)
    expected = clf.predict_proba(X)
    np.testing.assert_allclose(clf.predict_proba(Dataset(X, None)), expected, atol=1e-6)
    # skorch's convention for a dataset: (X, y) pairs; y is not used to predict.
    tensors = torch.utils.data.TensorDataset(torch.as_tensor(X), torch.zeros(len(X)))
    np.testing.assert_allclose(clf.predict_proba(tensors), expected, atol=1e-6)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("lr", "x"), ("lr", None), ("lr", -1.0), ("criterion", "mse"), ("criterion", 3),
        ("optimizer", "adam"), ("optimizer", None), ("module", 3), ("module", "x"),
        ("train_split", 3), ("callbacks", 3), ("callbacks", ["x"]),
    ],
)  # fmt: skip
def test_M4_every_parameter_is_checked_by_name(iris, name, value):
    X, y = iris
    with pytest.raises(ValueError, match=f"The '{name}' parameter of ECPrunedMLPClassifier"):
        ECPrunedMLPClassifier(**{name: value}).fit(X, y)


def test_M5_a_target_whose_scale_overflows_is_an_error(iris):
    X, _ = iris
    with pytest.raises(ValueError, match="overflows float64"):
        ECPrunedMLPRegressor(**FAST).fit(X, X[:, 0].astype(np.float64) * 1e300)


def test_M6_L7_unusable_memory_locations_name_memory(iris, tmp_path):
    X, y = iris
    a_file = tmp_path / "file"
    a_file.write_text("")
    for location in (a_file, ""):
        net = ECPrunedMLPClassifier(**FAST, random_state=0, memory=location)
        with pytest.raises(ValueError, match="memory="):
            net.fit(X, y)
    assert not os.path.exists("sklearn_ecprune_locks")


def test_M9_nan_scores_of_a_custom_method_are_an_error():
    class NaNs(PruningMethod):
        name = "nans"

        def compute_scores(self, ctx):
            return torch.full_like(ctx.layer.weight, float("nan"))

    net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(ValueError, match="NaN scores"):
        prune_mlp(net, torch.randn(64, 4), 0.5, method=NaNs())
    assert all(torch.equal(net.state_dict()[k], v) for k, v in before.items())


def test_M10_a_float64_module_is_a_clear_error(iris):
    class F64(nn.Sequential):
        def __init__(self):
            super().__init__(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
            self.double()

    X, y = iris
    with pytest.raises(ValueError, match="float32"):
        ECPrunedMLPClassifier(module=F64, **FAST).fit(X, y)


def test_M11_drop_last_without_a_whole_batch_is_a_clear_error(iris):
    X, y = iris
    with pytest.raises(ValueError, match="drop_last"):
        ECPrunedMLPClassifier(**FAST, iterator_train__drop_last=True).fit(X[:100], y[:100])


# --- low ---------------------------------------------------------------------------------


def test_L1_pruning_params_values_are_checked_before_training(iris, monkeypatch):
    X, y = iris
    net = ECPrunedMLPClassifier(**FAST, pruning_params={"ridge": -1.0})
    monkeypatch.setattr(ECPrunedMLPClassifier, "fit_loop", lambda *a, **k: pytest.fail())
    with pytest.raises(ValueError, match=r"pruning_params\['ridge'\]"):
        net.fit(X, y)


def test_L2_set_params_inference_is_checked_on_a_fitted_estimator(iris):
    X, y = iris
    clf = ECPrunedMLPClassifier(**FAST, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="'inference'"):
        clf.set_params(inference="bogus")
    assert clf.inference == "auto"


def test_L3_one_row_names_early_stopping():
    X, y = make_regression(n_samples=5, n_features=3, random_state=0)
    with pytest.raises(ValueError, match=r"too small.*early_stopping=False"):
        ECPrunedMLPRegressor(**FAST, early_stopping=True).fit(X[:1], y[:1])
    # The default early_stopping="auto" trains on the one row.
    assert ECPrunedMLPRegressor(**FAST).fit(X[:1], y[:1]).validation_scores_ is None


def test_L5_a_built_in_method_cannot_be_replaced():
    class Impostor(PruningMethod):
        name = "magnitude"

        def compute_scores(self, ctx):
            return ctx.layer.weight.detach().abs()

    original = PRUNING_METHODS["magnitude"]
    with pytest.raises(ValueError, match="built-in"):
        register_method(Impostor)
    assert PRUNING_METHODS["magnitude"] is original


def test_a_fitted_estimator_still_pickles(iris):
    X, y = iris
    clf = ECPrunedMLPClassifier(**FAST, random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


def test_M7_a_cache_entry_that_does_not_fit_is_trained_again(iris, tmp_path):
    import glob

    import joblib

    X, y = iris
    kwargs = dict(FAST, random_state=0)
    fresh = ECPrunedMLPClassifier(**kwargs).fit(X, y).predict_proba(X)
    ECPrunedMLPClassifier(**kwargs, memory=tmp_path).fit(X, y)
    (entry,) = glob.glob(f"{tmp_path}/**/output.pkl", recursive=True)
    joblib.dump({"module": {"0.weight": torch.zeros(2, 2)}}, entry)
    with pytest.warns(UserWarning, match="trained again"):
        again = ECPrunedMLPClassifier(**kwargs, memory=tmp_path).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), fresh)
    # The entry was replaced: the next fit restores it without a warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        restored = ECPrunedMLPClassifier(**kwargs, memory=tmp_path).fit(X, y)
    np.testing.assert_array_equal(restored.predict_proba(X), fresh)


def test_M8_the_engine_explains_meta_modules_and_prunes_frozen_ones():
    X, y = torch.randn(64, 4), torch.randint(0, 2, (64,))
    with torch.device("meta"):
        meta = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    with pytest.raises(ValueError, match="meta device"):
        prune_mlp(meta, X, 0.5)
    frozen = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2)).requires_grad_(False)
    result = prune_mlp(frozen, X, 0.5, method="gradient", y=y)
    assert result.sparsity == pytest.approx(0.5, abs=0.02)
    assert not any(p.requires_grad for p in frozen.parameters())


def test_L6_demo_checks_out_before_any_fit(tmp_path, capsys, monkeypatch):
    from sklearn_ecprune.cli import main

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr(ECPrunedMLPClassifier, "fit", lambda *a, **k: pytest.fail("fitted"))
    code = main(["demo", "--out", str(blocker / "demo.png"), "-q"])
    assert code == 2
    assert "cannot create the folder" in capsys.readouterr().err


def test_repr_shows_the_changed_parameters_as_scikit_learn_does(iris):
    net = ECPrunedMLPClassifier(sparsity=0.9, module__dropout=0.1)
    assert repr(net) == "ECPrunedMLPClassifier(module__dropout=0.1, sparsity=0.9)"
    assert repr(ECPrunedMLPRegressor()) == "ECPrunedMLPRegressor()"
    html = net._repr_html_()
    assert html.count('class="user-set"') == 2  # not skorch's default callbacks


def test_scikit_learn_mlp_names_have_their_meaning(iris):
    from sklearn.base import clone

    X, y = iris
    base = dict(hidden_layer_sizes=(8,), sparsity=0.0, early_stopping=False, random_state=0)
    # max_iter, when given, is the dense training's limit (max_epochs is then ignored).
    net = ECPrunedMLPClassifier(**base, max_iter=3, max_epochs=50, n_iter_no_change=np.inf)
    net.fit(X, y)
    assert net.n_iter_ == 3 and clone(net).get_params()["max_iter"] == 3
    # learning_rate_init over lr; solver picks the optimizer with scikit-learn's settings.
    net = ECPrunedMLPClassifier(**base, max_iter=2, solver="sgd", learning_rate_init=0.05,
                                momentum=0.5, nesterovs_momentum=False).fit(X, y)  # fmt: skip
    assert isinstance(net.optimizer_, torch.optim.SGD)
    group = net.optimizer_.param_groups[0]
    assert (group["lr"], group["momentum"], group["nesterov"]) == (0.05, 0.5, False)
    net = ECPrunedMLPClassifier(**base, max_iter=2, beta_1=0.8, beta_2=0.9, epsilon=1e-6)
    group = net.fit(X, y).optimizer_.param_groups[0]
    assert (group["betas"], group["eps"]) == ((0.8, 0.9), 1e-6)
    assert ECPrunedMLPClassifier(shuffle=False).get_iterator(
        net.get_dataset(X, y), training=True
    ).shuffle is False  # fmt: skip
    with pytest.raises(ValueError, match="'solver'"):
        ECPrunedMLPClassifier(**base, solver="x").fit(X, y)
    # loss="poisson": a log link, non-negative targets, positive predictions.
    counts = np.random.default_rng(0).poisson(np.exp(X[:, 2] / 4), size=len(X))
    poisson = ECPrunedMLPRegressor(**base, loss="poisson", max_iter=50).fit(X, counts)
    assert isinstance(poisson.criterion_, torch.nn.PoissonNLLLoss)
    assert poisson.out_activation_ == "exp" and (poisson.predict(X) > 0).all()
    np.testing.assert_allclose(
        poisson.to_torch()(torch.as_tensor(X, dtype=torch.float32)).detach().numpy().ravel(),
        poisson.predict(X),
        rtol=1e-5,
    )
    before = poisson.predict(X)
    np.testing.assert_array_equal(poisson.set_params(loss="squared_error").predict(X), before)
    with pytest.raises(ValueError, match="negative"):
        ECPrunedMLPRegressor(**base, loss="poisson").fit(X, counts - 1.0)


def test_lbfgs_trains_on_all_rows_one_iteration_per_epoch(iris):
    X, y = iris
    net = ECPrunedMLPClassifier(
        hidden_layer_sizes=(8,), solver="lbfgs", max_iter=40, random_state=0
    ).fit(X, y)
    assert isinstance(net.optimizer_, torch.optim.LBFGS)
    assert net.validation_scores_ is None  # no hold-out with lbfgs, as scikit-learn
    assert {row["train_batch_count"] for row in net.history_} == {1}  # the whole set
    assert 1 <= net.n_iter_ <= 40 and net.score(X, y) > 0.9
    # Fine-tuning keeps the pruned weights at zero, gradients masked in the line search.
    assert net.n_fine_tune_iter_ > 0 and net.sparsity_ == pytest.approx(0.8, abs=0.01)
    for name, module in net.module_.named_modules():
        if name in net.masks_:
            assert not module.weight[~net.masks_[name]].any()
    # max_fun bounds the loss evaluations; partial_fit is for stochastic solvers only.
    with pytest.warns(ConvergenceWarning, match="max_fun=5"):
        few = ECPrunedMLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", max_fun=5).fit(X, y)
    assert few.n_iter_ <= 5
    assert not hasattr(few, "partial_fit")
    # Its one batch is every row, whatever batch_size says: drop_last drops nothing.
    whole = ECPrunedMLPClassifier(
        hidden_layer_sizes=(8,),
        solver="lbfgs",
        max_iter=3,
        batch_size=1000,
        iterator_train__drop_last=True,
    ).fit(X, y)
    assert whole.history_[-1, "train_batch_count"] == 1


@pytest.mark.parametrize("schedule", ["invscaling", "adaptive"])
def test_scikit_learn_learning_rate_schedules_with_sgd(iris, schedule):
    X, y = iris
    net = ECPrunedMLPClassifier(
        hidden_layer_sizes=(8,), sparsity=0.0, early_stopping=False, random_state=0,
        solver="sgd", learning_rate=schedule, learning_rate_init=0.1, max_iter=60,
        tol=1.0, n_iter_no_change=2,
    ).fit(X, y)  # fmt: skip
    # invscaling lowers the rate every epoch; adaptive divides it by 5 where training
    # would have stopped (tol=1 is never met), down to 1e-6.
    rate = net.optimizer_.param_groups[0]["lr"]
    assert rate < 0.1
    if schedule == "adaptive":
        assert rate <= 1e-6 and net.n_iter_ < 60


def test_batch_size_auto_t_and_loss_as_in_scikit_learn(iris):
    X, y = iris
    net = ECPrunedMLPClassifier(
        **{**FAST, "fine_tune_epochs": 1}, batch_size="auto", early_stopping=False,
        random_state=0,
    ).fit(X[:120], y[:120])  # fmt: skip
    assert net.history_[0, "train_batch_count"] == 1  # min(200, 120) rows a batch
    assert net.t_ == 120 * len(net.history_)
    assert net.loss_ == net.history_[-1, "train_loss"]  # the fitted model's


def test_display_and_refit_rule_take_a_metric_of_a_multi_metric_search(iris):
    import functools

    import matplotlib

    matplotlib.use("Agg")
    from sklearn.model_selection import GridSearchCV

    from sklearn_ecprune import SparsityScoreDisplay, sparsest_within_one_standard_error

    X, y = iris
    net = ECPrunedMLPClassifier(**FAST, random_state=0)
    scoring = {"accuracy": "accuracy", "neg_log_loss": "neg_log_loss"}
    refit = functools.partial(sparsest_within_one_standard_error, metric="accuracy")
    search = GridSearchCV(net, {"sparsity": [0.5, 0.9]}, cv=3, scoring=scoring, refit=refit)
    search.fit(X, y)
    assert search.best_index_ in (0, 1)
    with pytest.raises(ValueError, match="several metrics"):
        SparsityScoreDisplay.from_search(search)
    with pytest.raises(ValueError, match="several metrics"):
        sparsest_within_one_standard_error(search.cv_results_)
    display = SparsityScoreDisplay.from_search(
        search, metric="neg_log_loss", negate_score=True, errorbar_kw={"color": "purple"}
    )
    assert display.ax_.get_ylabel() == "cross-validated log_loss"
    assert (display.errorbar_.lines[0].get_ydata() > 0).all()  # log-losses, not negated
    assert matplotlib.colors.same_color(display.errorbar_.lines[0].get_color(), "purple")
    assert display.chosen_marker_ in display.ax_.lines


def test_a_device_this_machine_lacks_is_refused_by_name(iris):
    X, y = iris
    missing = [d for d in ("mps", "cuda") if d != "cuda" or not torch.cuda.is_available()]
    missing = [d for d in missing if d != "mps" or not torch.backends.mps.is_available()]
    for device in missing:
        with pytest.raises(ValueError, match="'device' parameter"):
            ECPrunedMLPClassifier(**FAST, device=device).fit(X, y)


def test_L4_float16_refit_failure_says_what_overflowed():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2)).half()
    with pytest.raises(ValueError, match="overflowed float16's range") as error:
        prune_mlp(net, torch.randn(200, 4), 0.7)
    assert "too large" not in str(error.value)


@pytest.mark.parametrize("weighted", [False, True])
def test_L8_epoch_scoring_without_caching_on_string_labels(iris, weighted):
    from skorch.callbacks import EpochScoring

    X, y = iris
    names = load_iris().target_names[y]
    net = ECPrunedMLPClassifier(
        **FAST, random_state=0, early_stopping=True,
        callbacks=[EpochScoring("accuracy", use_caching=False, name="fresh"),
                   EpochScoring("accuracy", name="cached")],
    )  # fmt: skip
    net.fit(X, names, sample_weight=np.ones(len(y)) if weighted else None)
    assert all(row["fresh"] == pytest.approx(row["cached"]) for row in net.history_)
    assert net.predict(X[:2]).dtype.kind == "U"  # labels again once fitted
