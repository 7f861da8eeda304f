"""Trust: does each method's map still point at what the model uses under this shift, and does it depend on the weights?

The default view (the sample's first images, every ResNet-20 variant, the shifts of the attribution store, the
default settings) is read from the shipped faithfulness store and opens at once. Elsewhere the measures take
seconds to a minute on a CPU, so the page says what they will cost first and runs them at once when that is
short, else on a click (once per view and session).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
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
from shiftlab.trust import Cascade

QUICK_SECONDS = 5.0
#: maps of the randomisation strip side by side
STRIP_ROW = 3


def view_name(view: View) -> str:
    """The view in this page's file names: model, shift and severity."""
    return f"{view.arch}-{view.variant}-{view.shift}-{view.severity}"


def kept_cascade(view: View, dataset: str, method: str, images: np.ndarray, target: np.ndarray) -> Cascade | None:
    """``method``'s cascade on ``images`` when a run of this server kept it (no computing), else None."""
    if not is_kept(("sanity", view.arch, view.variant, dataset, method)):
        return None
    return Cascade.of(sanity_check(view.arch, view.variant, dataset, images, method, target))


def show_ranking(slot: DeltaGenerator, view: View, records: pd.DataFrame, cascades: dict[str, Cascade | None]) -> None:
    """In ``slot``, the ranking of ``records`` with the verdicts of the ``cascades`` known so far, and its CSV."""
    ranking = trust.ranking_frame(records, {m: c for m, c in cascades.items() if c is not None})
    slot.dataframe(ranking, hide_index=True, width="stretch", column_config=trust_columns(),
                   column_order=[c for c in ranking.columns if c != "rank"])  # the rows' order is the rank
    with slot:
        csv_download(ranking, f"trust-ranking-{view_name(view)}.csv", "Download the ranking (CSV)")


def measured_records(view: View, dataset: str, methods: tuple[str, ...], count: int, baseline: str,
                     indices: np.ndarray, source: np.ndarray) -> pd.DataFrame:
    """The records measured on this server: the cost said first, then measured at once when short, else on a
    click (once per view and session)."""
    loaded, size = view_model(view), source.shape[1]
    key = (view.arch, view.variant, dataset, view.shift, view.severity, view.seed, methods, count, baseline)
    asked = st.session_state.setdefault("trust_asked", set())
    with user_errors():
        shifted = trust.set_images(cached_shifted(dataset, size, view.shift, view.severity, view.seed), indices, size)
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
        return trust_measures(*key, source, shifted).records


setup_page("trust")
view = view_sidebar("model", "shift", "severity", "seed", "methods")
count = st.sidebar.select_slider("Images measured", trust.IMAGE_CHOICES, value=trust.DEFAULT_IMAGES, key="trust_count",
                                 help="How many images (taken round the classes) are measured, each with its "
                                      "shifted copy.")
baseline = st.sidebar.selectbox("Deletion baseline", trust.BASELINE_CHOICES, key="trust_baseline",
                                help="What removed pixels become: a blurred copy of the image (σ = 5 % of its side), "
                                     "its mean colour, or black.")
dataset = pick_dataset(view)
loaded = view_model(view)
size = loaded.input_size
methods = tuple(m for m in view.methods if m not in trust.PERTURBATION_METHODS)
left_out = [m for m in view.methods if m in trust.PERTURBATION_METHODS]
if left_out:
    st.info(f"Left out here: {', '.join(left_out)} (each map runs the model thousands of times).")
if not methods:
    st.warning("Pick at least one of saliency, Grad-CAM or integrated gradients in the sidebar.")
    st.stop()
show_shift(view.shift, size, size)
st.markdown(text.TRUST_READ)

settings = trust.TrustSettings(baseline=baseline)
shipped = st.session_state.setdefault("trust_shipped", trust.shipped_trust())
with user_errors():
    data = evaluation_images(dataset, size)
    indices = trust.image_indices(data, count)
    source = trust.set_images(data.images, indices, size)
    records = trust.stored_records(shipped, view.arch, view.variant, dataset, view.shift, view.severity, view.seed,
                                   methods, indices, settings, size)
if records is not None:
    st.caption(text.TRUST_STORED.format(**trust.store_scope()))
else:
    st.caption(text.TRUST_COMPUTED.format(**trust.store_scope()))
    records = measured_records(view, dataset, methods, count, baseline, indices, source)

name = view_name(view)
st.markdown(text.TRUST_RANKING.format(shift=view.shift, severity=view.severity))
ranking_slot = st.container()  # filled last: the sanity checks known below add their verdicts to it

summary = trust.summary_frame(records, indices)
st.altair_chart(charts.trust_gap_chart(summary), width="stretch")
st.dataframe(trust.means_frame(records, indices), hide_index=True, width="stretch", column_config=trust_columns())
st.caption(text.TRUST_RANDOM.format(**trust.random_areas(records)))
road = trust.road_frame(records, settings)
st.altair_chart(charts.road_chart(road))
st.caption(text.TRUST_ROAD)
downloads = st.columns(2)
with downloads[0]:
    csv_download(summary, f"trust-{name}.csv", "Download every image's figures (CSV)")
with downloads[1]:
    csv_download(road, f"trust-road-{name}.csv", "Download ROAD (CSV)")

st.subheader("Do the maps depend on the model's weights?")
st.markdown(text.TRUST_SANITY.format(count=trust.SANITY_COUNT, threshold=trust.SANITY_THRESHOLD))
method = st.selectbox("Method", methods, key="trust_sanity_method")
first, images = indices[:trust.SANITY_COUNT], source[:trust.SANITY_COUNT]
target = trust.targets(records, trust.SANITY_COUNT)
with user_errors():
    stored = {m: trust.stored_cascade(shipped, view.arch, view.variant, dataset, first, m, target, size)
              for m in methods}
cascades = {m: stored[m] or kept_cascade(view, dataset, m, images, target) for m in methods}
cascade = cascades[method]
if cascade is None:
    with user_errors():
        seconds = trust.sanity_cost(loaded, images, method)
    st.caption(text.TRUST_SANITY_COST.format(method=method, stages=trust.stage_count(loaded), seconds=seconds))
    if seconds > QUICK_SECONDS and not st.button(text.TRUST_SANITY_RUN.format(method=method, seconds=seconds),
                                                 key="trust_sanity_run"):
        show_ranking(ranking_slot, view, records, cascades)
        st.stop()
    with user_errors():
        cascade = cascades[method] = Cascade.of(sanity_check(view.arch, view.variant, dataset, images, method, target))
elif stored[method] is not None:
    st.caption(text.TRUST_SANITY_STORED)
show_ranking(ranking_slot, view, records, cascades)
st.markdown(text.TRUST_VERDICT.format(method=method, verdict=trust.verdict(cascade), spearman=cascade.final_spearman,
                                      threshold=trust.SANITY_THRESHOLD))
strip = list(zip(trust.strip_maps(cascade, images[0]), trust.strip_limits(cascade), trust.strip_labels(cascade)))
for start in range(0, len(strip), STRIP_ROW):  # rows of three: each map legible at 1024 px
    for column, (picture, limits, label) in zip(st.columns(STRIP_ROW), strip[start:start + STRIP_ROW]):
        with column:
            st.image(picture, width="stretch")
            st.caption(text.plain(label))
            scale_bar(limits, trust.strip_signed(cascade), "its own scale")
st.altair_chart(charts.similarity_chart(trust.similarity_frame(cascade), trust.SANITY_THRESHOLD), width="stretch")
png_download(trust.strip_picture(cascade, images[0]), f"sanity-{view.arch}-{view.variant}-{method}.png",
             "Download the cascade (PNG)")
