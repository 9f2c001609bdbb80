"""Dense networks already trained, so that a search over pruning parameters is cheap.

A grid search over ``sparsity`` (or the pruning method) fits the same dense network
once per candidate and fold. With a fixed integer ``random_state`` that training is
deterministic, so its result can be kept and reused: each fold's dense network is
trained once, and every candidate only prunes and fine-tunes it.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from collections import OrderedDict

import numpy as np
import torch

__all__ = ["DenseCache"]


class DenseCache:
    """A small, thread-safe LRU store of trained dense networks.

    An entry holds what a fresh dense fit would leave behind that later steps
    read: the module's weights, skorch's history, and torch's random state (so
    that fine-tuning shuffles exactly as after a real fit). The least recently
    used entries go once there are more than ``max_entries`` or their weights
    take more than ``max_bytes``. A search visits all folds of one candidate
    before the next, so the cache must hold one network per fold: 64 covers
    any usual cross-validation.
    """

    def __init__(self, max_entries: int = 64, max_bytes: int = 256 * 2**20):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, dict] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(estimator, X: np.ndarray, y: np.ndarray, params: dict) -> str:
        """A digest of the estimator class, its training parameters and the data."""
        digest = hashlib.sha256()
        digest.update(type(estimator).__qualname__.encode())
        digest.update(repr(sorted(params.items())).encode())
        for array in (X, y):
            array = np.ascontiguousarray(array)
            digest.update(f"{array.dtype}{array.shape}".encode())
            digest.update(array.tobytes())
        return digest.hexdigest()

    def store(self, key: str, estimator) -> None:
        state = {
            k: v.detach().to("cpu", copy=True) for k, v in estimator.module_.state_dict().items()
        }
        entry = {
            "state_dict": state,
            "bytes": sum(v.numel() * v.element_size() for v in state.values()),
            "history": copy.deepcopy(estimator.history_),
            "rng_state": torch.get_rng_state(),
        }
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > 1 and (
                len(self._entries) > self.max_entries
                or sum(e["bytes"] for e in self._entries.values()) > self.max_bytes
            ):
                self._entries.popitem(last=False)

    def restore(self, key: str, estimator) -> bool:
        """Load the entry into an initialized estimator; False if there is none."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return False
            self._entries.move_to_end(key)
        estimator.module_.load_state_dict(entry["state_dict"])
        estimator.history_ = copy.deepcopy(entry["history"])
        torch.set_rng_state(entry["rng_state"])
        return True

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
