"""The plan of one fit: its seeds, its hold-out and the data its pruning calibrates on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = ["FitPlan"]


@dataclass
class FitPlan:
    """What one ``fit`` decided before training: seeds, hold-out, calibration data.

    Made once at the start of a fit (kept by a warm-started fit and by
    ``partial_fit``, whose generators continue), read by the estimator's skorch hooks
    and by the callbacks that run the phases. Nothing global is used: each use of
    randomness has its own generator or seed, drawn from the fit's seed, so fits in
    parallel threads with the same ``random_state`` give the same result.

    Parameters
    ----------
    seed : int
        The fit's seed (``random_state`` itself, or drawn from it).
    holds_out : bool
        Whether early stopping holds out a validation set.
    stratified : bool
        Whether the hold-out keeps the class proportions (classifiers).
    """

    seed: int
    holds_out: bool
    stratified: bool
    init_generator: torch.Generator = field(init=False, repr=False)
    shuffle_generator: torch.Generator = field(init=False, repr=False)
    calibration_seed: int = field(init=False)
    prune_seed: int = field(init=False)
    split_seed: int = field(init=False)
    # Weights of the dense network's Linear layers (what ``sparsity_`` counts against),
    # and the epochs of the dense training that made it (what "auto" budgets are of).
    dense_n_weights: int = 0
    dense_epochs: int = 0
    # What kind of fit runs: a warm start continues a fitted network, ``partial_fit``
    # (incremental) trains one epoch; whether it validates (a hold-out or a
    # ``train_split``); whether ``memory`` restored its dense phase.
    warm: bool = False
    incremental: bool = False
    validates: bool = False
    dense_restored: bool = False
    # True while skorch's loop runs: predictions use ``module_`` itself then.
    training: bool = False
    # The weights the L2 penalty sums, looked up once per network and set of masks, and
    # the penalty's scale in the current batch (alpha / batch weight).
    penalised: Any = field(default=None, repr=False)
    l2_scale: float | None = field(default=None, repr=False)
    # The training rows the pruning calibrates on (inputs, encoded targets, weights).
    calibration: tuple[Any, Any, Any] | None = field(default=None, repr=False)
    # Set by ``memory``: stores the dense network's state when the dense phase ends.
    store_dense: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        words = np.random.SeedSequence(self.seed).generate_state(5)
        init, shuffle, calibration, prune, split = (int(w) for w in words)
        self.init_generator = torch.Generator().manual_seed(init)
        self.shuffle_generator = torch.Generator().manual_seed(shuffle)
        self.calibration_seed = calibration
        self.prune_seed = prune
        self.split_seed = split

    @classmethod
    def draw(cls, random_state: Any, *, holds_out: bool, stratified: bool) -> FitPlan:
        """The plan of a fit with this ``random_state``.

        ``holds_out`` is the estimator's decision (see its ``_holds_out``): whether
        early stopping sets a validation set aside.
        """
        if random_state is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        elif isinstance(random_state, np.random.RandomState):
            seed = int(random_state.randint(np.iinfo(np.int32).max))
        else:
            seed = int(random_state)
        return cls(seed, holds_out, stratified)

    def __getstate__(self) -> dict[str, Any]:
        # Generators pickle by their state; the memory hook and the calibration rows
        # belong to the fit that made them.
        state = dict(vars(self))
        state["init_generator"] = self.init_generator.get_state()
        state["shuffle_generator"] = self.shuffle_generator.get_state()
        state["calibration"] = state["store_dense"] = state["penalised"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name in ("init_generator", "shuffle_generator"):
            generator = torch.Generator()
            generator.set_state(state[name])
            state[name] = generator
        vars(self).update(state)
