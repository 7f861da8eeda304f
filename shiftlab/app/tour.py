"""The guided tour: a preset view where robust training visibly matters, and the steps through the pages.

The preset is computed, not chosen by hand: among the embedded sample's
images and a few common corruptions at severity 3, the image where the
baseline is right before the shift and wrong after it while the AugMix
variant stays right, with the largest fall of the baseline's confidence in
the true class.

The steps are the pages with a tour stop in ``pages.PAGES``, in menu order.
Streamlit code: the start button's action, the panel each step's page shows
(``tour_panel``, drawn by ``pieces.setup_page``) and the cached preset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import streamlit as st

from shiftlab.app import text
from shiftlab.app.caches import cached_dataset, cached_logits
from shiftlab.app.pages import PAGES, page_named
from shiftlab.app.sidebar import current_view, set_view, variants_of
from shiftlab.app.view import SAMPLE, ImageRef
from shiftlab.metrics import probabilities

#: corruptions tried for the preset, and their severity
TOUR_SHIFTS = ("fog", "contrast", "gaussian_noise", "motion_blur", "frost")
TOUR_SEVERITY = 3
#: the architecture the preset uses (its baseline and AugMix variants)
TOUR_ARCH = "resnet20"
#: session-state key of the tour's step (absent when no tour is on)
TOUR_KEY = "tour_step"


@dataclass(frozen=True)
class Step:
    """One stop of the tour: the page (its name in ``pages.PAGES``), the numbered title and what to say there."""

    page: str
    title: str
    text: str


@dataclass(frozen=True)
class Preset:
    """The tour's view: an image index of the sample and a shift at ``TOUR_SEVERITY``."""

    index: int
    shift: str
    drop: float


def find_preset(labels: np.ndarray, clean: Mapping[str, np.ndarray],
                shifted: Mapping[str, Mapping[str, np.ndarray]]) -> Preset | None:
    """The (image, shift) where the baseline flips from right to wrong and AugMix stays right, largest drop first.

    ``clean[variant]`` are the variant's logits on the images, ``shifted[shift][variant]``
    on the shifted images. None when no image qualifies.
    """
    best = None
    rows = np.arange(len(labels))
    for shift, logits in shifted.items():
        baseline_right = clean["baseline"].argmax(1) == labels
        flipped = logits["baseline"].argmax(1) != labels
        robust = (clean["augmix"].argmax(1) == labels) & (logits["augmix"].argmax(1) == labels)
        drop = probabilities(clean["baseline"])[rows, labels] - probabilities(logits["baseline"])[rows, labels]
        candidates = np.flatnonzero(baseline_right & flipped & robust)
        if len(candidates):
            index = int(candidates[np.argmax(drop[candidates])])
            if best is None or drop[index] > best.drop:
                best = Preset(index, shift, float(drop[index]))
    return best


STEPS = tuple(Step(page.name, f"{number} · {page.tour.title}", page.tour.text)
              for number, page in enumerate((page for page in PAGES if page.tour), 1))


@st.cache_data(show_spinner="Looking for an image where robust training matters…")
def cached_tour_preset() -> Preset | None:
    """The tour's preset, computed on the embedded sample with resnet20 baseline and AugMix (None without them)."""
    if not {"baseline", "augmix"} <= set(variants_of(TOUR_ARCH)):
        return None
    data = cached_dataset(SAMPLE)
    clean = {v: cached_logits(TOUR_ARCH, v, SAMPLE) for v in ("baseline", "augmix")}
    shifted = {shift: {v: cached_logits(TOUR_ARCH, v, SAMPLE, shift, TOUR_SEVERITY, 0) for v in ("baseline", "augmix")}
               for shift in TOUR_SHIFTS}
    return find_preset(data.labels, clean, shifted)


def start_tour() -> None:
    """Set the tour's preset view and open its first page."""
    preset = cached_tour_preset()
    view = current_view()
    if preset is not None:
        view = view.with_(arch=TOUR_ARCH, variant="baseline", image=ImageRef(SAMPLE, str(preset.index)),
                          shift=preset.shift, severity=TOUR_SEVERITY, seed=0,
                          methods=("saliency", "gradcam", "integrated_gradients"), target="source")
    set_view(view)
    st.session_state[TOUR_KEY] = 0
    st.switch_page(page_named(STEPS[0].page).script, query_params=view.to_query())


def tour_panel(page: str) -> None:
    """The current tour step's text with Next / End buttons, on the page the step belongs to."""
    step_index = st.session_state.get(TOUR_KEY)
    if step_index is None or STEPS[step_index].page != page:
        return
    step = STEPS[step_index]
    with st.container(border=True):
        st.markdown(f"**Guided tour — {step.title}**  \n{step.text}")
        left, right, _ = st.columns([1, 1, 4])
        last = step_index == len(STEPS) - 1
        if right.button("End the tour", key="tour_end") or (last and left.button("Finish", key="tour_finish")):
            del st.session_state[TOUR_KEY]
            st.rerun()
        following = page_named(STEPS[step_index + 1].page) if not last else None
        if following is not None and left.button(f"Next → {text.PAGES[following.name][0]}", type="primary",
                                                  key="tour_next"):
            st.session_state[TOUR_KEY] = step_index + 1
            st.switch_page(following.script, query_params=current_view().to_query())
