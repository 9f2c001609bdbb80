"""Named estimator configurations that a sweep compares (pure data, no torch).

Each configuration is a set of parameters of :class:`~sklearn_ecprune.ECPrunedMLPClassifier`
/ :class:`~sklearn_ecprune.ECPrunedMLPRegressor`, applied on top of the estimator's
defaults: the sweep fits ``clone(estimator).set_params(**configuration.params)`` for
every sparsity, so every number it reports is what a user of the estimators gets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["DEFAULT_CONFIGURATION", "SWEEP_CONFIGURATIONS", "Configuration"]


@dataclass(frozen=True)
class Configuration:
    """Estimator parameters compared by a sweep, and what they stand for.

    The parameters are kept as attributes of the same names (``params`` as a
    read-only mapping).

    Parameters
    ----------
    params : mapping, default={}
        Estimator parameters set on top of the estimator's defaults (``sparsity``
        and ``fine_tune_epochs`` are set by the sweep).
    kind : {"default", "baseline", "method", "ablation"}, default="method"
        ``"default"`` is the estimator as it comes; ``"baseline"`` a criterion from
        the literature; ``"method"`` another of this project's methods;
        ``"ablation"`` a variant of the default's own settings (step counts), which
        win counts leave out.
    description : str, default=""
        One line for help texts and tables.

    Examples
    --------
    >>> from sklearn_ecprune.sweep import SWEEP_CONFIGURATIONS, Configuration
    >>> dict(SWEEP_CONFIGURATIONS["ecp"].params)
    {'pruning': 'ecp', 'n_steps': 1}
    >>> mine = Configuration({"pruning": "magnitude", "n_steps": 5}, description="5 steps")
    >>> mine.kind, mine.params["n_steps"]
    ('method', 5)
    """

    params: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    kind: str = "method"
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))


def _config(kind: str, description: str, **params: Any) -> Configuration:
    return Configuration(MappingProxyType(params), kind, description)


SWEEP_CONFIGURATIONS: dict[str, Configuration] = {
    "default": _config("default", "the estimator's defaults"),
    # The paper's method, exactly: one shot, bias shift only.
    "ecp": _config(
        "baseline", "ECP as in the paper: one shot, bias shift", pruning="ecp", n_steps=1
    ),
    "magnitude": _config("baseline", "global magnitude, one shot", pruning="magnitude", n_steps=1),
    "magnitude-layer": _config(
        "baseline",
        "magnitude, same ratio per layer",
        pruning="magnitude",
        scope="layer",
        n_steps=1,
    ),
    "gradient": _config("baseline", "|dL/dW|, one shot", pruning="gradient", n_steps=1),
    "wanda": _config("baseline", "Wanda: |W| x input norm, one shot", pruning="wanda", n_steps=1),
    "obd": _config("baseline", "OBD-like W^2 S2, one shot", pruning="obd", n_steps=1),
    "random": _config("baseline", "random, one shot", pruning="random", n_steps=1),
    "ecp-10step": _config("method", "ECP in 10 steps, bias shift only", pruning="ecp", n_steps=10),
    "ecp-ls": _config("method", "ECP ranking + per-row least-squares refit", pruning="ecp-ls"),
    "ecp-obs": _config("method", "OBS ranking with ECP weights + refit", pruning="ecp-obs"),
    "default-1step": _config("ablation", "the default in one step", n_steps=1),
    "default-5step": _config("ablation", "the default in 5 steps", n_steps=5),
    "default-20step": _config("ablation", "the default in 20 steps", n_steps=20),
}
"""Configurations by name: the values of ``--methods`` of the ``ecprune`` command.

Pass a mapping of your own (or a selection of these names) to :func:`run_sweep`.
"""

DEFAULT_CONFIGURATION = "default"
"""The configuration that is the estimators' default."""
