"""Shared fixtures: where the development datasets are, and small models for fast tests."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
from pathlib import Path

import pytest
import streamlit as st

REPO = Path(__file__).resolve().parents[1]
#: the most test processes (pytest-xdist workers) run at once: each holds its own models and arrays (1-2.5 GB)
MAX_WORKERS = 4

if os.environ.get("PYTEST_XDIST_WORKER"):
    # the workers already share the cores out: torch (and every subprocess a test starts: a server, a CLI run)
    # on one thread each, since two workers' threads waiting on each other's cores made both several times slower
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)


def pytest_xdist_auto_num_workers(config) -> int:
    """``-n auto`` (pyproject's addopts): one worker per core the tests may use, at most ``MAX_WORKERS``."""
    return max(1, min(MAX_WORKERS, len(os.sched_getaffinity(0))))


def shared_data_dir() -> Path | None:
    """``$SHIFTLAB_DATA`` or the ``shared/data`` folder beside the checkout, if either exists."""
    for candidate in (os.environ.get("SHIFTLAB_DATA"), REPO.parent / "shared" / "data"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The development datasets; tests that need them skip where they are absent (a fresh clone)."""
    root = shared_data_dir()
    if root is None:
        pytest.skip("needs ../shared/data or $SHIFTLAB_DATA (the full datasets), absent here")
    return root


@pytest.fixture(autouse=True, scope="module")
def release_memory():
    """After each test file: drop the app's cached models and arrays and give freed memory back to the system,
    so that each worker's peak is one file's, not the sum of all. What outlives the
    file (modules, session fixtures) is then frozen: collections scan only what later files make (a full collection
    of everything took 0.2-0.3 s a file, and the automatic ones slowed every file)."""
    yield
    st.cache_data.clear()
    st.cache_resource.clear()
    gc.collect()
    gc.freeze()
    libc = ctypes.util.find_library("c")
    if libc:
        ctypes.CDLL(libc).malloc_trim(0)


def pytest_sessionfinish(session, exitstatus):
    """Let the last collection reach what release_memory froze, so that nothing is left for the interpreter's exit
    (nanobind reports the objects it finds alive then as leaks)."""
    gc.unfreeze()
    gc.collect()


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by playwright, one per test file (never a downloaded browser)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    from bench.browser import CHROMIUM

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is absent (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM)
        yield instance
        instance.close()
