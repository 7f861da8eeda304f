"""How fast the guided tour answers, on the shipped zoo and the embedded sample (figures for the README).

    python -m bench.bench_tour [--repeats 3] [--json bench/results/tour.json] [--shots screenshots/tour]

Each repeat starts a fresh server, renders the home page (chromium, 1400 px), clicks "Start the guided
tour" and times, from each click, until the step's page has finished running: the first step (the preset
read from the shipped prediction store, then Compare's first render on that server) and every Next after
it. For reference, each repeat also times Compare's first render on the tour's view reached from the
menu of a fresh server (``bench_app``'s measure): the difference is what the tour itself adds to its first
step. ``--shots`` saves each step at 1400 px and at 1024×768 for a person to look at. Timings taken beside
other jobs are pessimistic; the README gives the figures with the load they were taken at.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from urllib.parse import urlencode

from playwright.sync_api import sync_playwright

from bench.bench_app import first_visits_from_menu
from bench.browser import CHROMIUM, app_server, settle
from shiftlab.app import sweeps
from shiftlab.app.tour import STEPS, TOUR_ARCH, TOUR_METHODS, TOUR_SEVERITY, preset_from_store
from shiftlab.app.view import SAMPLE, ImageRef, View

#: the sizes of the screenshots: a laptop's 1400 px and a projector's 1024×768
SHOT_SIZES = ((1400, 1100), (1024, 768))


def tour_view() -> View:
    """The view the tour opens on: its preset, read from the shipped store as the app reads it."""
    preset = preset_from_store(sweeps.shipped())
    return View(TOUR_ARCH, "baseline", ImageRef(SAMPLE, str(preset.index)), preset.shift, TOUR_SEVERITY, 0,
                TOUR_METHODS, "source")


def walk(browser, url: str, size: tuple[int, int], shots: Path | None = None) -> list[float]:
    """Home → Start → Next through every step; seconds from each click to its step's page finished."""
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.goto(url)
    settle(page)
    seconds = []
    button = page.get_by_role("button", name="Start the guided tour")
    for index, step in enumerate(STEPS):
        start = time.time()
        button.click()
        page.wait_for_function(f"() => location.pathname.endsWith('/{step.name}')", timeout=600_000)
        seconds.append(settle(page, timeout_s=600) - start)
        if shots is not None:
            page.screenshot(path=str(shots / f"tour-{index + 1}-{step.name}-{size[0]}.png"))
        if index < len(STEPS) - 1:
            button = page.get_by_role("button", name=f"Next → {STEPS[index + 1].menu_title}")
    page.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--shots", type=Path, default=None, help="save every step at 1400 px and 1024×768 here")
    args = parser.parse_args()
    runs, compare = [], []
    view = urlencode(tour_view().to_query())
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        for _ in range(args.repeats):
            with app_server({"SHIFTLAB_DATA": "/nonexistent"}) as url:
                runs.append(walk(browser, url, SHOT_SIZES[0]))
            compare.append(first_visits_from_menu(browser, ("compare",), view)["compare"])
            print("steps (s):", [round(s, 1) for s in runs[-1]], "load:", os.getloadavg()[0], flush=True)
        if args.shots is not None:
            args.shots.mkdir(parents=True, exist_ok=True)
            with app_server({"SHIFTLAB_DATA": "/nonexistent"}) as url:
                for size in SHOT_SIZES:
                    walk(browser, url, size, args.shots)
        browser.close()
    figures = {"first_step_s": [run[0] for run in runs],
               "first_step_median_s": statistics.median(run[0] for run in runs),
               "compare_from_menu_s": compare, "compare_from_menu_median_s": statistics.median(compare),
               "next_step_median_s": {step.name: statistics.median(run[i] for run in runs)
                                      for i, step in enumerate(STEPS) if i},
               "load_average_1min_at_end": os.getloadavg()[0]}
    print(json.dumps(figures, indent=1))
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
