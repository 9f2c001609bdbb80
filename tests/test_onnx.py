"""ONNX: pipelines with the estimators converted by skl2onnx, run in onnxruntime."""

import numpy as np
import pytest

pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")

import torch  # noqa: E402
from skl2onnx import to_onnx  # noqa: E402
from sklearn.datasets import (  # noqa: E402
    load_breast_cancer,
    load_iris,
    make_multilabel_classification,
    make_regression,
)
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sklearn_ecprune import ECPrunedMLPClassifier, ECPrunedMLPRegressor  # noqa: E402
from sklearn_ecprune.onnx import register_converters  # noqa: E402

FAST = dict(hidden_layer_sizes=(16,), max_epochs=20, random_state=0)
BATCHES = (1, 7, 50)


def _session(onx):
    return ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])


def _classification(name):
    if name == "iris":
        X, y = load_iris(return_X_y=True)
    else:
        X, y = load_breast_cancer(return_X_y=True)
        if name == "strings":
            y = np.array(["benign", "malignant"])[y]
    return X, y


@pytest.fixture(scope="module", params=["iris", "breast_cancer", "strings"])
def classifier(request):
    X, y = _classification(request.param)
    pipe = make_pipeline(StandardScaler(), ECPrunedMLPClassifier(**FAST)).fit(X, y)
    return pipe, X.astype(np.float32)


def test_classifier_pipeline_matches_predict_and_predict_proba(classifier):
    pipe, X = classifier
    onx = to_onnx(pipe, X[:1], options={id(pipe[-1]): {"zipmap": False}})
    assert [out.name for out in onx.graph.output] == ["label", "probabilities"]
    session = _session(onx)
    for n in BATCHES:
        label, proba = session.run(None, {"X": X[:n]})
        assert proba.dtype == np.float32
        assert proba.shape == (n, len(pipe.classes_))
        np.testing.assert_array_equal(label, pipe.predict(X[:n]))
        np.testing.assert_allclose(proba, pipe.predict_proba(X[:n]), rtol=0, atol=1e-5)


def test_classifier_zipmap_as_for_mlp_classifier(classifier):
    pipe, X = classifier
    session = _session(to_onnx(pipe, X[:1]))  # ZipMap by default, as skl2onnx does
    label, proba = session.run(None, {"X": X[:7]})
    np.testing.assert_array_equal(label, pipe.predict(X[:7]))
    as_array = np.array([[row[c] for c in pipe.classes_] for row in proba])
    np.testing.assert_allclose(as_array, pipe.predict_proba(X[:7]), rtol=0, atol=1e-5)


def test_binary_network_becomes_one_logistic_output():
    X, y = _classification("strings")
    pipe = make_pipeline(StandardScaler(), ECPrunedMLPClassifier(**FAST)).fit(X, y)
    assert pipe[-1].n_outputs_ == 2  # two logits and a softmax in the estimator
    onx = to_onnx(pipe, X[:1].astype(np.float32), options={id(pipe[-1]): {"zipmap": False}})
    assert "Sigmoid" in {node.op_type for node in onx.graph.node}
    assert "Softmax" not in {node.op_type for node in onx.graph.node}


@pytest.mark.parametrize(
    "n_targets, standardize_target",
    [(1, True), (1, False), (2, True)],
    ids=["standardized", "raw", "two-outputs"],
)
def test_regressor_pipeline_matches_predict(n_targets, standardize_target):
    X, y = make_regression(200, 6, n_targets=n_targets, noise=1.0, random_state=0)
    y = y + 50  # a mean for the standardisation to fold in
    reg = ECPrunedMLPRegressor(standardize_target=standardize_target, **FAST)
    pipe = make_pipeline(StandardScaler(), reg).fit(X, y)
    X = X.astype(np.float32)
    onx = to_onnx(pipe, X[:1])
    assert [out.name for out in onx.graph.output] == ["variable"]
    session = _session(onx)
    for n in BATCHES:
        (prediction,) = session.run(None, {"X": X[:n]})
        assert prediction.dtype == np.float32
        assert prediction.shape == (n, n_targets)
        expected = pipe.predict(X[:n]).reshape(n, n_targets)
        np.testing.assert_allclose(prediction, expected, rtol=1e-5, atol=1e-5)


def test_poisson_regressor_takes_the_exponential():
    X, y = make_regression(200, 6, random_state=0)
    y = np.abs(y) / 10
    pipe = make_pipeline(StandardScaler(), ECPrunedMLPRegressor(loss="poisson", **FAST)).fit(X, y)
    X = X.astype(np.float32)
    (prediction,) = _session(to_onnx(pipe, X[:1])).run(None, {"X": X[:7]})
    np.testing.assert_allclose(prediction.ravel(), pipe.predict(X[:7]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n_labels", [2, 3])
def test_multilabel_classifier(n_labels):
    X, Y = make_multilabel_classification(150, 8, n_classes=n_labels, random_state=0)
    clf = ECPrunedMLPClassifier(**FAST).fit(X, Y)
    X = X.astype(np.float32)
    onx = to_onnx(clf, X[:1], options={id(clf): {"zipmap": False}})
    label, proba = _session(onx).run(None, {"X": X[:7]})
    np.testing.assert_array_equal(label, clf.predict(X[:7]))
    np.testing.assert_allclose(proba, clf.predict_proba(X[:7]), rtol=0, atol=1e-5)


def test_unsupported_networks_raise_clearly():
    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 8),
        torch.nn.ReLU(),
        torch.nn.Linear(8, 8),
        torch.nn.Tanh(),
        torch.nn.Linear(8, 3),
    )
    mixed = ECPrunedMLPClassifier(module=net, max_epochs=2, random_state=0).fit(X, y)
    with pytest.raises(NotImplementedError, match="same activation"):
        to_onnx(mixed, X[:1])
    raw = ECPrunedMLPClassifier(predict_nonlinearity=None, max_epochs=2, random_state=0)
    with pytest.raises(NotImplementedError, match="predict_nonlinearity"):
        to_onnx(raw.fit(X, y), X[:1])


def test_register_converters_is_idempotent():
    register_converters()
    register_converters()
    X, y = load_iris(return_X_y=True)
    clf = ECPrunedMLPClassifier(max_epochs=2, random_state=0).fit(X, y)
    assert to_onnx(clf, X[:1].astype(np.float32)) is not None
