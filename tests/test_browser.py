"""The real app in a real browser: a deep link as a fresh server's first request, every page, the view kept, offline;
then the guided tour clicked through from Home to its last step.

Starts ``streamlit run app.py`` on a free loopback port, drives Debian's
chromium with Playwright, and saves a screenshot of each page (1400 px wide)
to ``screenshots/`` (ignored by git) for a person to look at. Skipped, with
the reason, where chromium or Playwright is absent; ``.ci/run`` installs both.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from bench.browser import CHROMIUM, REPO, app_server, settle
from shiftlab.app.tour import STEPS, TOUR_SEVERITY, TOUR_SHIFTS
from shiftlab.models import ModelCard, load_model, save_checkpoint
from shiftlab.sweep.ship import TOUR_IMAGE

SHOTS = REPO / "screenshots"
#: the menu's pages in order, with their URL path
PAGES = [("Home", ""), ("Compare", "compare"), ("Variants", "variants"), ("Triptych", "triptych"),
         ("Calibration", "calibration"), ("Spectral profile", "spectral"), ("Cases", "cases"),
         ("OOD detection", "ood"), ("Trust", "trust"), ("Robustness", "robustness")]
#: whether an element's text is cut off: it or an element inside it is wider than its box
CLIPPED = "e => [e, ...e.querySelectorAll('*')].some(c => c.scrollWidth > c.clientWidth + 1)"
DEEP_LINK = ("compare?arch=resnet20&variant=augmix&image=cifar10-sample:7&shift=fog&severity=4&seed=2"
             "&methods=gradcam,saliency&target=source")

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian chromium is absent (apt-get install chromium)")


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Path:
    """Two seeded untrained ResNet-20 variants (baseline, augmix): the deep link's every page stays small."""
    root = tmp_path_factory.mktemp("zoo")
    for seed, variant in enumerate(("baseline", "augmix")):
        save_checkpoint(load_model("resnet20", None, seed=seed).model.net, ModelCard("resnet20", variant),
                        root / "cifar10" / "resnet20" / variant)
    return root


@pytest.fixture(scope="module")
def server(zoo):
    """A fresh server on the default install's data (the embedded sample only) and the small zoo."""
    with app_server({"SHIFTLAB_DATA": "/nonexistent", "SHIFTLAB_CHECKPOINTS": str(zoo)}) as url:
        yield url


@pytest.fixture(scope="module")
def shipped_server():
    """A fresh server as a default install runs it: the shipped checkpoints and stores, the embedded sample only.
    The tour's views are read from the shipped stores, as a user's are (on the small zoo every step computed)."""
    with app_server({"SHIFTLAB_DATA": "/nonexistent"}) as url:
        yield url


def query(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def test_deep_link_then_every_page_keeps_the_view_offline(server, browser):
    if SHOTS.exists():
        shutil.rmtree(SHOTS)
    SHOTS.mkdir()
    page = browser.new_page(viewport={"width": 1400, "height": 2000})
    hosts = set()
    page.on("request", lambda request: hosts.add(urlparse(request.url).hostname))
    page.goto(f"{server}/{DEEP_LINK}")  # the server's very first request
    # a cold server may stay quiet for longer than settle's pause before its first run shows: wait for the view
    page.get_by_text("resnet20/augmix").first.wait_for(timeout=180_000)
    settle(page)
    nav = page.locator("[data-testid='stSidebarNav']")
    assert [link.inner_text().strip() for link in nav.locator("a").all()] == [title for title, _ in PAGES]
    expected = parse_qs(DEEP_LINK.partition("?")[2])
    assert query(page) == {k: v[0] for k, v in expected.items()}
    assert page.get_by_text("resnet20/augmix").count() and page.get_by_text("fog", exact=True).count()
    for title, path in PAGES:
        nav.get_by_text(title, exact=True).click()
        started = time.time()
        settle(page)
        print(f"{title}: {time.time() - started:.1f} s")
        assert urlparse(page.url).path.strip("/") == path
        assert not page.locator("[data-testid='stException']").count(), f"{title} shows a traceback"
        shown = query(page)
        if path not in ("", "robustness"):
            for key in ("arch", "variant", "shift", "severity", "seed"):
                assert shown.get(key) == expected[key][0], f"{title} lost {key}: {shown}"
        page.screenshot(path=str(SHOTS / f"{path or 'home'}.png"), full_page=True)
    assert hosts == {"127.0.0.1"}, f"requests left the machine: {hosts - {'127.0.0.1'}}"


def test_the_guided_tour_clicks_through_every_step(shipped_server, browser):
    """Home → "Start the guided tour" → Next through every step: each on its page, one preset view, its text shown."""
    page = browser.new_page(viewport={"width": 1400, "height": 2000})
    page.goto(shipped_server)
    settle(page)
    page.get_by_role("button", name="Start the guided tour").click()
    views = []
    for index, step in enumerate(STEPS):
        # the click reruns the script before it switches page: wait for the step's page, then for it to finish
        page.wait_for_function(f"() => location.pathname.endsWith('/{step.name}')", timeout=180_000)
        settle(page)
        assert not page.locator("[data-testid='stException']").count(), f"{step.name} shows a traceback"
        assert page.get_by_text(f"Guided tour — {index + 1} · {step.tour.title}").count()
        views.append(query(page))
        if index < len(STEPS) - 1:
            following = page.get_by_role("button", name=f"Next → {STEPS[index + 1].menu_title}")
            assert not following.evaluate(CLIPPED), f"the Next label is cut off on {step.name}"
            following.click()
    assert not page.get_by_role("button", name="End the tour").count()  # the last step ends with Finish alone
    preset = views[0]  # the shipped preset: the image where the baseline flips and AugMix holds
    assert (preset["arch"], preset["variant"], preset["severity"], preset["seed"]) == ("resnet20", "baseline",
                                                                                   str(TOUR_SEVERITY), "0")
    assert preset["shift"] in TOUR_SHIFTS and preset["image"] == f"cifar10-sample:{TOUR_IMAGE}"
    for step, view in zip(STEPS[1:], views[1:]):
        assert {k: view[k] for k in ("arch", "image", "shift", "severity", "seed") if k in view} == \
            {k: preset[k] for k in ("arch", "image", "shift", "severity", "seed") if k in view}, step.name
    page.get_by_role("button", name="Finish").click()
    settle(page)
    assert not page.get_by_text("Guided tour —").count()
