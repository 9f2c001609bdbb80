"""Compensation: how a layer's kept weights and bias make up for the weights that go.

A pruning method is a scorer (``PruningMethod.compute_scores``) and a compensator
(``PruningMethod.compensator``). After the selection, :func:`prune_mlp` hands each
layer of the step to the compensator, which applies the new mask and adjusts what is
left. Each compensator declares once what it needs from the step's pass over the data
(statistics, per-sample sensitivities, the network as it was given), so that the
engine runs one pass per step for the scorer and the compensator together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import nn

from ._refit import RefitProblem, capture, refit_layer, refit_layer_cg
from ._statistics import LayerStatistics, ecp_closed_form

if TYPE_CHECKING:  # for annotations only: the configuration holds the compensator
    from ._prune import PruneConfig

__all__ = [
    "BiasShift",
    "Compensator",
    "ConjugateGradientRefit",
    "ExactRefit",
    "LayerStep",
    "MaskOnly",
]


@dataclass
class LayerStep:
    """One layer at one step of a :func:`prune_mlp` run: what a compensator works on.

    ``stats`` and ``sensitivities`` come from the step's pass over the data on the
    network before the step (filled when the compensator or the scorer asks for
    them); ``reference`` is a copy of the network as it was given to ``prune_mlp``
    (filled when the compensator asks for it).

    Examples
    --------
    >>> import torch
    >>> from sklearn_ecprune import PRUNING_METHODS
    >>> from sklearn_ecprune.engine import LayerStep, MaskOnly, PruneConfig
    >>> layer = torch.nn.Linear(3, 2)
    >>> keep = torch.ones(2, 3, dtype=torch.bool)
    >>> config = PruneConfig(sparsity=0.5, method=PRUNING_METHODS["magnitude"]())
    >>> step = LayerStep("0", layer, keep, keep.triu(), layer, torch.randn(4, 3), config)
    >>> int(step.removed.sum())
    1
    >>> MaskOnly().compensate(step)
    >>> int((layer.weight == 0).sum())
    1
    """

    name: str
    layer: nn.Linear
    keep: torch.Tensor  # (out, in) the weights kept before this step
    new_keep: torch.Tensor  # (out, in) the weights kept after it
    module: nn.Module
    X: torch.Tensor
    config: PruneConfig
    stats: LayerStatistics | None = None
    sensitivities: torch.Tensor | None = None
    reference: nn.Module | None = None

    @property
    def removed(self) -> torch.Tensor:
        """The weights this step removes."""
        return self.keep & ~self.new_keep

    def refit_problem(self) -> RefitProblem:
        """The layer's weighted least-squares refit towards the reference network."""
        chunk = self.config.batch_size
        reference_layer = self.reference.get_submodule(self.name)

        def target(start: int, stop: int) -> torch.Tensor:
            return capture(self.reference, reference_layer, self.X[start:stop], chunk, "out")

        return RefitProblem(
            layer=self.layer,
            keep=self.new_keep,
            inputs=capture(self.module, self.layer, self.X, chunk, "in"),
            sensitivities=self.sensitivities,
            target=target,
            ridge=self.config.ridge,
            chunk=chunk,
        )


class Compensator:
    """How the removed weights of a layer are compensated; owned by a pruning method.

    Subclasses implement :meth:`compensate` and declare what it needs from the
    step's pass over the data.

    Attributes
    ----------
    needs_statistics : bool
        Needs the step's S0, S1, S2 (``step.stats``).
    needs_sensitivities : bool
        Needs each sample's output sensitivity ``s_i = sum_k g_ik^2`` of every row
        (``step.sensitivities``, ``(n_samples, out_features)``).
    needs_reference : bool
        Needs a copy of the network as it was given (``step.reference``).
    optional : bool
        Whether ``compensate=False`` may switch it off (plain masking instead).

    Examples
    --------
    >>> import torch
    >>> from sklearn_ecprune.engine import MaskOnly, PruningMethod
    >>> class MagnitudeNoShift(PruningMethod):
    ...     name = "magnitude-no-shift"
    ...     compensator = MaskOnly()
    ...     def compute_scores(self, ctx):
    ...         return ctx.layer.weight.detach().abs()
    >>> from sklearn_ecprune import prune_mlp
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 4))
    >>> bias = net[0].bias.detach().clone()
    >>> _ = prune_mlp(net, torch.randn(8, 4), 0.5, method=MagnitudeNoShift, compensate=True)
    >>> torch.equal(net[0].bias, bias)
    True
    """

    needs_statistics: ClassVar[bool] = False
    needs_sensitivities: ClassVar[bool] = False
    needs_reference: ClassVar[bool] = False
    optional: ClassVar[bool] = True

    def compensate(self, step: LayerStep) -> None:
        """Apply ``step.new_keep`` to ``step.layer`` and compensate, in place."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MaskOnly(Compensator):
    """No compensation: the removed weights are set to zero, nothing else changes.

    What every optional compensator becomes with ``compensate=False``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ecprune import PRUNING_METHODS
    >>> from sklearn_ecprune.engine import PruneConfig
    >>> PruneConfig(sparsity=0.5, method=PRUNING_METHODS["ecp"](), compensate=False).compensator
    MaskOnly()
    """

    def compensate(self, step: LayerStep) -> None:
        weight = step.layer.weight
        with torch.no_grad():
            weight.mul_(step.new_keep.to(weight.dtype))


class BiasShift(MaskOnly):
    """ECP's compensation: each row's bias moves by the summed optimal shifts.

    Removing ``W_ij`` shifts ``b_i`` by ``W_ij S1_ij / S0_i``; the shifts of one row
    add up (the joint optimum). A layer without a bias is only masked.

    Examples
    --------
    >>> from sklearn_ecprune import PRUNING_METHODS
    >>> PRUNING_METHODS["ecp"].compensator, PRUNING_METHODS["magnitude"].compensates
    (BiasShift(), False)
    """

    needs_statistics = True

    def compensate(self, step: LayerStep) -> None:
        layer = step.layer
        if layer.bias is not None:
            _, shift = ecp_closed_form(layer.weight, step.stats)
            with torch.no_grad():
                layer.bias += (shift * step.removed).sum(1).to(layer.bias.dtype)
        super().compensate(step)


class ExactRefit(Compensator):
    """Refit each row's kept weights and bias by weighted least squares, exactly.

    The compensation of ``"ecp-ls"`` and ``"ecp-obs"``: one Gram matrix and one
    Cholesky solve per row. It cannot be switched off (``compensate=False`` raises).

    Examples
    --------
    >>> from sklearn_ecprune import PRUNING_METHODS
    >>> PRUNING_METHODS["ecp-ls"].compensator, PRUNING_METHODS["ecp-obs"].compensator
    (ExactRefit(), ExactRefit())
    """

    needs_sensitivities = True
    needs_reference = True
    optional = False

    def compensate(self, step: LayerStep) -> None:
        refit_layer(step.refit_problem())


class ConjugateGradientRefit(Compensator):
    """:class:`ExactRefit`'s problem, solved by a few conjugate-gradient steps.

    The compensation of ``"ecp-cg"``: it starts from ECP's bias shift (the exact
    optimum when only the bias is free) and takes ``cg_iterations`` Jacobi-
    preconditioned steps for all rows at once, preconditioned by the diagonal
    ``[S2 | S0]`` of the step's statistics.

    Examples
    --------
    >>> from sklearn_ecprune import PRUNING_METHODS
    >>> PRUNING_METHODS["ecp-cg"].compensator
    ConjugateGradientRefit()
    """

    needs_statistics = True
    needs_sensitivities = True
    needs_reference = True
    optional = False

    def compensate(self, step: LayerStep) -> None:
        layer, stats = step.layer, step.stats
        has_bias = layer.bias is not None
        _, shift = ecp_closed_form(layer.weight, stats, has_bias)
        row_shift = (shift * step.removed).sum(1) if has_bias else None
        diagonal = torch.cat([stats.s2, stats.s0[:, None]], dim=1)
        refit_layer_cg(step.refit_problem(), diagonal, row_shift, step.config.cg_iterations)
