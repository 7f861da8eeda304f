"""A bounded line of long computations shared by every session of a server.

A long computation — a WCAM, its refinement, Integrated Gradients on a large input, a new OOD set: anything
estimated above a couple of seconds — is a ``Job`` submitted to one ``JobQueue``. Its ``workers`` threads (one
by default) run the jobs in turn, each on ``threads`` torch threads, so that on a laptop serving a class a long
computation leaves a core to the short renders of the other sessions, and two long ones never share the cores.

Identical requests (the same ``key``) share one job: thirty sessions asking for one figure compute it once
(single flight). A finished job's result is kept for the next asker (the ``keep`` most recent); a failed or
cancelled job is not, and the next asker starts it again. A job says its place in line, its progress and its
time left (``shiftlab.pace.Countdown``); one asked to stop raises ``JobCancelled`` at its next progress report.

No UI code: the app draws what these say.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from shiftlab.errors import ParameterError, ServerBusyError
from shiftlab.pace import Countdown

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
#: finished jobs whose results a queue keeps for later askers (the least recently asked dropped first)
KEEP = 64
#: the most jobs waiting in line: one more is refused (``ServerBusyError``) rather than queued without bound
MAX_LINE = 64


class JobCancelled(Exception):
    """Raised in a job's work by ``Job.report`` once the job is asked to stop, and by ``Job.result`` of a
    cancelled job."""


class Job:
    """One long computation: ``work(job)`` run by a queue's worker, with its ``state``, progress and result.

    ``work`` reports its progress by calling ``job.report(done, total)``; ``estimate`` is the seconds it was
    expected to take when submitted (None: unknown), what ``seconds_left`` says until progress is reported.
    """

    def __init__(self, key: Hashable, work: Callable[[Job], Any], label: str, estimate: float | None,
                 clock: Callable[[], float]):
        self.key, self.label, self.estimate = key, label, estimate
        self.state = QUEUED
        self.error: BaseException | None = None
        #: sessions following the job now (``following``): a cancel from one of them does not stop the others'
        self.followers = 0
        self._followers_lock = threading.Lock()
        self._work, self._clock = work, clock
        self._value: Any = None
        self._countdown = Countdown(clock=clock)
        self._finished = threading.Event()
        self._stop = threading.Event()
        self.submitted = clock()
        self.started: float | None = None

    def report(self, done: int, total: int) -> None:
        """The work has done ``done`` of ``total`` units; ``JobCancelled`` when the job was asked to stop."""
        if self._stop.is_set():
            raise JobCancelled(f"{self.label or 'the job'} was cancelled")
        self._countdown.update(done, total)

    @contextmanager
    def following(self) -> Iterator[None]:
        """Count the caller among the job's followers for the block (``JobQueue.leave`` spares a job others
        follow)."""
        with self._followers_lock:
            self.followers += 1
        try:
            yield
        finally:
            with self._followers_lock:
                self.followers -= 1

    @property
    def progress(self) -> tuple[int, int]:
        """(done, total) units as last reported; (0, 0) before any report."""
        return self._countdown.done, self._countdown.total

    def seconds_left(self) -> float | None:
        """Seconds until the job ends: its measured rate once it reports, else its estimate less the time it has
        run; 0 once finished; None when nothing says."""
        if self.finished:
            return 0.0
        measured = self._countdown.seconds_left() if self._countdown.seconds_per_unit is not None else None
        if measured is not None or self.estimate is None:
            return measured
        ran = 0.0 if self.started is None else self._clock() - self.started
        return max(0.0, self.estimate - ran)

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished (True) or ``timeout`` seconds have passed (False)."""
        return self._finished.wait(timeout)

    def result(self) -> Any:
        """The work's return value; its exception when it failed, ``JobCancelled`` when it was cancelled."""
        if not self.finished:
            raise ParameterError(f"{self.label or 'the job'} has not finished: wait() for it first")
        if self.state == CANCELLED:
            raise JobCancelled(f"{self.label or 'the job'} was cancelled")
        if self.error is not None:
            raise self.error
        return self._value

    def _run(self) -> None:
        self.started = self._clock()
        self._countdown = Countdown(clock=self._clock)
        try:
            self._value, self.state = self._work(self), DONE
        except JobCancelled:
            self.state = CANCELLED
        except Exception as error:  # noqa: BLE001 - any failure is the job's, handed to whoever waits for it
            self.error, self.state = error, FAILED

    def _end(self, state: str) -> None:
        self.state = state
        self._finished.set()


class JobQueue:
    """Jobs run in turn by ``workers`` threads, each running torch on ``threads`` threads (None: the count of the
    thread that first submits). Thread-safe; the workers start with the first job and live as long as the process.
    """

    def __init__(self, workers: int = 1, threads: int | None = None, keep: int = KEEP,
                 clock: Callable[[], float] = time.monotonic):
        for name, value in {"workers": workers, "keep": keep, "threads": threads or 1}.items():
            if not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name} must be a whole number >= 1, got {value!r:.40}")
        self.workers, self.threads, self.keep = workers, threads, keep
        self._clock = clock
        self._lock = threading.Condition()
        self._line: deque[Job] = deque()
        self._jobs: OrderedDict[Hashable, Job] = OrderedDict()  # waiting, running, and the finished ones kept
        self._running: list[Job] = []
        self._started = 0

    def submit(self, key: Hashable, work: Callable[[Job], Any], label: str = "", estimate: float | None = None) -> Job:
        """The job of ``key``: the one waiting, running or kept for it, else a new one, put at the end of the
        line; ``ServerBusyError`` when ``MAX_LINE`` jobs wait already."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and not job._stop.is_set():  # one being stopped is replaced by a new one
                self._jobs.move_to_end(key)
                return job
            if len(self._line) >= MAX_LINE:
                raise ServerBusyError(f"{MAX_LINE} long computations are waiting on this server already: "
                                      "try again in a while")
            job = Job(key, work, label, estimate, self._clock)
            self._jobs[key] = job
            self._line.append(job)
            self._start_workers()
            self._lock.notify()
            return job

    def find(self, key: Hashable) -> Job | None:
        """The job of ``key`` waiting, running or kept finished, or None."""
        with self._lock:
            return self._jobs.get(key)

    def position(self, job: Job) -> int:
        """The job's place in line: 1 for the next to start, 0 once it has started (or left the line)."""
        with self._lock:
            return self._line.index(job) + 1 if job in self._line else 0

    def seconds_before_start(self, job: Job) -> float | None:
        """Seconds until a waiting job starts: the time left of the jobs running and ahead of it, shared by the
        workers; 0 when it has started; None when one of them says nothing of its time."""
        with self._lock:
            if job not in self._line:
                return 0.0
            before = self._running + list(self._line)[: self._line.index(job)]
        lefts = [other.seconds_left() for other in before]
        return None if None in lefts else sum(lefts) / self.workers

    def cancel(self, job: Job) -> bool:
        """Stop ``job``: a waiting one leaves the line at once, a running one at its next progress report.
        False when it had finished already."""
        with self._lock:
            if job in self._line:
                self._line.remove(job)
                self._forget(job)
                job._end(CANCELLED)
                return True
            if job.state == RUNNING:
                job._stop.set()
                return True
            return False

    def leave(self, job: Job) -> bool:
        """A session gives up on ``job``: it is cancelled (``cancel``) unless another session follows it; whether
        it was."""
        return job.followers == 0 and self.cancel(job)

    def _forget(self, job: Job) -> None:
        if self._jobs.get(job.key) is job:
            del self._jobs[job.key]

    def _start_workers(self) -> None:
        """Start the workers not started yet (called with the lock held)."""
        while self._started < self.workers:
            self._started += 1
            start_thread(self._serve, self.threads or torch.get_num_threads(), f"shiftlab-job-{self._started}")

    def _serve(self) -> None:
        """A worker's loop: take the first job in line, run it, keep or forget it, for ever."""
        while True:
            with self._lock:
                while not self._line:
                    self._lock.wait()
                job = self._line.popleft()
                job.state = RUNNING
                self._running.append(job)
            job._run()
            with self._lock:
                self._running.remove(job)
                if job.state != DONE:
                    self._forget(job)  # the next asker runs it again
                job._end(job.state)
                self._evict()

    def _evict(self) -> None:
        """Forget the least recently asked finished jobs beyond ``keep`` (called with the lock held)."""
        finished = [key for key, job in self._jobs.items() if job.finished]
        for key in finished[: max(0, len(finished) - self.keep)]:
            del self._jobs[key]


#: one ``torch_threads`` block or worker start at a time: each writes torch's process-wide count, which two
#: interleaved blocks would leave at the worker's count for every thread started after
_THREADS_LOCK = threading.Lock()


def start_thread(target: Callable[[], None], threads: int, name: str) -> threading.Thread:
    """A daemon thread running ``target`` with torch on ``threads`` threads of its own.

    torch gives a new thread its count from the process-wide one, which every ``set_num_threads`` call writes,
    the new thread's too: the caller's count is written back once the thread has set its own, so that threads
    started later (a Streamlit session's) do not begin on the worker's count.
    """
    ready = threading.Event()

    def run() -> None:
        torch.get_num_threads()  # this thread's first use of torch takes the process-wide count …
        torch.set_num_threads(threads)  # … before its own is set
        ready.set()
        target()

    thread = threading.Thread(target=run, name=name, daemon=True)
    with _THREADS_LOCK:
        caller = torch.get_num_threads()
        thread.start()
        ready.wait()
        torch.set_num_threads(caller)
    return thread


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run torch on ``count`` threads in this thread for the block (a probe timing work as a job's worker runs
    it), the caller's count restored after; one block at a time in the process."""
    with _THREADS_LOCK:
        caller = torch.get_num_threads()
        torch.set_num_threads(count)
        try:
            yield
        finally:
            torch.set_num_threads(caller)
