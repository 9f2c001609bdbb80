"""torch's intra-op threads for a fit or a prediction, chosen by the size of its products."""

from __future__ import annotations

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


class torch_threads:  # lower case: used as a function, like contextlib's managers
    """Run the block on ``threads`` intra-op threads and restore the caller's setting.

    ``None`` changes nothing. torch's setting belongs to the calling thread (OpenMP),
    so fits in parallel threads do not change each other's. (A class rather than a
    generator: a one-row prediction enters it, and a generator costs several times
    more to enter and leave.)
    """

    __slots__ = ("before", "threads")

    def __init__(self, threads: int | None):
        self.threads, self.before = threads, None

    def __enter__(self) -> None:
        if self.threads is not None:
            before = torch.get_num_threads()
            if self.threads != before:
                self.before = before
                torch.set_num_threads(self.threads)

    def __exit__(self, *exc_info) -> None:
        if self.before is not None:
            torch.set_num_threads(self.before)
            self.before = None
