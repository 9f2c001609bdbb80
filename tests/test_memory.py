"""``memory=``: the dense phase is cached on disk, never stale, and shared by workers."""

import importlib
import sys
import textwrap

import _networks
import joblib
import numpy as np
import pytest
import torch
from _networks import DenseTrainingCounter, dense_trainings
from sklearn.model_selection import GridSearchCV
from torch import nn

from sklearn_ecprune import ECPrunedMLPClassifier

FAST = {**_networks.FAST, "max_epochs": 15, "random_state": 0}


def fit(X, y, **params):
    return ECPrunedMLPClassifier(**{**FAST, **params}).fit(X, y)


def test_cached_fit_equals_an_uncached_one_also_after_partial_fit(iris, tmp_path):
    X, y = iris
    folder = tmp_path / "counts"
    counter = DenseTrainingCounter(folder)
    params = dict(fine_tune_epochs=0, callbacks=[("count", counter)])
    fit(X, y, sparsity=0.3, memory=tmp_path / "cache", **params)  # fills the cache
    cached = fit(X, y, sparsity=0.6, memory=str(tmp_path / "cache"), **params)
    fresh = fit(X, y, sparsity=0.6, memory=None, **params)
    assert dense_trainings(folder) == 2  # the first fit and the uncached one
    np.testing.assert_array_equal(cached.predict_proba(X), fresh.predict_proba(X))
    assert len(cached.history_) == len(fresh.history_)
    # The optimizer state and the shuffling generator were restored as well.
    for net in (cached, fresh):
        net.partial_fit(X, y)
    np.testing.assert_array_equal(cached.predict_proba(X), fresh.predict_proba(X))


def test_joblib_memory_object_is_accepted(iris, tmp_path):
    X, y = iris
    memory = joblib.Memory(tmp_path, verbose=0)
    a = fit(X, y, sparsity=0.5, memory=memory)
    b = fit(X, y, sparsity=0.5, memory=memory)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_no_cache_without_a_random_state(iris, tmp_path):
    X, y = iris
    fit(X, y, random_state=None, memory=tmp_path)
    assert not list(tmp_path.rglob("output.pkl"))


# --- never stale: whatever changes dense training changes the key ----------------------


def _write_module(folder, activation: str, width: int = 8):
    (folder / "user_net.py").write_text(
        textwrap.dedent(
            f"""
            import torch
            from torch import nn

            class Net(nn.Module):
                width = {width}

                def __init__(self):
                    super().__init__()
                    self.inner = nn.Linear(4, self.width)
                    self.outer = nn.Linear(self.width, 3)

                def forward(self, x):
                    return self.outer(torch.{activation}(self.inner(x)))
            """
        )
    )


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A user's module file that a test rewrites, as a notebook cell is re-run."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def load(activation, width=8):
        _write_module(tmp_path, activation, width)
        sys.modules.pop("user_net", None)
        importlib.invalidate_caches()
        return importlib.import_module("user_net").Net

    yield load
    sys.modules.pop("user_net", None)


def counted(tmp_path):
    """Parameters that cache in tmp_path and count the dense trainings."""
    return dict(
        memory=tmp_path / "cache",
        callbacks=[("count", DenseTrainingCounter(tmp_path / "counts"))],
    )


def test_a_module_class_redefined_under_the_same_name_is_retrained(iris, tmp_path, user_module):
    X, y = iris
    relu = user_module("relu")
    fit(X, y, module=relu, **counted(tmp_path))
    fit(X, y, module=relu, sparsity=0.5, **counted(tmp_path))  # served from the cache
    assert dense_trainings(tmp_path / "counts") == 1
    tanh = user_module("tanh")
    assert relu.__qualname__ == tanh.__qualname__ and relu.__module__ == tanh.__module__
    cached = fit(X, y, module=tanh, **counted(tmp_path))
    assert dense_trainings(tmp_path / "counts") == 2
    fresh = fit(X, y, module=tanh)
    np.testing.assert_array_equal(cached.predict_proba(X), fresh.predict_proba(X))


def test_a_changed_class_attribute_is_retrained(iris, tmp_path, user_module):
    X, y = iris
    net = user_module("relu", width=8)
    fit(X, y, module=net, **counted(tmp_path))
    net.width = 12
    cached = fit(X, y, module=net, **counted(tmp_path))
    assert dense_trainings(tmp_path / "counts") == 2
    assert cached.module_.inner.out_features == 12


class OffsetNet(nn.Module):
    """A module taking an array: its repr elides the middle of long arrays."""

    def __init__(self, offsets=None):
        super().__init__()
        self.inner = nn.Linear(4, 8)
        self.outer = nn.Linear(8, 3)
        self.register_buffer("offsets", torch.as_tensor(offsets, dtype=torch.float32)[:8])

    def forward(self, x):
        return self.outer(torch.relu(self.inner(x) + self.offsets))


def test_arrays_that_print_alike_are_different_keys(iris, tmp_path):
    X, y = iris
    first = np.ones(2000)
    second = first.copy()
    second[3] = 2.0  # one of the 8 entries the module uses, where repr shows "..."
    assert repr(first) == repr(second)  # the blind spot of a repr-based key
    fit(X, y, module=OffsetNet, module__offsets=first, **counted(tmp_path))
    fit(X, y, module=OffsetNet, module__offsets=first.copy(), sparsity=0.5, **counted(tmp_path))
    assert dense_trainings(tmp_path / "counts") == 1  # equal content: a cache hit
    cached = fit(X, y, module=OffsetNet, module__offsets=second, **counted(tmp_path))
    assert dense_trainings(tmp_path / "counts") == 2
    fresh = fit(X, y, module=OffsetNet, module__offsets=second)
    np.testing.assert_array_equal(cached.predict_proba(X), fresh.predict_proba(X))


def test_criterion_weights_that_differ_in_the_fifth_digit_are_different_keys(iris, tmp_path):
    X, y = iris
    weights = [torch.tensor([1.0, 3.00001, 1.0]), torch.tensor([1.0, 3.00004, 1.0])]
    fit(X, y, criterion__weight=weights[0], **counted(tmp_path))
    cached = fit(X, y, criterion__weight=weights[1], **counted(tmp_path))
    assert dense_trainings(tmp_path / "counts") == 2
    fresh = fit(X, y, criterion__weight=weights[1])
    np.testing.assert_array_equal(cached.predict_proba(X), fresh.predict_proba(X))


def test_unreadable_source_is_not_cached_and_says_so(iris, tmp_path):
    X, y = iris
    namespace = {"__name__": "interactive_session"}
    exec(  # a class without a source file, like some interactive sessions
        "from torch import nn\n"
        "class Hidden(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.inner = nn.Linear(4, 3)\n"
        "    def forward(self, x):\n"
        "        return self.inner(x)\n",
        namespace,
    )
    with pytest.warns(UserWarning, match="memory is not used"):
        fit(X, y, module=namespace["Hidden"], memory=tmp_path / "cache")
    assert not list(tmp_path.rglob("output.pkl"))


# --- grid searches: each fold's dense network is trained once, also by workers --------


def test_parallel_grid_search_trains_one_dense_network_per_fold_and_the_refit(iris, tmp_path):
    X, y = iris
    grid = {"sparsity": [0.5, 0.6, 0.7, 0.8, 0.9]}
    scores = {}
    for memory in (None, tmp_path / "cache"):
        folder = tmp_path / ("counts-cached" if memory else "counts-plain")
        net = ECPrunedMLPClassifier(
            **FAST, memory=memory, callbacks=[("count", DenseTrainingCounter(folder))]
        )
        search = GridSearchCV(net, grid, cv=3, n_jobs=2).fit(X, y)
        scores[memory is None] = search.cv_results_["mean_test_score"]
        expected = 5 * 3 + 1 if memory is None else 3 + 1
        assert dense_trainings(folder) == expected
    np.testing.assert_array_equal(scores[True], scores[False])
