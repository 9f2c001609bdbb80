"""Turn a user's CSV table into train/test arrays for a pruning sweep.

Used by the command-line interface (``ecprune sweep --data table.csv``). Problems
with the data raise :class:`DataError`, whose message is meant to be shown to the
user as one line, without a traceback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ..datasets import make_column_preprocessor

__all__ = ["DataError", "TabularData", "infer_task", "load_csv"]

# A numeric target is taken for class labels when it is integer-valued with at most
# this many distinct values, and fewer distinct values than this share of the rows.
MAX_CLASSES = 20
MAX_CLASS_FRACTION = 0.05
# Fewer rows than this cannot feed a train/validation/test split of a network.
MIN_ROWS = 10


class DataError(ValueError):
    """A problem with the input data, reported to the user as one line."""


@dataclass
class TabularData:
    """A CSV table, split and preprocessed.

    Attributes
    ----------
    X_train, X_test : ndarray of shape (n_samples, n_features), dtype float64
        Preprocessed inputs (the preprocessing is fitted on the training rows).
    y_train, y_test : ndarray of shape (n_samples,)
        Targets: class labels or float values.
    task : {"classification", "regression"}
        The task, inferred or forced.
    target_name : str
        The target column.
    feature_names : list of str
        Names of the preprocessed input columns.
    notes : list of str
        What was done to the data that the user should know about.
    """

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    task: str
    target_name: str
    feature_names: list[str]
    notes: list[str] = field(default_factory=list)


def infer_task(y) -> str:
    """Classification or regression, from a target column.

    Non-numeric and boolean targets are class labels; a numeric target is too when
    it is integer-valued with few distinct values (two, or at most 20 and fewer
    than 5 % of the rows); anything else is a regression target.

    Parameters
    ----------
    y : pandas.Series
        The target, without missing values.

    Returns
    -------
    task : {"classification", "regression"}

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_ecprune.cli._csv import infer_task
    >>> infer_task(pd.Series(["a", "b", "a"]))
    'classification'
    >>> infer_task(pd.Series([0.5, 1.25, 3.0]))
    'regression'
    """
    import pandas as pd

    if pd.api.types.is_bool_dtype(y) or not pd.api.types.is_numeric_dtype(y):
        return "classification"
    values = y.to_numpy(dtype=np.float64)
    finite = values[np.isfinite(values)]
    n_unique = len(np.unique(finite))
    integer_valued = bool(np.all(finite == np.round(finite)))
    few = n_unique == 2 or (n_unique <= MAX_CLASSES and n_unique < MAX_CLASS_FRACTION * len(y))
    return "classification" if integer_valued and few else "regression"


def _parse(path: str, encoding: str | None):
    import pandas as pd

    frame = pd.read_csv(path, encoding=encoding)
    if frame.shape[1] == 1:
        # One column usually means another separator (";" or tab): let the python
        # engine sniff it, but keep one column where sniffing only splits nonsense.
        sniffed = pd.read_csv(path, sep=None, engine="python", encoding=encoding)
        if sniffed.shape[1] > 1 and not any(str(c).startswith("Unnamed:") for c in sniffed):
            return sniffed
    return frame


def _read(path: str, notes: list[str]):
    import pandas as pd

    if not os.path.exists(path):
        raise DataError(f"file not found: {path}")
    if os.path.isdir(path):
        raise DataError(f"{path} is a folder, not a CSV file")
    try:
        try:
            frame = _parse(path, None)
        except UnicodeDecodeError:
            # Not UTF-8: most likely a spreadsheet export in a legacy 8-bit encoding.
            frame = _parse(path, "latin-1")
            notes.append(f"{path} is not UTF-8; read it as Latin-1")
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty") from None
    except (pd.errors.ParserError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot read {path} as CSV: {first}") from None
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    if frame.empty:
        raise DataError(f"{path} has a header but no rows")
    return frame


def _columns(names) -> str:
    shown = ", ".join(repr(str(n)) for n in list(names)[:30])
    return shown + (f", ... ({len(names)} columns)" if len(names) > 30 else "")


def _is_numeric(column) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def load_csv(
    path: str,
    *,
    target: str | None = None,
    task: str = "auto",
    test_size: float = 0.25,
    random_state: int = 0,
) -> TabularData:
    """Read a CSV table and prepare it for :func:`~sklearn_ecprune.sweep.run_sweep`.

    Rows with a missing target are dropped. Numeric feature columns get median
    imputation and standard scaling; the others (text, categories, booleans)
    most-frequent imputation and one-hot encoding (unknown categories ignored).
    The split is stratified for classification when every class has two rows.

    Parameters
    ----------
    path : str
        The CSV file (comma-separated; another separator is sniffed when the
        file parses as a single column).
    target : str, default=None
        The column to predict; ``None`` means the last column.
    task : {"auto", "classification", "regression"}, default="auto"
        ``"auto"`` infers the task with :func:`infer_task`.
    test_size : float, default=0.25
        Share of the rows held out for testing.
    random_state : int, default=0
        Seed of the split.

    Returns
    -------
    data : TabularData
        The split, preprocessed arrays and what was done to them.

    Raises
    ------
    DataError
        With a one-line message, for a missing, empty or unreadable file, a missing
        target column, no usable feature, infinite values, too few rows, a single
        class or a constant target.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_ecprune.cli._csv import load_csv
    >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> rows = [f"{i % 7},{'ab'[i % 2]},{'yes' if i % 3 else 'no'}" for i in range(40)]
    >>> _ = open(path, "w").write("size,kind,label\\n" + "\\n".join(rows))
    >>> data = load_csv(path)
    >>> data.task, data.target_name, data.X_train.shape
    ('classification', 'label', (30, 3))
    """
    notes: list[str] = []
    frame = _read(path, notes)
    target = _target_column(frame, path, target)
    frame = _rows_with_target(frame, path, target, notes)
    features, numeric, categorical = _features(frame.drop(columns=[target]), path, target, notes)
    y_col = frame[target]
    if task == "auto":
        task = infer_task(y_col)
    y = _regression_target(y_col, target) if task == "regression" else _class_labels(y_col, target)
    X_train, X_test, y_train, y_test = _split(
        features, y, task, target, notes, test_size=test_size, random_state=random_state
    )
    transformer = make_column_preprocessor(numeric, categorical, dense=True)
    X_train = np.asarray(transformer.fit_transform(X_train), dtype=np.float64)
    X_test = np.asarray(transformer.transform(X_test), dtype=np.float64)
    return TabularData(
        X_train=X_train,
        X_test=X_test,
        y_train=np.asarray(y_train),
        y_test=np.asarray(y_test),
        task=task,
        target_name=target,
        feature_names=[str(n) for n in transformer.get_feature_names_out()],
        notes=notes,
    )


def _target_column(frame, path: str, target: str | None) -> str:
    """The target's column name: ``target``, or the last column; checked."""
    if frame.shape[1] < 2:
        raise DataError(
            f"{path} has a single column ({str(frame.columns[0])!r}): it needs the target "
            "and at least one feature column"
        )
    if target is None:
        target = str(frame.columns[-1])
    if target not in frame.columns:
        raise DataError(
            f"target column {target!r} not found in {path}; "
            f"available columns: {_columns(frame.columns)}"
        )
    return target


def _rows_with_target(frame, path: str, target: str, notes: list[str]):
    """The rows that have a target, if enough of them."""
    missing = frame[target].isna()
    if missing.all():
        raise DataError(f"target column {target!r} has no values")
    if missing.any():
        notes.append(f"dropped {int(missing.sum())} rows with a missing {target!r}")
        frame = frame.loc[~missing]
    if len(frame) < MIN_ROWS:
        raise DataError(f"need at least {MIN_ROWS} rows with a target, {path} has {len(frame)}")
    return frame


def _features(features, path: str, target: str, notes: list[str]) -> tuple:
    """The usable feature columns, and the names of the numeric and the other ones."""
    empty = [c for c in features.columns if features[c].isna().all()]
    if empty:
        notes.append(f"ignored {len(empty)} empty column(s): {_columns(empty)}")
        features = features.drop(columns=empty)
    if features.shape[1] == 0:
        raise DataError(f"no usable feature columns in {path} besides the target {target!r}")
    numeric = [c for c in features.columns if _is_numeric(features[c])]
    categorical = [c for c in features.columns if c not in numeric]
    infinite = [c for c in numeric if np.isinf(features[c].to_numpy(dtype=np.float64)).any()]
    if infinite:
        raise DataError(f"column(s) {_columns(infinite)} contain infinite values")
    for c in categorical:
        # As text, so columns mixing types (True/False with NaN, ...) encode cleanly.
        features[c] = features[c].astype(str).where(features[c].notna(), np.nan)
    return features, numeric, categorical


def _regression_target(y_col, target: str) -> np.ndarray:
    """The target as finite floats that vary."""
    if not _is_numeric(y_col):
        raise DataError(
            f"target {target!r} is not numeric and cannot be a regression target "
            f"(use --task classification)"
        )
    y = y_col.to_numpy(dtype=np.float64)
    if not np.isfinite(y).all():
        raise DataError(f"target {target!r} contains infinite values")
    if np.ptp(y) == 0:
        raise DataError(f"target {target!r} is constant: there is nothing to predict")
    return y


def _class_labels(y_col, target: str) -> np.ndarray:
    """The target as comparable labels: two classes or more, at most one per two rows."""
    y = y_col.to_numpy()
    if y.dtype == object:
        y = y.astype(str)  # np.unique needs comparable labels
    if _is_numeric(y_col) and not np.isfinite(y.astype(np.float64)).all():
        raise DataError(f"target {target!r} contains infinite values")
    classes = np.unique(y)
    if len(classes) < 2:
        raise DataError(
            f"target {target!r} has a single class ({str(classes[0])!r}): "
            f"classification needs at least two"
        )
    if len(classes) > len(y) / 2:
        raise DataError(
            f"target {target!r} has {len(classes)} distinct values in {len(y)} rows, "
            f"too many classes to learn (use --task regression)"
        )
    return y


def _split(
    features, y, task: str, target: str, notes: list[str], *, test_size: float, random_state: int
) -> tuple:
    """Training and test rows, stratified for classification where the classes allow."""
    from sklearn.model_selection import train_test_split

    stratify = y if task == "classification" else None
    try:
        parts = train_test_split(
            features, y, test_size=test_size, random_state=random_state, stratify=stratify
        )
    except ValueError as exc:
        if stratify is None:
            raise DataError(f"cannot split the rows into training and test: {exc}") from None
        # Classes with a single row (or more classes than test rows): split at random.
        notes.append("some classes are too small for a stratified split; split at random")
        parts = train_test_split(features, y, test_size=test_size, random_state=random_state)
    X_train, X_test, y_train, y_test = parts
    if task == "classification":
        seen = np.isin(y_test, y_train)
        if not seen.all():
            # The network cannot predict a class it never saw in training.
            notes.append(f"dropped {int((~seen).sum())} test rows of classes absent in training")
            X_test, y_test = X_test[seen], y_test[seen]
        if len(np.unique(y_train)) < 2:
            raise DataError(f"the training rows of {target!r} hold a single class")
    if len(y_test) == 0:
        raise DataError("no test rows left; use more rows or a larger --test-size")
    return X_train, X_test, y_train, y_test
