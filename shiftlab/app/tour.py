"""The guided tour: a preset view where robust training visibly matters, and the steps through the pages.

The preset is computed, not chosen by hand: among the embedded sample's
images and a few common corruptions at severity 3, the image where the
baseline is right before the shift and wrong after it while the AugMix
variant stays right, with the largest fall of the baseline's probability of
the true class. It is read from the prediction store shipped with the app
(``python -m shiftlab.sweep.ship`` makes it) when that holds these weights —
a fraction of a second — and searched live otherwise (12 model runs over the
sample, tens of seconds on a CPU); the same preset either way (tests/test_tour.py).

The steps are the pages with a tour stop in ``pages.PAGES``, in menu order.
Each step's sentences are its stop's templates filled with what that page
shows of the tour's view (``tour_facts``). Streamlit code: the start button's
action, the panel each step's page shows (``tour_panel``, drawn by
``pieces.setup_page``) and the cached preset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import streamlit as st

from shiftlab.app import sweep_panel, tour_facts
from shiftlab.app.caches import cached_dataset, cached_logits
from shiftlab.app.pages import PAGES, PageEntry
from shiftlab.app.sidebar import current_view, set_view, variants_of
from shiftlab.app.text import plain
from shiftlab.app.view import SAMPLE, ImageRef, View
from shiftlab.errors import SweepStoreError
from shiftlab.metrics import probabilities
from shiftlab.sweep.lookup import Request, answer, weights_sha256
from shiftlab.sweep.plan import SOURCE
from shiftlab.sweep.results import SweepResults

#: corruptions tried for the preset, and their severity
TOUR_SHIFTS = ("fog", "contrast", "gaussian_noise", "motion_blur", "frost")
TOUR_SEVERITY = 3
#: the architecture the preset uses, and its variants: the one that flips and the robust one that holds
TOUR_ARCH = "resnet20"
TOUR_VARIANTS = ("baseline", "augmix")
#: the methods Compare shows on the tour
TOUR_METHODS = ("saliency", "gradcam", "integrated_gradients")
#: session-state keys of the tour's step (absent when no tour is on) and of the view its sentences are about
TOUR_KEY = "tour_step"
TOUR_VIEW_KEY = "tour_view"

#: the tour's steps: the pages with a tour stop, in menu order, numbered from 1
STEPS: tuple[PageEntry, ...] = tuple(page for page in PAGES if page.tour)


@dataclass(frozen=True)
class Outcomes:
    """One variant on the sample's images under one condition: whether each answer is right, and the probability
    it gives the label."""

    right: np.ndarray
    true_prob: np.ndarray

    @classmethod
    def of(cls, labels: np.ndarray, logits: np.ndarray) -> Outcomes:
        """The outcomes of ``logits`` (N×K) against ``labels``."""
        return cls(logits.argmax(1) == labels, probabilities(logits)[np.arange(len(labels)), labels])


@dataclass(frozen=True)
class Preset:
    """The tour's view: an image index of the sample, a shift at ``TOUR_SEVERITY``, and the baseline's fall of
    the label's probability there."""

    index: int
    shift: str
    drop: float


def find_preset(clean: Mapping[str, Outcomes], shifted: Mapping[str, Mapping[str, Outcomes]]) -> Preset | None:
    """The (image, shift) where the baseline goes from right to wrong and AugMix stays right, largest drop first.

    ``clean[variant]`` are the variant's outcomes on the images, ``shifted[shift][variant]``
    on the shifted images. None when no image qualifies.
    """
    best = None
    for shift, outcomes in shifted.items():
        robust = clean["augmix"].right & outcomes["augmix"].right
        candidates = np.flatnonzero(clean["baseline"].right & ~outcomes["baseline"].right & robust)
        drop = clean["baseline"].true_prob - outcomes["baseline"].true_prob
        if len(candidates):
            index = int(candidates[np.argmax(drop[candidates])])
            if best is None or drop[index] > best.drop:
                best = Preset(index, shift, float(drop[index]))
    return best


def preset_from_store(store: SweepResults) -> Preset | None:
    """``find_preset`` on a sweep's prediction records of the whole sample (image ``i`` in row ``i``, which
    ``StoredSweep.holds`` checks), clean and under each tour shift at ``TOUR_SEVERITY``, seed 0."""
    records = store.records(model=TOUR_ARCH, variant=list(TOUR_VARIANTS), shift=[SOURCE, *TOUR_SHIFTS],
                            severity=TOUR_SEVERITY)

    def outcomes(variant: str, shift: str) -> Outcomes:
        rows = records[(records["variant"] == variant) & (records["shift"] == shift)].sort_values("image")
        return Outcomes(rows["prediction"].to_numpy() == rows["label"].to_numpy(),
                        rows["true_prob"].to_numpy(np.float64))

    return find_preset({v: outcomes(v, SOURCE) for v in TOUR_VARIANTS},
                       {s: {v: outcomes(v, s) for v in TOUR_VARIANTS} for s in TOUR_SHIFTS})


def live_preset() -> Preset | None:
    """``find_preset`` on the sample, the tour's variants run on it here (clean and each tour shift)."""
    labels = cached_dataset(SAMPLE).labels
    clean = {v: Outcomes.of(labels, cached_logits(TOUR_ARCH, v, SAMPLE)) for v in TOUR_VARIANTS}
    shifted = {s: {v: Outcomes.of(labels, cached_logits(TOUR_ARCH, v, SAMPLE, s, TOUR_SEVERITY, 0))
                   for v in TOUR_VARIANTS} for s in TOUR_SHIFTS}
    return find_preset(clean, shifted)


@st.cache_data(show_spinner="Looking for an image where robust training matters…")
def cached_tour_preset(weights: tuple[tuple[str, str | None], ...]) -> Preset | None:
    """The tour's preset for the tour variants' ``weights`` (variant, SHA-256: the cache key): read from the shipped
    prediction store when it holds them, else (or when the store does not read) searched live."""
    request = Request.of(TOUR_ARCH, TOUR_VARIANTS, SAMPLE, 0, tuple((s, TOUR_SEVERITY) for s in TOUR_SHIFTS))
    try:
        return answer(sweep_panel.shipped("sample", SAMPLE), request, lambda stored: preset_from_store(stored.store),
                      live_preset)
    except SweepStoreError:
        return live_preset()


def tour_preset() -> Preset | None:
    """The tour's preset, None without the tour's variants (a zoo without them)."""
    if not set(TOUR_VARIANTS) <= set(variants_of(TOUR_ARCH)):
        return None
    return cached_tour_preset(tuple((v, weights_sha256(TOUR_ARCH, v)) for v in TOUR_VARIANTS))


def start_tour() -> None:
    """Set the tour's preset view (the current view when there is none) and open its first page."""
    preset = tour_preset()
    view = current_view()
    if preset is not None:
        view = view.with_(arch=TOUR_ARCH, variant="baseline", image=ImageRef(SAMPLE, str(preset.index)),
                          shift=preset.shift, severity=TOUR_SEVERITY, seed=0, methods=TOUR_METHODS, target="source")
    st.session_state[TOUR_VIEW_KEY] = view
    _open_step(0, view)


def _open_step(index: int, view: View) -> None:
    """Open step ``index`` on the tour's ``view`` (the one its sentences are about)."""
    set_view(view)
    st.session_state[TOUR_KEY] = index
    st.switch_page(STEPS[index].script, query_params=view.to_query())


def _end_tour() -> None:
    for key in (TOUR_KEY, TOUR_VIEW_KEY):
        st.session_state.pop(key, None)
    st.rerun()


def step_text(page: PageEntry, view: View) -> str:
    """What the tour says on ``page`` about ``view``: its stop's sentences filled with what the page shows, every
    value escaped."""
    with st.spinner("Preparing this step of the tour…"):  # the page's own work, cached for it (a search, a store)
        facts = tour_facts.facts(page.name, view)
    shown = {name: plain(value) if isinstance(value, str) else value for name, value in facts.items()}
    return page.tour.text(shown)


def tour_panel(page: str) -> None:
    """The current tour step's text with its buttons — Next and End the tour, or on the last step Finish — on
    the page the step belongs to."""
    index = st.session_state.get(TOUR_KEY)
    if index is None or STEPS[index].name != page:
        return
    step = STEPS[index]
    view = st.session_state.get(TOUR_VIEW_KEY) or current_view()
    with st.container(border=True):
        st.markdown(f"**Guided tour — {index + 1} · {step.tour.title}**  \n{step_text(step, view)}")
        with st.container(horizontal=True):  # buttons as wide as their labels: a column cut "Next → Spectral p…"
            if index == len(STEPS) - 1:
                if st.button("Finish", type="primary", key="tour_finish"):
                    _end_tour()
                return
            following = STEPS[index + 1]
            if st.button(f"Next → {following.menu_title}", type="primary", key="tour_next"):
                _open_step(index + 1, view)
            if st.button("End the tour", key="tour_end"):
                _end_tour()
