"""Screenshots of the pages for a person to look at, at 1024 and 1400 px, on README's example view.

    python -m bench.screenshots [--out screenshots/projector]

A fresh server on the shipped zoo and the embedded sample; each of Compare, Variants, Triptych, Cases and Spectral
is opened at a tall viewport (Streamlit's main area scrolls inside the window) once its pictures are drawn, and
saved as ``<page>-<width>.png``. The layout itself is checked by tests/test_projector.py.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.browser import CHROMIUM, REPO, app_server, settle

#: README's example view: the fog turns the baseline's truck into the correct automobile
EXAMPLE = ("arch=resnet20&variant=baseline&image=cifar10-sample:37&shift=fog&severity=3&seed=0"
           "&methods=saliency,gradcam,integrated_gradients&target=source")
PAGES = ("compare", "variants", "triptych", "cases", "spectral")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "screenshots" / "projector")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with app_server({"SHIFTLAB_DATA": "/nonexistent"}) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        for width in (1024, 1400):
            for path in PAGES:
                page = browser.new_page(viewport={"width": width, "height": 2600})
                page.goto(f"{url}/{path}?{EXAMPLE}")
                page.wait_for_selector("[data-testid='stMain'] [data-testid='stImage'] img", timeout=180_000)
                settle(page)
                page.wait_for_function("() => [...document.querySelectorAll('[data-testid=stMain] img')]"
                                       ".every(i => i.complete)")
                page.screenshot(path=str(args.out / f"{path}-{width}.png"))
                page.close()
                print(args.out / f"{path}-{width}.png")
        browser.close()


if __name__ == "__main__":
    main()
