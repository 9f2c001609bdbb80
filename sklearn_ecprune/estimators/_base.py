"""The estimators' shared machinery: fit = train dense, prune, fine-tune.

The estimators are thin skorch subclasses: skorch runs the training loop and the
callbacks, the engine (:func:`~sklearn_ecprune.prune_mlp`) prunes. What this mixin adds
is scikit-learn's contract: declarative parameter checks, input validation,
``n_features_in_``, seeding without global state, ``memory=`` for the dense phase, and
a fit that changes the estimator only once it has succeeded.
"""

from __future__ import annotations

import copy
import inspect
import math
import numbers
import os
import threading
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    check_memory,
    validate_data,
)
from skorch.callbacks import EarlyStopping
from skorch.dataset import Dataset
from skorch.utils import to_numpy, to_tensor
from torch.utils.data import DataLoader

from ..engine._methods import DEFAULT_METHOD, METHOD, PRUNING_METHODS, register_method
from ..engine._prune import prune_mlp
from ..engine._report import LayerReport, PruningReport
from ..engine._sparse import SparseLinear, prefers_sparse, replace_submodule
from ..engine._structured import compact_module, prune_neurons
from ..engine._validation import (
    BATCH_SIZE,
    COMPENSATE,
    FINITE_NON_NEGATIVE_FLOAT,
    HIDDEN_LAYER_SIZES,
    MEMORY,
    N_STEPS,
    NON_NEGATIVE_FLOAT,
    NON_NEGATIVE_INT,
    POSITIVE_INT,
    RANDOM_STATE,
    SCOPE,
    SPARSITY,
    Interval,
    Options,
    check_param,
    validate_params,
)
from ._callbacks import InterleavedPruning, KeepPrunedWeightsZero, ValidationScore
from ._data import HoldOutSplit, RowDataset
from ._memory import cached_dense_phase, dense_key
from ._module import ACTIVATIONS, MLPModule

__all__ = ["ATTRIBUTES_DOC", "FIT_DOC", "PARAMS_DOC", "ECPrunedMixin"]

# Parameters that act only after dense training: fits that differ only in these share
# their dense phase under ``memory``.
_AFTER_DENSE_PARAMS = frozenset(
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

# fine_tune_epochs="auto": this share of the dense epochs, and at least MIN_FINE_TUNE.
FINE_TUNE_SHARE = 0.2
MIN_FINE_TUNE = 2
# pruning_schedule="interleaved": pruning events spread over the first third of the
# fine-tuning, each one pruning step on at most EVENT_ROWS calibration rows (the
# training between the events recovers; measured best of 1 and 3 events).
PRUNING_EVENTS = 3
EVENT_SPAN = 1 / 3
EVENT_ROWS = 512

# early_stopping="auto" holds out a validation set from this many training rows on,
# as scikit-learn's HistGradientBoosting does.
AUTO_EARLY_STOPPING_ROWS = 10_000

# torch's global generator is the only way to seed a user's module class; its
# construction is serialised so that concurrent fits cannot interleave draws.
_GLOBAL_RNG_LOCK = threading.Lock()


# Rows per forward pass when predicting on in-memory data.
_PREDICT_CHUNK = 4096
# Layer widths are padded to a multiple of this many features: float32 matrix products
# on the CPU round a row differently depending on its alignment in memory otherwise.
_WIDTH_MULTIPLE = 16
# Chunks of fewer rows are padded with zero rows to this many: CPU matrix products take
# another kernel (which rounds differently) for one to three rows, and a prediction
# must not depend on which other rows it was computed with (scikit-learn checks this on
# single rows). Four rows cost about three times one row; sixteen, which the padding
# used to be, about six times (784-1024-1024-1024-10, one thread).
_MIN_ROWS = 4


def _silent(*args, **kwargs) -> None:
    """A sink that prints nothing (a module-level function, so it pickles)."""


def _keep_identity(value: Any, memo: dict[int, Any]) -> None:
    """Mark ``value`` and what it holds in lists, tuples and dicts as not to be copied."""
    if id(value) in memo:
        return
    memo[id(value)] = value
    items = value.values() if isinstance(value, dict) else value
    if isinstance(value, list | tuple | dict):
        for item in items:
            _keep_identity(item, memo)


def _merged_report(reports: list[PruningReport]) -> PruningReport:
    """One report for a fit's pruning events: the last event's shapes and kept weights.

    The bias shifts add up over the events: the mean over a layer's units of the
    total absolute shift is the sum of the events' means.
    """
    if len(reports) == 1 or len({tuple(r.name for r in rep.layers) for rep in reports}) > 1:
        return reports[-1]
    last = reports[-1]
    rows = [
        LayerReport(
            row.name,
            row.shape,
            row.n_weights,
            row.n_kept,
            sum(rep.layers[i].mean_abs_bias_shift for rep in reports),
        )
        for i, row in enumerate(last.layers)
    ]
    return PruningReport(rows, last.method, last.target_sparsity, {"events": len(reports)})


def _dense(X) -> np.ndarray:
    """A block of rows as a dense array (sparse input is densified block by block)."""
    return X.toarray() if sp.issparse(X) else np.asarray(X)


def _sparse_weights(module: torch.nn.Module, masks: dict) -> dict:
    """The kept weights of the layers sparser than half, as CSR arrays (int32 indices)."""
    layers = dict(module.named_modules())
    stored = {}
    for name, mask in masks.items():
        weight = layers[name].weight.detach()
        if mask.shape != weight.shape or float(mask.float().mean()) > 0.5:
            continue
        csr = sp.csr_matrix(mask.cpu().numpy(), dtype=np.bool_)
        stored[name] = {
            "indptr": csr.indptr.astype(np.int32),
            "indices": csr.indices.astype(np.int32),
            "values": weight.cpu().numpy()[mask.cpu().numpy()],
            "shape": tuple(weight.shape),
        }
    return stored


def _without_weights(module: torch.nn.Module, stored: dict) -> torch.nn.Module:
    """A copy of ``module`` whose stored layers hold empty weights (restored on load)."""
    shared = {
        id(p): p
        for name, layer in module.named_modules()
        if name not in stored
        for p in layer.parameters(recurse=False)
    }
    empty = copy.deepcopy(module, shared)
    layers = dict(empty.named_modules())
    for name in stored:
        layers[name].weight = torch.nn.Parameter(layers[name].weight.new_empty(0))
    return empty


def _restore_weights(module: torch.nn.Module, masks: dict, stored: dict) -> None:
    layers = dict(module.named_modules())
    for name, arrays in stored.items():
        mask = sp.csr_matrix(
            (np.ones(len(arrays["indices"]), np.bool_), arrays["indices"], arrays["indptr"]),
            shape=arrays["shape"],
        ).toarray()
        weight = np.zeros(arrays["shape"], dtype=arrays["values"].dtype)
        weight[mask] = arrays["values"]
        device = layers[name].bias.device if layers[name].bias is not None else "cpu"
        layers[name].weight = torch.nn.Parameter(torch.from_numpy(weight).to(device))
        masks[name] = torch.from_numpy(mask).to(device)


def _padded_forward(module: torch.nn.Module, chunk: torch.Tensor, device) -> torch.Tensor:
    """``module(chunk)``, a chunk of fewer than _MIN_ROWS rows padded with zero rows."""
    n = chunk.shape[0]
    padding = max(_MIN_ROWS - n, 0)
    if padding:
        chunk = torch.cat([chunk, chunk.new_zeros((padding, *chunk.shape[1:]))])
    return module(chunk.to(device))[:n]


class _AlignedNet(torch.nn.Module):
    """A network whose Linear layers are padded with zeros to multiples of 16 features.

    float32 products on the CPU round a row differently depending on its alignment in
    memory when the feature count is not a multiple of the vector width; with every
    width a multiple of 16 (zero weights, zero biases, so the function is the same),
    a prediction does not depend on the other rows of the batch or on its position.
    """

    def __init__(self, inner: torch.nn.Module, n_inputs: int, width: int, n_outputs: int):
        super().__init__()
        self.inner, self.n_inputs, self.width, self.n_outputs = inner, n_inputs, width, n_outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The inner network on ``x`` padded with zero columns; the real outputs."""
        if self.width > self.n_inputs:
            x = torch.cat([x, x.new_zeros((x.shape[0], self.width - self.n_inputs))], dim=1)
        return self.inner(x)[:, : self.n_outputs]


def _aligned(module: torch.nn.Module) -> torch.nn.Module:
    """``module`` with zero-padded Linear layers (an nn.Sequential MLP), else itself."""
    layers = [(n, m) for n, m in module.named_children() if isinstance(m, torch.nn.Linear)]
    if not isinstance(module, torch.nn.Sequential) or not layers:
        return module
    padded = copy.deepcopy(module)
    width = -(-layers[0][1].in_features // _WIDTH_MULTIPLE) * _WIDTH_MULTIPLE
    for name, layer in layers:
        out = -(-layer.out_features // _WIDTH_MULTIPLE) * _WIDTH_MULTIPLE
        wide = torch.nn.Linear(width, out, bias=layer.bias is not None, device="meta")
        wide = wide.to_empty(device=layer.weight.device).to(layer.weight.dtype)
        with torch.no_grad():
            wide.weight.zero_()
            wide.weight[: layer.out_features, : layer.in_features] = layer.weight
            if layer.bias is not None:
                wide.bias.zero_()
                wide.bias[: layer.out_features] = layer.bias
        replace_submodule(padded, name, wide)
        width = out
    first, last = layers[0][1], layers[-1][1]
    return _AlignedNet(padded, first.in_features, padded.get_submodule(layers[0][0]).in_features,
                       last.out_features).eval()  # fmt: skip


class _DeviceConstraint:
    """A torch device that can hold a trained network (not "meta")."""

    def is_satisfied_by(self, value: Any) -> bool:
        if value is None:
            return True
        try:
            device = torch.device(value)
        except (RuntimeError, TypeError, ValueError):
            return False
        if device.type == "cuda":
            return torch.cuda.is_available()
        return device.type in ("cpu", "mps", "xpu")

    def __str__(self) -> str:
        return "a torch device that can train a network ('cpu', or 'cuda' where available)"


class ECPrunedMixin:
    """Fit = train dense, prune to ``sparsity``, fine-tune with the masks enforced."""

    # skorch reads these before ``initialize``; as class attributes they keep
    # ``__init__`` down to assigning parameters, as scikit-learn requires.
    initialized_ = False
    history_ = None
    virtual_params_ = MappingProxyType({})

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "hidden_layer_sizes": HIDDEN_LAYER_SIZES,
        "activation": [Options(str, set(ACTIVATIONS))],
        "sparsity": SPARSITY,
        "pruning": METHOD,
        "scope": SCOPE,
        "n_steps": N_STEPS,
        "compensate": COMPENSATE,
        "pruning_params": [None, dict],
        "fine_tune_epochs": [*NON_NEGATIVE_INT, Options(str, {"auto"})],
        "pruning_schedule": [Options(str, {"interleaved", "before"})],
        "calibration_size": [None, *POSITIVE_INT],
        "random_state": RANDOM_STATE,
        "memory": MEMORY,
        "tol": NON_NEGATIVE_FLOAT,
        "n_iter_no_change": POSITIVE_INT,
        "max_epochs": POSITIVE_INT,
        "batch_size": [*BATCH_SIZE, Options(int, {-1})],
        "warm_start": ["boolean"],
        "pruning_unit": [Options(str, {"weight", "neuron"})],
        "inference": [Options(str, {"auto", "dense", "sparse"})],
        "alpha": FINITE_NON_NEGATIVE_FLOAT,
        "early_stopping": ["boolean", Options(str, {"auto"})],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "device": [_DeviceConstraint()],
    }

    def __init__(
        self,
        module=None,
        *,
        hidden_layer_sizes=(100,),
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
        early_stopping=True,
        validation_fraction=0.1,
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

        Examples
        --------
        >>> from sklearn_ecprune import ECPrunedMLPClassifier
        >>> ECPrunedMLPClassifier().set_params(sparsity=0.9).sparsity
        0.9
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

    def initialize_criterion(self):
        """The training loss, per sample (``get_loss`` averages, with sample weights).

        ``criterion=None`` means the estimator's default.
        """
        criterion = self._default_criterion if self.criterion is None else self.criterion
        kwargs = self.get_params_for("criterion")
        if isinstance(criterion, torch.nn.Module):
            criterion = copy.copy(criterion)
            criterion.reduction = "none"
            self.criterion_ = criterion
        else:
            self.criterion_ = criterion(**{**kwargs, "reduction": "none"})
        return self

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Mean training loss (weighted by ``sample_weight``), plus the L2 penalty.

        As in scikit-learn's MLP: ``alpha / 2 * sum of squared weights / batch weight``
        is added while training (biases are not penalised).
        """
        y_true = to_tensor(y_true, device=self.device)
        per_sample = self.criterion_(y_pred, y_true)
        per_sample = per_sample.reshape(len(y_pred), -1).mean(dim=1)
        weights = X.get("sample_weight") if isinstance(X, dict) else None
        if weights is None:
            loss, total = per_sample.mean(), float(len(per_sample))
        else:
            weights = to_tensor(weights, device=self.device).to(per_sample.dtype)
            total = float(weights.sum())
            loss = (per_sample * weights).sum() / max(total, 1e-12)
        if training and self.alpha:
            squares = sum(
                m.weight.square().sum()
                for m in self.module_.modules()
                if isinstance(m, torch.nn.Linear)
            )
            loss = loss + 0.5 * self.alpha * squares / max(total, 1e-12)
        return loss

    def infer(self, x, **fit_params):
        """The module's output on a batch; a dict batch carries the sample weights."""
        if isinstance(x, dict) and "sample_weight" in x:
            x = x["X"]
        return super().infer(x, **fit_params)

    def get_dataset(self, X, y=None):
        """skorch's dataset; the default one densifies sparse rows one at a time."""
        if self.dataset is Dataset:
            return RowDataset(X, y, **self.get_params_for("dataset"))
        return super().get_dataset(X, y)

    def get_split_datasets(self, X, y=None, **fit_params):
        """Training and validation sets: ``train_split``, or early stopping's hold-out."""
        dataset = self.get_dataset(X, y)
        split = self._split()
        if split is None:
            return dataset, None
        return split(dataset, y, **fit_params)

    def _split(self):
        if self.train_split is not None:
            return self.train_split
        if getattr(self, "_holds_out", False):
            return HoldOutSplit(self.validation_fraction, self._stratified_split, self._split_seed)
        return None

    @property
    def _default_callbacks(self):
        validates = self._split() is not None
        callbacks = list(super()._default_callbacks)
        if validates:
            # Before the epoch's log line (which shows it) and before early stopping
            # (which may end training at this epoch).
            at = next(i for i, (name, _) in enumerate(callbacks) if name == "print_log")
            callbacks.insert(at, ("validation_score", ValidationScore()))
        callbacks += [
            (
                "early_stopping",
                EarlyStopping(
                    monitor="valid_loss" if validates else "train_loss",
                    patience=self.n_iter_no_change,
                    threshold=self.tol,
                    threshold_mode="abs",
                    sink=print if self.verbose else _silent,
                    load_best=validates,
                ),
            ),
            ("keep_pruned_weights_zero", KeepPrunedWeightsZero()),
            ("interleaved_pruning", InterleavedPruning()),
        ]
        return callbacks

    # -------------------------------------------------------------------- data
    def _validate_X(self, X, *, reset: bool):
        X = validate_data(self, X, reset=reset, dtype=np.float32, accept_sparse="csr")
        # scipy's sparse arrays index rows as 1-D; skorch's datasets expect matrix rows.
        return sp.csr_matrix(X) if sp.issparse(X) else X

    def _validate_X_y(self, X, y, *, reset: bool):
        X, y = validate_data(
            self, X, y, reset=reset, dtype=np.float32, accept_sparse="csr", **self._y_validation
        )
        return sp.csr_matrix(X) if sp.issparse(X) else X, self._encode_target(y, reset=reset)

    def _forward_numpy(self, X) -> np.ndarray:
        """The network's output on X (after the predict non-linearity), as numpy.

        In-memory data go straight through the network in large chunks; skorch's
        DataLoader path is kept for a torch ``Dataset`` and for a custom ``dataset`` or
        ``iterator_valid``.
        """
        check_is_fitted(self)
        nonlinearity = self._get_predict_nonlinearity()
        if isinstance(X, torch.utils.data.Dataset):  # e.g. skorch's own scoring callbacks
            return np.concatenate(
                [to_numpy(nonlinearity(out)) for out in self.forward_iter(X, training=False)]
            )
        X = self._validate_X(X, reset=False)
        if self.dataset is not Dataset or self.iterator_valid is not DataLoader:
            return np.concatenate(
                [to_numpy(nonlinearity(out)) for out in self.forward_iter(X, training=False)]
            )
        module = self._inference_module()
        # skorch keeps module_ (and so its inference copies) on ``device``; walking
        # the module for it would cost more than a one-row prediction.
        device = self.device
        if device is None:
            device = next(module.buffers(), None)
            device = next(module.parameters(), device).device
        # The inference copy is built in eval mode; only module_ (during fit) needs the
        # switch, which walks every submodule and costs more than a one-row prediction.
        was_training = module.training
        if was_training:
            module.eval()
        outputs = []
        try:
            with torch.inference_mode():
                for start in range(0, X.shape[0], _PREDICT_CHUNK):
                    chunk = torch.from_numpy(_dense(X[start : start + _PREDICT_CHUNK]))
                    outputs.append(to_numpy(nonlinearity(_padded_forward(module, chunk, device))))
        finally:
            if was_training:
                module.train()
        return outputs[0] if len(outputs) == 1 else np.concatenate(outputs)

    def __sklearn_is_fitted__(self) -> bool:
        # True from the moment the network is built inside fit, so that skorch's own
        # callbacks (EpochScoring, ...) can predict during training.
        return bool(self.initialized_) and hasattr(self, "n_features_in_")

    # -------------------------------------------------------------- inference
    def _inference_module(self) -> torch.nn.Module:
        """The network that predictions run on, built for ``inference`` and cached.

        While training (no masks yet, or a fit in progress) it is ``module_`` itself.
        Otherwise ``"dense"`` is a copy of ``module_``; ``"auto"`` and ``"sparse"``
        start from a compacted copy (constant and unused hidden neurons removed,
        exactly) and store the Linear layers that are sparse enough (``"auto"``, by
        the measured rule of :func:`~sklearn_ecprune.engine.prefers_sparse`) or all
        of them (``"sparse"``) as CSR matrices. Dense layers are padded to aligned
        widths (:class:`_AlignedNet`).
        """
        if not hasattr(self, "masks_") or getattr(self, "_training", False):
            return self.module_
        cached = getattr(self, "_inference", None)
        if cached is not None and cached[0] == self.inference:
            return cached[1]
        return self._build_inference_module(self.inference)  # (predict changes nothing)

    def _refresh_inference(self) -> None:
        """Build the inference network once the weights are final (end of fit, load)."""
        self._inference = (self.inference, self._build_inference_module(self.inference))

    def _build_inference_module(self, layout: str, aligned: bool = True) -> torch.nn.Module:
        """The network for ``layout``; ``aligned`` pads it for batch-invariant predictions."""
        if layout == "dense":
            module = copy.deepcopy(self.module_).eval()
        else:
            try:
                module = compact_module(self.module_)
            except ValueError:  # not a plain MLP: keep its structure
                module = copy.deepcopy(self.module_).eval()
        if aligned:
            module = _aligned(module)
        if layout in ("dense", "compact"):
            return module
        kernel = "torch" if layout == "torch-sparse" else "scipy"
        for name, layer in list(module.named_modules()):
            if not isinstance(layer, torch.nn.Linear):
                continue
            density = float((layer.weight != 0).float().mean())
            if layout != "auto" or prefers_sparse(layer.weight.numel(), density):
                replace_submodule(module, name, SparseLinear(layer, kernel=kernel))
        return module.eval()

    def to_torch(self, layout: str = "compact") -> torch.nn.Module:
        """The fitted network as a standalone torch module, for deployment.

        Parameters
        ----------
        layout : {"compact", "dense", "sparse"}, default="compact"
            ``"compact"``: dense ``nn.Linear`` layers with the constant and unused
            hidden neurons removed (exactly; after ``pruning_unit="neuron"`` the
            network is already smaller), which ``torch.export``, ONNX export and
            TorchScript handle. ``"dense"``: a copy of ``module_``, zeros included.
            ``"sparse"``: sparse layers stored as CSR (:class:`SparseLinear` with
            torch's kernel), for inference in torch.

        Returns
        -------
        module : torch.nn.Module
            A copy in eval mode, on the estimator's device, that maps float32 inputs
            (already preprocessed, ``n_features_in_`` columns) to the network's raw
            outputs: the logits of a classifier, the predicted targets of a regressor
            of shape (n_samples, n_outputs) in the target's units (a regressor trained
            with ``standardize_target`` ends in a :class:`~torch.nn.Module` that undoes
            the standardisation).

        Examples
        --------
        >>> import torch
        >>> from sklearn.datasets import load_iris
        >>> from sklearn_ecprune import ECPrunedMLPClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = ECPrunedMLPClassifier(sparsity=0.9, max_epochs=20, random_state=0).fit(X, y)
        >>> net = clf.to_torch()
        >>> exported = torch.export.export(net, (torch.randn(2, 4),))
        >>> logits = net(torch.as_tensor(X[:3], dtype=torch.float32))
        >>> bool((logits.argmax(1).numpy() == clf.predict(X[:3])).all())
        True
        """
        check_is_fitted(self)
        check_param("layout", layout, [Options(str, {"compact", "dense", "sparse"})], "to_torch")
        layout = "torch-sparse" if layout == "sparse" else layout
        return self._deployed(self._build_inference_module(layout, aligned=False))

    def _deployed(self, module: torch.nn.Module) -> torch.nn.Module:
        """The regressor appends its target scaling; see its override."""
        return module

    # ---------------------------------------------------------------- seeding
    def _draw_seed(self) -> int:
        """The fit's seed: ``random_state`` itself, or drawn from it."""
        if self.random_state is None:
            return int(np.random.SeedSequence().generate_state(1)[0])
        if isinstance(self.random_state, np.random.RandomState):
            return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        return int(self.random_state)

    def _seed_generators(self, seed: int) -> None:
        """Independent generators for initialisation, shuffling, calibration and pruning.

        Nothing global is used, so fits in parallel threads with the same seed give
        the same result, and the caller's random state is left alone.
        """
        words = np.random.SeedSequence(seed).generate_state(5)
        init, shuffle, calibration, prune, split = (int(w) for w in words)
        self._init_generator = torch.Generator().manual_seed(init)
        self._shuffle_generator = torch.Generator().manual_seed(shuffle)
        self._calibration_seed = calibration
        self._prune_seed = prune
        self._split_seed = split

    def _resolve_validation(self, n_samples: int) -> None:
        """Whether this fit holds out a validation set for early stopping."""
        wanted = self.early_stopping is True or (
            self.early_stopping == "auto" and n_samples >= AUTO_EARLY_STOPPING_ROWS
        )
        self._holds_out = self.train_split is None and wanted
        self._stratified_split = self._is_classifier

    # ---------------------------------------------------------------- training
    def initialize_module(self):
        """Build the default :class:`MLPModule` sized from the data, or the user's module."""
        kwargs = self.get_params_for("module")
        generator = getattr(self, "_init_generator", None)
        if self.module is not None:
            if isinstance(self.module, torch.nn.Module) or generator is None:
                self.module_ = self.initialized_instance(self.module, kwargs)
                return self
            # A user's class initialises itself from torch's global generator: seed it
            # for the construction only, and restore it afterwards.
            seed = int(torch.randint(2**62, (1,), generator=generator))
            with _GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                self.module_ = self.initialized_instance(self.module, kwargs)
            return self
        if not hasattr(self, "n_features_in_"):
            raise ValueError(
                "The default MLPModule is sized from the training data: call fit, or "
                "pass a module."
            )
        sizes = self.hidden_layer_sizes
        defaults = {
            "hidden_layer_sizes": (sizes,) if isinstance(sizes, int) else tuple(sizes),
            "activation": self.activation,
            "generator": generator,
        }
        self.module_ = MLPModule(
            n_features=self.n_features_in_, n_outputs=self.n_outputs_, **{**defaults, **kwargs}
        )
        return self

    def initialize(self):
        """skorch's initialize; also counts the dense network's weights for ``sparsity_``."""
        super().initialize()
        self._dense_n_weights = sum(m.weight.numel() for m in self._linear_layers(check=False))
        return self

    def get_iterator(self, dataset, training=False):
        """skorch's iterator; training batches are shuffled by the fit's own generator."""
        kwargs = self.get_params_for("iterator_train" if training else "iterator_valid")
        iterator = self.iterator_train if training else self.iterator_valid
        kwargs.setdefault("batch_size", self.batch_size)
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        if iterator is DataLoader:
            if training:
                kwargs.setdefault("shuffle", True)
            # A DataLoader draws a base seed from torch's global generator unless it
            # has its own: the fit's generator, or a throwaway one when predicting.
            generator = getattr(self, "_shuffle_generator", None) if training else None
            kwargs.setdefault("generator", generator or torch.Generator())
        return iterator(dataset, **kwargs)

    def _train(self, X, y, epochs: int, phase: str, **fit_params) -> None:
        """skorch's training loop for ``epochs`` epochs (early stopping may end it).

        Callbacks get ``phase="dense"`` or ``phase="fine_tune"`` in
        ``on_train_begin`` and ``on_train_end``.
        """
        vars(self).pop("_inference", None)  # the weights are about to change
        self._training = True
        try:
            self.notify("on_train_begin", X=X, y=y, phase=phase)
            try:
                self.fit_loop(X, y, epochs=epochs, **fit_params)
            except KeyboardInterrupt:  # how skorch's EarlyStopping ends training
                pass
            self.notify("on_train_end", X=X, y=y, phase=phase)
        finally:
            self._training = False
        if not all(bool(torch.isfinite(p).all()) for p in self.module_.parameters()):
            raise ValueError(
                f"Training diverged in the {phase.replace('_', '-')} phase: the network's "
                f"weights became NaN or infinite (lr={self.lr!r}). Lower lr, scale the "
                "inputs (e.g. StandardScaler) or check the targets. The estimator is left "
                "as it was before this fit."
            )

    def _train_dense(self, X, y, **fit_params) -> dict[str, Any]:
        """Train the dense network; return the state that a later fit can restore."""
        self._train(X, y, self.max_epochs, "dense", **fit_params)
        return {
            "module": {k: v.detach().cpu().clone() for k, v in self.module_.state_dict().items()},
            "optimizer": copy.deepcopy(self.optimizer_.state_dict()),
            "history": copy.deepcopy(self.history_),
            "shuffle_generator": self._shuffle_generator.get_state(),
        }

    def _restore_dense(self, state: dict[str, Any]) -> None:
        self.module_.load_state_dict(state["module"])
        self.optimizer_.load_state_dict(state["optimizer"])
        self.history_ = copy.deepcopy(state["history"])
        self._shuffle_generator.set_state(state["shuffle_generator"])

    def _dense_phase(self, X, y, fit_params: dict) -> None:
        """Train the dense network, or restore it from ``memory``."""
        memory = check_memory(
            os.fspath(self.memory) if isinstance(self.memory, os.PathLike) else self.memory
        )
        key = None
        if memory.location is not None and self.random_state is not None:
            params = {
                k: v
                for k, v in self.get_params(deep=False).items()
                if k not in _AFTER_DENSE_PARAMS
            }
            key = dense_key(self, params, fit_params, self._seed)
        state = cached_dense_phase(memory, key, self, X, y, fit_params)
        self._restore_dense(state)

    def _prune(
        self,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight=None,
        *,
        sparsity: float | None = None,
        n_steps: int | None = None,
        rows: int | None = None,
    ) -> None:
        """Prune ``module_`` to ``sparsity`` on a seeded calibration subsample.

        ``sparsity``, ``n_steps`` and the most calibration rows default to the
        parameters; the sample weights weigh the calibration rows' statistics and
        refits.
        """
        sparsity = self.sparsity if sparsity is None else sparsity
        n_steps = self.n_steps if n_steps is None else n_steps
        size = self.calibration_size
        if rows is not None:
            size = rows if size is None else min(size, rows)
        n = X.shape[0]
        if size is not None and size < n:
            rng = np.random.default_rng(self._calibration_seed)
            rows = np.sort(rng.choice(n, size=size, replace=False))
            X, y = X[rows], y[rows]
            sample_weight = None if sample_weight is None else sample_weight[rows]
        if sample_weight is not None and not sample_weight.sum() > 0:
            sample_weight = None  # the subsample drew only rows of weight 0
        device = next(self.module_.parameters()).device
        criterion = self.criterion_

        def loss_fn(output, target):
            return criterion(output, target.to(device)).mean()

        if self.pruning_unit == "neuron":
            self._prune_neurons(torch.as_tensor(_dense(X)), sparsity, n_steps)
            return
        # Every Linear layer is pruned. Already pruned weights stay pruned: fit with
        # warm_start, and partial_fit, only ever add to the masks.
        vars(self).pop("_inference", None)
        result = prune_mlp(
            self.module_,
            torch.as_tensor(_dense(X)),
            sparsity,
            method=self.pruning,
            scope=self.scope,
            n_steps=n_steps,
            compensate=self.compensate,
            y=torch.as_tensor(y),
            loss_fn=loss_fn,
            random_state=self._prune_seed,
            sample_weight=sample_weight,
            **(self.pruning_params or {}),
        )
        self.masks_ = result.masks
        self.pruning_report_ = result.report
        if self.verbose:
            print(f"Pruned with {result.report.method!r} to sparsity {result.sparsity:.2%}:")
            print(result.report)

    def _prune_neurons(self, X: torch.Tensor, sparsity: float, n_steps: int) -> None:
        """Remove whole hidden neurons until ``sparsity`` of the dense weights are gone."""
        if not isinstance(self.module_, torch.nn.Sequential):
            raise ValueError(
                "pruning_unit='neuron' needs an nn.Sequential of Linear layers and "
                f"activations (like the default MLPModule), got {type(self.module_).__name__}."
            )
        left = sum(m.weight.numel() for m in self._linear_layers())
        wanted = (1.0 - sparsity) * self._dense_n_weights
        report = prune_neurons(
            self.module_,
            X,
            max(0.0, 1.0 - wanted / left),
            n_steps=n_steps,
            compensate=self.compensate is not False,
            target="weights",
            **(self.pruning_params or {}),  # only NEURON_PRUNING_PARAMS: see _check_params
        )
        self.masks_ = {
            name: torch.ones_like(m.weight, dtype=torch.bool)
            for name, m in self.module_.named_modules()
            if isinstance(m, torch.nn.Linear)
        }
        self.pruning_report_ = report
        # The layers were replaced by smaller ones: the optimizer must follow them.
        self.initialize_optimizer()
        if self.verbose:
            print(f"Removed neurons: {self.hidden_layer_sizes_} hidden units left.")
            print(report)

    def _update_sparsity(self) -> None:
        """Pruned share of the dense network's weights (removed neurons count too)."""
        kept = sum(int((m.weight != 0).sum()) for m in self._linear_layers())
        self.sparsity_ = 1.0 - kept / self._dense_n_weights

    # ------------------------------------------------------------ fit, on the side
    # Private attributes that a fit sets (besides the public ``*_`` ones).
    _FITTED_PRIVATE = frozenset(
        {
            "_modules",
            "_criteria",
            "_optimizers",
            "_label_encoder",
            "_preset_classes",
            "_fit_y_ndim",
            "_target_mean",
            "_target_scale",
            "_seed",
            "_init_generator",
            "_shuffle_generator",
            "_calibration_seed",
            "_prune_seed",
            "_split_seed",
            "_holds_out",
            "_stratified_split",
            "_dense_n_weights",
            "_inference",
            "_training",
            "_pruning_events",
        }
    )

    def _is_fitted_attribute(self, name: str) -> bool:
        return name in self._FITTED_PRIVATE or (name.endswith("_") and not name.endswith("__"))

    def _trial(self, keep_fitted: bool):
        """A copy to fit: the same parameters, and (deep-copied) fitted state if asked.

        ``fit`` works on this copy and moves its fitted state over only when it
        succeeded, so a fit that fails leaves the estimator as it was. Parameters and
        anything else set from outside (e.g. a pipeline's context) stay the same objects.
        """
        trial = type(self).__new__(type(self))
        context = {k: v for k, v in vars(self).items() if not self._is_fitted_attribute(k)}
        vars(trial).update(context)
        vars(trial)["_params_to_validate"] = set(self._params_to_validate)
        if keep_fitted:
            fitted = {
                k: v
                for k, v in vars(self).items()
                if self._is_fitted_attribute(k) and k != "_inference"  # rebuilt after
            }
            # Callbacks given as instances are used by skorch as they are: keep them
            # (and every other parameter) the same objects in the copy.
            memo: dict[int, Any] = {}
            _keep_identity(list(context.values()), memo)
            vars(trial).update(copy.deepcopy(fitted, memo))
        return trial

    def _adopt(self, trial) -> None:
        """Take over the fitted state of a trial that succeeded."""
        for name in [k for k in vars(self) if self._is_fitted_attribute(k)]:
            del vars(self)[name]
        vars(self).update({k: v for k, v in vars(trial).items() if self._is_fitted_attribute(k)})

    def fit(self, X, y, sample_weight=None, **fit_params):
        """Train the dense network, prune it to ``sparsity``, then fine-tune.

        With ``warm_start=True`` a fitted network is trained further with its masks
        kept, then pruned to ``sparsity`` (its pruned weights stay pruned). If the fit
        fails, the estimator is left as it was.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Training inputs; converted to float32 once (sparse rows are densified
            one mini-batch at a time).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the training loss (a weighted mean, as in
            scikit-learn's MLP) and in the validation loss and score.
        **fit_params : dict
            Passed on to skorch's training loop.

        Returns
        -------
        self : object
            The fitted estimator.

        Examples
        --------
        >>> from sklearn.datasets import load_digits
        >>> from sklearn_ecprune import ECPrunedMLPClassifier
        >>> X, y = load_digits(return_X_y=True)
        >>> clf = ECPrunedMLPClassifier(sparsity=0.9, random_state=0).fit(X / 16, y)
        >>> round(clf.sparsity_, 2), clf.score(X / 16, y) > 0.95
        (0.9, True)
        """
        self._check_params()
        warm = bool(self.warm_start) and self.__sklearn_is_fitted__()
        trial = self._trial(keep_fitted=warm)
        trial._fit(X, y, sample_weight, fit_params, warm=warm)
        self._adopt(trial)
        return self

    def _training_data(self, X, sample_weight):
        """What skorch trains on (X, or X with its sample weights), and the weights."""
        if sample_weight is None:
            return X, None
        weights = _check_sample_weight(
            sample_weight, X, dtype=np.float32, ensure_non_negative=True
        )
        if not weights.sum() > 0:
            raise ValueError("sample_weight must have a positive sum.")
        return {"X": X, "sample_weight": weights}, weights

    def _check_weighted_target(self, y, weights) -> None:
        """Only the classifier has something to check; see its override."""

    def _fit(self, X, y, sample_weight, fit_params: dict, *, warm: bool) -> None:
        X, y = self._validate_X_y(X, y, reset=not warm)
        data, weights = self._training_data(X, sample_weight)
        self._check_weighted_target(y, weights)
        self._seed = self._draw_seed()
        if not warm:
            self._seed_generators(self._seed)
            self._resolve_validation(X.shape[0])
            self.initialize()
            self._dense_phase(data, y, fit_params)
            dense_epochs = len(self.history_)
        else:
            before = len(self.history_)
            self._train(data, y, self.max_epochs, "dense", **fit_params)
            dense_epochs = len(self.history_) - before
        epochs = self._fine_tune_budget(dense_epochs) if self.sparsity > 0 else 0
        if epochs == 0 or self.pruning_schedule == "before":
            self._prune(X, y, weights)
            if epochs:
                self._fine_tune(data, y, epochs, fit_params)
        else:
            # Prune in events spread over the start of fine-tuning (cubic targets, as
            # Zhu & Gupta's schedule), each followed by masked training.
            events = min(PRUNING_EVENTS, epochs)
            at = {math.floor(j * EVENT_SPAN * epochs / events): j for j in range(events)}
            if len(at) < events:  # few epochs: one event per epoch from the first
                at = {j: j for j in range(events)}
            targets = {e: self.sparsity * (1 - (1 - (j + 1) / events) ** 3) for e, j in at.items()}
            reports: list[PruningReport] = []
            self._pruning_events = (targets, reports, X, y, weights)
            try:
                self._fine_tune(data, y, epochs, fit_params)
            finally:
                self._pruning_events = None
            if targets:  # fine-tuning stopped early, before the last event
                self._prune(X, y, weights)
                reports.append(self.pruning_report_)
            self.pruning_report_ = _merged_report(reports)
        self._update_sparsity()
        self._refresh_inference()

    def _fine_tune_budget(self, dense_epochs: int) -> int:
        """Fine-tuning epochs: ``fine_tune_epochs``, or a share of the dense epochs."""
        if self.fine_tune_epochs == "auto":
            return max(MIN_FINE_TUNE, round(FINE_TUNE_SHARE * dense_epochs))
        return int(self.fine_tune_epochs)

    def _fine_tune(self, data, y, epochs: int, fit_params: dict) -> None:
        """Train ``epochs`` epochs with the masks held, on all the training rows.

        The rows held out for the dense phase's early stopping rejoin the training set
        (a user's ``train_split`` is kept); the optimizer starts fresh: the dense run's
        momentum would push on the pruned weights.
        """
        if self._holds_out:
            self._holds_out = False
            self.initialize_callbacks()  # early stopping now watches the training loss
        self._fresh_optimizer()
        self._train(data, y, epochs, "fine_tune", **fit_params)

    def _fresh_optimizer(self) -> None:
        self.initialize_optimizer()
        for group in self.optimizer_.param_groups:
            # Learning-rate schedulers (skorch's LRScheduler) resume their epoch count
            # from the history; they need the starting rate of the new optimizer.
            group.setdefault("initial_lr", group["lr"])

    def _pruning_event(self, epoch: int) -> None:
        """Called by the fine-tuning's schedule callback at the start of each epoch."""
        events = getattr(self, "_pruning_events", None)
        if not events or epoch not in events[0]:
            return
        targets, reports, X, y, weights = events
        parameters = list(self.module_.parameters())
        # Each event leaves the schedule; those left when fine-tuning ends never ran.
        self._prune(X, y, weights, sparsity=targets.pop(epoch), n_steps=1, rows=EVENT_ROWS)
        reports.append(self.pruning_report_)
        if [id(p) for p in self.module_.parameters()] == [id(p) for p in parameters]:
            # Fresh moments in the same optimizer, so that a learning-rate scheduler
            # (which holds the optimizer) keeps working.
            self.optimizer_.state.clear()
        # The loss jumps at a pruning event: early stopping counts from here.
        for _, callback in self.callbacks_:
            if isinstance(callback, EarlyStopping):
                callback.on_train_begin(self)

    def _partial_fit(self, X, y, classes=None, sample_weight=None, **fit_params):
        self._check_params()
        fitted = hasattr(self, "masks_")
        if fitted and classes is not None:
            self._check_same_classes(classes)
        trial = self._trial(keep_fitted=fitted)
        trial._partial(X, y, classes, sample_weight, fit_params, fitted=fitted)
        self._adopt(trial)
        return self

    def _partial(self, X, y, classes, sample_weight, fit_params: dict, *, fitted: bool) -> None:
        if not fitted:
            self._preset_classes = None if classes is None else np.asarray(classes)
        X, y = self._validate_X_y(X, y, reset=not fitted)
        data, weights = self._training_data(X, sample_weight)
        if not fitted:
            self._seed = self._draw_seed()
            self._seed_generators(self._seed)
            self._resolve_validation(X.shape[0])
            self.initialize()
        self._train(data, y, 1, "fine_tune" if fitted else "dense", **fit_params)
        if not fitted:
            self._prune(X, y, weights)
        elif self.pruning_report_.target_sparsity < self.sparsity:
            self._prune(X, y, weights)  # ``sparsity`` was raised since the last prune
        self._update_sparsity()
        self._refresh_inference()

    def _check_same_classes(self, classes) -> None:
        """Only the classifier has classes; see its override."""

    # ------------------------------------------------------------ persistence
    def __getstate__(self):
        """The pickled state: pruned layers as CSR, no optimizer moments, no caches.

        The kept weights of every layer sparser than half are stored with their
        positions (which are the layer's mask), instead of the dense weight and a
        dense mask; the optimizer's state (Adam's moments, twice the weights) is not
        stored: after loading, continued training (``partial_fit``, ``warm_start``)
        starts from a fresh optimizer, as fine-tuning does after pruning.
        """
        vars_ = vars(self)
        swapped = {key: vars_[key] for key in ("_inference",) if key in vars_}
        compact = None
        if self.__sklearn_is_fitted__() and hasattr(self, "masks_") and not self._training:
            compact = _sparse_weights(self.module_, self.masks_)
            swapped.update({k: vars_[k] for k in ("module_", "optimizer_", "masks_")})
            vars_["module_"] = _without_weights(self.module_, compact)
            vars_["optimizer_"] = None
            vars_["masks_"] = {k: m for k, m in self.masks_.items() if k not in compact}
        for key in swapped:
            if key not in ("module_", "optimizer_", "masks_"):
                del vars_[key]
        try:
            state = super().__getstate__()
        finally:
            vars_.update(swapped)
        if compact is not None:
            state["_sparse_weights"] = compact
        # A method registered by the user travels with the estimator (by reference to
        # its class), so that worker processes know its name too.
        if isinstance(self.pruning, str) and self.pruning in PRUNING_METHODS:
            method = PRUNING_METHODS[self.pruning]
            if not method.__module__.startswith("sklearn_ecprune."):
                state["_registered_pruning_method"] = method
        return state

    def __setstate__(self, state):
        method = state.pop("_registered_pruning_method", None)
        if method is not None and method.name not in PRUNING_METHODS:
            register_method(method)
        compact = state.pop("_sparse_weights", None)
        super().__setstate__(state)
        if compact is not None:
            _restore_weights(self.module_, self.masks_, compact)
            self.initialize_optimizer()
        if hasattr(self, "masks_"):
            self._refresh_inference()

    def load_params(self, f_params=None, *args, use_safetensors=False, **kwargs):
        """skorch's ``load_params``; the masks and sparsity then follow the loaded weights.

        On an estimator that was never fitted, the default :class:`MLPModule` is sized
        from the saved parameters (``n_features_in_`` and ``n_outputs_``); the
        classifier's ``classes_`` are then ``0 .. n_outputs_ - 1`` (labels are not
        part of the parameters; pickle the estimator to keep them), and a regressor
        with ``standardize_target=True`` cannot be restored this way. Weights at zero
        count as pruned: they stay zero in ``partial_fit`` and warm-started fits.

        Parameters
        ----------
        f_params : str, path or file-like, default=None
            The module's parameters, as written by ``save_params``.
        *args, use_safetensors, **kwargs
            As in skorch (``f_optimizer``, ``f_criterion``, ``f_history``,
            ``checkpoint``, ...).

        Returns
        -------
        self : object
            The estimator, with the loaded parameters.

        Examples
        --------
        >>> import io
        >>> import numpy as np
        >>> from sklearn.datasets import load_iris
        >>> from sklearn_ecprune import ECPrunedMLPClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = ECPrunedMLPClassifier(max_epochs=20, random_state=0).fit(X, y)
        >>> buffer = io.BytesIO()
        >>> clf.save_params(f_params=buffer)
        >>> _ = buffer.seek(0)
        >>> other = ECPrunedMLPClassifier(max_epochs=20).fit(X, y).load_params(buffer)
        >>> bool(np.array_equal(other.predict(X), clf.predict(X)))
        True
        >>> other.sparsity_ == clf.sparsity_
        True
        """
        if not self.initialized_:
            if f_params is None:
                raise ValueError(
                    f"load_params on an unfitted {type(self).__name__} needs f_params: the "
                    "network is sized from the saved parameters."
                )
            self._size_from_parameters(f_params, use_safetensors)
        super().load_params(f_params, *args, use_safetensors=use_safetensors, **kwargs)
        self._masks_from_weights()
        self._refresh_inference()
        return self

    def _size_from_parameters(self, f_params, use_safetensors: bool) -> None:
        if use_safetensors:
            from safetensors.torch import load_file

            state = load_file(f_params)
        else:
            state = torch.load(f_params, map_location="cpu", weights_only=True)
        if hasattr(f_params, "seek"):
            f_params.seek(0)
        weights = [v for k, v in state.items() if k.endswith("weight") and v.ndim == 2]
        if not weights:
            raise ValueError("The saved parameters hold no Linear layer weight.")
        self._fit_metadata_from_sizes(weights[0].shape[1], weights[-1].shape[0])
        self._seed = self._draw_seed()
        self._seed_generators(self._seed)
        self._holds_out = False
        self._stratified_split = self._is_classifier
        self.initialize()

    def _masks_from_weights(self) -> None:
        """Masks, sparsity and report from the weights themselves (zeros are pruned)."""

        layers = [
            (name, m) for name, m in self.module_.named_modules() if isinstance(m, torch.nn.Linear)
        ]
        self.masks_ = {name: m.weight.detach() != 0 for name, m in layers}
        rows = [
            LayerReport(name, tuple(m.weight.shape), m.weight.numel(), int(mask.sum()), 0.0)
            for (name, m), mask in zip(layers, self.masks_.values(), strict=True)
        ]
        self.pruning_report_ = PruningReport(rows, "loaded parameters", float(self.sparsity))
        self._update_sparsity()

    # ------------------------------------------------ scikit-learn MLP attributes
    def _history_column(self, key: str) -> list[float]:
        check_is_fitted(self)
        return [row[key] for row in self.history_ if key in row]

    @property
    def loss_curve_(self) -> list[float]:
        """Training loss of every epoch (dense training, then fine-tuning)."""
        return self._history_column("train_loss")

    @property
    def validation_scores_(self) -> list[float] | None:
        """Validation score (accuracy or R^2) of every epoch; None without a split."""
        scores = self._history_column("valid_score")
        return scores or None

    @property
    def best_validation_score_(self) -> float | None:
        """Best validation score; None without a validation split."""
        scores = self.validation_scores_
        return None if scores is None else max(scores)

    @property
    def best_loss_(self) -> float | None:
        """Lowest training loss; None when early stopping watches a validation set."""
        if self.validation_scores_ is not None:
            return None
        return min(self.loss_curve_)

    @property
    def n_iter_(self) -> int:
        """Epochs run in all (dense training and fine-tuning)."""
        check_is_fitted(self)
        return len(self.history_)

    def _linear_layers(self, check: bool = True) -> list[torch.nn.Linear]:
        if check:
            check_is_fitted(self)
        return [m for m in self.module_.modules() if isinstance(m, torch.nn.Linear)]

    @property
    def hidden_layer_sizes_(self) -> tuple[int, ...]:
        """The hidden widths of the fitted network (smaller after neuron pruning)."""
        return tuple(m.out_features for m in self._linear_layers()[:-1])

    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weight matrices, ``coefs_[i]`` of shape (n_in, n_out), as scikit-learn's MLP."""
        return [to_numpy(m.weight.detach()).T.copy() for m in self._linear_layers()]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Bias vectors, ``intercepts_[i]`` of shape (n_out,) (zeros without a bias)."""
        return [
            np.zeros(m.out_features, np.float32) if m.bias is None else to_numpy(m.bias.detach())
            for m in self._linear_layers()
        ]

    @property
    def n_layers_(self) -> int:
        """Layers, input and output included, as in scikit-learn's MLP."""
        return len(self._linear_layers()) + 1

    # ---------------------------------------------------------------- sklearn
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True
        return tags


# What both estimators' fit and predict do, for their class docstrings.
FIT_DOC = """    ``fit`` trains the dense network with skorch's loop (early stopping on a
    held-out validation loss by default), then prunes it to ``sparsity`` with
    elimination-compensation (ECP's ranking, the kept weights and biases refit to
    the dense layer's output) in a few events interleaved with fine-tuning, the
    pruned weights held at zero. ``predict`` runs the pruned network sparse where
    that is faster. Takes 1-D or 2-D ``y`` and predicts the same shape.
"""

PARAMS_DOC = """
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
        Fraction of the weights of the Linear layers at zero after ``fit``
        (exactly ``round(sparsity * n_weights)`` with ``pruning_unit="weight"``).
        Biases are not pruned and do not count. ``0`` trains a dense network and
        leaves it untouched.
    pruning : str, PruningMethod instance or class, default="ecp-cg"
        The pruning criterion: a key of :data:`~sklearn_ecprune.PRUNING_METHODS`,
        or a :class:`~sklearn_ecprune.PruningMethod` (an instance or class travels to
        worker processes by pickle, without registration).
        The default ``"ecp-cg"`` ranks weights by ECP, then refits each row's
        kept weights and bias to the dense layer's output by a few
        conjugate-gradient steps; ``"ecp-ls"`` solves the same refit exactly, at
        many times the cost. ``"ecp"`` is the paper's method (bias shift only);
        ``"ecp-obs"`` ranks by the error left after the refit; ``"magnitude"``,
        ``"gradient"``, ``"obd"``, ``"wanda"``, ``"random"`` and ``"nonlinear"``
        are the baselines.
    scope : {"global", "layer"}, default="global"
        One threshold across layers, or the same ratio in every layer.
    n_steps : int, default=10
        Steps of the geometric schedule of a one-shot prune (the statistics are
        recomputed on the partly pruned network at each step), used with
        ``pruning_schedule="before"`` or ``fine_tune_epochs=0``. The interleaved
        schedule prunes in one step per event instead.
    compensate : bool or None, default=None
        Shift the biases to compensate removed weights; ``None`` uses the
        method's default (on for the ECP methods). The refitting methods
        (``"ecp-cg"``, ``"ecp-ls"``, ``"ecp-obs"``) always compensate through their
        refit, and reject ``False``.
    pruning_params : dict or None, default=None
        Options of :func:`~sklearn_ecprune.prune_mlp` that have no parameter of
        their own here: ``min_density``, ``sequential``, ``ridge``,
        ``cg_iterations``, ``batch_size`` and ``output_fn``. For example
        ``pruning_params={"min_density": 0.02}``. With ``pruning_unit="neuron"``
        only ``batch_size`` and ``output_fn`` apply (others are an error).
    pruning_unit : {"weight", "neuron"}, default="weight"
        ``"weight"`` prunes single weights. ``"neuron"`` removes whole hidden
        neurons (ECP's neuron score: the error left after shifting the next
        layer's biases) until ``sparsity`` of the dense weights are gone, giving a
        smaller dense network (``hidden_layer_sizes_``); ``pruning`` must then be
        an ``"ecp"`` method and ``scope`` ``"global"``.
    pruning_schedule : {"interleaved", "before"}, default="interleaved"
        When the pruning happens relative to fine-tuning. ``"interleaved"``: three
        pruning events at the starts of epochs spread over the first third of the
        fine-tuning, to cubic targets ``sparsity * (1 - (1 - j/3)**3)`` (Zhu &
        Gupta's schedule), each one step of ``pruning`` on at most 512
        calibration rows and followed by masked training. ``"before"``: one prune
        of ``n_steps`` steps, then the fine-tuning. With ``fine_tune_epochs=0``
        both prune once, after the dense training.
    fine_tune_epochs : int or "auto", default="auto"
        Epochs of training after (and during) pruning, with the pruned weights
        held at zero, on all the training rows and with a fresh optimizer.
        ``"auto"``: a fifth of the epochs the dense training ran, at least 2.
        ``0``: prune only (one shot, ``n_steps`` steps).
    calibration_size : int or None, default=2048
        Most training samples used for the pruning statistics (a seeded
        subsample); ``None`` uses all. Interleaved events use at most 512.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, the shuffling, the validation split and the
        calibration subsample, each with its own ``torch.Generator``: two fits with
        the same integer give identical predictions, also in parallel threads,
        processes and dask workers, and torch's global random state is neither
        used nor changed (a user's ``module`` class is built under torch's global
        seed, restored afterwards).
    memory : str, path, joblib.Memory or None, default=None
        Cache the dense phase of ``fit`` on disk, as ``Pipeline(memory=...)``
        does for transformers: ``None`` caches nothing; a directory or a
        :class:`joblib.Memory` stores, per content hash of the training
        parameters, data and seed, the trained dense network (weights, optimizer
        state, history, random generators). A later fit that differs only in
        ``sparsity``, ``pruning``, ``scope``, ``n_steps``, ``compensate``,
        ``pruning_params``, ``pruning_unit``, ``pruning_schedule``,
        ``fine_tune_epochs``, ``calibration_size``, ``inference``, ``memory`` or
        ``verbose`` restores it instead of training again, with a result
        identical to training again. Needs a ``random_state`` (a fit without one
        is never the same twice). Workers that share the directory (``n_jobs``,
        dask on one machine) share the cache. Callbacks do not run in the dense
        phase of a fit served from the cache.
    inference : {"auto", "dense", "sparse"}, default="auto"
        The network that ``predict`` runs after ``fit``: ``"auto"`` removes the
        hidden neurons that pruning left constant and stores each layer sparse
        enough to gain (at most 12 % of its weights kept with one torch thread,
        8 % with two; half that for small layers) as CSR, multiplied by scipy;
        ``"dense"`` runs the masked dense network; ``"sparse"`` stores every layer
        as CSR. All three predict the same within float32 round-off.
    alpha : float >= 0, default=1e-4
        L2 penalty on the weights (not the biases) during training, scaled as
        in scikit-learn's MLP: ``alpha / 2 * ||W||^2`` divided by the batch's
        (weighted) sample count.
    early_stopping : bool or "auto", default=True
        Hold out ``validation_fraction`` of the training rows (stratified for
        classifiers) during the dense training, stop it when the validation loss
        has not improved by ``tol`` for ``n_iter_no_change`` epochs, and restore
        the best epoch's weights; the held-out rows rejoin for the fine-tuning.
        ``False`` stops on the training loss, with all rows. ``"auto"`` holds out
        only from 10,000 rows on. A ``train_split`` given takes its place.
    validation_fraction : float in (0, 1), default=0.1
        Share of the training rows held out by ``early_stopping``.
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
        Mini-batch size; ``-1`` trains on all rows in one batch.
    train_split : callable or None, default=None
        skorch's validation split (e.g. ``skorch.dataset.ValidSplit(5)``), used
        in both phases instead of ``early_stopping``'s hold-out; ``None`` leaves
        the split to ``early_stopping``.
    callbacks : list or None, default=None
        Extra skorch callbacks; they run in both phases, and are told which one
        (``phase="dense"`` or ``"fine_tune"`` in ``on_train_begin``).
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

ATTRIBUTES_DOC = """
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of the features, when X was a DataFrame with string column names.
    masks_ : dict of str to torch.Tensor
        Per pruned layer name, the boolean keep-mask of its weight.
    sparsity_ : float
        Achieved sparsity, counted on the final weights.
    pruning_report_ : PruningReport
        Per-layer table of the pruning (prints as a table, ``.to_frame()``); after
        interleaved events, the final layers and the bias shifts summed over the
        events.
    module_ : torch.nn.Module
        The trained and pruned network.
    history_ : skorch.History
        skorch's training history (dense training, then fine-tuning).
    loss_curve_ : list of float
        Training loss of every epoch, as in scikit-learn's MLP.
    validation_scores_ : list of float or None
        Validation score (accuracy, or R^2) of every epoch with a validation
        set; None without one.
    best_validation_score_ : float or None
        Best of ``validation_scores_`` (of the dense training: its best weights
        are the ones pruned).
    best_loss_ : float or None
        Lowest training loss; None when early stopping watches a validation set.
    n_iter_ : int
        Epochs run in all (dense training and fine-tuning).
    coefs_, intercepts_ : list of ndarray
        Weights, ``coefs_[i]`` of shape (n_in, n_out), and biases per layer, as in
        scikit-learn's MLP.
    n_layers_ : int
        Layers, input and output included.
    hidden_layer_sizes_ : tuple of int
        Hidden widths of the fitted network (smaller after ``pruning_unit="neuron"``).
    out_activation_ : str
        ``"softmax"`` for the classifier, ``"identity"`` for the regressor.
"""
