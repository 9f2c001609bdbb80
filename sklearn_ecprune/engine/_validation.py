"""Declarative parameter checks, in the style of scikit-learn's ``_parameter_constraints``.

Every public entry point (the engine's functions, the estimators, the data sets and the
command line) declares what each parameter accepts with the constraints below and
checks it with :func:`validate_params`, so a parameter gets the same message wherever it
is used. Pure Python (and numpy): importing it does not import torch, so the command
line can check its arguments before loading the engine.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

__all__ = [
    "HasMethods",
    "IntegerSequence",
    "Interval",
    "InvalidParameterError",
    "Options",
    "validate_params",
]


class InvalidParameterError(ValueError, TypeError):
    """A parameter has a value that none of its constraints accepts.

    A ``ValueError`` (and, like scikit-learn's error of the same name, a
    ``TypeError``), raised before anything is changed.

    Attributes
    ----------
    name : str
        The parameter.
    value : object
        The rejected value.
    expected : str
        What the parameter accepts, in words.

    Examples
    --------
    >>> from sklearn_ecprune import ECPrunedMLPClassifier, InvalidParameterError
    >>> try:
    ...     ECPrunedMLPClassifier(sparsity=1.5).fit([[0.0], [1.0]], [0, 1])
    ... except InvalidParameterError as error:
    ...     print(error.name, isinstance(error, ValueError))
    sparsity True
    """

    def __init__(self, name: str, value: Any, expected: str, owner: str | None = None):
        self.name, self.value, self.expected, self.owner = name, value, expected, owner
        super().__init__(self._message())

    def brief(self) -> str:
        """The message without the owner: ``"sparsity must be ...; got ..."``."""
        return f"{self.name} must be {self.expected}. Got {_show(self.value)} instead."

    def _message(self) -> str:
        if self.owner is None:
            return self.brief()
        return (
            f"The {self.name!r} parameter of {self.owner} must be {self.expected}. "
            f"Got {_show(self.value)} instead."
        )


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Constraint:
    def is_satisfied_by(self, value: Any) -> bool:
        raise NotImplementedError

    def __str__(self) -> str:
        raise NotImplementedError


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


class Interval(_Constraint):
    """Numbers of a type between two bounds.

    Parameters
    ----------
    kind : {numbers.Integral, numbers.Real}
        Integers only, or any real number (never NaN; booleans are rejected).
    left, right : float or None
        The bounds; ``None`` is unbounded.
    closed : {"left", "right", "both", "neither"}
        Which bounds belong to the interval.

    Examples
    --------
    >>> from numbers import Real
    >>> from sklearn_ecprune.engine._validation import Interval
    >>> str(Interval(Real, 0, 1, closed="left"))
    'a float in the range [0, 1)'
    >>> Interval(Real, 0, 1, closed="left").is_satisfied_by(1.0)
    False
    """

    def __init__(self, kind: type, left: float | None, right: float | None, *, closed: str):
        if kind not in (numbers.Integral, numbers.Real):
            raise TypeError("kind must be numbers.Integral or numbers.Real")
        self.kind, self.left, self.right, self.closed = kind, left, right, closed

    def is_satisfied_by(self, value: Any) -> bool:
        if not (_is_int(value) if self.kind is numbers.Integral else _is_real(value)):
            return False
        if self.kind is numbers.Real and math.isnan(float(value)):
            return False
        if self.left is not None:
            below = value < self.left if self.closed in ("left", "both") else value <= self.left
            if below:
                return False
        if self.right is not None:
            above = value > self.right if self.closed in ("right", "both") else value >= self.right
            if above:
                return False
        return True

    def __str__(self) -> str:
        noun = "an int" if self.kind is numbers.Integral else "a float"
        if self.left is None and self.right is None:
            return noun
        low = "-inf" if self.left is None else f"{self.left:g}"
        high = "inf" if self.right is None else f"{self.right:g}"
        opening = "[" if self.closed in ("left", "both") and self.left is not None else "("
        closing = "]" if self.closed in ("right", "both") and self.right is not None else ")"
        return f"{noun} in the range {opening}{low}, {high}{closing}"


class Options(_Constraint):
    """One of a fixed set of values (compared with ``==``, of a given type).

    Examples
    --------
    >>> from sklearn_ecprune.engine._validation import Options
    >>> str(Options(str, {"global", "layer"}))
    "a str among {'global', 'layer'}"
    """

    def __init__(self, kind: type, options: Iterable[Any]):
        self.kind, self.options = kind, tuple(sorted(options, key=str))

    def is_satisfied_by(self, value: Any) -> bool:
        if not isinstance(value, self.kind):
            return False
        try:
            return value in self.options
        except TypeError:  # unhashable or incomparable
            return False

    def __str__(self) -> str:
        shown = ", ".join(repr(option) for option in self.options)
        return f"a {self.kind.__name__} among {{{shown}}}"


class _InstanceOf(_Constraint):
    def __init__(self, kind: type | tuple[type, ...], description: str | None = None):
        self.kind, self.description = kind, description

    def is_satisfied_by(self, value: Any) -> bool:
        if self.kind is bool:
            return isinstance(value, bool | np.bool_)
        return isinstance(value, self.kind)

    def __str__(self) -> str:
        if self.description is not None:
            return self.description
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        return " or ".join(f"an instance of {k.__name__!r}" for k in kinds)


class _NoneConstraint(_Constraint):
    def is_satisfied_by(self, value: Any) -> bool:
        return value is None

    def __str__(self) -> str:
        return "None"


class _CallableConstraint(_Constraint):
    def is_satisfied_by(self, value: Any) -> bool:
        return callable(value)

    def __str__(self) -> str:
        return "a callable"


class IntegerSequence(_Constraint):
    """A non-empty tuple or list of ints within an interval."""

    def __init__(self, item: Interval):
        self.item = item

    def is_satisfied_by(self, value: Any) -> bool:
        return (
            isinstance(value, tuple | list)
            and len(value) > 0
            and all(self.item.is_satisfied_by(v) for v in value)
        )

    def __str__(self) -> str:
        return f"a non-empty tuple of {str(self.item).replace('an int', 'ints')}"


# The 2**32 - 1 bound is numpy's: RandomState and SeedSequence take seeds below it.
_SEED = Interval(numbers.Integral, 0, 2**32 - 1, closed="both")


class HasMethods(_Constraint):
    """Objects with the given methods (duck typing, e.g. ``joblib.Memory``'s ``cache``)."""

    def __init__(self, *methods: str):
        self.methods = methods

    def is_satisfied_by(self, value: Any) -> bool:
        return all(callable(getattr(value, m, None)) for m in self.methods)

    def __str__(self) -> str:
        return "an object implementing " + ", ".join(repr(m) for m in self.methods)


def _make(constraint: Any) -> _Constraint:
    if hasattr(constraint, "is_satisfied_by"):  # _Constraint or any duck-typed one
        return constraint
    if constraint is None:
        return _NoneConstraint()
    if constraint == "boolean":
        return _InstanceOf(bool, "a bool")
    if constraint == "callable":
        return _CallableConstraint()
    if constraint == "seed":
        return _SEED
    if constraint == "random_state":
        return _InstanceOf(np.random.RandomState)
    if isinstance(constraint, type | tuple):
        return _InstanceOf(constraint)
    raise TypeError(f"Unknown constraint {constraint!r}")


def describe(constraints: Iterable[Any]) -> str:
    """What a list of constraints accepts, in words (``"an int ... or None"``)."""
    words = [str(_make(c)) for c in constraints]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def check_param(name: str, value: Any, constraints: Iterable[Any], owner: str | None = None):
    """Return ``value`` if one of ``constraints`` accepts it, else raise.

    Raises
    ------
    InvalidParameterError
        Naming the parameter, what it accepts and the value it got.
    """
    constraints = list(constraints)
    if any(_make(c).is_satisfied_by(value) for c in constraints):
        return value
    raise InvalidParameterError(name, value, describe(constraints), owner)


def validate_params(
    params: Mapping[str, Any], constraints: Mapping[str, Iterable[Any]], owner: str
) -> None:
    """Check every parameter of ``params`` that has an entry in ``constraints``.

    Parameters
    ----------
    params : mapping
        Parameter name to value.
    constraints : mapping
        Parameter name to a list of accepted constraints: :class:`Interval`,
        :class:`Options`, a type (instances of it), ``None``, ``"boolean"``,
        ``"callable"``, ``"seed"`` (an int in [0, 2**32 - 1]) or
        ``"random_state"`` (a ``numpy.random.RandomState``).
    owner : str
        The function or class, named in the message.

    Examples
    --------
    >>> from numbers import Real
    >>> from sklearn_ecprune.engine._validation import Interval, validate_params
    >>> validate_params({"sparsity": 1.5}, {"sparsity": [Interval(Real, 0, 1, closed="left")]},
    ...                 "prune_mlp")
    Traceback (most recent call last):
    ...
    sklearn_ecprune.engine._validation.InvalidParameterError: The 'sparsity' parameter of \
prune_mlp must be a float in the range [0, 1). Got 1.5 instead.
    """
    for name, accepted in constraints.items():
        if name in params:
            check_param(name, params[name], accepted, owner)


# --- Constraints shared by several entry points ---------------------------------------

SPARSITY = [Interval(numbers.Real, 0, 1, closed="left")]
# More steps than this would only repeat the same selection; it also bounds the loop.
MAX_STEPS = 1000
N_STEPS = [Interval(numbers.Integral, 1, MAX_STEPS, closed="both")]
SCOPE = [Options(str, {"global", "layer"})]
COMPENSATE = [None, "boolean"]
BATCH_SIZE = [Interval(numbers.Integral, 1, None, closed="left")]
POSITIVE_INT = [Interval(numbers.Integral, 1, None, closed="left")]
UNIT_FLOAT = [Interval(numbers.Real, 0, 1, closed="both")]
SEED = [None, "seed"]
FINITE_NON_NEGATIVE_FLOAT = [Interval(numbers.Real, 0, math.inf, closed="left")]
