"""The app on a projector, in a real browser: at 1024×768 and 1280×720 no map is under 160 px wide, no text runs out
of its column, no word is broken inside, images in a row are top-aligned, and README's example reads "now correct"
in green; ``?present=1`` hides developer detail. Screenshots of the pages at 1024 and 1400 px for a person to
look at are not a test: ``python -m bench.screenshots`` writes them to ``screenshots/projector/``.

Uses the shipped zoo (README's example is resnet20/baseline's) and Debian's chromium; skipped where either is absent.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.browser import CHROMIUM, app_server, settle

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian chromium is absent (apt-get install chromium)")

#: README's example view: the fog turns the baseline's truck into the correct automobile
EXAMPLE = ("arch=resnet20&variant=baseline&image=cifar10-sample:37&shift=fog&severity=3&seed=0"
           "&methods=saliency,gradcam,integrated_gradients&target=source")
MIN_MAP = 160
#: the layout's measures, read from the page: maps narrower than MIN_MAP, text past its column's right edge, words
#: split over two lines, and rows of images whose tops differ
MEASURE = """(minMap) => {
  const main = document.querySelector("[data-testid='stMain']");
  const problems = {narrow: [], overflow: [], broken: [], misaligned: []};
  const images = [...main.querySelectorAll("[data-testid='stImage'] img")];
  for (const img of images) {
    const box = img.getBoundingClientRect();
    if (img.naturalWidth === img.naturalHeight && box.width < minMap) problems.narrow.push(Math.round(box.width));
  }
  for (const column of main.querySelectorAll("[data-testid='stColumn']")) {
    const edge = column.getBoundingClientRect().right + 1;
    for (const el of column.querySelectorAll("p, span, h1, h2, h3, h4, li, code, label")) {
      const box = el.getBoundingClientRect();
      if (box.width && box.right > edge) problems.overflow.push(el.textContent.slice(0, 40));
    }
  }
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const re = /\\S+/g;
    for (let m = re.exec(node.data); m; m = re.exec(node.data)) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
      if (tops.size > 1) problems.broken.push(m[0]);
    }
  }
  for (const row of main.querySelectorAll("[data-testid='stHorizontalBlock']")) {
    const tops = [...row.querySelectorAll(":scope > [data-testid='stColumn'] [data-testid='stImage'] img")]
      .filter(img => img.naturalWidth === img.naturalHeight).map(img => Math.round(img.getBoundingClientRect().top));
    if (new Set(tops).size > 1) problems.misaligned.push(tops);
  }
  return problems;
}"""


@pytest.fixture(scope="module")
def server():
    """A fresh server on the shipped zoo and the embedded sample only."""
    with app_server({"SHIFTLAB_DATA": "/nonexistent"}) as url:
        yield url


def open_page(browser, url: str, width: int, height: int):
    """A page at width×height once its script has run and its pictures are drawn."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url)
    page.wait_for_selector("[data-testid='stMain'] [data-testid='stImage'] img", timeout=180_000)
    settle(page)
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=stMain] img')].every(i => i.complete)")
    assert not page.locator("[data-testid='stException']").count()
    return page


@pytest.mark.parametrize("size", [(1024, 768), (1280, 720)], ids=["1024x768", "1280x720"])
@pytest.mark.parametrize("path", ["compare", "variants"])
def test_the_layout_holds_on_a_projector(server, browser, path, size):
    page = open_page(browser, f"{server}/{path}?{EXAMPLE}", *size)
    problems = page.evaluate(MEASURE, MIN_MAP)
    assert page.locator("[data-testid='stMain'] [data-testid='stImage'] img").count() >= 4
    assert problems == {"narrow": [], "overflow": [], "broken": [], "misaligned": []}, (path, size, problems)
    page.close()


def test_readmes_example_reads_now_correct_in_green(server, browser):
    page = open_page(browser, f"{server}/compare?{EXAMPLE}", 1024, 768)
    flag = page.get_by_text("now correct", exact=True).first
    assert flag.is_visible()
    colour = flag.evaluate("el => getComputedStyle(el.closest('span[class]') || el).backgroundColor")
    red, green, blue = (float(x) for x in re.findall(r"[\d.]+", colour)[:3])
    assert green > red and green > blue, colour
    assert page.get_by_text("P(automobile) after").count()
    page.close()


def test_presentation_hides_developer_detail_and_enlarges(server, browser):
    page = open_page(browser, f"{server}/compare?{EXAMPLE}&present=1", 1024, 768)
    main = page.locator("[data-testid='stMain']")
    assert not main.locator("code").count()  # no code-font names
    assert not main.get_by_role("button", name="What is this?").count()  # nor their option lists
    assert main.locator("h2").filter(has_text="now correct").count()  # the outcome flag as a heading
    widths = [box["width"] for box in (img.bounding_box() for img in main.locator("[data-testid='stImage'] img").all())
              if box and abs(box["width"] - box["height"]) < 2]
    assert min(widths) >= 250, widths  # two maps across the width instead of three columns
    assert page.evaluate(MEASURE, MIN_MAP) == {"narrow": [], "overflow": [], "broken": [], "misaligned": []}
    assert "present=1" in page.url  # the switch stays in the URL
    page.close()
