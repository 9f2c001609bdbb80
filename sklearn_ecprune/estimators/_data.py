"""Training data for skorch: rows densified one at a time, and the early-stopping split."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp
from skorch.dataset import Dataset
from torch.utils.data import Subset

__all__ = ["HoldOutSplit", "RowDataset"]


class RowDataset(Dataset):
    """skorch's Dataset, with sparse rows densified also inside a dict of inputs.

    Sample weights travel as ``X = {"X": X, "sample_weight": w}``; a sparse ``X``
    (e.g. a ``OneHotEncoder`` with many categories) is densified row by row, never as
    a whole matrix.
    """

    def transform(self, X, y):
        if isinstance(X, Mapping):
            X = {k: v.toarray().squeeze(0) if sp.issparse(v) else v for k, v in X.items()}
        return super().transform(X, y)


class HoldOutSplit:
    """A seeded hold-out split for early stopping, stratified for classifiers.

    A skorch ``train_split``: called with the training dataset and ``y``, returns the
    training and validation subsets. Classes too small to stratify fall back to a
    plain random split.

    Parameters
    ----------
    fraction : float
        Share of the rows held out.
    stratified : bool
        Keep the class proportions in both parts.
    random_state : int
        Seed of the split.
    """

    def __init__(self, fraction: float, stratified: bool, random_state: int):
        self.fraction = fraction
        self.stratified = stratified
        self.random_state = random_state

    def __call__(self, dataset, y=None, **fit_params):
        from sklearn.model_selection import train_test_split

        rows = np.arange(len(dataset))
        stratify = np.asarray(y) if self.stratified and y is not None else None
        try:
            train, valid = train_test_split(
                rows, test_size=self.fraction, stratify=stratify, random_state=self.random_state
            )
        except ValueError:  # a class with a single row cannot be stratified
            train, valid = train_test_split(
                rows, test_size=self.fraction, random_state=self.random_state
            )
        return Subset(dataset, np.sort(train)), Subset(dataset, np.sort(valid))

    def __repr__(self) -> str:
        return (
            f"HoldOutSplit(fraction={self.fraction!r}, stratified={self.stratified!r}, "
            f"random_state={self.random_state!r})"
        )
