"""What a page shows while it works or when it fails: progress bars with the time left, a long computation's place
in the server's line, and a user's errors.

Streamlit code: each function draws. A long computation runs in the server's job queue (``shiftlab.jobs``) and
stays free of Streamlit itself; ``follow`` draws what it reports. Times left come from the rate the work has
reported over its last seconds (``shiftlab.pace.Countdown``), not from its average since it started: a server
that gets busier is seen within seconds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import streamlit as st

from shiftlab.app import text
from shiftlab.errors import ShiftlabError
from shiftlab.jobs import Job, JobCancelled, JobQueue
from shiftlab.pace import Countdown

T = TypeVar("T")

#: seconds between two redraws of a followed job's status
POLL_SECONDS = 0.5


@contextmanager
def user_errors() -> Iterator[None]:
    """Show any ``ShiftlabError`` raised inside as an error message, and a cancelled computation as a note, and
    stop the page: no traceback for a user's mistake."""
    try:
        yield
    except ShiftlabError as exc:
        st.error(text.plain(exc))
        st.stop()
    except JobCancelled as cancelled:
        st.info(str(cancelled))
        st.stop()


def _left(countdown: Countdown) -> str:
    seconds = countdown.seconds_left()
    return "" if seconds is None else text.JOB_LEFT.format(seconds=seconds)


def progress(items: Iterable[T], total: int, label: str) -> Iterator[T]:
    """Yield ``items`` while a progress bar shows "label: k / total · about N s left"; removed when done."""
    bar = st.progress(0.0, text=f"{label}: 0 / {total}")
    countdown = Countdown()
    for done, item in enumerate(items, 1):
        yield item
        countdown.update(done, total)
        bar.progress(min(done / total, 1.0), text=f"{label}: {done} / {total}{_left(countdown)}")
    bar.empty()


def ordinal(place: int) -> str:
    """1st, 2nd, 3rd, 4th, …, 11th, 12th, 13th, 21st…"""
    suffix = "th" if 10 <= place % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(place % 10, "th")
    return f"{place}{suffix}"


def job_status(queue: JobQueue, job: Job, unit: str) -> tuple[float | None, str]:
    """What a followed job's status line says now: (share done or None while it waits, the words)."""
    place = queue.position(job)
    if place:
        before = queue.seconds_before_start(job)
        wait = "" if before is None or job.estimate is None else text.JOB_WAIT.format(seconds=before,
                                                                                      estimate=job.estimate)
        return None, text.JOB_IN_LINE.format(label=job.label, place=ordinal(place), wait=wait)
    seconds = job.seconds_left()
    left = "" if seconds is None else text.JOB_LEFT.format(seconds=seconds)
    done, total = job.progress
    if not total:
        return 0.0, text.JOB_STARTED.format(label=job.label, left=left)
    return min(done / total, 1.0), text.JOB_RUNNING.format(label=job.label, done=done, total=total, unit=unit,
                                                           left=left)


def follow(queue: JobQueue, job: Job, unit: str = "done") -> Any:
    """The result of ``job``, drawing until it ends its place in the server's line (and the time before it
    starts), then its progress and time left, with a Cancel button. A press of Cancel reruns the page, which
    cancels the job unless another session follows it too (``JobCancelled``, shown by ``user_errors``); any
    other rerun follows the same job again. The job's failure is raised here."""
    if job.finished:
        return job.result()
    key = "cancel-" + hashlib.sha1(repr(job.key).encode()).hexdigest()[:16]
    status, button = st.empty(), st.empty()  # both removed when the job ends
    if button.button(text.JOB_CANCEL, key=key):
        queue.leave(job)
        raise JobCancelled(text.JOB_CANCELLED.format(label=job.label))
    with job.following():
        while not job.finished:  # drawn at once (the estimate before anything runs), then every POLL_SECONDS
            share, words = job_status(queue, job, unit)
            if share is None:
                status.info(words)
            else:
                status.progress(share, text=words)
            job.wait(POLL_SECONDS)
    status.empty()
    button.empty()
    return job.result()
