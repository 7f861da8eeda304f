"""What a page shows while it works or when it fails: progress bars with the time left, and a user's errors.

Streamlit code: each function draws. A long computation takes a callback from
here (``work_progress``, ``wcam_run``) and stays free of Streamlit itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import streamlit as st

from shiftlab.app import text
from shiftlab.attribution import get_method
from shiftlab.errors import ShiftlabError

T = TypeVar("T")


@contextmanager
def user_errors() -> Iterator[None]:
    """Show any ``ShiftlabError`` raised inside as an error message and stop the page: no traceback for a user's
    mistake."""
    try:
        yield
    except ShiftlabError as exc:
        st.error(text.plain(exc))
        st.stop()


def progress(items: Iterable[T], total: int, label: str) -> Iterator[T]:
    """Yield ``items`` while a progress bar shows "label: k / total · about N s left"; removed when done."""
    bar = st.progress(0.0, text=f"{label}: 0 / {total}")
    start = time.perf_counter()
    for done, item in enumerate(items, 1):
        yield item
        elapsed = time.perf_counter() - start
        left = elapsed / done * (total - done)
        bar.progress(min(done / total, 1.0), text=f"{label}: {done} / {total} · about {left:.0f} s left")
    bar.empty()


def work_progress(label: str) -> Callable[[int, int], None]:
    """A progress callback for long work: "label: k / total · about N s left", from the rate measured so far."""
    bar = st.progress(0.0, text=f"{label}: starting")
    start = time.perf_counter()

    def update(done: int, total: int) -> None:
        if done >= total:
            bar.empty()
            return
        left = (time.perf_counter() - start) / max(done, 1) * (total - done)
        bar.progress(done / max(total, 1), text=f"{label}: {done} / {total} · about {left:.0f} s left")

    return update


def wcam_run(method: str, resume: Any = None) -> dict | None:
    """For WCAM, a progress bar counting perturbed images (and the time left) and the result to resume from."""
    if "progress" not in get_method(method).run_controls:
        return None
    bar = st.empty()
    start = time.perf_counter()

    def update(done: int, total: int) -> None:
        left = (time.perf_counter() - start) / max(done, 1) * (total - done)
        if done >= total:  # finished (a later doubling of the design shows the bar again in the same place)
            bar.empty()
            return
        bar.progress(done / max(total, 1),
                     text=f"WCAM: {done:,} / {total:,} perturbed images · about {left:.0f} s left")

    return {"progress": update, "resume": resume}
