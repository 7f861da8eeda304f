"""Running many batches on a CPU: malloc keeps freed memory for the next batch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shiftlab.device import keep_freed_memory

#: a worker thread's page faults over 30 batches after 30 of warm-up, printed by a fresh interpreter
FAULTS = """
import resource, sys, threading, torch
from shiftlab.device import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory() is True and keep_freed_memory() is True  # once, process-wide
net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(16, 16, 3, padding=1))
x = torch.rand(66, 3, 32, 32)
faults = []

def batches():
    torch.set_num_threads(1)
    with torch.inference_mode():
        for _ in range(30):
            net(x)
        before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
        for _ in range(30):
            net(x)
    faults.append(resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before)

worker = threading.Thread(target=batches)
worker.start()
worker.join()
print(faults[0])
"""


def worker_faults(mode: str) -> int:
    """Measured in a fresh process: a test run's earlier threads and allocations change how a new thread's
    malloc arena behaves, which has nothing to do with the setting under test."""
    done = subprocess.run([sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, check=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's (Linux)")
def test_a_worker_reuses_freed_memory_for_the_next_batch():
    """With glibc's defaults, 30 batches of this network in a worker thread fault tens of thousands of pages
    (each activation mapped afresh); with freed memory kept, a few hundred at most."""
    assert keep_freed_memory() is True  # callable in the test process too
    kept, default = worker_faults("keep"), worker_faults("default")
    assert kept < 2_000 and default > 10 * kept, (kept, default)
