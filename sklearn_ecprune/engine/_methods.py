"""Pruning criteria: one small class per method, all in one registry.

A method is a scorer and a compensator. Its ``compute_scores`` turns a layer (and the
statistics it asks for) into a score per weight; the lowest scores are pruned first.
Its ``compensator`` (``_compensators``) then makes up for the removed weights: ECP's
bias shift ``W * S1 / S0`` (switched on or off by ``compensate``), or a least-squares
refit of the kept weights and the bias (``"ecp-ls"``, ``"ecp-cg"``), which is always on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from ._compensators import (
    BiasShift,
    Compensator,
    ConjugateGradientRefit,
    ExactRefit,
    MaskOnly,
)
from ._oracle import layer_nonlinear_importance
from ._refit import RefitProblem, capture, refit_importance
from ._statistics import LayerStatistics, ecp_closed_form

__all__ = [
    "DEFAULT_METHOD",
    "METHOD",
    "PRUNING_METHODS",
    "LayerContext",
    "PruningMethod",
    "compensator_for",
    "ecp_closed_form",
    "get_method",
    "register_method",
]

DEFAULT_METHOD = "ecp-cg"
"""The method the project recommends (chosen from the benchmarks), the default of
:func:`prune_mlp` and of the estimators' ``pruning`` parameter."""

_F64 = torch.float64


@dataclass
class LayerContext:
    """What a method may look at when it scores one layer.

    ``prune_mlp`` builds one per layer and step and passes it to the method's
    ``compute_scores``; ``stats`` is filled when the method asks for statistics
    (``needs_statistics``), ``loss_grad`` when it asks for the loss gradient,
    ``sensitivities`` (each sample's ``s_i = sum_k g_ik^2`` of every row,
    ``(n_samples, out_features)``) when it asks for them (``needs_sensitivities``).

    Examples
    --------
    >>> import torch
    >>> from sklearn_ecprune.engine import PRUNING_METHODS, LayerContext
    >>> layer = torch.nn.Linear(4, 2)
    >>> scores = PRUNING_METHODS["magnitude"]().compute_scores(LayerContext("0", layer))
    >>> scores.shape
    torch.Size([2, 4])
    """

    name: str
    layer: nn.Linear
    stats: LayerStatistics | None = None
    loss_grad: torch.Tensor | None = None
    generator: torch.Generator | None = None
    module: nn.Module | None = None
    X: torch.Tensor | None = None
    batch_size: int = 1024
    output_fn: Callable[[torch.Tensor], torch.Tensor] | None = None
    ridge: float = 1e-3
    sample_weight: torch.Tensor | None = None
    sensitivities: torch.Tensor | None = None


# What a method set before it owned a compensator, and what replaces it.
_REFIT_MIGRATION = {"exact": "ExactRefit()", "cg": "ConjugateGradientRefit()"}


class PruningMethod:
    """Base class of a pruning criterion.

    A method is a scorer and a compensator. Subclasses set ``name`` and the
    statistics their scores need, and implement :meth:`compute_scores`; they may
    choose another ``compensator``. The engine reads what the scorer and the
    compensator need and runs one pass over the data per step for both.

    Attributes
    ----------
    name : str
        Registry key, the value of ``method=`` in :func:`prune_mlp`.
    needs_statistics : bool
        Needs S0, S1, S2 (one backward pass per network output).
    needs_inputs : bool
        Needs only the mean squared layer inputs (one forward pass).
    needs_loss_gradient : bool
        Needs the gradient of a loss over labelled data (``y`` in prune_mlp).
    needs_sensitivities : bool
        Needs each sample's output sensitivity of every row (``ctx.sensitivities``).
    compensator : Compensator
        How the removed weights are compensated: ECP's bias shift (the default), no
        compensation (``MaskOnly``), or a least-squares refit of the kept weights
        and bias, exact (``ExactRefit``, ``"ecp-ls"``) or by conjugate gradients
        (``ConjugateGradientRefit``, ``"ecp-cg"``).
    compensates : bool
        Whether an optional compensator (the bias shift) is on when
        ``compensate=None``. A refit is always on.

    Examples
    --------
    A new criterion is one small class, registered under its name:

    >>> import torch
    >>> from sklearn_ecprune import PRUNING_METHODS, PruningMethod, prune_mlp, register_method
    >>> @register_method
    ... class CubicMagnitude(PruningMethod):
    ...     name = "cubic"
    ...     def compute_scores(self, ctx):
    ...         return ctx.layer.weight.detach().abs() ** 3
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
    ...                           torch.nn.Linear(8, 2))
    >>> prune_mlp(net, torch.randn(16, 4), 0.5, method="cubic").sparsity
    0.5
    >>> del PRUNING_METHODS["cubic"]
    """

    name: ClassVar[str] = ""
    needs_statistics: ClassVar[bool] = False
    needs_inputs: ClassVar[bool] = False
    needs_loss_gradient: ClassVar[bool] = False
    needs_sensitivities: ClassVar[bool] = False
    compensator: ClassVar[Compensator] = BiasShift()
    compensates: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        refit = cls.__dict__.get("refit")
        if refit is not None:
            replacement = _REFIT_MIGRATION.get(refit, "a Compensator instance")
            raise TypeError(
                f"{cls.__name__}.refit = {refit!r}: a method now owns its compensation. "
                f"Set compensator = {replacement} (from sklearn_ecprune.engine) "
                "instead of refit."
            )
        if not isinstance(cls.compensator, Compensator):
            raise TypeError(
                f"{cls.__name__}.compensator must be a Compensator instance, got "
                f"{cls.compensator!r}."
            )

    def compute_scores(self, ctx: LayerContext) -> torch.Tensor:
        """Score every weight of ``ctx.layer``; lower means pruned first."""
        raise NotImplementedError


PRUNING_METHODS: dict[str, type[PruningMethod]] = {}


def _is_builtin(cls: type) -> bool:
    return cls.__module__.startswith("sklearn_ecprune.")


def register_method(cls: type[PruningMethod]) -> type[PruningMethod]:
    """Class decorator adding a :class:`PruningMethod` to :data:`PRUNING_METHODS`.

    The class's ``name`` becomes the value of ``method=`` in :func:`prune_mlp` and
    of ``pruning=`` in the estimators.

    Examples
    --------
    >>> from sklearn_ecprune import PRUNING_METHODS, PruningMethod, register_method
    >>> @register_method
    ... class Oldest(PruningMethod):
    ...     name = "oldest"
    ...     def compute_scores(self, ctx):
    ...         return ctx.layer.weight.detach().abs()
    >>> "oldest" in PRUNING_METHODS
    True
    >>> del PRUNING_METHODS["oldest"]
    """
    if not (isinstance(cls, type) and issubclass(cls, PruningMethod)):
        raise TypeError(f"register_method takes a PruningMethod subclass, got {cls!r}.")
    if not isinstance(cls.name, str) or not cls.name:
        raise ValueError(f"{cls.__name__}.name must be a non-empty string, got {cls.name!r}.")
    existing = PRUNING_METHODS.get(cls.name)
    if existing is not None and existing is not cls and _is_builtin(existing):
        raise ValueError(
            f"{cls.__name__}.name {cls.name!r} is the name of a built-in method; registering "
            "it would replace that method for the whole process. Choose another name."
        )
    PRUNING_METHODS[cls.name] = cls
    return cls


class _MethodConstraint:
    """What ``method=`` / ``pruning=`` accepts; registry names are read when checking."""

    def is_satisfied_by(self, value) -> bool:
        if isinstance(value, PruningMethod):
            return True
        if isinstance(value, type):
            return issubclass(value, PruningMethod)
        return isinstance(value, str) and value in PRUNING_METHODS

    def __str__(self) -> str:
        names = ", ".join(repr(name) for name in sorted(PRUNING_METHODS))
        return f"a str among {{{names}}}, a PruningMethod instance or a PruningMethod subclass"


METHOD = [_MethodConstraint()]
"""The constraint of ``method=`` in :func:`prune_mlp` and ``pruning=`` in the estimators."""


def compensator_for(method: PruningMethod, compensate: bool | None) -> Compensator:
    """The compensator a run uses: the method's own, unless ``compensate`` turns it off.

    ``None`` follows the method (``compensates``). A refit cannot be turned off:
    ``compensate=False`` raises ``ValueError`` there.
    """
    own = method.compensator
    if not own.optional:
        if compensate is False:
            raise ValueError(
                f"method={method.name!r} compensates through its least-squares refit; "
                "compensate=False is not available with it (use method='ecp' for that)."
            )
        return own
    on = method.compensates if compensate is None else compensate
    return own if on else MaskOnly()


def get_method(method: str | PruningMethod | type[PruningMethod]) -> PruningMethod:
    """The method to use: a registry name, a :class:`PruningMethod` class or instance.

    An instance (or class) works without registration, also in worker processes
    that never ran the ``register_method`` of the caller: it travels by pickle.
    Raises ``ValueError`` for an unknown name or another kind of object.
    """
    if isinstance(method, PruningMethod):
        return method
    if isinstance(method, type) and issubclass(method, PruningMethod):
        return method()
    if isinstance(method, str) and method in PRUNING_METHODS:
        return PRUNING_METHODS[method]()
    raise ValueError(
        f"Unknown pruning method {method!r}: pass a PruningMethod instance or class, or "
        f"one of the registered names {sorted(PRUNING_METHODS)}."
    )


@register_method
class ECPMethod(PruningMethod):
    """Elimination-compensation pruning: output error left after the optimal shift."""

    name = "ecp"
    needs_statistics = True
    compensates = True

    def compute_scores(self, ctx: LayerContext) -> torch.Tensor:
        importance, _ = ecp_closed_form(ctx.layer.weight, ctx.stats, ctx.layer.bias is not None)
        return importance


@register_method
class ECPLeastSquaresMethod(ECPMethod):
    """ECP ranking, then a least-squares refit of every row's kept weights and bias.

    Weights are ranked exactly as by ``"ecp"``. Instead of shifting only the bias,
    the engine then refits, row by row, the weights that are kept and the bias so
    that the layer's pre-activation matches that of the network as it was given to
    :func:`prune_mlp`:

        min over w', b'  E[ s_i(x) (z_i(x) - w' . a'(x) - b')^2 ]
                         + lambda ||(w', b') - (w, b)||^2

    where ``s_i = sum_k g_ik^2`` is the output sensitivity of neuron ``i``, ``z_i``
    the original pre-activation and ``a'`` the layer's input in the partly pruned
    network (layers are refitted in forward order, so each one also corrects the
    error of the layers before it). It is the g^2-weighted version of the
    OBS/SparseGPT update; the bias-only ECP shift is the special case with no kept
    weight. ``lambda`` is ``ridge`` (an option of :func:`prune_mlp`) times the
    row's mean diagonal of the weighted Gram matrix.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ecprune import prune_mlp
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(),
    ...                           torch.nn.Linear(16, 2))
    >>> prune_mlp(net, torch.randn(200, 6), 0.75, method="ecp-ls", n_steps=5).sparsity
    0.75
    """

    name = "ecp-ls"
    compensator = ExactRefit()


@register_method
class ECPConjugateGradientMethod(ECPMethod):
    """ECP ranking, then ``"ecp-ls"``'s refit solved by a few conjugate-gradient steps.

    The refit objective is exactly that of ``"ecp-ls"`` (each row's kept weights and
    bias fitted, with the row's output sensitivity as weight, to the pre-activation
    of the network as it was given). Instead of a Gram matrix and a Cholesky
    factorisation per row, all rows take ``cg_iterations`` (default 4) steps of
    Jacobi-preconditioned conjugate gradients from ECP's bias-shift solution; each
    step costs two dense products over the calibration data, and the sensitivities
    come from the step's own statistics pass, so a step costs about three forward +
    K backward passes at any width (``"ecp-ls"``: about 50 at width 256, growing
    with the width squared). The project's default.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ecprune import prune_mlp
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(),
    ...                           torch.nn.Linear(16, 2))
    >>> prune_mlp(net, torch.randn(200, 6), 0.75, method="ecp-cg").sparsity
    0.75
    """

    name = "ecp-cg"
    compensator = ConjugateGradientRefit()


@register_method
class ECPOBSMethod(PruningMethod):
    """Rank by the error left after the refit, then refit as ``"ecp-ls"`` does.

    ``"ecp-ls"`` ranks weights by ECP's importance, the error left when only the
    bias compensates, but then compensates through the kept weights as well. This
    method ranks by the error left after *that* compensation: for row ``i`` with
    the sensitivity-weighted Gram matrix ``H_i = E[s_i a~ a~^T]`` of its kept
    inputs and the constant 1 (plus the refit's ridge), removing ``W_ij`` and
    refitting the rest of the row leaves

        I_ij = W_ij^2 / [H_i^-1]_jj

    the OBS saliency with ECP's weights ``s_i = sum_k g_ik^2``. With the bias as
    the only free parameter it reduces to ECP's importance. One weighted Gram
    matrix and its inverse per row and step: about twice the work of ``"ecp-ls"``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ecprune import prune_mlp
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(),
    ...                           torch.nn.Linear(16, 2))
    >>> prune_mlp(net, torch.randn(200, 6), 0.75, method="ecp-obs", n_steps=5).sparsity
    0.75
    """

    name = "ecp-obs"
    needs_sensitivities = True
    compensator = ExactRefit()
    compensates = True

    def compute_scores(self, ctx: LayerContext) -> torch.Tensor:
        problem = RefitProblem(
            layer=ctx.layer,
            keep=ctx.layer.weight.detach() != 0,
            inputs=capture(ctx.module, ctx.layer, ctx.X, ctx.batch_size, "in"),
            sensitivities=ctx.sensitivities,
            target=None,
            ridge=ctx.ridge,
            chunk=ctx.batch_size,
        )
        return refit_importance(problem)


@register_method
class MagnitudeMethod(PruningMethod):
    """Plain magnitude pruning, ``|W_ij|``."""

    name = "magnitude"

    def compute_scores(self, ctx: LayerContext) -> torch.Tensor:
        return ctx.layer.weight.detach().abs().to(_F64)


@register_method
class GradientMethod(PruningMethod):
    """Gradient magnitude, ``|dL/dW_ij|`` of the loss over the labelled data."""

    name = "gradient"
    needs_loss_gradient = True

    def compute_scores(self, ctx: LayerContext) -> torch.Tensor:
        return ctx.loss_grad.abs()


@register_method
class OBDMethod(PruningMethod):
    """Gauss-Newton (OBD-like) saliency without compensation, ``W_ij^2 S2_ij``."""

    name = "obd"
    needs_statistics = True

    def compute_scores(self, ctx: LayerContext) -> torch.Tensor:
        return ctx.layer.weight.detach().to(_F64).square() * ctx.stats.s2


@register_method
class WandaMethod(PruningMethod):
    """Wanda: ``|W_ij|`` times the L2 norm (root mean square) of input ``a_j``."""

    name = "wanda"
    needs_inputs = True

    def compute_scores(self, ctx: LayerContext) -> torch.Tensor:
        return ctx.layer.weight.detach().abs().to(_F64) * ctx.stats.input_sq.sqrt()


@register_method
class RandomMethod(PruningMethod):
    """Uniformly random scores, seeded by ``random_state``."""

    name = "random"

    def compute_scores(self, ctx: LayerContext) -> torch.Tensor:
        shape = ctx.layer.weight.shape
        return torch.rand(shape, generator=ctx.generator, dtype=_F64).to(ctx.layer.weight.device)


@register_method
class NonlinearMethod(PruningMethod):
    """The paper's exact baseline: true output error of each compensated removal.

    One forward pass per weight; meant for tiny networks and as a test oracle.
    """

    name = "nonlinear"
    needs_statistics = True
    compensates = True

    def compute_scores(self, ctx: LayerContext) -> torch.Tensor:
        _, shift = ecp_closed_form(ctx.layer.weight, ctx.stats, ctx.layer.bias is not None)
        return layer_nonlinear_importance(ctx.module, ctx.X, ctx.layer, shift, ctx.batch_size)
