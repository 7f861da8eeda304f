"""The app's pages, each declared once: its script, menu title, URL path, icon and stop on the guided tour.

``app.py`` builds the menu from ``PAGES`` (in this order), ``pieces.setup_page``
heads a page with its title and introduction, ``tour`` visits the pages that
have a stop (in menu order, numbered from 1), and a link to a page is made
from its entry (``PageEntry.href``), never spelled out. A page's heading and
introduction are its copy in ``text.PAGES``, under its name.

Plain data that imports nothing of the app (``text`` imports torch): ``app.py``
draws the menu before a cold server's first page loads the models' code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

#: the folder of the page scripts, relative to ``app.py``; not ``pages/``: on a cold deep link Streamlit 1.67 runs a
#: ``pages/`` folder's legacy listing before ``app.py`` calls ``st.navigation``, so a fresh server's first request
#: would show that raw listing instead of the app's menu
SCRIPTS = "app_pages"


@dataclass(frozen=True)
class TourStop:
    """What the guided tour says on a page: its title (the tour numbers it) and its text."""

    title: str
    text: str


@dataclass(frozen=True)
class PageEntry:
    """One page of the app: ``name`` is its script's stem under ``app_pages/`` and the key of its heading and
    introduction in ``text.PAGES``."""

    name: str
    menu_title: str
    url_path: str
    icon: str | None = None
    tour: TourStop | None = None
    default: bool = False

    @property
    def script(self) -> str:
        """The page's script, relative to ``app.py`` (what ``st.Page`` and ``st.switch_page`` take)."""
        return f"{SCRIPTS}/{self.name}.py"

    def href(self, query: Mapping[str, str]) -> str:
        """The page's relative URL opened on ``query`` (a view's ``to_query()``), for a Markdown link."""
        return f"{self.url_path}?{urlencode(query)}"


PAGES = (
    PageEntry("home", "Home", "home", default=True),
    PageEntry("compare", "Compare", "compare", tour=TourStop(
        "One image, before and after",
        "The same photo, clean and corrupted. The standard model (baseline) was right on the clean image and is "
        "wrong on the corrupted one. Each row is an explanation method: bright pixels are the ones the prediction "
        "leans on. Look at how the evidence moves when the image changes.")),
    PageEntry("variants", "Variants", "variants", tour=TourStop(
        "Does robust training help?",
        "The same corrupted image through every training variant. The baseline is now wrong; the variants trained "
        "with data augmentation (AugMix, PixMix) or adversarially may stay correct — and their evidence often "
        "sits on the object rather than on the corruption.")),
    PageEntry("triptych", "Triptych", "triptych", tour=TourStop(
        "The edge of robustness",
        "The app tried every strength and random seed of the corruption: on the left the clean image, in the "
        "middle the strongest version the model still gets right, on the right the mildest one it gets wrong.")),
    PageEntry("calibration", "Calibration", "calibration", tour=TourStop(
        "Is its confidence honest?",
        "Over 500 images: how accuracy falls and how confidence does not fall with it. Bars below the diagonal "
        "mean the model is more confident than it is right; the curves at the bottom compare every variant.")),
    PageEntry("spectral", "Spectral profile", "spectral", tour=TourStop(
        "Coarse shape or fine texture?",
        "WCAM splits the image into scales, from coarse layout to fine texture, and measures which ones the "
        "prediction depends on. Corruptions such as noise destroy fine detail first: a model that relies on it "
        "breaks first.")),
    PageEntry("cases", "Cases", "cases"),
    PageEntry("ood", "OOD detection", "ood"),
    PageEntry("trust", "Trust", "trust", tour=TourStop(
        "Can the maps be trusted?",
        "Pixels are removed in the order each method ranks them: a map that points at what the model uses takes "
        "the class's probability down sooner than a random order. The table ranks the methods on the corrupted "
        "images; below, the check that a map changes when the model's weights are randomised.")),
    PageEntry("robustness", "Robustness", "robustness"),
)


def page_named(name: str) -> PageEntry:
    """The entry of page ``name`` (KeyError for a page the app does not have)."""
    return {page.name: page for page in PAGES}[name]
