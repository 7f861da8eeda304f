"""Trust: does each method's map still point at what the model uses under this shift, and does it depend on the weights?

The measures take seconds to a minute on a CPU, so the page says what they will cost first and runs them at once
when that is short, else on a click (once per view and session).
"""

from __future__ import annotations

import numpy as np
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from shiftlab.app import charts, text, trust
from shiftlab.app.caches import cached_shifted, evaluation_images, is_kept, sanity_check, trust_measures
from shiftlab.app.columns import trust_columns
from shiftlab.app.downloads import csv_download, png_download
from shiftlab.app.feedback import user_errors
from shiftlab.app.pieces import scale_bar, setup_page, show_shift
from shiftlab.app.sidebar import pick_dataset, view_model, view_sidebar
from shiftlab.app.view import View
from shiftlab.trust import TrustReport

QUICK_SECONDS = 5.0
#: maps of the randomisation strip side by side
STRIP_ROW = 3


def view_name(view: View) -> str:
    """The view in this page's file names: model, shift and severity."""
    return f"{view.arch}-{view.variant}-{view.shift}-{view.severity}"


def show_ranking(slot: DeltaGenerator, view: View, dataset: str, methods: tuple[str, ...], report: TrustReport,
                 images: np.ndarray, target: np.ndarray) -> None:
    """In ``slot``, the ranking of ``report`` with the verdicts of the sanity checks of ``methods`` run so far on
    ``images`` (for ``target``), and its CSV."""
    done = {m: sanity_check(view.arch, view.variant, dataset, images, m, target) for m in methods
            if is_kept(("sanity", view.arch, view.variant, dataset, m))}
    ranking = trust.ranking_frame(report, done)
    slot.dataframe(ranking, hide_index=True, width="stretch", column_config=trust_columns())
    with slot:
        csv_download(ranking, f"trust-ranking-{view_name(view)}.csv", "Download the ranking (CSV)")


setup_page("trust")
view = view_sidebar("model", "shift", "severity", "seed", "methods")
count = st.sidebar.select_slider("Images measured", trust.IMAGE_COUNTS, value=16, key="trust_count",
                                 help="How many images (taken round the classes) are measured, each with its "
                                      "shifted copy.")
baseline = st.sidebar.selectbox("Deletion baseline", trust.BASELINE_CHOICES, key="trust_baseline",
                                help="What removed pixels become: a blurred copy of the image (σ = 5 % of its side), "
                                     "its mean colour, or black.")
dataset = pick_dataset(view)
loaded = view_model(view)
methods = tuple(m for m in view.methods if m not in trust.PERTURBATION_METHODS)
left_out = [m for m in view.methods if m in trust.PERTURBATION_METHODS]
if left_out:
    st.info(f"Left out here: {', '.join(left_out)} (each map runs the model thousands of times).")
if not methods:
    st.warning("Pick at least one of saliency, Grad-CAM or integrated gradients in the sidebar.")
    st.stop()
show_shift(view.shift, loaded.input_size, loaded.input_size)
st.markdown(text.TRUST_READ)

key = (view.arch, view.variant, dataset, view.shift, view.severity, view.seed, methods, count, baseline)
asked = st.session_state.setdefault("trust_asked", set())
with user_errors():
    shifted_set = cached_shifted(dataset, loaded.input_size, view.shift, view.severity, view.seed)
    indices, source, shifted = trust.trust_images(evaluation_images(dataset, loaded.input_size), shifted_set,
                                                  count, loaded.input_size)
if not is_kept(("trust", *key)):
    with user_errors():
        cost = trust.trust_cost(loaded, source, list(methods), trust.TrustSettings(baseline=baseline))
    st.caption(text.TRUST_COST.format(count=len(indices), methods=", ".join(methods), passes=cost.passes,
                                      solves=cost.solves, seconds=cost.seconds))
    if key not in asked and cost.seconds > QUICK_SECONDS:
        if st.button(text.TRUST_RUN.format(seconds=cost.seconds), type="primary", key="trust_run"):
            asked.add(key)
            st.rerun()
        st.stop()
with user_errors():
    report = trust_measures(*key, source, shifted)

name = view_name(view)
st.markdown(text.TRUST_RANKING.format(shift=view.shift, severity=view.severity))
ranking_slot = st.container()  # filled last: the sanity checks run below add their verdicts to it


st.altair_chart(charts.trust_gap_chart(trust.records_frame(report, indices)), width="stretch")
st.dataframe(trust.means_frame(report), hide_index=True, width="stretch", column_config=trust_columns())
road = trust.road_frame(report)
st.altair_chart(charts.road_chart(road))
st.caption(text.TRUST_ROAD)
downloads = st.columns(2)
with downloads[0]:
    csv_download(trust.records_frame(report, indices), f"trust-{name}.csv", "Download every image's figures (CSV)")
with downloads[1]:
    csv_download(road, f"trust-road-{name}.csv", "Download ROAD (CSV)")

st.subheader("Do the maps depend on the model's weights?")
st.markdown(text.TRUST_SANITY.format(count=trust.SANITY_IMAGES, threshold=trust.SANITY_THRESHOLD))
method = st.selectbox("Method", methods, key="trust_sanity_method")
images, target = source[:trust.SANITY_IMAGES], report.target[:trust.SANITY_IMAGES]
if not is_kept(("sanity", view.arch, view.variant, dataset, method)):
    with user_errors():
        seconds = trust.sanity_cost(loaded, images, method)
    st.caption(text.TRUST_SANITY_COST.format(method=method, stages=trust.stage_count(loaded), seconds=seconds))
    if seconds > QUICK_SECONDS and not st.button(text.TRUST_SANITY_RUN.format(method=method, seconds=seconds),
                                                 key="trust_sanity_run"):
        show_ranking(ranking_slot, view, dataset, methods, report, images, target)
        st.stop()
with user_errors():
    check = sanity_check(view.arch, view.variant, dataset, images, method, target)
show_ranking(ranking_slot, view, dataset, methods, report, images, target)
st.markdown(text.TRUST_VERDICT.format(method=method, verdict=trust.verdict(check), spearman=check.final_spearman,
                                      threshold=trust.SANITY_THRESHOLD))
strip = list(zip(trust.strip_maps(check, images[0]), trust.strip_limits(check), trust.strip_labels(check)))
for start in range(0, len(strip), STRIP_ROW):  # rows of three: each map legible at 1024 px
    for column, (picture, limits, label) in zip(st.columns(STRIP_ROW), strip[start:start + STRIP_ROW]):
        with column:
            st.image(picture, width="stretch")
            st.caption(text.plain(label))
            scale_bar(limits, trust.strip_signed(check), "its own scale")
st.altair_chart(charts.similarity_chart(trust.similarity_frame(check), trust.SANITY_THRESHOLD), width="stretch")
png_download(trust.strip_picture(check, images[0]), f"sanity-{view.arch}-{view.variant}-{method}.png",
             "Download the cascade (PNG)")
