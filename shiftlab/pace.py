"""How long work takes on this server now: measured speeds, estimates said before work starts, and the time left
of work under way from its actual rate.

A ``PaceBook`` keeps, for each kind of work (a key such as ``("wcam", "resnet20", "baseline", 8)``), the seconds
one unit of it takes (a perturbed image through the model, one image's gradient pass…). A measurement is taken by
a short probe when none is fresh — a server's load changes, so one older than ``max_age`` seconds is taken again —
and work under way replaces it with its own rate (``record``): an estimate follows the server's speed now, not
the speed it had when the page was first opened. ``Countdown`` turns reported progress into time left, from the
rate over the last ``window`` seconds, the probe's pace standing in until the work has reported.

No UI code: the app draws what these compute.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from shiftlab.errors import ParameterError

#: a probe's measurement is taken again after this many seconds (work under way refreshes it sooner)
MAX_AGE = 60.0
#: the most kinds of work a book remembers (the least recently measured forgotten first)
MAX_KINDS = 256
#: a countdown's rate is measured over about this many of the last seconds
WINDOW = 10.0
#: a countdown keeps at most this many reports (the oldest dropped first: the rate is then over fewer seconds)
MAX_SAMPLES = 512
#: a probe repeats its call while the calls together take under this many seconds …
PROBE_SECONDS = 0.5
#: … and at most this many times (the median is kept: a call slowed by a neighbour is ignored)
PROBE_REPEATS = 3
#: the clock probes read (a test replaces it by one its fake slow model moves)
probe_clock = time.perf_counter


def time_per_unit(run: Callable[[], Any], units: int, repeats: int | None = None, budget: float = PROBE_SECONDS,
                  warm_up: Callable[[], Any] | None = None, clock: Callable[[], float] | None = None) -> float:
    """Seconds per unit of ``run``, a call that does ``units`` units of work: after one warm-up call (caches,
    kernels, lazy imports; ``warm_up``, a cheaper call of the same code, when given, else ``run``), the median of
    up to ``repeats`` (``PROBE_REPEATS``) timed calls, fewer once they have taken ``budget`` seconds together, on
    ``clock`` (``probe_clock``)."""
    if not isinstance(units, int) or units < 1:
        raise ParameterError(f"units must be a whole number >= 1, got {units!r:.40}")
    repeats, clock = repeats or PROBE_REPEATS, clock or probe_clock
    (warm_up or run)()
    rounds: list[float] = []
    while len(rounds) < repeats and sum(rounds) < budget:
        started = clock()
        run()
        rounds.append(clock() - started)
    return statistics.median(rounds) / units


@dataclass(frozen=True)
class Measurement:
    """Seconds per unit of one kind of work, measured at ``at`` (the book's clock) by a ``"probe"`` or a ``"run"``."""

    seconds_per_unit: float
    at: float
    source: str


class PaceBook:
    """The seconds per unit of each kind of work on this server, as measured last; thread-safe, one probe of a
    kind at a time (others asking for it meanwhile wait for its answer instead of probing too)."""

    def __init__(self, max_age: float = MAX_AGE, clock: Callable[[], float] = time.monotonic):
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._measured: OrderedDict[Hashable, Measurement] = OrderedDict()
        self._probing: dict[Hashable, threading.Lock] = {}

    def measurement(self, key: Hashable) -> Measurement | None:
        """The last measurement of ``key``, however old, or None."""
        with self._lock:
            return self._measured.get(key)

    def fresh(self, key: Hashable) -> float | None:
        """The seconds per unit of ``key`` when measured in the last ``max_age`` seconds, else None."""
        found = self.measurement(key)
        return found.seconds_per_unit if found and self._clock() - found.at <= self.max_age else None

    def seconds_per_unit(self, key: Hashable, probe: Callable[[], float]) -> float:
        """The seconds per unit of ``key``: the last measurement when fresh, else ``probe()``'s (seconds per unit,
        measured now), which becomes the measurement."""
        if (fresh := self.fresh(key)) is not None:
            return fresh
        with self._lock:
            probing = self._probing.setdefault(key, threading.Lock())
        with probing:
            if (fresh := self.fresh(key)) is not None:  # measured while this thread waited
                return fresh
            value = probe()
            self._store(key, value, "probe")
            return value

    def estimate(self, key: Hashable, units: float, probe: Callable[[], float]) -> float:
        """Seconds ``units`` units of ``key`` will take at the pace measured now."""
        return units * self.seconds_per_unit(key, probe)

    def record(self, key: Hashable, units: float, seconds: float) -> None:
        """What work under way measured: ``units`` units of ``key`` in ``seconds``; nothing when no unit was done."""
        if units > 0 and seconds >= 0:
            self._store(key, seconds / units, "run")

    def _store(self, key: Hashable, seconds_per_unit: float, source: str) -> None:
        if not math.isfinite(seconds_per_unit) or seconds_per_unit < 0:
            raise ParameterError(f"a pace is a finite number of seconds >= 0, got {seconds_per_unit!r:.40}")
        with self._lock:
            self._measured[key] = Measurement(float(seconds_per_unit), self._clock(), source)
            self._measured.move_to_end(key)
            while len(self._measured) > MAX_KINDS:
                self._measured.popitem(last=False)


class Countdown:
    """Time left of work under way, from the rate it has reported over its last ``window`` seconds.

    ``update(done, total)`` is called as the work reports (``total`` may grow, as WCAM's does when it refines).
    Until the work has reported progress, the time left is ``seconds_per_unit`` (a probe's pace) times the
    units left, less the time already spent; after, it is the measured rate times the units left, less the time
    since the last report. None when neither is known.
    """

    def __init__(self, seconds_per_unit: float | None = None, window: float = WINDOW,
                 clock: Callable[[], float] = time.monotonic):
        self.prior = seconds_per_unit
        self.window = window
        self._clock = clock
        self.started = clock()
        self.done, self.total = 0, 0
        self._samples: deque[tuple[float, int]] = deque([(self.started, 0)], maxlen=MAX_SAMPLES)

    def update(self, done: int, total: int) -> None:
        """The work has done ``done`` of ``total`` units."""
        now = self._clock()
        self.done, self.total = done, max(total, done)
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.window:
            self._samples.popleft()  # keep one sample at least ``window`` old: the rate's reference

    @property
    def seconds_per_unit(self) -> float | None:
        """The rate measured over the window (seconds per unit), or None before any progress."""
        (first_time, first_done), (last_time, last_done) = self._samples[0], self._samples[-1]
        if last_done <= first_done:
            return None
        return (last_time - first_time) / (last_done - first_done)

    def seconds_left(self) -> float | None:
        """Seconds the work has left at its measured rate (the probe's before it reports), or None."""
        measured = self.seconds_per_unit
        rate = measured if measured is not None else self.prior
        if rate is None:
            return None
        since = self._clock() - (self._samples[-1][0] if measured is not None else self.started)
        return max(0.0, rate * (self.total - self.done) - since)
