"""scikit-learn's own MLP tests, run on the estimators here with the class names swapped.

The installed scikit-learn's ``sklearn/neural_network/tests/test_mlp.py`` is loaded twice
with ``MLPClassifier`` and ``MLPRegressor`` bound to this package's estimators: as they
are (the default ``sparsity=0.8``) and with ``sparsity=0`` by default (the dense
network, which is what scikit-learn's tests were written for). Every test runs; the
ones that cannot pass here are expected failures (strict: one that starts passing is
reported), each with its reason.
"""

from __future__ import annotations

import inspect
import pathlib
import types

import pytest
import sklearn

from sklearn_ecprune import ECPrunedMLPClassifier, ECPrunedMLPRegressor

SOURCE = pathlib.Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor"

# Tests of scikit-learn's private attributes, or of what only its numpy solver has.
CANNOT_APPLY = {
    "test_gradient": "calls scikit-learn's private _loss_grad_lbfgs (its numpy "
    "backpropagation); the gradients here are torch's autograd",
    "test_learning_rate_warmstart": "reads scikit-learn's private _optimizer; the rate "
    "here is optimizer_.param_groups[0]['lr']",
    "test_adaptive_learning_rate": "reads scikit-learn's private _optimizer; the rate "
    "here is optimizer_.param_groups[0]['lr']",
    "test_n_iter_no_change": "reads scikit-learn's private _no_improvement_count",
    "test_n_iter_no_change_inf": "reads scikit-learn's private _no_improvement_count "
    "(its n_iter_ == max_iter passes)",
    "test_fit": "seeds scikit-learn's private solver state (_coef_velocity, "
    "_no_improvement_count, ...) on an unfitted estimator, in its layout of a binary "
    "classifier as one logistic unit (coefs_[1] of shape (2, 1)); the classifier here "
    "has a softmax output per class",
}
# At the default sparsity: what pruning 80 % of the weights changes.
PRUNED = {
    "test_lbfgs_regression": "lbfgs: a training R^2 above 0.98 on noisy targets "
    "(memorising the noise); with 20 % of the weights 0.88-0.92 (0.998 dense)",
    "test_multilabel_classification": "lbfgs: a training subset accuracy above 0.97 "
    "(memorising 50 rows); 0.84 with 20 % of the weights",
    "test_predict_proba_multilabel": "lbfgs: every training label right (memorising "
    "50 rows); 4 of 250 wrong with 20 % of the weights",
    "test_mlp_vs_poisson_glm_equivalent": "lbfgs: a 1-1-1 network equal to a GLM; "
    "pruned to 80 % it keeps a single weight",
    "test_partial_fit_regression": "fit prunes once, after its dense epochs, and "
    "fine-tunes; partial_fit prunes after its first call (every call leaves the "
    "network at its sparsity): above sparsity 0 the two cannot be equal",
}


def _with_sparsity(cls: type, sparsity: float) -> type:
    """A subclass whose ``sparsity`` defaults to ``sparsity`` (the rest unchanged)."""

    def __init__(self, module=None, *, sparsity=sparsity, **kwargs):
        cls.__init__(self, module, sparsity=sparsity, **kwargs)

    signature = inspect.signature(cls.__init__)
    __init__.__signature__ = signature.replace(
        parameters=[
            p.replace(default=sparsity) if p.name == "sparsity" else p
            for p in signature.parameters.values()
        ]
    )
    name = f"Dense{cls.__name__}"
    return type(name, (cls,), {"__init__": __init__, "__module__": __name__})


DenseECPrunedMLPClassifier = _with_sparsity(ECPrunedMLPClassifier, 0.0)
DenseECPrunedMLPRegressor = _with_sparsity(ECPrunedMLPRegressor, 0.0)


def _load(variant: str, classifier: type, regressor: type, expected: dict[str, str]) -> None:
    """scikit-learn's tests with its classes replaced, as tests of this module."""
    source = SOURCE.read_text()
    assert IMPORT in source, f"{SOURCE} no longer imports the MLP classes as expected"
    module = types.ModuleType(f"sklearn_test_mlp_{variant}")
    module.__file__ = str(SOURCE)
    module.MLPClassifier, module.MLPRegressor = classifier, regressor
    exec(compile(source.replace(IMPORT, ""), str(SOURCE), "exec"), vars(module))
    for name, test in vars(module).items():
        if name.startswith("test_") and inspect.isfunction(test):
            if name in expected:
                test = pytest.mark.xfail(reason=expected[name], strict=True)(test)
            globals()[f"{name}__{variant}"] = test


@pytest.fixture
def global_random_seed() -> int:
    """scikit-learn's fixture, at its default seed."""
    return 42


_load("sparsity_default", ECPrunedMLPClassifier, ECPrunedMLPRegressor, CANNOT_APPLY | PRUNED)
_load("sparsity_0", DenseECPrunedMLPClassifier, DenseECPrunedMLPRegressor, CANNOT_APPLY)


def test_the_suite_is_loaded_whole():
    tests = [name for name in globals() if name.startswith("test_") and "__" in name]
    assert len(tests) == 2 * len({name.split("__")[0] for name in tests}) >= 2 * 40
    assert set(CANNOT_APPLY) | set(PRUNED) <= {name.split("__")[0] for name in tests}
