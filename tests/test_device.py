"""Running many batches on a CPU: malloc keeps freed memory for the next batch."""

from __future__ import annotations

import resource
import sys
import threading

import pytest
import torch

from shiftlab.device import keep_freed_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's (Linux)")
def test_a_worker_reuses_freed_memory_for_the_next_batch():
    """With glibc's defaults, 30 batches of this network in a worker thread fault about 60,000 pages (each
    activation mapped afresh); with freed memory kept, a handful."""
    assert keep_freed_memory() is True and keep_freed_memory() is True  # once, process-wide
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(16, 16, 3, padding=1))
    x = torch.rand(66, 3, 32, 32)

    def batches(faults: list[int]) -> None:
        torch.set_num_threads(1)
        before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
        with torch.inference_mode():
            for _ in range(30):
                net(x)
        faults.append(resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before)

    def faults_in_a_worker() -> int:
        """Page faults of the worker thread's own batches: other threads of the test process (pytest, torch's
        pool, earlier tests' leftovers) fault too, and how much depends on the machine, not on the allocator."""
        faults: list[int] = []
        worker = threading.Thread(target=batches, args=(faults,))
        worker.start()
        worker.join()
        return faults[0]

    faults_in_a_worker()  # the heap grows once
    assert faults_in_a_worker() < 2_000
