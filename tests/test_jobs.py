"""The job queue: one run per key (single flight), a bounded number at once, places in line, a failure or a
cancel that leaves the queue working, and a result kept for the next asker."""

from __future__ import annotations

import threading

import pytest
import torch

from shiftlab.errors import ParameterError, ServerBusyError
from shiftlab.jobs import CANCELLED, DONE, FAILED, QUEUED, RUNNING, JobCancelled, JobQueue, start_thread, torch_threads

WAIT = 5.0  # seconds a test waits at most for a thread


def gate() -> tuple[threading.Event, threading.Event, callable]:
    """A job's work that says when it has started and runs until released: (started, release, work)."""
    started, release = threading.Event(), threading.Event()

    def work(job):
        started.set()
        assert release.wait(WAIT)
        return job.key

    return started, release, work


def test_identical_requests_share_one_run_and_its_result_is_kept():
    queue = JobQueue()
    runs = []
    started, release, work = gate()

    def counted(job):
        runs.append(job.key)
        return work(job)

    jobs = [queue.submit("figure", counted) for _ in range(30)]
    assert started.wait(WAIT)
    release.set()
    assert all(job is jobs[0] for job in jobs) and jobs[0].wait(WAIT)
    assert runs == ["figure"] and jobs[0].result() == "figure" and jobs[0].state == DONE
    assert queue.submit("figure", counted) is jobs[0] and runs == ["figure"]  # kept: not run again


def test_one_worker_runs_one_job_at_a_time_and_says_each_place_in_line():
    queue = JobQueue(workers=1)
    started, release, work = gate()
    first = queue.submit("a", work, estimate=10.0)
    assert started.wait(WAIT)
    second, third = queue.submit("b", lambda job: "b", estimate=4.0), queue.submit("c", lambda job: "c")
    fourth = queue.submit("d", lambda job: "d")
    assert first.state == RUNNING and second.state == third.state == QUEUED
    assert [queue.position(job) for job in (first, second, third, fourth)] == [0, 1, 2, 3]
    assert queue.seconds_before_start(second) == pytest.approx(10.0, abs=1.0)  # the running job's estimate
    assert queue.seconds_before_start(third) == pytest.approx(14.0, abs=1.0)  # … and the one ahead of it
    assert queue.seconds_before_start(fourth) is None  # "c" said nothing of its time
    release.set()
    assert fourth.wait(WAIT) and [j.result() for j in (first, second, third, fourth)] == ["a", "b", "c", "d"]
    assert queue.position(fourth) == 0


def test_a_failing_job_does_not_wedge_the_queue_and_is_run_again_when_asked_again():
    queue = JobQueue()
    calls = []

    def fails_once(job):
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("broken")
        return "fixed"

    failed = queue.submit("x", fails_once)
    after = queue.submit("y", lambda job: "next")
    assert after.wait(WAIT) and after.result() == "next"
    assert failed.state == FAILED
    with pytest.raises(ValueError, match="broken"):
        failed.result()
    again = queue.submit("x", fails_once)
    assert again is not failed and again.wait(WAIT) and again.result() == "fixed"


def test_cancel_removes_a_waiting_job_and_stops_a_running_one_at_its_next_report():
    queue = JobQueue()
    reported = threading.Event()

    def reports(job):
        for done in range(10_000):
            job.report(done, 10_000)
            reported.set()
            threading.Event().wait(0.001)
        return "finished"

    running = queue.submit("long", reports)
    waiting = queue.submit("next", lambda job: "next")
    assert reported.wait(WAIT)
    assert queue.cancel(waiting) and waiting.state == CANCELLED and queue.find("next") is None
    assert queue.cancel(running) and running.wait(WAIT) and running.state == CANCELLED
    with pytest.raises(JobCancelled):
        running.result()
    rerun = queue.submit("next", lambda job: "rerun")  # a rerun after a cancel starts it anew
    assert rerun.wait(WAIT) and rerun.result() == "rerun" and not queue.cancel(rerun)


def test_progress_and_time_left_come_from_the_reports():
    queue = JobQueue()
    halfway, release = threading.Event(), threading.Event()

    def half(job):
        job.report(50, 100)
        halfway.set()
        assert release.wait(WAIT)
        return None

    job = queue.submit("half", half, estimate=1000.0)
    assert halfway.wait(WAIT)
    assert job.progress == (50, 100)
    assert job.seconds_left() < 100  # the measured rate, not the estimate of 1000 s
    release.set()
    assert job.wait(WAIT) and job.seconds_left() == 0.0


def test_the_line_is_bounded_and_the_kept_results_too(monkeypatch):
    monkeypatch.setattr("shiftlab.jobs.MAX_LINE", 2)
    queue = JobQueue(keep=1)
    started, release, work = gate()
    queue.submit("running", work)
    assert started.wait(WAIT)
    queue.submit("a", lambda job: 1), queue.submit("b", lambda job: 2)
    with pytest.raises(ServerBusyError, match="waiting"):
        queue.submit("c", lambda job: 3)
    release.set()
    assert queue.submit("b", lambda job: 2).wait(WAIT)
    assert queue.find("b") is not None and queue.find("running") is None and queue.find("a") is None


def test_workers_run_torch_on_their_own_thread_count_and_leave_the_callers():
    caller = torch.get_num_threads()
    seen = []
    done = threading.Event()

    def record():
        seen.append(torch.get_num_threads())
        done.set()

    start_thread(record, 1, "test-worker")
    assert done.wait(WAIT) and seen == [1] and torch.get_num_threads() == caller
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == caller


def test_bad_settings_are_refused():
    with pytest.raises(ParameterError, match="workers"):
        JobQueue(workers=0)
    with pytest.raises(ParameterError, match="has not finished"):
        JobQueue().submit("slow", lambda job: threading.Event().wait(0.2)).result()


def test_a_session_leaving_a_job_another_follows_does_not_cancel_it():
    queue = JobQueue()
    reported, release = threading.Event(), threading.Event()

    def reports(job):
        while not release.is_set():
            job.report(0, 1)
            reported.set()
            release.wait(0.001)
        job.report(1, 1)
        return "done"

    job = queue.submit("shared", reports)
    assert reported.wait(WAIT)
    with job.following():  # another session watches it
        assert not queue.leave(job) and job.state == RUNNING
    assert queue.leave(job)  # no one else: cancelled at its next report
    assert job.wait(WAIT) and job.state == CANCELLED
