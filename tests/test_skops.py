"""skops: the estimators stored without pickle, loaded with a short list of trusted types."""

import zipfile

import numpy as np
import pytest

skops_io = pytest.importorskip("skops.io")

import torch  # noqa: E402
from sklearn.datasets import load_iris, make_regression  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from skops.io.exceptions import UntrustedTypesFoundException  # noqa: E402

from sklearn_ecprune import ECPrunedMLPClassifier, ECPrunedMLPRegressor  # noqa: E402
from sklearn_ecprune.skops import TRUSTED_TYPES, dump, load  # noqa: E402

FAST = dict(hidden_layer_sizes=(16,), max_epochs=20, random_state=0)


@pytest.fixture(scope="module")
def iris():
    """Unscaled iris with string labels, in place of conftest's standardized one."""
    X, y = load_iris(return_X_y=True)
    return X, load_iris().target_names[y]  # string labels


@pytest.fixture(scope="module")
def models(iris):
    X, y = iris
    Xr, yr = make_regression(120, 5, n_targets=2, random_state=0)
    return {
        "classifier": (ECPrunedMLPClassifier(**FAST).fit(X, y), X),
        "regressor": (ECPrunedMLPRegressor(**FAST).fit(Xr, yr + 10), Xr),
        "pipeline": (make_pipeline(StandardScaler(), ECPrunedMLPClassifier(**FAST)).fit(X, y), X),
    }


@pytest.fixture(scope="module")
def files(models, tmp_path_factory):
    folder = tmp_path_factory.mktemp("skops")
    paths = {}
    for name, (model, _) in models.items():
        paths[name] = folder / f"{name}.skops"
        dump(model, paths[name])
    return paths


@pytest.mark.parametrize("name", ["classifier", "regressor", "pipeline"])
def test_round_trip_predicts_identically(models, files, name):
    model, X = models[name]
    for loaded in (skops_io.load(files[name], trusted=TRUSTED_TYPES), load(files[name])):
        assert type(loaded) is type(model)
        np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
        if name != "regressor":
            np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
            np.testing.assert_array_equal(loaded.classes_, model.classes_)
    estimator = loaded[-1] if isinstance(loaded, Pipeline) else loaded
    original = model[-1] if isinstance(model, Pipeline) else model
    assert type(estimator) is type(original)
    assert estimator.sparsity_ == original.sparsity_
    assert (estimator.n_iter_, estimator.n_fine_tune_iter_) == (
        original.n_iter_,
        original.n_fine_tune_iter_,
    )
    assert str(estimator.pruning_report_) == str(original.pruning_report_)
    for key, mask in original.masks_.items():
        assert torch.equal(estimator.masks_[key], mask)


@pytest.mark.parametrize("name", ["classifier", "regressor", "pipeline"])
def test_loading_without_the_list_is_refused(files, name):
    with pytest.raises(UntrustedTypesFoundException):
        skops_io.load(files[name])


def test_trusted_types_are_the_minimum(files):
    needed = set()
    for path in files.values():
        untrusted = skops_io.get_untrusted_types(file=path)
        assert set(untrusted) <= set(TRUSTED_TYPES)
        needed |= set(untrusted)
    assert needed == set(TRUSTED_TYPES)
    assert "builtins.print" not in needed


def test_no_pickled_bytes_in_the_file(files):
    # skorch's own state pickles the network into __cuda_dependent_attributes__, which
    # skorch unpickles on load: such a file would run pickle whatever skops trusts.
    with zipfile.ZipFile(files["pipeline"]) as archive:
        schema = archive.read("schema.json").decode()
    assert "__cuda_dependent_attributes__" not in schema
    assert '"BytesNode"' not in schema and '"bytes"' not in schema


def test_print_log_is_not_stored(iris, tmp_path):
    # verbose=1 adds skorch's PrintLog, whose sink is builtins.print: rebuilt on load.
    X, y = iris
    clf = ECPrunedMLPClassifier(verbose=1, max_epochs=3, random_state=0).fit(X, y)
    dump(clf, tmp_path / "verbose.skops")
    assert "builtins.print" not in skops_io.get_untrusted_types(file=tmp_path / "verbose.skops")
    loaded = load(tmp_path / "verbose.skops")
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_dump_leaves_the_model_unchanged(models, tmp_path):
    model, X = models["pipeline"]
    before = model.predict_proba(X)
    dump(model, tmp_path / "again.skops")
    assert type(model[-1]) is ECPrunedMLPClassifier
    np.testing.assert_array_equal(model.predict_proba(X), before)


def test_neuron_pruned_network_and_further_training(iris, tmp_path):
    X, y = iris
    clf = ECPrunedMLPClassifier(pruning_unit="neuron", sparsity=0.5, **FAST).fit(X, y)
    dump(clf, tmp_path / "neurons.skops")
    loaded = load(tmp_path / "neurons.skops")
    assert loaded.hidden_layer_sizes_ == clf.hidden_layer_sizes_
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    loaded.partial_fit(X, y)
    assert loaded.hidden_layer_sizes_ == clf.hidden_layer_sizes_


def test_other_parameter_types_need_trust(iris, tmp_path):
    X, y = iris
    clf = ECPrunedMLPClassifier(optimizer=torch.optim.SGD, max_epochs=2, random_state=0)
    dump(clf.fit(X, y), tmp_path / "sgd.skops")
    with pytest.raises(UntrustedTypesFoundException):
        load(tmp_path / "sgd.skops")
    loaded = load(tmp_path / "sgd.skops", trusted=["torch.optim.sgd.SGD"])
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


def test_custom_module_is_refused(iris, tmp_path):
    X, y = iris
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    clf = ECPrunedMLPClassifier(module=net, max_epochs=2, random_state=0)
    with pytest.raises(TypeError, match="default network"):
        dump(clf.fit(X, y.astype(object)), tmp_path / "custom.skops")
