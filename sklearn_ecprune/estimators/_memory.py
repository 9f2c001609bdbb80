"""``memory=``: cache the dense phase of ``fit``, as scikit-learn's ``Pipeline(memory=...)``.

A grid search over ``sparsity`` (or any pruning parameter) trains the same dense network
once per candidate and fold. With ``memory`` set, the dense phase is a call of the
module-level :func:`_dense_state`, cached by :class:`joblib.Memory` on disk: its key is
a content hash of everything that affects dense training (every parameter but the
pruning ones, the data, the seed), its value the trained state (weights, optimizer
state, history, random generators). A fit that differs only in pruning parameters
restores that state and continues exactly as if it had trained.

Keys hash content, never ``repr``: arrays and tensors by value, and the classes and
functions a user passes (a ``module`` class, a callback, a criterion) by their source
code and class attributes, so a class redefined in a notebook under the same name is a
new key. A parameter whose source cannot be read is not cached (with a warning).
Workers that share the directory (loky processes, dask workers on one machine) share
the cache; a file lock per key makes a second worker wait for the first one's result
instead of training the same network again.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import sys
import types
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import joblib
import numpy as np
import torch
from sklearn.utils.validation import check_memory

try:  # POSIX; elsewhere concurrent workers may train the same network twice
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

__all__ = ["dense_cache", "dense_key", "usable_memory"]

# Code from these packages is identified by its import path: it does not change
# within a session. Everything else (a notebook, a user's module) is hashed by source.
_LIBRARIES = frozenset(
    {
        "builtins",
        "collections",
        "functools",
        "joblib",
        "numpy",
        "operator",
        "pandas",
        "scipy",
        "skorch",
        "sklearn",
        "sklearn_ecprune",
        "torch",
    }
)
# Entries of a class's __dict__ that say nothing about its behaviour.
_CLASS_NOISE = frozenset(
    {"__dict__", "__weakref__", "__module__", "__doc__", "__qualname__", "__firstlineno__",
     "__static_attributes__", "__annotations__", "__parameters__", "__orig_bases__",
     "_abc_impl", "__abstractmethods__", "__slotnames__"}
)  # fmt: skip


class _NotCacheable(Exception):
    """A parameter whose content cannot be hashed; the fit then trains as usual."""


def _is_library(obj: Any) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module.split(".")[0] in _LIBRARIES


def _source(obj: Any) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError) as exc:
        raise _NotCacheable(
            f"the source of {getattr(obj, '__qualname__', obj)!r} cannot be read"
        ) from exc


def _fingerprint(value: Any, depth: int = 0, seen: frozenset[int] = frozenset()) -> Any:
    """A hashable description of ``value`` that changes whenever its content does.

    ``seen`` holds the user classes being described, so that a method referring to
    its own class (``super()``'s ``__class__`` cell) does not recurse forever.
    """
    if depth > 50:
        raise _NotCacheable("parameters nest too deeply")
    if id(value) in seen:
        return ("cycle", getattr(value, "__qualname__", type(value).__qualname__))
    if value is None or isinstance(value, bool | int | float | complex | str | bytes):
        return value
    if isinstance(value, list | tuple):
        return (type(value).__name__, [_fingerprint(v, depth + 1, seen) for v in value])
    if isinstance(value, dict):
        return (
            "dict",
            sorted((repr(k), _fingerprint(v, depth + 1, seen)) for k, v in value.items()),
        )
    if isinstance(value, functools.partial):
        return (
            "partial",
            _fingerprint(value.func, depth + 1, seen),
            _fingerprint(value.args, depth + 1, seen),
            _fingerprint(value.keywords, depth + 1, seen),
        )
    if isinstance(value, staticmethod | classmethod):
        return _fingerprint(value.__func__, depth + 1, seen)
    if isinstance(value, property):
        return ("property", [_fingerprint(f, depth + 1, seen) for f in (value.fget, value.fset)])
    if isinstance(value, type):
        return _class_fingerprint(value, depth, seen)
    if isinstance(value, types.FunctionType | types.MethodType | types.BuiltinFunctionType):
        return _function_fingerprint(value, depth, seen)
    if isinstance(value, types.ModuleType):
        return _module_fingerprint(value)
    if isinstance(value, np.ndarray | torch.Tensor | np.generic):
        return ("array", joblib.hash(value))
    # Any other object: its class (by source if it is user code) and its pickled state.
    try:
        state = joblib.hash(value)
    except Exception as exc:
        raise _NotCacheable(f"{type(value).__name__} objects cannot be pickled") from exc
    return ("object", _class_fingerprint(type(value), depth, seen), state)


def _function_fingerprint(value: Any, depth: int, seen: frozenset[int]) -> Any:
    """A function or method: a library's by name, a user's by its code and what it uses."""
    if _is_library(value) or isinstance(value, types.BuiltinFunctionType):
        return ("function", value.__module__, value.__qualname__)
    function = getattr(value, "__func__", value)
    closure = [c.cell_contents for c in (function.__closure__ or ())]
    inner = seen | {id(value), id(function)}
    # The module-level names the code refers to (a constant, a helper function, a
    # setting): their content is part of what the function does.
    names = sorted(_global_names(function.__code__) & function.__globals__.keys())
    return (
        "function",
        _source(function),
        _fingerprint(list(function.__defaults__ or ()), depth + 1, inner),
        _fingerprint(closure, depth + 1, inner),
        [(name, _fingerprint(function.__globals__[name], depth + 1, inner)) for name in names],
    )


def _module_fingerprint(module: types.ModuleType) -> Any:
    """A module: a library's (or a built-in one's) by name, a user's by its code."""
    root = module.__name__.split(".")[0]
    if (
        root in _LIBRARIES
        or root in sys.stdlib_module_names
        or not getattr(module, "__file__", None)
    ):
        return ("module", module.__name__)
    return ("module", module.__name__, _source(module))


def _global_names(code: types.CodeType) -> set[str]:
    """The names a code object (and the functions and comprehensions inside it) uses."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _class_fingerprint(cls: type, depth: int, seen: frozenset[int] = frozenset()) -> Any:
    if _is_library(cls):
        return ("class", cls.__module__, cls.__qualname__)
    if id(cls) in seen:
        return ("cycle", cls.__qualname__)
    seen = seen | {id(cls)}
    attributes = sorted(
        (name, _fingerprint(attr, depth + 1, seen))
        for name, attr in vars(cls).items()
        if name not in _CLASS_NOISE
    )
    bases = [_class_fingerprint(base, depth + 1, seen) for base in cls.__bases__]
    return ("class", cls.__qualname__, _source(cls), bases, attributes)


def usable_memory(memory: Any, owner: str) -> joblib.Memory:
    """``memory`` as a :class:`joblib.Memory`, or a ValueError that names ``memory``.

    A folder is created if need be; an empty string (say, an unset environment
    variable) is refused rather than taken as the current directory.
    """
    if isinstance(memory, str | os.PathLike):
        location = os.fspath(memory)
        problem = None
        if not location:
            problem = "is an empty path"
        elif os.path.exists(location) and not os.path.isdir(location):
            problem = "is not a folder"
        else:
            try:
                os.makedirs(location, exist_ok=True)
            except OSError as exc:
                problem = f"cannot be created ({exc.strerror})"
        if problem is not None:
            raise ValueError(
                f"memory={location!r} of {owner} {problem}: give a folder the fit can "
                "write to, or memory=None."
            )
        return joblib.Memory(location, verbose=0)
    return check_memory(memory)


def dense_key(
    estimator: Any, params: dict[str, Any], fit_params: dict[str, Any], seed: int
) -> str | None:
    """The cache key of a dense phase, or ``None`` (with a warning) if not cacheable.

    The data are not part of it: :class:`joblib.Memory` hashes them as arguments.
    """
    try:
        described = (
            _class_fingerprint(type(estimator), 0),
            sorted((name, _fingerprint(value)) for name, value in params.items()),
            _fingerprint(fit_params),
            seed,
        )
        return joblib.hash(described)
    except _NotCacheable as exc:
        warnings.warn(
            f"memory is not used for this fit: {exc}; the dense network is trained as usual.",
            UserWarning,
            stacklevel=4,
        )
        return None


def _dense_state(key: str, X, y, *, state: dict[str, Any] | None) -> dict[str, Any] | None:
    """The cached call: its output is the dense state it is given.

    ``key`` stands for the estimator's parameters, the fit parameters and the seed;
    ``X`` and ``y`` are hashed by :class:`joblib.Memory`; ``state`` is not part of the
    key. Called with the trained state when the dense phase ends, it stores it; called
    again with the same key, data and ``state=None``, it returns what was stored.
    """
    return state


class _Lock:
    """An exclusive lock on a file of the cache, released once (at the latest on exit)."""

    def __init__(self, location: str, key: str):
        self.handle = None
        if fcntl is None:
            return
        folder = os.path.join(location, "sklearn_ecprune_locks")
        os.makedirs(folder, exist_ok=True)
        # O_NOFOLLOW and no O_TRUNC: a link planted in a shared cache folder is refused,
        # and no file is ever truncated.
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        self.handle = os.open(os.path.join(folder, key + ".lock"), flags, 0o600)
        fcntl.flock(self.handle, fcntl.LOCK_EX)

    def release(self) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            os.close(self.handle)
            self.handle = None


@contextlib.contextmanager
def dense_cache(
    memory: joblib.Memory, key: str | None, X, y
) -> Iterator[tuple[dict[str, Any] | None, Callable[[dict[str, Any]], None] | None]]:
    """``(state, store)`` for a fit's dense phase under ``memory``.

    ``state`` is the stored dense state when the cache holds this key and data (the
    fit restores it and skips its dense training), else ``None``; ``store`` stores the
    state once a dense phase has trained (also over an entry that proved unusable), and
    is ``None`` when nothing is cached. A lock per key makes a second worker with the same key wait
    until the first one has stored its state, instead of training it again.
    """
    if memory.location is None or key is None:
        yield None, None
        return
    cached = memory.cache(_dense_state, ignore=["state"])
    lock = _Lock(str(memory.location), key)

    def store(state: dict[str, Any]) -> None:
        cached.call(key, X, y, state=state)  # (over)writes the entry
        lock.release()

    try:
        hit = cached.check_call_in_cache(key, X, y, state=None)
        yield (cached(key, X, y, state=None) if hit else None), store
    finally:
        lock.release()
