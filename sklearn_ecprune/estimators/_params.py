"""The estimators' parameters: their constraints, checked in one place, and ``set_params``."""

from __future__ import annotations

import functools
import inspect
import numbers
from types import MappingProxyType
from typing import Any, ClassVar

import torch
from sklearn.base import BaseEstimator
from skorch.callbacks import Callback
from skorch.dataset import Dataset
from torch.utils.data import DataLoader

from ..engine._methods import DEFAULT_METHOD
from ..engine._prune import PruneConfig
from ..engine._validation import (
    BATCH_SIZE,
    FINITE_NON_NEGATIVE_FLOAT,
    POSITIVE_INT,
    Interval,
    Options,
    check_param,
    validate_params,
)
from ._constraints import (
    DEFAULT_HIDDEN_LAYER_SIZES,
    DEFAULT_MAX_EPOCHS,
    HIDDEN_LAYER_SIZES,
    MEMORY,
    NON_NEGATIVE_FLOAT,
    NON_NEGATIVE_INT,
    RANDOM_STATE,
)
from ._module import ACTIVATIONS

__all__ = ["AFTER_DENSE_PARAMS", "PRUNING_PARAMS", "ParamsMixin"]

# Parameters that act only after dense training: fits that differ only in these share
# their dense phase under ``memory``.
AFTER_DENSE_PARAMS = frozenset(
    {
        "sparsity",
        "pruning",
        "scope",
        "n_steps",
        "compensate",
        "pruning_params",
        "pruning_unit",
        "pruning_schedule",
        "inference",
        "fine_tune_epochs",
        "calibration_size",
        "verbose",
        "memory",
    }
)
# prune_mlp's options that have no parameter of their own on the estimators.
PRUNING_PARAMS = ("min_density", "sequential", "ridge", "cg_iterations", "batch_size", "output_fn")
NEURON_PRUNING_PARAMS = ("batch_size", "output_fn")


class _DeviceConstraint:
    """A torch device that can hold a trained network (not "meta")."""

    def is_satisfied_by(self, value: Any) -> bool:
        if value is None:
            return True
        try:
            device = torch.device(value)
        except (RuntimeError, TypeError, ValueError):
            return False
        if device.type == "cpu":
            return True
        # Only a device this machine has: the error then names the parameter, at fit.
        backends = {
            "cuda": torch.cuda,
            "mps": torch.backends.mps,
            "xpu": getattr(torch, "xpu", None),
        }
        module = backends.get(device.type)
        return module is not None and bool(module.is_available())

    def __str__(self) -> str:
        return "a torch device this machine has ('cpu'; 'cuda', 'mps' or 'xpu' where available)"


@functools.cache
def _constructor_parameters(cls: type) -> frozenset[str]:
    init = inspect.signature(cls.__init__).parameters.values()
    return frozenset(p.name for p in init if p.name != "self" and p.kind != p.VAR_KEYWORD)


class _Subclass:
    """A class derived from ``base``, or (with ``instances``) an instance of it."""

    def __init__(self, base: type, what: str, instances: bool = True):
        self.base, self.what, self.instances = base, what, instances

    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, type):
            return issubclass(value, self.base)
        return self.instances and isinstance(value, self.base)

    def __str__(self) -> str:
        kind = f"{self.base.__module__}.{self.base.__qualname__}"
        return f"a {self.what} ({kind} subclass{' or instance' if self.instances else ''})"


class _Callbacks:
    """skorch's callbacks: a list of callbacks or (name, callback) pairs."""

    def is_satisfied_by(self, value: Any) -> bool:
        if not isinstance(value, list | tuple):
            return False
        items = [v[1] if isinstance(v, tuple) and len(v) == 2 else v for v in value]
        return all(
            isinstance(v, Callback) or (isinstance(v, type) and issubclass(v, Callback))
            for v in items
        )

    def __str__(self) -> str:
        return "a list of skorch callbacks or (name, callback) pairs"


_PRUNE_OPTIONS = PruneConfig.constraints()


class ParamsMixin:
    """The constructor, the constraints and ``set_params`` of both estimators."""

    # skorch reads these before ``initialize``; as class attributes they keep
    # ``__init__`` down to assigning parameters, as scikit-learn requires.
    initialized_ = False
    history_ = None
    virtual_params_ = MappingProxyType({})

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "hidden_layer_sizes": HIDDEN_LAYER_SIZES,
        "activation": [Options(str, set(ACTIVATIONS))],
        # The pruning options accept what prune_mlp accepts.
        "sparsity": _PRUNE_OPTIONS["sparsity"],
        "pruning": _PRUNE_OPTIONS["method"],
        "scope": _PRUNE_OPTIONS["scope"],
        "n_steps": _PRUNE_OPTIONS["n_steps"],
        "compensate": _PRUNE_OPTIONS["compensate"],
        "pruning_params": [None, dict],
        "fine_tune_epochs": [*NON_NEGATIVE_INT, Options(str, {"auto"})],
        "pruning_schedule": [Options(str, {"interleaved", "before"})],
        "calibration_size": [None, *POSITIVE_INT],
        "random_state": RANDOM_STATE,
        "memory": MEMORY,
        "tol": NON_NEGATIVE_FLOAT,
        "n_iter_no_change": [*POSITIVE_INT, Interval(numbers.Real, 1, None, closed="left")],
        "max_epochs": POSITIVE_INT,
        "batch_size": [*BATCH_SIZE, Options(int, {-1}), Options(str, {"auto"})],
        "warm_start": ["boolean"],
        "pruning_unit": [Options(str, {"weight", "neuron"})],
        "inference": [Options(str, {"auto", "dense", "sparse"})],
        "alpha": FINITE_NON_NEGATIVE_FLOAT,
        "early_stopping": ["boolean", Options(str, {"auto"})],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "device": [_DeviceConstraint()],
        "module": [None, _Subclass(torch.nn.Module, "torch module")],
        "criterion": [None, _Subclass(torch.nn.Module, "torch loss")],
        "optimizer": [
            _Subclass(torch.optim.Optimizer, "torch optimizer", instances=False),
            "callable",
        ],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "train_split": [None, "callable"],
        "callbacks": [None, _Callbacks()],
        "n_threads": [*POSITIVE_INT, Options(str, {"auto"})],
        # scikit-learn's MLP parameters, with their meaning (see SKLEARN_NAMES).
        "max_iter": [None, *POSITIVE_INT],
        "learning_rate_init": [None, Interval(numbers.Real, 0, None, closed="neither")],
        "solver": [None, Options(str, {"adam", "sgd", "lbfgs"})],
        "learning_rate": [Options(str, {"constant", "invscaling", "adaptive"})],
        "power_t": [Interval(numbers.Real, 0, None, closed="left")],
        "momentum": [Interval(numbers.Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
        "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
        "shuffle": ["boolean"],
        "max_fun": [*POSITIVE_INT],
    }

    # scikit-learn's convention: every hyperparameter is an explicit keyword of
    # __init__, whose signature get_params, clone and the docs read.
    def __init__(  # noqa: PLR0913
        self,
        module=None,
        *,
        hidden_layer_sizes=DEFAULT_HIDDEN_LAYER_SIZES,
        activation="relu",
        sparsity=0.8,
        pruning=DEFAULT_METHOD,
        scope="global",
        n_steps=10,
        compensate=None,
        pruning_params=None,
        pruning_unit="weight",
        pruning_schedule="interleaved",
        fine_tune_epochs="auto",
        calibration_size=2048,
        random_state=None,
        memory=None,
        inference="auto",
        alpha=1e-4,
        early_stopping="auto",
        validation_fraction=0.1,
        tol=1e-4,
        n_iter_no_change=10,
        criterion=None,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=DEFAULT_MAX_EPOCHS,
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
        n_threads="auto",
        max_iter=None,
        learning_rate_init=None,
        solver=None,
        learning_rate="constant",
        power_t=0.5,
        momentum=0.9,
        nesterovs_momentum=True,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        shuffle=True,
        max_fun=15000,
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
        self.pruning_params = pruning_params
        self.pruning_unit = pruning_unit
        self.pruning_schedule = pruning_schedule
        self.fine_tune_epochs = fine_tune_epochs
        self.calibration_size = calibration_size
        self.random_state = random_state
        self.memory = memory
        self.inference = inference
        self.alpha = alpha
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
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
        self.n_threads = n_threads
        self.max_iter = max_iter
        self.learning_rate_init = learning_rate_init
        self.solver = solver
        self.learning_rate = learning_rate
        self.power_t = power_t
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.shuffle = shuffle
        self.max_fun = max_fun
        # skorch's routed parameters (module__*, optimizer__*, ...), checked at fit
        # (scikit-learn's checks want nothing raised here).
        self._params_to_validate = set(kwargs)
        vars(self).update(kwargs)

    # ------------------------------------------------------------------ params
    # scikit-learn's face: the parameters that differ from the defaults, as any
    # scikit-learn estimator shows them (skorch shows the module's state instead), and
    # the HTML table without skorch's per-callback parameters.
    __repr__ = BaseEstimator.__repr__

    def _get_params_html(self, deep=True, doc_link=""):
        return super()._get_params_html(deep=False, doc_link=doc_link)

    def __setattr__(self, name: str, value: Any) -> None:
        # A parameter is stored as it is, also a torch module or loss *instance*: skorch
        # refuses torch components set outside its initialize methods once
        # ``initialized_`` exists, which here is a class attribute.
        if name in _constructor_parameters(type(self)):
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    # One source of truth where scikit-learn's MLP and skorch both name a setting: the
    # scikit-learn name, when given, takes precedence.
    @property
    def _max_dense_epochs(self) -> int:
        """``max_iter`` when given, else ``max_epochs``: the most epochs of dense training."""
        return self.max_epochs if self.max_iter is None else int(self.max_iter)

    @property
    def _learning_rate(self) -> float:
        """``learning_rate_init`` when given, else ``lr``."""
        return self.lr if self.learning_rate_init is None else float(self.learning_rate_init)

    @property
    def _optimizer_class(self) -> Any:
        """``solver``'s optimizer when given ("adam", "sgd", "lbfgs"), else ``optimizer``."""
        solvers = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "lbfgs": torch.optim.LBFGS}
        return solvers.get(self.solver, self.optimizer)

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

        Examples
        --------
        >>> from sklearn_ecprune import ECPrunedMLPClassifier
        >>> ECPrunedMLPClassifier().set_params(sparsity=0.9).sparsity
        0.9
        """
        valid = set(self._get_param_names())
        if "inference" in params and hasattr(self, "masks_"):  # rebuilt below: check first
            check_param(
                "inference", params["inference"], self._parameter_constraints["inference"],
                type(self).__name__,
            )  # fmt: skip
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
        if "inference" in params and hasattr(self, "masks_"):
            self._refresh_inference()
        return self

    def _check_params(self) -> None:
        """Check this package's parameters; messages name the parameter."""
        owner = type(self).__name__
        validate_params(self.get_params(deep=False), self._parameter_constraints, owner)
        if self.pruning_params:
            unknown = sorted(set(self.pruning_params) - set(PRUNING_PARAMS))
            if unknown:
                raise ValueError(
                    f"pruning_params of {owner} has unknown keys {unknown}; the engine "
                    f"options it takes are {list(PRUNING_PARAMS)} (the other options of "
                    "prune_mlp are parameters of the estimator)."
                )
            # Their values too, before any training (prune_mlp's own constraints).
            accepted = PruneConfig.constraints()
            validate_params(
                {f"pruning_params[{k!r}]": v for k, v in self.pruning_params.items()},
                {f"pruning_params[{k!r}]": accepted[k] for k in self.pruning_params},
                owner,
            )
        if self.pruning_unit == "neuron":
            self._check_neuron_params(owner)

    def _check_neuron_params(self, owner: str) -> None:
        """Refuse the weight-pruning settings that removing neurons cannot honour."""
        ignored = sorted(set(self.pruning_params or {}) - set(NEURON_PRUNING_PARAMS))
        if ignored:
            raise ValueError(
                f"pruning_params {ignored} of {owner} apply to weights; with "
                f"pruning_unit='neuron' only {list(NEURON_PRUNING_PARAMS)} are used."
            )
        if not (isinstance(self.pruning, str) and self.pruning.startswith("ecp")):
            raise ValueError(
                f"pruning_unit='neuron' ranks neurons by ECP's neuron score (the error left "
                f"after compensating through the next layer's bias); {owner} got "
                f"pruning={self.pruning!r}, a weight criterion. Use pruning_unit='weight', "
                "or keep an 'ecp' method."
            )
        if self.scope != "global":
            raise ValueError(
                f"pruning_unit='neuron' removes neurons across all hidden layers at once; "
                f"{owner} got scope={self.scope!r}. Use scope='global'."
            )
