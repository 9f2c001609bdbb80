"""Training data for skorch: in-memory tensors served a batch at a time, and the hold-out split."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from skorch.dataset import Dataset
from torch.utils.data import Subset

__all__ = [
    "BatchDataset",
    "BatchIterator",
    "HoldOutSplit",
    "batch_rows",
    "collate_batch",
    "dense_rows",
    "holds_batches",
    "stratify_labels",
]


def dense_rows(X: Any) -> np.ndarray:
    """A block of rows as a dense array (a sparse block is densified, and only it)."""
    return X.toarray() if sp.issparse(X) else np.asarray(X)


def batch_rows(batch_size: int | str, n_rows: int) -> int:
    """Rows per batch: ``-1`` is all the rows, ``"auto"`` scikit-learn's min(200, n)."""
    if batch_size == -1:
        return n_rows
    return min(200, n_rows) if batch_size == "auto" else int(batch_size)


def _as_tensor(values: Any) -> Any:
    """A dense array as a tensor (no copy); a sparse matrix stays CSR."""
    if sp.issparse(values):
        return sp.csr_matrix(values)
    return torch.as_tensor(np.asarray(values))


def _rows(values: Any, index: Any) -> torch.Tensor:
    """The rows ``index`` of a tensor, or of a CSR matrix densified."""
    if sp.issparse(values):
        return torch.from_numpy(values[index.numpy()].toarray())
    return values.index_select(0, index)


def _take(values: Any, rows: np.ndarray) -> Any:
    """The rows ``rows`` of a tensor or of a CSR matrix (which stays sparse)."""
    return values[rows] if sp.issparse(values) else values.index_select(0, torch.as_tensor(rows))


class BatchDataset(Dataset):
    """The training data as tensors, indexed a whole batch at a time.

    skorch's default :class:`skorch.dataset.Dataset` is indexed one row at a time:
    every row becomes a tensor of its own and the DataLoader stacks them again. This
    dataset holds ``X`` (an array, a CSR matrix, or a dict of them, which is how the
    sample weights travel), ``y`` and the weights as tensors made once per fit, and
    implements ``__getitems__``: torch's DataLoader then asks for each batch's rows at
    once (one gather per tensor; sparse rows are densified per batch), and
    :func:`collate_batch` passes the batch through. The DataLoader's options
    (``iterator_train__batch_size``, ``__shuffle``, ``__drop_last``, ...) work as
    before; ``dataset[i]`` still gives one row. It is a skorch ``Dataset`` (with ``X``
    and ``y``), so skorch's callbacks find the targets in it as in theirs.

    Parameters
    ----------
    X : ndarray, CSR matrix or dict of them
        Inputs, one row per sample.
    y : ndarray or None
        Targets.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ecprune.estimators._data import BatchDataset
    >>> data = BatchDataset(np.zeros((5, 3), np.float32), np.arange(5))
    >>> Xb, yb = data.__getitems__([4, 0])
    >>> tuple(Xb.shape), yb.tolist()
    ((2, 3), [4, 0])
    """

    def __init__(self, X: Any, y: Any = None, length: int | None = None) -> None:
        self.X = (
            {k: _as_tensor(v) for k, v in X.items()} if isinstance(X, Mapping) else _as_tensor(X)
        )
        self.y = None if y is None else _as_tensor(y)
        first = next(iter(self.X.values())) if isinstance(self.X, Mapping) else self.X
        self._len = first.shape[0] if length is None else length

    def __len__(self) -> int:
        return self._len

    def __getitems__(self, index: Sequence[int]) -> tuple[Any, Any]:
        return self.batch(torch.as_tensor(index, dtype=torch.int64))

    def batch(self, index: torch.Tensor) -> tuple[Any, Any]:
        """The rows ``index`` (a tensor of row numbers) as one batch ``(X, y)``."""
        if isinstance(self.X, Mapping):
            Xb = {k: _rows(v, index) for k, v in self.X.items()}
        else:
            Xb = _rows(self.X, index)
        # skorch's convention for a dataset without targets: a placeholder per row.
        yb = torch.zeros(len(index)) if self.y is None else self.y.index_select(0, index)
        return Xb, yb

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        Xb, yb = self.__getitems__([i])
        if isinstance(Xb, Mapping):
            return {k: v[0] for k, v in Xb.items()}, yb[0]
        return Xb[0], yb[0]

    def subset(self, rows: np.ndarray) -> BatchDataset:
        """The rows ``rows`` as a dataset of their own (copied once, gathered contiguously)."""
        if isinstance(self.X, Mapping):
            X = {k: _take(v, rows) for k, v in self.X.items()}
        else:
            X = _take(self.X, rows)
        return BatchDataset(X, None if self.y is None else _take(self.y, rows))


class BatchIterator:
    """The batches of a :class:`BatchDataset`, as torch's DataLoader would cut them.

    The same batches as ``DataLoader(dataset, batch_size, shuffle, drop_last,
    generator)`` (the same permutation drawn from the same generator), each gathered
    with one index per tensor, without the DataLoader's per-batch sampler, fetcher and
    collation. Used by the estimators when no other DataLoader option is set.

    Parameters
    ----------
    dataset : BatchDataset
        The rows.
    batch_size : int, default=1
        Rows per batch.
    shuffle : bool, default=False
        Draw a new order of the rows at every pass, from ``generator``.
    drop_last : bool, default=False
        Leave out a last batch smaller than ``batch_size``.
    generator : torch.Generator or None, default=None
        The generator of the shuffling.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ecprune.estimators._data import BatchDataset, BatchIterator
    >>> data = BatchDataset(np.zeros((5, 2), np.float32), np.arange(5))
    >>> [yb.tolist() for _, yb in BatchIterator(data, batch_size=2)]
    [[0, 1], [2, 3], [4]]
    """

    OPTIONS = frozenset({"batch_size", "shuffle", "drop_last", "generator"})

    def __init__(
        self,
        dataset: BatchDataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        self.dataset, self.batch_size = dataset, int(batch_size)
        self.shuffle, self.drop_last, self.generator = shuffle, drop_last, generator

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        # The DataLoader's draws from its generator, in its order: a base seed for its
        # workers, then its RandomSampler's permutation and the sampler's (empty) draw
        # for the remainder.
        if self.generator is not None:
            torch.empty((), dtype=torch.int64).random_(generator=self.generator)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator)
            torch.randperm(n, generator=self.generator)
        else:
            order = torch.arange(n)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield self.dataset.batch(order[start : start + self.batch_size])


def collate_batch(batch: Any) -> Any:
    """The DataLoader's ``collate_fn`` for a :class:`BatchDataset`: the batch as it is."""
    return batch


def holds_batches(dataset: Any) -> bool:
    """Whether ``dataset`` serves whole batches (a BatchDataset, or a Subset of one)."""
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return isinstance(dataset, BatchDataset)


def stratify_labels(y: Any) -> np.ndarray | None:
    """What the early-stopping split keeps in proportion, as scikit-learn's MLP does.

    Its label-binarised targets: one boolean column for two classes, one per class
    otherwise (so its errors name the classes as scikit-learn's do); ``None`` (no
    stratification) for multilabel or multi-output targets.
    """
    from sklearn.preprocessing import LabelBinarizer

    y = np.asarray(y)
    if y.ndim != 1:
        return None
    return LabelBinarizer().fit_transform(y).astype(bool)


class HoldOutSplit:
    """A seeded hold-out split for early stopping, stratified for classifiers.

    A skorch ``train_split``: called with the training dataset and ``y``, returns the
    training and validation subsets. The split is scikit-learn's
    :func:`~sklearn.model_selection.train_test_split`, with its errors (a class with a
    single row cannot be stratified).

    Parameters
    ----------
    fraction : float
        Share of the rows held out.
    stratified : bool
        Keep the class proportions in both parts.
    random_state : int
        Seed of the split.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ecprune.estimators._data import BatchDataset, HoldOutSplit
    >>> data = BatchDataset(np.zeros((10, 2), np.float32), np.arange(10) % 2)
    >>> train, valid = HoldOutSplit(0.2, True, 0)(data, np.arange(10) % 2)
    >>> len(train), len(valid)
    (8, 2)
    """

    def __init__(self, fraction: float, stratified: bool, random_state: int):
        self.fraction = fraction
        self.stratified = stratified
        self.random_state = random_state

    def indices(self, n_rows: int, y: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """The training and the validation rows, each sorted; raises as scikit-learn does."""
        from sklearn.model_selection import train_test_split

        stratify = stratify_labels(y) if self.stratified and y is not None else None
        train, valid = train_test_split(
            np.arange(n_rows),
            test_size=self.fraction,
            stratify=stratify,
            random_state=self.random_state,
        )
        return np.sort(train), np.sort(valid)

    def __call__(self, dataset, y=None, **fit_params):
        train, valid = self.indices(len(dataset), y)
        if isinstance(dataset, BatchDataset):
            return dataset.subset(train), dataset.subset(valid)
        return Subset(dataset, train), Subset(dataset, valid)

    def __repr__(self) -> str:
        return (
            f"HoldOutSplit(fraction={self.fraction!r}, stratified={self.stratified!r}, "
            f"random_state={self.random_state!r})"
        )
