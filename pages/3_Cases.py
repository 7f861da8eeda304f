"""Cases: the images a shift changed — broken, fixed, confidently wrong, or shaken — page by page."""

from __future__ import annotations

import streamlit as st

from shiftlab.app import ui
from shiftlab.app.cases import page_count, page_of, select_cases
from shiftlab.app.text import CASE_KINDS

PER_PAGE = 20

ui.setup_page(
    "Cases",
    "Look at the individual images behind the numbers: which ones a shift broke, which it fixed, which it made the "
    "model confidently wrong about, and where it shook the model's belief in the right class the most.",
)
run = ui.shift_experiment(default_severity=5)

by_kind = {kind: select_cases(run.comparison, kind) for kind in CASE_KINDS}
kind = st.segmented_control(
    "Cases",
    list(CASE_KINDS),
    default="correct_to_wrong",
    required=True,
    format_func=lambda k: f"{CASE_KINDS[k][0]} ({len(by_kind[k]):,})",
    key="kind",
)
cases = by_kind[kind]
st.markdown(f"**{len(cases):,}** of {len(run.data):,} images. {CASE_KINDS[kind][1]}")
if len(cases) == 0:
    st.info("No image of this kind under this shift and severity.")
    st.stop()

grid_area = st.container()
page = st.pagination(page_count(len(cases), PER_PAGE), key=f"page-{kind}-{len(cases)}")
with grid_area:
    ui.pair_grid(run.comparison, run.data, run.shifted_images, page_of(cases, page, PER_PAGE), run.loaded.classes)
