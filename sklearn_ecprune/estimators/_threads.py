"""torch's intra-op threads for a fit or a prediction, chosen by the size of its products."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

__all__ = ["THREADED_MACS", "threads_for", "torch_threads"]

# Multiply-adds per batch (rows x weights of the network) below which a second thread
# does not pay: measured with one training step (forward, backward, fused Adam) on two
# free cores, 50-100-2 at batch 200 (1e6 MACs) ran 3 % slower on two threads, 50-100-2
# at batch 1024 (5e6) 19 % faster. On cores that other work keeps busy, threads cost
# far more than that (a default fit took 25 times as long), so small products run on
# one thread.
THREADED_MACS = 4_000_000


def threads_for(n_threads: int | str, rows: int, n_weights: int) -> int | None:
    """The threads for products of ``rows`` rows through ``n_weights`` weights.

    ``n_threads="auto"``: one thread below :data:`THREADED_MACS` multiply-adds, else
    ``None`` (torch's setting, as the caller left it); an integer is used as it is.
    """
    if n_threads != "auto":
        return int(n_threads)
    return 1 if rows * n_weights < THREADED_MACS else None


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block on ``threads`` intra-op threads and restore the caller's setting.

    ``None`` changes nothing. torch's setting belongs to the calling thread (OpenMP),
    so fits in parallel threads do not change each other's.
    """
    before = torch.get_num_threads()
    if threads is None or threads == before:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
