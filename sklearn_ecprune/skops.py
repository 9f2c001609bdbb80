"""skops persistence: fitted estimators in a file that loads without pickle.

`skops <https://skops.readthedocs.io>`_ (``skops.io``) stores scikit-learn objects in
a format that is read without pickle, once every type the file names has been
trusted. The estimators cannot go to skops as they are: skorch's ``__getstate__``
pickles their network, loss and optimizer into one bytes attribute that its
``__setstate__`` unpickles (whatever a file held there would be unpickled by
``skops.io.load`` unchecked, whichever types were trusted), and a fit's plan holds
torch tensors, which skops does not store.

:func:`dump` therefore writes every fitted :class:`~sklearn_ecprune.ECPrunedMLPClassifier`
and :class:`~sklearn_ecprune.ECPrunedMLPRegressor`, alone or inside a pipeline (or any
scikit-learn meta-estimator), through a stand-in whose state is numpy arrays and
Python builtins: the parameters, the network's weights and masks, the classes or the
target's scaling, the history and the fit's seeds. Loading the file, with
:func:`load` or with ``skops.io.load(file, trusted=TRUSTED_TYPES)``, rebuilds each
estimator from that state: it predicts exactly as before, ``partial_fit`` and warm
starts continue from it, and its optimizer starts afresh (as after pickling).

``TRUSTED_TYPES`` lists what such a file needs trusted, beyond what skops trusts by
default (numpy, scikit-learn): the two stand-ins and the classes that the
estimators' default parameters name (``optimizer``, ``dataset``, ``iterator_train``,
``iterator_valid``), which loading imports but does not call. Parameters set to other
classes (``optimizer=torch.optim.SGD``, a ``criterion`` class, callbacks) add theirs:
pass them to :func:`load` as ``trusted``, after checking them with
``skops.io.get_untrusted_types``. Only the default network (``module=None``, an
:class:`~sklearn_ecprune.MLPModule`) can be stored.

Examples
--------
>>> import io
>>> import numpy as np
>>> import skops.io
>>> from sklearn.datasets import load_iris
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> from sklearn_ecprune import ECPrunedMLPClassifier
>>> from sklearn_ecprune.skops import TRUSTED_TYPES, dump, load
>>> X, y = load_iris(return_X_y=True)
>>> pipe = make_pipeline(StandardScaler(), ECPrunedMLPClassifier(
...     hidden_layer_sizes=(16,), max_epochs=20, random_state=0)).fit(X, y)
>>> file = io.BytesIO()  # or a path, e.g. "pipe.skops"
>>> dump(pipe, file)
>>> skops.io.get_untrusted_types(data=file.getvalue())  # all in TRUSTED_TYPES
['sklearn_ecprune.skops._ECPrunedMLPClassifierState', 'skorch.dataset.Dataset',
 'torch.optim.adam.Adam', 'torch.utils.data.dataloader.DataLoader']
>>> _ = file.seek(0)
>>> loaded = skops.io.load(file, trusted=TRUSTED_TYPES)  # or load(file)
>>> bool(np.array_equal(loaded.predict_proba(X), pipe.predict_proba(X)))
True
"""

from __future__ import annotations

import json
from typing import Any
from zipfile import ZIP_DEFLATED

import numpy as np

try:
    import skops.io
except ImportError as error:  # pragma: no cover
    raise ImportError(
        "sklearn_ecprune.skops needs skops: pip install 'sklearn-ecprune[skops]'."
    ) from error
import torch
from sklearn.base import BaseEstimator
from sklearn.preprocessing import LabelEncoder
from skorch.history import History

from .engine._report import LayerReport, PruningReport
from .estimators import ECPrunedMLPClassifier, ECPrunedMLPRegressor
from .estimators._plan import FitPlan

__all__ = ["TRUSTED_TYPES", "dump", "load"]

TRUSTED_TYPES: list[str] = [
    "sklearn_ecprune.skops._ECPrunedMLPClassifierState",
    "sklearn_ecprune.skops._ECPrunedMLPRegressorState",
    "skorch.dataset.Dataset",
    "torch.optim.adam.Adam",
    "torch.utils.data.dataloader.DataLoader",
]

# The format of the stand-ins' state; a file of another version is refused.
_FORMAT = 1
# What is kept of a fit's plan (the rest is derived from its seed, or belongs to the fit
# that made it), and of its phases (what n_iter_ and n_fine_tune_iter_ read).
_PLAN_FIELDS = ("dense_n_weights", "dense_epochs", "warm", "incremental", "validates")
_GENERATORS = ("init_generator", "shuffle_generator")
_PHASES_FIELDS = ("phase_", "dense_epochs_", "fine_tune_epochs_")


def dump(obj: Any, file, *, compression: int = ZIP_DEFLATED, compresslevel=None) -> None:
    """Write ``obj`` to a skops file, its estimators stored without pickle.

    ``skops.io.dump`` of ``obj`` in which every :class:`~sklearn_ecprune.ECPrunedMLPClassifier`
    and :class:`~sklearn_ecprune.ECPrunedMLPRegressor` (``obj`` itself, a pipeline's
    step, any scikit-learn estimator's attribute, in lists, tuples and dicts) is
    replaced by a stand-in whose state is numpy arrays and Python builtins. ``obj`` is
    not changed.

    Parameters
    ----------
    obj : object
        What to store: an estimator, a pipeline, ...
    file : str, path or binary file object
        Where to write.
    compression : int, default=zipfile.ZIP_DEFLATED
        The zip compression (skops' own default is ``ZIP_STORED``: the pruned weights
        are zeros, which deflate well).
    compresslevel : int, default=None
        The compression level, as in :class:`zipfile.ZipFile`.

    Returns
    -------
    None

    Raises
    ------
    TypeError
        For an estimator with a ``module`` of its own (only the default
        :class:`~sklearn_ecprune.MLPModule` is stored).

    See Also
    --------
    load : Read the file back.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> from sklearn.datasets import make_regression
    >>> from sklearn_ecprune import ECPrunedMLPRegressor
    >>> from sklearn_ecprune.skops import dump, load
    >>> X, y = make_regression(100, 4, random_state=0)
    >>> reg = ECPrunedMLPRegressor(max_epochs=20, random_state=0).fit(X, y)
    >>> buffer = io.BytesIO()
    >>> dump(reg, buffer)
    >>> _ = buffer.seek(0)
    >>> bool(np.array_equal(load(buffer).predict(X), reg.predict(X)))
    True
    """
    skops.io.dump(_stand_ins(obj, {}), file, compression=compression, compresslevel=compresslevel)


def load(file, *, trusted=()) -> Any:
    """Read a file written by :func:`dump` (or by ``skops.io.dump``).

    ``skops.io.load(file, trusted=TRUSTED_TYPES + trusted)``: skops refuses a file
    naming any other type that it does not trust by default.

    Parameters
    ----------
    file : str, path or binary file object
        The file.
    trusted : sequence of str, default=()
        Types to trust besides ``TRUSTED_TYPES`` (e.g. ``"torch.optim.sgd.SGD"`` for an
        estimator with ``optimizer=torch.optim.SGD``); check them first with
        ``skops.io.get_untrusted_types(file=file)``.

    Returns
    -------
    obj : object
        What was stored, its estimators rebuilt (instances of their own classes).

    Raises
    ------
    skops.io.exceptions.UntrustedTypesFoundException
        If the file names types that are not trusted.

    See Also
    --------
    dump : Write the file.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_ecprune import ECPrunedMLPClassifier
    >>> from sklearn_ecprune.skops import dump, load
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = ECPrunedMLPClassifier(max_epochs=20, random_state=0).fit(X, y)
    >>> buffer = io.BytesIO()
    >>> dump(clf, buffer)
    >>> _ = buffer.seek(0)
    >>> loaded = load(buffer)
    >>> type(loaded).__name__, loaded.sparsity_ == clf.sparsity_
    ('ECPrunedMLPClassifier', True)
    """
    return skops.io.load(file, trusted=[*TRUSTED_TYPES, *trusted])


# ------------------------------------------------------------- the stand-ins
def _stand_ins(obj: Any, memo: dict[int, Any]) -> Any:
    """``obj`` with its estimators replaced by stand-ins; containers copied where changed."""
    if id(obj) in memo:
        return memo[id(obj)]
    stand_in_class = _STAND_INS.get(type(obj))
    result = obj
    if stand_in_class is not None:
        result = object.__new__(stand_in_class)
        vars(result).update(vars(obj))
    elif type(obj) in (list, tuple):
        items = [_stand_ins(item, memo) for item in obj]
        if any(new is not old for new, old in zip(items, obj, strict=True)):
            result = type(obj)(items)
    elif type(obj) is dict:
        items = {key: _stand_ins(value, memo) for key, value in obj.items()}
        if any(items[key] is not value for key, value in obj.items()):
            result = items
    elif isinstance(obj, BaseEstimator) and hasattr(obj, "__dict__"):
        attrs = {key: _stand_ins(value, memo) for key, value in vars(obj).items()}
        if any(attrs[key] is not value for key, value in vars(obj).items()):
            result = object.__new__(type(obj))
            vars(result).update(attrs)
    memo[id(obj)] = result
    return result


class _StandIn:
    """Stores an estimator as numpy arrays and builtins; loads as the estimator itself."""

    _estimator_class: type

    def __getstate__(self) -> dict[str, Any]:
        return _estimator_state(self)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__class__ = self._estimator_class  # loaded, it is the estimator
        _restore(self, state)


class _ECPrunedMLPClassifierState(_StandIn, ECPrunedMLPClassifier):
    """What :func:`dump` writes for an :class:`~sklearn_ecprune.ECPrunedMLPClassifier`."""

    _estimator_class = ECPrunedMLPClassifier


class _ECPrunedMLPRegressorState(_StandIn, ECPrunedMLPRegressor):
    """What :func:`dump` writes for an :class:`~sklearn_ecprune.ECPrunedMLPRegressor`."""

    _estimator_class = ECPrunedMLPRegressor


_STAND_INS = {
    ECPrunedMLPClassifier: _ECPrunedMLPClassifierState,
    ECPrunedMLPRegressor: _ECPrunedMLPRegressorState,
}


def _plain(value: Any) -> Any:
    """A history value JSON cannot write: numpy scalars as Python's, others as text."""
    return value.item() if isinstance(value, np.generic) else str(value)


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy().copy()


def _estimator_state(est) -> dict[str, Any]:
    """The parameters and the fitted state, as numpy arrays and builtins."""
    name = type(est)._estimator_class.__name__
    state: dict[str, Any] = {"format": _FORMAT, "params": est.get_params(deep=False)}
    if not est.__sklearn_is_fitted__():
        return state
    if est.module is not None:
        raise TypeError(
            f"sklearn_ecprune.skops stores a {name} with the default network (module=None) "
            f"only; this one has module={est.module!r}. Pickle it, or save its parameters "
            "with save_params."
        )
    plan = est._plan_
    if plan.training:
        raise RuntimeError(f"A {name} cannot be stored while it is being fitted.")
    fitted: dict[str, Any] = {
        "n_features_in_": int(est.n_features_in_),
        "n_outputs_": int(est.n_outputs_),
        "fit_dtype": np.dtype(est._attribute_dtype).name,
        "hidden_layer_sizes": [int(width) for width in est.hidden_layer_sizes_],
        "weights": {key: _numpy(value) for key, value in est.module_.state_dict().items()},
        # One JSON string: skops writes a schema entry per value of nested lists.
        "history": json.dumps(list(est.history_), default=_plain),
    }
    if hasattr(est, "feature_names_in_"):
        fitted["feature_names_in_"] = est.feature_names_in_
    if hasattr(est, "masks_"):
        report = est.pruning_report_
        extra = report.extra
        try:
            json.dumps(extra)
        except TypeError:
            extra = {}  # what is not plain data stays behind
        fitted["pruning"] = {
            "masks": {key: _numpy(mask) for key, mask in est.masks_.items()},
            "sparsity_": float(est.sparsity_),
            "layers": [
                [row.name, list(row.shape), row.n_weights, row.n_kept, row.mean_abs_bias_shift]
                for row in report.layers
            ],
            "method": report.method,
            "target_sparsity": float(report.target_sparsity),
            "extra": extra,
        }
    phases = dict(est.callbacks_ or ()).get("fit_phases")
    if getattr(phases, "phase_", None) is not None:
        fitted["phases"] = {key: getattr(phases, key) for key in _PHASES_FIELDS}
    fitted["plan"] = {
        "seed": int(plan.seed),
        "holds_out": bool(plan.holds_out),
        "stratified": bool(plan.stratified),
        **{key: getattr(plan, key) for key in _PLAN_FIELDS},
        **{key: _numpy(getattr(plan, key).get_state()) for key in _GENERATORS},
    }
    if isinstance(est, ECPrunedMLPClassifier):
        fitted["classes_"] = est.classes_
        fitted["multilabel"] = bool(est._multilabel)
    else:
        fitted["target_mean"] = np.asarray(est._target_mean_, dtype=np.float64)
        fitted["target_scale"] = np.asarray(est._target_scale_, dtype=np.float64)
        fitted["fit_y_ndim"] = int(est._fit_y_ndim_)
        fitted["log_link"] = bool(est._log_link)
    state["fitted"] = fitted
    return state


def _restore(est, state: dict[str, Any]) -> None:
    """Rebuild ``est`` (of the estimator's class already) from ``_estimator_state``."""
    if state.get("format") != _FORMAT:
        raise ValueError(
            f"This file stores a {type(est).__name__} in format {state.get('format')!r}; "
            f"this version of sklearn_ecprune reads format {_FORMAT}."
        )
    type(est).__init__(est, **state["params"])
    fitted = state.get("fitted")
    if fitted is None:
        return
    est.n_features_in_ = fitted["n_features_in_"]
    if "feature_names_in_" in fitted:
        est.feature_names_in_ = fitted["feature_names_in_"]
    est._fit_dtype_ = np.dtype(fitted["fit_dtype"])
    est.n_outputs_ = fitted["n_outputs_"]
    if isinstance(est, ECPrunedMLPClassifier):
        est._multilabel_ = fitted["multilabel"]
        est._preset_classes_ = None
        est._label_encoder_ = LabelEncoder()
        est._label_encoder_.classes_ = fitted["classes_"]
    else:
        est._target_mean_ = fitted["target_mean"]
        est._target_scale_ = fitted["target_scale"]
        est._fit_y_ndim_ = fitted["fit_y_ndim"]
        est._log_link_ = fitted["log_link"]
    est.initialize()  # network, loss, optimizer, callbacks, as a fit makes them
    sizes = tuple(fitted["hidden_layer_sizes"])
    if est.hidden_layer_sizes_ != sizes:  # neurons were pruned away
        kept, est.hidden_layer_sizes = est.hidden_layer_sizes, sizes
        try:
            est.initialize_module()
        finally:
            est.hidden_layer_sizes = kept
        est.module_.to(est.device)
        est.initialize_optimizer()
    device = next(est.module_.parameters()).device
    est.module_.load_state_dict(
        {key: torch.from_numpy(np.asarray(value)) for key, value in fitted["weights"].items()}
    )
    est.history_ = History(json.loads(fitted["history"]))
    pruning = fitted.get("pruning")
    if pruning is not None:
        est.masks_ = {
            key: torch.from_numpy(np.asarray(mask, dtype=bool)).to(device)
            for key, mask in pruning["masks"].items()
        }
        est.sparsity_ = pruning["sparsity_"]
        est.pruning_report_ = PruningReport(
            [
                LayerReport(name, tuple(shape), n_weights, n_kept, shift)
                for name, shape, n_weights, n_kept, shift in pruning["layers"]
            ],
            pruning["method"],
            pruning["target_sparsity"],
            dict(pruning["extra"]),
        )
    phases = dict(est.callbacks_).get("fit_phases")
    if phases is not None and "phases" in fitted:
        for key in _PHASES_FIELDS:
            setattr(phases, key, fitted["phases"][key])
    stored = fitted["plan"]
    plan = FitPlan(int(stored["seed"]), bool(stored["holds_out"]), bool(stored["stratified"]))
    for key in _PLAN_FIELDS:
        setattr(plan, key, type(getattr(plan, key))(stored[key]))
    for key in _GENERATORS:
        getattr(plan, key).set_state(torch.from_numpy(np.asarray(stored[key], dtype=np.uint8)))
    est._plan_ = plan
    if hasattr(est, "masks_"):
        est._refresh_inference()
