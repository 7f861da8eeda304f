"""Choosing the torch device (CUDA when there is one, CPU otherwise) and running many batches on a CPU: workers
that run torch on one thread each, and a malloc that keeps freed memory for the next batch."""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import torch

from shiftlab.errors import ParameterError


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` means the first CUDA GPU if one is visible, else the CPU; otherwise ``cpu`` or a visible
    ``cuda[:N]``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = device if isinstance(device, torch.device) else torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ParameterError(f"unknown device {device!r}: use 'auto', 'cpu' or 'cuda[:N]'") from exc
    if not isinstance(device, (str, torch.device)) or resolved.type not in ("cpu", "cuda"):
        raise ParameterError(f"unknown device {device!r}: use 'auto', 'cpu' or 'cuda[:N]'")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ParameterError(f"device {device!r} was asked for but no CUDA GPU is visible: use 'cpu' or 'auto'")
    if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
        raise ParameterError(
            f"device {device!r} was asked for but only {torch.cuda.device_count()} CUDA GPU(s) are visible"
        )
    return resolved


def device_name(device: torch.device) -> str:
    """What a model card records as the hardware: ``"cpu"`` or the GPU's marketing name."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else str(device)


@cache
def per_thread_torch_threads() -> bool:
    """Whether ``torch.set_num_threads`` in a worker leaves the other threads' count alone: true of the OpenMP
    backend (its thread count is per thread), which the pip wheels use; with another backend it is process-wide."""
    return "parallel backend: OpenMP" in torch.__config__.parallel_info()


def side_by_side_threads() -> int:
    """How many one-thread workers run CPU work side by side: torch's thread count where that count is per
    thread (see ``per_thread_torch_threads``), else 1 (the work runs in turn in the caller)."""
    return torch.get_num_threads() if per_thread_torch_threads() else 1


@cache
def one_thread_workers(count: int, name: str) -> ThreadPoolExecutor:
    """``count`` worker threads named ``name``, made once per process, all started at once, each running torch
    on one thread of its own where the count is per thread (see ``per_thread_torch_threads``).

    torch gives a new thread its count from the process-wide one, which every ``set_num_threads`` call writes,
    the workers' too: once they have started, the caller's count is written back, so that threads started
    later (a Streamlit session's) do not begin on one thread.
    """
    if not per_thread_torch_threads():
        return ThreadPoolExecutor(count, thread_name_prefix=name)
    caller = torch.get_num_threads()
    started = threading.Barrier(count + 1)

    def start() -> None:
        torch.get_num_threads()  # this thread's first use of torch takes the process-wide count …
        torch.set_num_threads(1)  # … before its own is set, so that a later process-wide change leaves it alone
        started.wait()

    pool = ThreadPoolExecutor(count, thread_name_prefix=name, initializer=start)
    for _ in range(count):  # a busy pool starts a new thread for each task, up to count
        pool.submit(lambda: None)
    started.wait()
    torch.set_num_threads(caller)
    return pool


#: glibc's mallopt parameters (malloc.h) and the values ``keep_freed_memory`` sets
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest
TRIM_THRESHOLD = 64 << 20


@cache
def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed blocks for reuse instead of handing them back to the system; whether it
    could (False on a system without glibc's ``mallopt``). Process-wide, once.

    Torch allocates every activation afresh. With glibc's defaults a block of a few megabytes is mapped
    from the system on each allocation and unmapped when freed, and the next batch pays the page faults
    again: WCAM on ResNet-20 took 2.1 million faults in 20 s. Blocks up to ``MMAP_THRESHOLD`` now come
    from the heap, and the heap keeps up to ``TRIM_THRESHOLD`` free at its top: 128 thousand faults,
    8.4 → 7.1 s per image at 256 designs on 2 cores, peak memory 812 → 860 MB (``bench/bench_wcam.py``).
    Written by hand: no library sets malloc's thresholds from Python.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
