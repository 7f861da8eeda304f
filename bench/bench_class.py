"""A class on one server: 30 students' sessions at once, and what one student's live WCAM does to the others.

    python -m bench.bench_class [--students 30] [--json bench/results/class.json]

One ``streamlit run app.py`` on 127.0.0.1; every student is a ``bench.stclient.Session`` (the websocket
protocol a browser tab speaks, no browser). Three phases, each bounded by ``--timeout`` seconds a render:

1. **the lesson**: all students at once visit the ten pages in menu order on the view stored with the app
   (the view the guided tour opens on), then change Compare's view three times (severity, shift, image);
2. **two live WCAMs**: one student opens Spectral on an image the shipped store does not hold and presses
   "Compute the WCAM", a second does the same on another image a second later (the server runs one long
   computation at a time: the second waits in line, and its page says so), while the others keep re-opening stored
   views (Compare, Variants, Calibration) one after another;
3. the figures: p50/p95/max seconds to render per phase, errors drawn by any page, the server's peak
   resident memory (``VmHWM`` of its process), the others' renders in ``QUIET_S`` seconds before the WCAMs and
   while they ran (how many took over ``BLOCKED_S``, before and during), and what the WCAMs' pages said first
   (the estimate; the second's place in line).

Timings taken beside other jobs are pessimistic; README gives those of a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.browser import app_process
from bench.stclient import Render, Session

PAGES = ("", "compare", "variants", "triptych", "calibration", "spectral", "cases", "ood", "trust", "robustness")
VIEW = "arch=resnet20&variant=baseline&image=cifar10-sample:204&shift=gaussian_noise&severity=3&seed=0"
COMPARE_CHANGES = (VIEW.replace("severity=3", "severity=5"), VIEW.replace("gaussian_noise", "fog"),
                   VIEW.replace("cifar10-sample:204", "cifar10-sample:206"))
#: images outside the shipped attribution store: their WCAMs are computed live
LIVE_VIEW = VIEW.replace("cifar10-sample:204", "cifar10-sample:5")
SECOND_LIVE_VIEW = VIEW.replace("cifar10-sample:204", "cifar10-sample:7")
#: a stored view rendering slower than this while a long computation runs counts as blocked by it
BLOCKED_S = 2.0
#: seconds the others browse stored views before the WCAMs are asked for: their renders with nothing long running
QUIET_S = 20.0
STORED_LOOP = (("compare", VIEW), ("variants", VIEW), ("calibration", VIEW))


def lesson(base: str, timeout: float) -> list[Render]:
    """One student's lesson: every page on the stored view, then three Compare changes."""
    session = Session(base, timeout)
    try:
        renders = [session.run(page, VIEW) for page in PAGES]
        return renders + [session.run("compare", query) for query in COMPARE_CHANGES]
    finally:
        session.close()


def live_wcam(base: str, timeout: float, query: str, delay: float) -> Render:
    """A student's live WCAM: Spectral on ``query``, then, ``delay`` seconds later, "Compute the WCAM"."""
    session = Session(base, timeout)
    try:
        session.run("spectral", query)
        time.sleep(delay)
        return session.press("Compute the WCAM")
    finally:
        session.close()


def while_wcam_runs(base: str, students: int, timeout: float) -> tuple[Render, Render, list[Render], list[Render]]:
    """Two live WCAMs' renders, the second asked for a second after the first; the stored-view renders the other
    students made in the ``QUIET_S`` seconds before (nothing long running), and those they made while the WCAMs
    ran."""
    done = threading.Event()
    renders: list[tuple[float, Render]] = []  # (when the render was asked for, the render)

    def keep_browsing() -> None:
        session = Session(base, timeout)
        try:
            while not done.is_set():
                for page, query in STORED_LOOP:
                    asked = time.perf_counter()
                    renders.append((asked, session.run(page, query)))
        finally:
            session.close()

    with ThreadPoolExecutor(students) as pool:
        loops = [pool.submit(keep_browsing) for _ in range(students - 2)]
        time.sleep(QUIET_S)  # the others browse with nothing long running, then while the buttons are pressed
        pressed = time.perf_counter()
        first = pool.submit(live_wcam, base, timeout, LIVE_VIEW, 0.0)
        second = pool.submit(live_wcam, base, timeout, SECOND_LIVE_VIEW, 1.0)
        wcams = first.result(), second.result()
        done.set()
        for loop in loops:
            loop.result()
    quiet = [render for asked, render in renders if asked < pressed - 1.0]  # ended before the presses, mostly
    during = [render for asked, render in renders if asked >= pressed]
    return *wcams, quiet, during


def peak_memory_mb(pid: int) -> float:
    """The peak resident memory of process ``pid`` and its children so far (Linux ``VmHWM``), in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def summary(renders: list[Render]) -> dict:
    seconds = sorted(r.seconds for r in renders)
    return {"renders": len(seconds), "p50_s": round(statistics.median(seconds), 2),
            "p95_s": round(seconds[min(len(seconds) - 1, int(0.95 * len(seconds)))], 2),
            "max_s": round(seconds[-1], 2), "errors": sorted({e for r in renders for e in r.errors})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30, choices=range(2, 61), metavar="2..60")
    parser.add_argument("--timeout", type=float, default=600, help="the longest one render may take (s)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with app_process() as (base, process):
        Session(base, args.timeout).run("", VIEW)  # the server's first run: torch and the zoo loaded once
        start = time.perf_counter()
        with ThreadPoolExecutor(args.students) as pool:
            lessons = [r for renders in pool.map(lambda _: lesson(base, args.timeout), range(args.students))
                       for r in renders]
        lesson_s = time.perf_counter() - start
        wcam, second, quiet, others = while_wcam_runs(base, args.students, args.timeout)
        figures = {"students": args.students, "lesson": summary(lessons), "lesson_wall_s": round(lesson_s, 1),
                   "others_before_wcam": summary(quiet),
                   "live_wcam_s": round(wcam.seconds, 1), "live_wcam_said": wcam.notes[:1],
                   "second_wcam_s": round(second.seconds, 1),
                   "second_wcam_said": next((n for n in second.notes if " in line" in n), None),
                   "others_during_wcam": summary(others),
                   f"others_over_{BLOCKED_S:g}_s": [sum(r.seconds > BLOCKED_S for r in quiet),
                                                     sum(r.seconds > BLOCKED_S for r in others)],
                   "peak_memory_mb": round(peak_memory_mb(process.pid))}
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
