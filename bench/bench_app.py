"""How fast the app answers, on the shipped zoo and the embedded sample (figures for the README).

    python -m bench.bench_app [--repeats 5] [--json bench/results/app.json]

* server start to the home page rendered: ``streamlit run app.py`` spawned, the browser opens ``/`` as
  soon as the port answers, timed until the page has finished running (chromium, 1400 px);
* first render of every page, three ways, a fresh server per page each time (its models, figures and stores
  not yet loaded): reached from the home page's menu, as a user moves through the app (timed from the click);
  opened by its URL in a new tab after the home page has rendered (the browser loads Streamlit's frontend
  again, about 1 s on 2 cores); and opened by its URL as the server's first request (torch and Streamlit's
  first run included). The view's image is in the shipped attribution store; Compare's first visit from the
  menu is also timed on an image outside it, whose maps are computed live;
* Compare warm refresh (ResNet-20, saliency + Grad-CAM + Integrated Gradients on a source and shifted
  image, with drift) and Variants with Grad-CAM over the six ResNet-20 variants, warm: the page's
  script re-run in-process (``AppTest``) with every cache filled, the median of ``--repeats`` runs.

Timings taken beside other jobs are pessimistic; the README gives those of a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from playwright.sync_api import sync_playwright
from streamlit.testing.v1 import AppTest

from bench.browser import CHROMIUM, REPO, app_server, settle

PAGES = ("compare", "variants", "triptych", "calibration", "spectral", "cases", "ood", "robustness")
VIEW = "arch=resnet20&variant=baseline&image=cifar10-sample:204&shift=gaussian_noise&severity=3&seed=0"
#: the same view on an image the shipped attribution store does not hold: Compare computes its maps live
LIVE_VIEW = VIEW.replace("cifar10-sample:204", "cifar10-sample:37")


def timed_page(browser, url: str) -> float:
    """Seconds from opening ``url`` to the page having finished."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    start = time.time()
    page.goto(url)
    seconds = settle(page, timeout_s=600) - start
    page.close()
    return seconds


def server_start_to_home(browser) -> float:
    """Seconds from spawning the server to the home page rendered."""
    start = time.time()
    with app_server() as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        return settle(page) - start


def first_visits_from_menu(browser, pages: tuple[str, ...] = PAGES, view: str = VIEW) -> dict[str, float]:
    """Each page's first render on a fresh server, reached by clicking its menu entry on the home page (which
    holds ``view`` in its URL); seconds from the click."""
    seconds = {}
    for name in pages:
        with app_server() as url:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/?{view}")
            settle(page)
            link = page.locator(f"[data-testid='stSidebarNav'] a[href$='/{name}']")
            start = time.time()
            link.click()
            page.wait_for_url(f"**/{name}*")  # the page's run has started (a quick one may never show the status)
            seconds[name] = settle(page, timeout_s=600) - start
            page.close()
            print(f"first render from the menu, {name}: {seconds[name]:.1f} s", flush=True)
    return seconds


def first_renders(browser, after_home: bool) -> dict[str, float]:
    """Each page's first render on a fresh server, opened by its URL (after the home page, or as the first request)."""
    seconds = {}
    for name in PAGES:
        with app_server() as url:
            if after_home:
                timed_page(browser, url)
            seconds[name] = timed_page(browser, f"{url}/{name}?{VIEW}")
            print(f"first render{' after home' if after_home else ''}, {name}: {seconds[name]:.1f} s", flush=True)
    return seconds


def warm_rerun(page: str, repeats: int, **query: str) -> float:
    """Median seconds of re-running a page whose caches are filled."""
    at = AppTest.from_file(str(REPO / "app_pages" / f"{page}.py"), default_timeout=600)
    at.query_params.update(query)
    at.run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - start)
    assert not at.exception, at.exception
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    view = dict(pair.split("=") for pair in VIEW.split("&"))
    figures = {
        "compare_warm_s": warm_rerun("compare", args.repeats, **view,
                                     methods="saliency,gradcam,integrated_gradients"),
        "variants_gradcam_warm_s": warm_rerun("variants", args.repeats, **view),
    }
    print(json.dumps(figures), flush=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        figures["server_start_to_home_s"] = server_start_to_home(browser)
        print(f"server start to home: {figures['server_start_to_home_s']:.1f} s", flush=True)
        figures["first_visit_from_menu_s"] = first_visits_from_menu(browser)
        figures["compare_live_maps_first_visit_from_menu_s"] = first_visits_from_menu(browser, ("compare",),
                                                                                      LIVE_VIEW)["compare"]
        figures["first_render_s"] = first_renders(browser, after_home=False)
        figures["first_visit_after_home_s"] = first_renders(browser, after_home=True)
        browser.close()
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
