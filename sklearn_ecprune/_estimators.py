"""scikit-learn estimators that train a dense MLP with skorch, then prune it with ECP.

The estimators are thin skorch subclasses: skorch runs the training loops and the
callbacks, the engine (:func:`~sklearn_ecprune.prune_mlp`) prunes. What they add
is scikit-learn's contract: input validation, ``n_features_in_``, arbitrary class
labels, seeding, and parameters that ``clone`` and ``get_params`` see exactly.
"""

from __future__ import annotations

import inspect
import numbers
from contextlib import contextmanager
from types import MappingProxyType

import numpy as np
import torch
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import EarlyStopping
from skorch.dataset import Dataset
from skorch.utils import to_numpy
from torch.utils.data import DataLoader

from ._cache import DenseCache
from ._callbacks import KeepPrunedWeightsZero
from ._methods import PRUNING_METHODS
from ._modules import ACTIVATIONS, MLPModule
from ._pruning import SCOPES, prune_mlp

__all__ = ["ECPrunedMLPClassifier", "ECPrunedMLPRegressor"]


# Parameters that act after dense training: a fit differing only in these can
# reuse a cached dense network.
_AFTER_DENSE_PARAMS = frozenset(
    {
        "sparsity",
        "pruning",
        "scope",
        "n_steps",
        "compensate",
        "fine_tune_epochs",
        "calibration_size",
        "verbose",
        "cache_dense",
    }
)
DENSE_CACHE = DenseCache()


def _silent(*args, **kwargs) -> None:
    """A sink that prints nothing (a module-level function, so it pickles)."""


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


class _ECPrunedMixin:
    """Fit = train dense, prune to ``sparsity``, fine-tune with the masks enforced."""

    # skorch reads these before ``initialize``; as class attributes they keep
    # ``__init__`` down to assigning parameters, as scikit-learn requires.
    initialized_ = False
    history_ = None
    virtual_params_ = MappingProxyType({})

    def __init__(
        self,
        module=None,
        *,
        hidden_layer_sizes=(100,),
        activation="relu",
        sparsity=0.8,
        pruning="ecp-ls",
        scope="global",
        n_steps=10,
        compensate=None,
        fine_tune_epochs=10,
        calibration_size=2048,
        random_state=None,
        cache_dense=True,
        tol=1e-4,
        n_iter_no_change=10,
        criterion=None,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=200,
        batch_size=200,
        iterator_train=DataLoader,
        iterator_valid=DataLoader,
        dataset=Dataset,
        train_split=None,
        callbacks=None,
        predict_nonlinearity="auto",
        warm_start=False,
        verbose=0,
        device="cpu",
        compile=False,
        use_caching="auto",
        torch_load_kwargs=None,
        **kwargs,
    ):
        self.module = module
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.sparsity = sparsity
        self.pruning = pruning
        self.scope = scope
        self.n_steps = n_steps
        self.compensate = compensate
        self.fine_tune_epochs = fine_tune_epochs
        self.calibration_size = calibration_size
        self.random_state = random_state
        self.cache_dense = cache_dense
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.criterion = criterion
        self.optimizer = optimizer
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.iterator_train = iterator_train
        self.iterator_valid = iterator_valid
        self.dataset = dataset
        self.train_split = train_split
        self.callbacks = callbacks
        self.predict_nonlinearity = predict_nonlinearity
        self.warm_start = warm_start
        self.verbose = verbose
        self.device = device
        self.compile = compile
        self.use_caching = use_caching
        self.torch_load_kwargs = torch_load_kwargs
        # skorch's routed parameters (module__*, optimizer__*, ...), checked at fit.
        self._params_to_validate = set(kwargs)
        vars(self).update(kwargs)

    # ------------------------------------------------------------------ params
    def _get_param_names(self):
        # The constructor's parameters plus the extra keyword arguments skorch keeps
        # as attributes (module__*, optimizer__*, ...; unknown ones fail at fit).
        # skorch's own version also returns private attributes.
        init = inspect.signature(type(self).__init__).parameters.values()
        named = {p.name for p in init if p.name != "self" and p.kind != p.VAR_KEYWORD}
        extra = {key for key in vars(self) if not key.startswith("_") and not key.endswith("_")}
        return sorted(named | extra)

    def set_params(self, **params):
        """Set parameters, scikit-learn style: stored now, used by the next fit.

        skorch's routed parameters (``module__*``, ``optimizer__*``,
        ``callbacks__*``, ...) are accepted and checked at fit. Unlike skorch,
        nothing is re-initialised here, so a fitted estimator stays consistent
        until it is fitted again; only the optimizer's live settings
        (``optimizer__lr`` and the like) are updated in place, as in skorch.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : object
            The estimator.
        """
        valid = set(self._get_param_names())
        for key, value in params.items():
            if "__" in key:
                self._params_to_validate.add(key)
            elif key not in valid:
                raise ValueError(
                    f"Invalid parameter {key!r} for estimator {type(self).__name__}. "
                    f"Valid parameters are: {sorted(valid)!r}."
                )
            setattr(self, key, value)
        if self.initialized_:
            self._apply_virtual_params(
                {k: v for k, v in params.items() if self._is_virtual_param(k)}
            )
        return self

    def initialize_criterion(self):
        """The training loss; ``criterion=None`` means the estimator's default."""
        criterion = self._default_criterion if self.criterion is None else self.criterion
        self.criterion_ = self.initialized_instance(criterion, self.get_params_for("criterion"))
        return self

    @property
    def _default_callbacks(self):
        monitor = "train_loss" if self.train_split is None else "valid_loss"
        return [
            *super()._default_callbacks,
            (
                "early_stopping",
                EarlyStopping(
                    monitor=monitor,
                    patience=self.n_iter_no_change,
                    threshold=self.tol,
                    threshold_mode="abs",
                    sink=print if self.verbose else _silent,
                ),
            ),
            ("keep_pruned_weights_zero", KeepPrunedWeightsZero()),
        ]

    def _validate_hyperparameters(self) -> None:
        """Check the parameters this package adds; messages name the parameter."""
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if _is_int(sizes) else sizes
        if not isinstance(sizes, tuple | list) or not all(_is_int(s) and s > 0 for s in sizes):
            raise ValueError(
                "hidden_layer_sizes must be a tuple of positive integers, got "
                f"{self.hidden_layer_sizes!r}."
            )
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}."
            )
        sparsity = self.sparsity
        if (
            not isinstance(sparsity, numbers.Real)
            or isinstance(sparsity, bool)
            or not (0.0 <= sparsity < 1.0)
        ):
            raise ValueError(
                "sparsity must be a float in [0, 1) (the fraction of weights to remove), "
                f"got {sparsity!r}."
            )
        if self.pruning not in PRUNING_METHODS:
            raise ValueError(
                f"pruning must be one of {sorted(PRUNING_METHODS)}, got {self.pruning!r}."
            )
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {list(SCOPES)}, got {self.scope!r}.")
        for name in ("n_steps", "max_epochs", "n_iter_no_change"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if not _is_int(self.fine_tune_epochs) or self.fine_tune_epochs < 0:
            raise ValueError(
                f"fine_tune_epochs must be a non-negative integer, got {self.fine_tune_epochs!r}."
            )
        if self.compensate not in (None, True, False):
            raise ValueError(f"compensate must be None, True or False, got {self.compensate!r}.")
        if self.calibration_size is not None and (
            not _is_int(self.calibration_size) or self.calibration_size < 1
        ):
            raise ValueError(
                "calibration_size must be None or a positive integer, got "
                f"{self.calibration_size!r}."
            )
        if not isinstance(self.tol, numbers.Real) or not self.tol >= 0:
            raise ValueError(f"tol must be a non-negative float, got {self.tol!r}.")

    # -------------------------------------------------------------------- data
    def _validate_X(self, X, *, reset: bool) -> np.ndarray:
        return validate_data(self, X, reset=reset, dtype=np.float32)

    def _validate_X_y(self, X, y, *, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        X, y = validate_data(self, X, y, reset=reset, dtype=np.float32, **self._y_validation)
        return X, self._encode_target(y, reset=reset)

    def _forward_numpy(self, X) -> np.ndarray:
        """The network's output on X (after the predict non-linearity), as numpy."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        nonlinearity = self._get_predict_nonlinearity()
        # A DataLoader draws a base seed even when it does not shuffle: keep the
        # caller's random state as it was.
        with torch.random.fork_rng(devices=[]):
            return np.concatenate(
                [to_numpy(nonlinearity(out)) for out in self.forward_iter(X, training=False)]
            )

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "masks_")

    # ---------------------------------------------------------------- training
    @contextmanager
    def _seeded(self, seed: int):
        """Seed torch (initialisation, shuffling) without touching the caller's RNG."""
        if self.random_state is None:
            yield
            return
        device = torch.device(self.device) if self.device is not None else None
        devices = [device.index or 0] if device is not None and device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield

    def _draw_seed(self) -> int:
        if _is_int(self.random_state):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def initialize_module(self):
        """Build the default :class:`MLPModule` sized from the data, or the user's module."""
        kwargs = self.get_params_for("module")
        if self.module is not None:
            self.module_ = self.initialized_instance(self.module, kwargs)
            return self
        if not hasattr(self, "n_features_in_"):
            raise ValueError(
                "The default MLPModule is sized from the training data: call fit, or "
                "pass a module."
            )
        sizes = self.hidden_layer_sizes
        defaults = {
            "hidden_layer_sizes": (sizes,) if _is_int(sizes) else tuple(sizes),
            "activation": self.activation,
        }
        self.module_ = MLPModule(
            n_features=self.n_features_in_, n_outputs=self.n_outputs_, **{**defaults, **kwargs}
        )
        return self

    def get_iterator(self, dataset, training=False):
        """skorch's iterator, shuffling training batches unless told otherwise."""
        if training and "iterator_train__shuffle" not in vars(self):
            kwargs = {**self.get_params_for("iterator_train"), "shuffle": True}
            kwargs.setdefault("batch_size", self.batch_size)
            if kwargs["batch_size"] == -1:
                kwargs["batch_size"] = len(dataset)
            return self.iterator_train(dataset, **kwargs)
        return super().get_iterator(dataset, training=training)

    def _train(self, X, y, epochs: int, **fit_params) -> None:
        """skorch's training loop for ``epochs`` epochs (early stopping may end it)."""
        self.notify("on_train_begin", X=X, y=y)
        try:
            self.fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt:  # how skorch's EarlyStopping ends training
            pass
        self.notify("on_train_end", X=X, y=y)

    def _prune(self, X: np.ndarray, y: np.ndarray, seed: int) -> None:
        """Prune ``module_`` to ``sparsity`` on a seeded calibration subsample."""
        n = X.shape[0]
        if self.calibration_size is not None and self.calibration_size < n:
            rng = np.random.default_rng(seed)
            rows = np.sort(rng.choice(n, size=self.calibration_size, replace=False))
            X, y = X[rows], y[rows]
        X_t = torch.as_tensor(X)
        y_t = torch.as_tensor(y)
        device = next(self.module_.parameters()).device
        criterion = self.criterion_

        def loss_fn(output, target):
            return criterion(output, target.to(device))

        # Every Linear layer is pruned. Already pruned weights stay pruned: fit with
        # warm_start, and partial_fit, only ever add to the masks.
        result = prune_mlp(
            self.module_,
            X_t,
            self.sparsity,
            method=self.pruning,
            scope=self.scope,
            n_steps=self.n_steps,
            compensate=self.compensate,
            y=y_t,
            loss_fn=loss_fn,
            random_state=seed,
        )
        self.masks_ = result.masks
        self.pruning_report_ = result.report
        if self.verbose:
            print(f"Pruned with {self.pruning!r} to sparsity {result.sparsity:.2%}:")
            print(result.report)

    def _update_sparsity(self) -> None:
        modules = dict(self.module_.named_modules())
        weights = [modules[name].weight for name in self.masks_]
        n_zero = sum(int((w == 0).sum()) for w in weights)
        self.sparsity_ = n_zero / sum(w.numel() for w in weights)

    def fit(self, X, y, **fit_params):
        """Train the dense network, prune it to ``sparsity``, then fine-tune.

        With ``warm_start=True`` a fitted network is trained further with its masks
        kept, then pruned to ``sparsity`` (its pruned weights stay pruned).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Training inputs; converted to float32 once.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        **fit_params : dict
            Passed on to skorch's training loop.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._validate_hyperparameters()
        warm = bool(self.warm_start) and self.__sklearn_is_fitted__()
        X, y = self._validate_X_y(X, y, reset=not warm)
        seed = self._draw_seed()
        with self._seeded(seed):
            if not warm:
                # A refit starts dense: the old masks must not bind the new network.
                vars(self).pop("masks_", None)
                self.initialize()
            key = None if warm or fit_params else self._dense_cache_key(X, y)
            if key is not None and DENSE_CACHE.restore(key, self):
                if self.verbose:
                    print(
                        "Reusing the dense network trained on the same data with the "
                        "same parameters (cache_dense=True)."
                    )
            else:
                self._train(X, y, self.max_epochs, **fit_params)
                if key is not None:
                    DENSE_CACHE.store(key, self)
            self._prune(X, y, seed)
            if self.fine_tune_epochs and self.sparsity > 0:
                # Fresh optimizer state: the dense run's momentum would push on the
                # pruned weights, and the compensated network is a new start point.
                self.initialize_optimizer()
                self._train(X, y, self.fine_tune_epochs, **fit_params)
        self._update_sparsity()
        return self

    def _dense_cache_key(self, X: np.ndarray, y: np.ndarray) -> str | None:
        """Key of this fit's dense network, or None when it must not be cached.

        Only deterministic fits are cached: an integer ``random_state`` and a module
        given as a class (an instance carries weights that the key cannot see).
        """
        if not self.cache_dense or not _is_int(self.random_state):
            return None
        if isinstance(self.module, torch.nn.Module):
            return None
        params = {
            k: v for k, v in self.get_params(deep=False).items() if k not in _AFTER_DENSE_PARAMS
        }
        return DENSE_CACHE.key(self, X, y, params)

    def _partial_fit(self, X, y, classes=None, **fit_params):
        self._validate_hyperparameters()
        fitted = self.__sklearn_is_fitted__()
        if not fitted and classes is not None:
            self._preset_classes = np.asarray(classes)
        X, y = self._validate_X_y(X, y, reset=not fitted)
        seed = self._draw_seed()
        with self._seeded(seed):
            if not fitted:
                self.initialize()
            self._train(X, y, 1, **fit_params)
            if not fitted or self._current_sparsity() < self.sparsity:
                self._prune(X, y, seed)
        self._update_sparsity()
        return self

    def _current_sparsity(self) -> float:
        self._update_sparsity()
        return self.sparsity_

    # ---------------------------------------------------------------- sklearn
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        tags.input_tags.allow_nan = False
        return tags


_PARAMS_DOC = """
    module : torch.nn.Module class or instance, default=None
        The network. ``None`` builds an :class:`MLPModule` from
        ``hidden_layer_sizes`` and ``activation``, sized from the data at fit.
        A user module must consist of ``nn.Linear`` layers (and activations);
        its Linear layers are pruned.
    hidden_layer_sizes : tuple of int, default=(100,)
        Width of each hidden layer of the default module.
    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        Activation of the default module's hidden layers.
    sparsity : float in [0, 1), default=0.8
        Fraction of the weights of the Linear layers set to zero after training.
        Biases are not pruned and do not count.
    pruning : str, default="ecp-ls"
        The pruning criterion, a key of :data:`~sklearn_ecprune.PRUNING_METHODS`.
        The default ``"ecp-ls"`` ranks weights by ECP, then refits each row's
        kept weights and bias by least squares; it had the lowest test loss in
        the benchmarks (see the docs). ``"ecp"`` is the paper's method (bias
        shift only); ``"ecp-obs"`` ranks by the error left after the refit;
        ``"magnitude"``, ``"gradient"``, ``"obd"``, ``"wanda"``, ``"random"`` and
        ``"nonlinear"`` are the baselines.
    scope : {"global", "layer"}, default="global"
        One threshold across layers, or the same ratio in every layer.
    n_steps : int, default=10
        Steps of the geometric pruning schedule; the statistics are recomputed on
        the partly pruned network at each step. ``1`` is one-shot pruning, which
        can collapse a layer at 90 % sparsity and above. The cost grows linearly
        with the steps; in the quality benchmark 10 steps had a lower loss than 5
        and about the same as 20.
    compensate : bool or None, default=None
        Shift the biases to compensate removed weights; ``None`` uses the
        method's default (on for the ECP methods). ``"ecp-ls"`` always
        compensates through its refit, and rejects ``False``.
    fine_tune_epochs : int, default=10
        Epochs of training after pruning, with the pruned weights held at zero.
    calibration_size : int or None, default=2048
        Most training samples used for the pruning statistics (a seeded
        subsample); ``None`` uses all.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, the shuffling and the calibration subsample.
        Two fits with the same integer give identical predictions. The global
        torch random state is left as it was.
    cache_dense : bool, default=True
        With an integer ``random_state``, keep the trained dense network in
        memory (the last 64, at most 256 MB of weights) and reuse it in a later
        fit on the same data with the same training parameters: a grid search
        over ``sparsity`` or the pruning method then trains each fold's dense
        network once. The result is identical to training again. Fits with a
        module instance, with ``warm_start``, or with parameters whose text form
        changes from copy to copy (e.g. callback instances) are not cached.
    tol : float, default=1e-4
        Early stopping: training stops when the monitored loss has not improved
        by ``tol`` for ``n_iter_no_change`` epochs (as in scikit-learn's MLP).
    n_iter_no_change : int, default=10
        Patience of the early stopping.
    criterion : torch loss class or None, default=None
        The training loss; ``None`` means ``{criterion}``.
    optimizer : torch optimizer class, default=torch.optim.Adam
        The optimizer; its options are routed with ``optimizer__*``.
    lr : float, default=1e-3
        Learning rate.
    max_epochs : int, default=200
        Most epochs of dense training.
    batch_size : int, default=200
        Mini-batch size.
    train_split : callable or None, default=None
        skorch's validation split (e.g. ``skorch.dataset.ValidSplit(5)``);
        ``None`` trains on all the data.
    callbacks : list or None, default=None
        Extra skorch callbacks.
    verbose : int, default=0
        Print skorch's epoch table and the pruning report.
    warm_start : bool, default=False
        Let ``fit`` continue from the fitted (pruned) network, keeping its masks.
    device : str, default="cpu"
        Torch device to train and predict on.
    iterator_train, iterator_valid, dataset, predict_nonlinearity, compile, \
use_caching, torch_load_kwargs
        As in skorch.
    **kwargs
        skorch's routed parameters: ``module__*``, ``optimizer__*``,
        ``iterator_train__*``, ``callbacks__*`` and so on.
"""

_ATTRIBUTES_DOC = """
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of the features, when X was a DataFrame with string column names.
    masks_ : dict of str to torch.Tensor
        Per pruned layer name, the boolean keep-mask of its weight.
    sparsity_ : float
        Achieved sparsity, counted on the final weights.
    pruning_report_ : PruningReport
        Per-layer table of the pruning (prints as a table, ``.to_frame()``).
    module_ : torch.nn.Module
        The trained and pruned network.
    history_ : skorch.History
        skorch's training history (dense training, then fine-tuning).
"""


class ECPrunedMLPClassifier(_ECPrunedMixin, NeuralNetClassifier):
    __doc__ = f"""Multilayer perceptron classifier pruned with elimination-compensation.

    ``fit`` trains the dense network with skorch's loop, prunes it to
    ``sparsity`` (by default with ECP's ranking and a least-squares refit of the
    kept weights and biases), then fine-tunes it with the pruned weights held at
    zero. A scikit-learn estimator: it works in pipelines,
    ``GridSearchCV`` over ``sparsity``, ``clone`` and pickling.

    Parameters
    ----------{_PARAMS_DOC.replace("{criterion}", "torch.nn.CrossEntropyLoss")}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, of any type (strings, integers, booleans).{_ATTRIBUTES_DOC}
    See Also
    --------
    ECPrunedMLPRegressor : The regressor.
    prune_mlp : The pruning engine for any torch module.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_ecprune import ECPrunedMLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(),
    ...                     ECPrunedMLPClassifier(sparsity=0.8, random_state=0))
    >>> clf.fit(X, y).score(X, y) > 0.9
    True
    >>> round(clf[-1].sparsity_, 2)
    0.8
    """

    _default_criterion = torch.nn.CrossEntropyLoss
    _y_validation = MappingProxyType({})

    @property
    def classes_(self) -> np.ndarray:
        """The class labels seen at fit, in the order of ``predict_proba``'s columns."""
        return self._label_encoder.classes_

    def _encode_target(self, y, *, reset: bool) -> np.ndarray:
        check_classification_targets(y)
        if reset:
            encoder = LabelEncoder()
            preset = getattr(self, "_preset_classes", None)
            encoder.fit(preset if preset is not None else y)
            self._preset_classes = None
            if len(encoder.classes_) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes in the "
                    f"data, but the data contain only one class: {encoder.classes_[0]!r}."
                )
            self._label_encoder = encoder
            self.n_outputs_ = len(encoder.classes_)
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if unseen.size:
            raise ValueError(
                f"y contains labels not seen at the first fit: {unseen.tolist()}; "
                f"known classes are {self.classes_.tolist()}."
            )
        return self._label_encoder.transform(y).astype(np.int64)

    def partial_fit(self, X, y, classes=None, **fit_params):
        """Train one more epoch with the masks kept (and prune if below ``sparsity``).

        On an unfitted estimator the network is initialised, trained one epoch and
        pruned, so that after any call the network is at its target sparsity.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,)
            Labels.
        classes : array-like of shape (n_classes,), default=None
            All the classes, needed on the first call if ``y`` lacks some.
        **fit_params : dict
            Passed on to skorch's training loop.

        Returns
        -------
        self : object
            The estimator.
        """
        return self._partial_fit(X, y, classes=classes, **fit_params)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities (float64, rows sum to one).
        """
        proba = self._forward_numpy(X).astype(np.float64)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """Predicted class labels, of the type seen at fit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]


class ECPrunedMLPRegressor(_ECPrunedMixin, NeuralNetRegressor):
    __doc__ = f"""Multilayer perceptron regressor pruned with elimination-compensation.

    ``fit`` trains the dense network with skorch's loop, prunes it to
    ``sparsity`` (by default with ECP's ranking and a least-squares refit of the
    kept weights and biases), then fine-tunes it with the pruned weights held at
    zero. Takes 1-D or 2-D ``y`` and predicts the same shape.

    Parameters
    ----------{_PARAMS_DOC.replace("{criterion}", "torch.nn.MSELoss")}
    Attributes
    ----------
    n_outputs_ : int
        Number of regression targets.{_ATTRIBUTES_DOC}
    See Also
    --------
    ECPrunedMLPClassifier : The classifier.
    prune_mlp : The pruning engine for any torch module.

    Examples
    --------
    >>> from sklearn.datasets import make_friedman1
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_ecprune import ECPrunedMLPRegressor
    >>> X, y = make_friedman1(n_samples=500, random_state=0)
    >>> reg = make_pipeline(StandardScaler(),
    ...                     ECPrunedMLPRegressor(sparsity=0.5, lr=0.01, random_state=0))
    >>> reg.fit(X, y).score(X, y) > 0.8
    True
    >>> reg.predict(X[:3]).shape
    (3,)
    """

    _default_criterion = torch.nn.MSELoss
    _y_validation = MappingProxyType({"multi_output": True, "y_numeric": True})

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _encode_target(self, y, *, reset: bool) -> np.ndarray:
        y = np.asarray(y, dtype=np.float32)
        if reset:
            self._fit_y_ndim = y.ndim
            self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        y = y.reshape(len(y), -1)
        if y.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {y.shape[1]} outputs, but {type(self).__name__} was fitted with "
                f"{self.n_outputs_}."
            )
        return y

    def partial_fit(self, X, y, **fit_params):
        """Train one more epoch with the masks kept (and prune if below ``sparsity``).

        On an unfitted estimator the network is initialised, trained one epoch and
        pruned, so that after any call the network is at its target sparsity.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        **fit_params : dict
            Passed on to skorch's training loop.

        Returns
        -------
        self : object
            The estimator.
        """
        return self._partial_fit(X, y, **fit_params)

    def predict(self, X) -> np.ndarray:
        """Predicted targets, of the shape ``y`` had at fit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions (float64).
        """
        output = self._forward_numpy(X).astype(np.float64)
        return output.ravel() if self._fit_y_ndim == 1 else output

    @property
    def predict_proba(self):
        """Not available: a regressor has no class probabilities."""
        raise AttributeError("ECPrunedMLPRegressor has no predict_proba; use predict.")
