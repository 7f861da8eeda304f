"""The app's pages, each declared once: its script, menu title, URL path, heading, introduction, icon and stop on
the guided tour.

``app.py`` builds the menu from ``PAGES`` (in this order), ``pieces.setup_page``
heads a page with its heading and introduction, ``tour`` visits the pages that
have a stop (in menu order, numbered from 1), and a link to a page is made
from its entry (``COMPARE.href(...)``), never spelled out. Adding a page is its
script in ``app_pages/`` and one entry here.

Plain data that imports nothing of the app (``text`` imports torch): ``app.py``
draws the menu before a cold server's first page loads the models' code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from string import Formatter
from urllib.parse import urlencode

#: the folder of the page scripts, relative to ``app.py``; not ``pages/``: on a cold deep link Streamlit 1.67 runs a
#: ``pages/`` folder's legacy listing before ``app.py`` calls ``st.navigation``, so a fresh server's first request
#: would show that raw listing instead of the app's menu
SCRIPTS = "app_pages"


@dataclass(frozen=True)
class TourStop:
    """What the guided tour says on a page: its title (the tour numbers it) and its sentences.

    Each sentence is a template filled with what the page shows of the tour's
    view (``tour_facts``: the same values the page computes, never typed); a
    sentence is said only when every field it names is known there, so that
    one about, say, the middle panel of the Triptych is left out when the page
    has none.
    """

    title: str
    sentences: tuple[str, ...]

    def fields(self) -> set[str]:
        """Every field the sentences name."""
        return {name for sentence in self.sentences for _, name, _, _ in Formatter().parse(sentence) if name}

    def text(self, facts: Mapping[str, object]) -> str:
        """The sentences whose fields ``facts`` all hold (not None), filled and joined."""
        said = [sentence for sentence in self.sentences
                if all(facts.get(name) is not None for _, name, _, _ in Formatter().parse(sentence) if name)]
        return " ".join(sentence.format_map(facts) for sentence in said)


@dataclass(frozen=True)
class PageEntry:
    """One page of the app: ``name`` is its script's stem under ``app_pages/``; ``heading`` is its title on the
    page (its menu title when empty) and ``intro`` the paragraph under it."""

    name: str
    menu_title: str
    url_path: str
    intro: str
    heading: str = ""
    icon: str | None = None
    tour: TourStop | None = None
    default: bool = False

    @property
    def title(self) -> str:
        """The page's heading."""
        return self.heading or self.menu_title

    @property
    def script(self) -> str:
        """The page's script, relative to ``app.py`` (what ``st.Page`` and ``st.switch_page`` take)."""
        return f"{SCRIPTS}/{self.name}.py"

    def href(self, query: Mapping[str, str]) -> str:
        """The page's relative URL opened on ``query`` (a view's ``to_query()``), for a Markdown link."""
        return f"{self.url_path}?{urlencode(query)}"


HOME = PageEntry(
    "home", "Home", "home", heading="shiftlab", default=True,
    intro="See how an image classifier behaves — and why — when its input distribution shifts. Start the guided "
          "tour for a five-minute walk through one striking example, or pick a page in the menu.")
COMPARE = PageEntry(
    "compare", "Compare", "compare",
    intro="One image before and after a shift, explained by several attribution methods side by side. Each row is a "
          "method; its two maps share one colour scale, so you can see where the evidence moved and whether it "
          "weakened. The flag above says whether the shift changed the prediction.",
    tour=TourStop("One image, before and after", (
        "The same photo, {image}, clean and under {shift} at severity {severity}.",
        "{model} says {before} on the clean image and {after} on the corrupted one: **{outcome}**.",
        "Each of the {rows} rows below is an explanation method ({methods}): see where each map puts the evidence "
        "and how it moves when the image changes.")))
VARIANTS = PageEntry(
    "variants", "Variants", "variants",
    intro="The same shifted image through every robust-training variant of one architecture: which variants keep "
          "the prediction, and does their evidence sit in the same place?",
    tour=TourStop("Does robust training help?", (
        "The same corrupted image through the {n} training variants of {arch}.",
        "The baseline is **{baseline_outcome}**.",
        "{right} of the {n} are right under {shift}: {right_names}.",
        "{kept} of the {n} keep their prediction under {shift}.",
        "Under each variant's outcome is its map of the corrupted image: compare where each one's evidence sits.")))
TRIPTYCH = PageEntry(
    "triptych", "Triptych", "triptych",
    intro="For one image and one shift, the app searches severities 1-5 and seeds 0-7 for a shifted version that "
          "keeps the model's prediction and one that flips it, and shows the three side by side with their maps.",
    tour=TourStop("The edge of robustness", (
        "The app tried {tried} versions of this image under {shift} ({grid}): {kept} keep {model}'s prediction.",
        "In the middle, severity {kept_severity}, seed {kept_seed}: the most severe version whose prediction is kept "
        "(**{kept_outcome}**).",
        "On the right, severity {flipped_severity}, seed {flipped_seed}: the least severe version whose prediction "
        "changes (**{flipped_outcome}**).",
        "Both are at severity {both_severity}: at that strength the corruption's random draw (its seed) decides, "
        "not its strength.")))
CALIBRATION = PageEntry(
    "calibration", "Calibration", "calibration",
    intro="Does the model's confidence mean what it says, before and after the shift? Reliability diagrams with the "
          "number of images in each bin, ECE, MCE, accuracy and NLL, temperature scaling fitted on held-out clean "
          "images, and accuracy and ECE against severity for every variant of the architecture.",
    tour=TourStop("Is its confidence honest?", (
        "On the {evaluated} images the page evaluates (the other {held_out} fit temperature scaling), {model}'s "
        "accuracy goes {accuracy} from the clean images to {shift} at severity {severity}, and its ECE, the gap "
        "between confidence and accuracy, {ece}.",
        "{model}'s classes are not the dataset's, so the page shows agreement instead: {agreement} of its "
        "predictions on the {evaluated} evaluated images survive {shift} at severity {severity}.",
        "Bars below the diagonal of the {bins}-bin reliability diagrams mean the model is more confident than it "
        "is right.",
        "The curves at the bottom compare every {arch} variant on the {curve_images} images, severity by "
        "severity.")))
SPECTRAL = PageEntry(
    "spectral", "Spectral profile", "spectral",
    intro="WCAM (Kasmi et al. 2023) measures how much the prediction (the log-odds of the explained class) depends "
          "on each wavelet coefficient, that is on each position at each scale of the image. Compare where the "
          "evidence sits before and after a shift.",
    tour=TourStop("Coarse shape or fine texture?", (
        "WCAM splits the image into a coarse approximation and {levels} levels of detail, from layout to fine "
        "texture, and measures how much {model}'s prediction depends on each.",
        "Read from the store shipped with the app: on the clean image {approx_before} of the importance sits in the "
        "coarse approximation and {finest_before} in level 1, the finest detail; under {shift} at severity "
        "{severity}, {approx_after} and {finest_after}.",
        "It is not stored for this view: **{run_label}** computes it here.")))
CASES = PageEntry(
    "cases", "Cases", "cases",
    intro="The individual images behind the numbers: which ones a shift broke, which stayed right, which made the "
          "model confidently wrong. Each case opens Compare on that exact view.")
OOD = PageEntry(
    "ood", "OOD detection", "ood",
    intro="A classifier always answers, even for an image of something it was never trained on. Scores computed from "
          "its logits can flag such out-of-distribution (OOD) images; each score here is oriented so that higher = "
          "more OOD. The better a score separates the two histograms, the more reliably the model can say \"I don't "
          "know\".")
TRUST = PageEntry(
    "trust", "Trust", "trust",
    intro="Can the map be trusted under this shift? For each attribution method, over a set of images before and "
          "after the shift: do its maps still point at what the model uses (deletion and insertion against a random "
          "order, ROAD), and do they depend on the model's weights at all (the model-randomisation check)?",
    tour=TourStop("Can the maps be trusted?", (
        "Pixels are removed in the order each method ranks them: a map that points at what the model uses takes "
        "the class's probability down sooner than a random order.",
        "Once measured, the table ranks {methods} by their gap to random on the images under {shift} at "
        "severity {severity}; below it, the check that a map changes when the model's weights are randomised.")))
ROBUSTNESS = PageEntry(
    "robustness", "Robustness", "robustness",
    intro="What does robust training buy, and what does it cost? Each point and cell below is a figure that "
          "`shiftlab evaluate` measured on the full CIFAR-10 test set (10,000 images) and stored in the model's card: "
          "clean accuracy, mean accuracy over the 15 benchmark corruptions × 5 severities, and PGD-20 accuracy "
          "(L∞ ε 8/255) on the first 1,000 test images.")

#: the menu, in order
PAGES = (HOME, COMPARE, VARIANTS, TRIPTYCH, CALIBRATION, SPECTRAL, CASES, OOD, TRUST, ROBUSTNESS)


def page_named(name: str) -> PageEntry:
    """The entry of page ``name`` (KeyError for a page the app does not have)."""
    return {page.name: page for page in PAGES}[name]
