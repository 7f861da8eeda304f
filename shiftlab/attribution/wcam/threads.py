"""Running WCAM's batches side by side on one-thread workers, in order and with bounded memory."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch

from shiftlab.device import keep_freed_memory, one_thread_workers, side_by_side_threads


def ordered_map(function: Callable[[Any], Any], batches: Iterator, device: torch.device) -> Iterator:
    """function of each batch, in order; on a CPU the calls run side by side.

    Each of ``torch.get_num_threads()`` workers runs whole batches on one
    torch thread, which keeps the cores busier than one batch on all of them
    (measured: docs/wcam.md#measured-constants).
    A batch's values do not depend on the thread count that computed it (the
    same bits for ResNet-20; ``tests/test_wcam.py``), so neither do the maps.
    """
    if device.type == "cpu":
        keep_freed_memory()  # each batch allocates the same activations again
    workers = side_by_side_workers(device)
    if workers == 1:
        return map(function, batches)
    return bounded_map(one_thread_workers(workers, "wcam"), function, batches, 2 * workers)

def side_by_side_workers(device: torch.device) -> int:
    """How many batches ``ordered_map`` runs at once on ``device``: torch's thread count on a CPU whose thread
    count is per thread, else 1."""
    return side_by_side_threads() if device.type == "cpu" else 1

def bounded_map(pool: ThreadPoolExecutor, function: Callable, items: Iterator, ahead: int) -> Iterator:
    """pool.map, but submitting at most ``ahead`` items beyond the one awaited.

    Written here because ``Executor.map`` submits every item at once, and
    WCAM's batches at 224 px would then all sit in memory together.
    """
    pending: deque = deque()
    for item in items:
        pending.append(pool.submit(function, item))
        if len(pending) > ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
