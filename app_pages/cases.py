"""Cases: the images behind the numbers, filtered by outcome, sorted by confidence drop or attribution drift."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from shiftlab.app import cases, sweep_panel, sweeps, text
from shiftlab.app.caches import cached_set_drift, cached_shifted, evaluation_images, shift_comparison
from shiftlab.app.downloads import csv_download
from shiftlab.app.feedback import user_errors
from shiftlab.app.pieces import note_labels, note_subset, pair_grid, setup_page, show_shift, sweep_case_grid
from shiftlab.app.sidebar import pick_dataset, view_model, view_sidebar
from shiftlab.app.view import methods_for

PER_PAGE = 20

setup_page("cases")
view = view_sidebar("model", "shift", "severity", "seed")
store = sweep_panel.pick_results()
if store is not None:
    outcome = st.segmented_control("Outcome", list(text.SWEEP_CASE_KINDS), default="flips", required=True,
                                   key="sweep_outcome", format_func=lambda k: text.SWEEP_CASE_KINDS[k])
    order = st.radio("Sort by", ["confidence_drop", "drift"], horizontal=True, key="sweep_sort",
                     format_func=lambda s: s.replace("_", " "), disabled=not store.methods())
    with user_errors():
        found = store.cases(outcome, order, model=view.arch, variant=view.variant, shift=view.shift,
                            severity=view.severity, limit=None)
    st.markdown(f"**{len(found):,}** records of {view.model} under {view.shift} at severity {view.severity} "
                f"in the sweep {text.plain(sweeps.store_label(store))}.")
    st.dataframe(found, hide_index=True, width="stretch")
    sweep_case_grid(view, sweeps.store_data(store), found.head(PER_PAGE))
    st.stop()
dataset = pick_dataset(view)
loaded = view_model(view)
with user_errors():
    data = evaluation_images(dataset, loaded.input_size)
    comparison = shift_comparison(loaded, dataset, view.shift, view.severity, view.seed)
    shifted = cached_shifted(dataset, loaded.input_size, view.shift, view.severity, view.seed)
show_shift(view.shift, *data.images.shape[1:3])
note_labels(loaded, data)
note_subset(loaded, data)

names = {**text.OUTCOMES, **text.UNLABELLED_OUTCOMES}
outcomes = cases.outcomes_for(comparison)
counts = {o: int(cases.outcome_mask(comparison, o).sum()) for o in outcomes}
outcome = st.segmented_control("Outcome", outcomes, default=outcomes[0], required=True, key="outcome",
                               format_func=lambda o: f"{names[o][0]} ({counts[o]:,})")
left, right = st.columns(2)
order = left.radio("Sort by", list(text.CASE_SORTS), horizontal=True, key="case_sort",
                   format_func=lambda s: s.replace("_", " "), help="\n\n".join(text.CASE_SORTS.values()))
methods = methods_for(view.arch)
method = right.selectbox("Attribution method for the drift", methods, key="case_method",
                         disabled=order != "attribution_drift",
                         index=methods.index("gradcam") if "gradcam" in methods else 0)

mask = cases.outcome_mask(comparison, outcome)
drop = cases.confidence_drop(comparison)
if order == "attribution_drift":
    with user_errors():
        drift = cached_set_drift(view.arch, view.variant, dataset, view.shift, view.severity, view.seed, method)
    key = 1.0 - drift["top_k_iou"]
else:
    key = drop
selected = cases.select_cases(comparison, outcome, key)
st.markdown(f"**{len(selected):,}** of {len(data):,} images. {names[outcome][1]} Sorted by {text.CASE_SORTS[order]}.")
if len(selected) == 0:
    st.info("No image has this outcome under this shift and severity.")
    st.stop()

grid_area = st.container()
page = st.pagination(cases.page_count(len(selected), PER_PAGE), key=f"page-{outcome}-{order}-{len(selected)}")
shown = cases.page_of(selected, page, PER_PAGE)
with grid_area:
    pair_grid(comparison, data, shifted, shown, loaded.classes,
              f"cases-{view.arch}-{view.variant}-{view.shift}-{view.severity}.png",
              drift=key if order != "confidence_drop" else None, links=(view, dataset))
table = pd.DataFrame({"image": [f"{dataset}:{i}" for i in selected],
                      "label": [data.classes[data.labels[i]] for i in selected],
                      "source prediction": [loaded.classes[comparison.source.predicted[i]] for i in selected],
                      "shifted prediction": [loaded.classes[comparison.shifted.predicted[i]] for i in selected],
                      "confidence drop": drop[selected]})
if order == "attribution_drift":
    table[f"{method} drift (1 − IoU)"] = key[selected]
csv_download(table, f"cases-{view.arch}-{view.variant}-{view.shift}-{view.severity}-{outcome}.csv",
             "Download every case of this outcome (CSV)")
