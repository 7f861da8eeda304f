"""Honest time: estimates come from this server's speed measured now (a model twice as slow, an estimate twice as
long), a stale measurement is taken again and a run's own rate replaces it, the time left follows the rate of the
work, and a method that is quick here on a small model gets no warning."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest
import torch
from torch import nn

from shiftlab.app.explain import slow_warning
from shiftlab.estimates import (
    QUICK_SECONDS,
    forward_seconds,
    map_seconds,
    record_maps,
    record_wcam,
    wcam_estimate,
)
from shiftlab.models import LoadedModel, load_model
from shiftlab.models.classifier import Classifier
from shiftlab.pace import Countdown, PaceBook, time_per_unit

SIZE = 16
WCAM_OPTIONS = {"levels": 2, "grid_size": 4, "nb_design": 4, "max_design": 16}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


#: the clock the probes read in these tests: only the slow layer moves it, so that a probe measures exactly the
#: delay given, whatever else the machine runs
PROBE_CLOCK = Clock()


class Slow(nn.Module):
    """A layer that takes ``delay`` seconds per image on the probes' clock: a model made as slow as wanted."""

    def __init__(self, delay: float):
        super().__init__()
        self.delay = delay

    def forward(self, x):
        PROBE_CLOCK.now += self.delay * len(x)
        return x


def tiny(delay: float = 0.0) -> LoadedModel:
    """A seeded two-layer network on 16-px images, ``delay`` seconds per image slower than it is."""
    torch.manual_seed(0)
    net = nn.Sequential(Slow(delay), nn.Conv2d(3, 4, 3, padding=1), nn.Tanh(), nn.AvgPool2d(4), nn.Flatten(),
                        nn.Linear(4 * 16, 10))
    return replace(load_model("resnet20", None, device="cpu"), model=Classifier(net.eval(), (0.5,) * 3, (0.25,) * 3),
                   input_size=SIZE)


@pytest.fixture
def small_probes(monkeypatch):
    """Probes of two images (not 256 at 16 px), one timed round, on the slow layer's clock."""
    monkeypatch.setattr("shiftlab.estimates.PROBE_PIXELS", 2 * SIZE * SIZE)
    monkeypatch.setattr("shiftlab.pace.PROBE_REPEATS", 1)
    monkeypatch.setattr("shiftlab.pace.probe_clock", PROBE_CLOCK)


def test_a_model_twice_as_slow_gets_estimates_twice_as_long(small_probes):
    slow, slower = tiny(0.5), tiny(1.0)  # seconds per image on the probes' clock: no real time spent
    for estimate in (lambda m: forward_seconds(PaceBook(), m, 100),
                     lambda m: map_seconds(PaceBook(), m, "integrated_gradients", {"n_steps": 8}, 2),
                     lambda m: wcam_estimate(PaceBook(), m, 2, {**WCAM_OPTIONS, "batch_size": 2}).seconds):
        assert estimate(slow) > 0 and estimate(slower) == pytest.approx(2 * estimate(slow))


def test_a_refinement_is_priced_for_the_designs_it_adds(small_probes):
    book, model = PaceBook(), tiny()
    first = wcam_estimate(book, model, 2, WCAM_OPTIONS)
    assert (first.passes, first.max_passes) == (2 * 4 * 18, 2 * 16 * 18)
    refine = wcam_estimate(book, model, 2, {**WCAM_OPTIONS, "nb_design": 32, "max_design": 32}, designs_done=16)
    assert refine.passes == refine.max_passes == 2 * 16 * 18  # 16 → 32 designs: the 16 done are reused
    assert refine.seconds == pytest.approx(first.max_seconds)


def test_a_stale_pace_is_probed_again_and_a_run_replaces_it():
    clock, probes = Clock(), []
    book = PaceBook(max_age=60, clock=clock)

    def probe():
        probes.append(clock.now)
        return 0.5

    assert book.estimate("kind", 10, probe) == 5.0
    clock.now = 30
    assert book.estimate("kind", 10, probe) == 5.0 and probes == [0]  # fresh: not probed again
    book.record("kind", units=10, seconds=20)  # a run measured 2 s a unit: the server is busier now
    assert book.estimate("kind", 10, probe) == 20.0 and book.measurement("kind").source == "run"
    clock.now = 100
    assert book.estimate("kind", 10, probe) == 5.0 and probes == [0, 100]


def test_sessions_asking_at_once_share_one_probe():
    book, calls, gate = PaceBook(), [], threading.Event()

    def probe():
        calls.append(1)
        gate.wait(5)
        return 1.0

    threads = [threading.Thread(target=book.seconds_per_unit, args=("kind", probe)) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(0.05)
    gate.set()
    for thread in threads:
        thread.join(5)
    assert calls == [1]


def test_runs_feed_the_next_estimate(small_probes):
    book, model = PaceBook(), tiny()
    record_maps(book, model, "integrated_gradients", {"n_steps": 8}, 2, seconds=16.0)  # 1 s a pass
    assert map_seconds(book, model, "integrated_gradients", {"n_steps": 16}, 2) == pytest.approx(32.0)
    before = wcam_estimate(book, model, 2, WCAM_OPTIONS)
    assert before.seconds == before.max_seconds  # before any run here: it refines to the most
    record_wcam(book, model, 2, WCAM_OPTIONS, passes=2 * 8 * 18, seconds=2 * 8 * 18 * 0.105)  # refined 4 -> 8
    after = wcam_estimate(book, model, 2, WCAM_OPTIONS)
    assert after.seconds == pytest.approx(2 * 8 * 18 * 0.105, rel=1e-6)  # as far as that run refined, at its pace
    assert after.max_seconds == pytest.approx(2 * 16 * 18 * 0.105, rel=1e-6)


def test_time_left_follows_the_rate_of_the_work():
    clock = Clock()
    countdown = Countdown(seconds_per_unit=0.1, window=10, clock=clock)
    countdown.update(0, 100)
    assert countdown.seconds_left() == pytest.approx(10.0)  # the probe's pace before any progress
    for second in range(1, 11):  # 10 units a second: 0.1 s a unit
        clock.now = second
        countdown.update(10 * second, 200)
    assert countdown.seconds_left() == pytest.approx(10.0)
    for second in range(11, 31):  # the server gets busy: 1 unit a second
        clock.now = second
        countdown.update(100 + second - 10, 200)
    assert countdown.seconds_per_unit == pytest.approx(1.0)  # the last 10 s only
    assert countdown.seconds_left() == pytest.approx(80.0)
    clock.now = 35
    assert countdown.seconds_left() == pytest.approx(75.0)  # the time since the last report counts


def test_a_quick_method_on_a_small_model_gets_no_warning_and_a_slow_one_its_seconds(small_probes):
    options = {"n_steps": 16}
    quick = map_seconds(PaceBook(), tiny(0.001), "integrated_gradients", options, 2)  # 32 passes of 1 ms
    assert quick < QUICK_SECONDS and slow_warning("integrated_gradients", quick) is None
    slow = map_seconds(PaceBook(), tiny(0.1), "integrated_gradients", options, 2)  # 32 passes of 0.1 s
    assert slow > QUICK_SECONDS
    assert f"about {slow:.0f} s" in slow_warning("integrated_gradients", slow)


def test_a_probe_takes_the_median_after_a_warm_up():
    durations = iter([5.0, 1.0, 3.0, 2.0])  # the warm-up's 5 s are not counted
    clock = Clock()

    def run():
        clock.now += next(durations)

    assert time_per_unit(run, 2, repeats=3, budget=100, clock=clock) == pytest.approx(1.0)
