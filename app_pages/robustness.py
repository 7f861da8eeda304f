"""Robustness: the zoo's variants side by side, from the figures in their model cards."""

from __future__ import annotations

import streamlit as st

from shiftlab.app import charts, model_zoo, sweep_panel, sweeps, text
from shiftlab.app.downloads import csv_download
from shiftlab.app.feedback import user_errors
from shiftlab.app.pieces import setup_page, show_shift

setup_page("robustness")
store = sweep_panel.pick_results()
if store is None:
    rows, frame = model_zoo.all_rows(), model_zoo.corruptions()
    for model, variant, why in model_zoo.problems():  # file names and card fields: shown escaped
        st.warning(text.plain(f"{model}/{variant}: {why}"))
else:
    with user_errors():
        rows, frame = sweeps.zoo_rows_from(store), sweeps.corruption_frame_from(store)
    st.caption(text.ROBUSTNESS_FROM_SWEEP.format(path=text.plain(sweeps.store_label(store)),
                                                 data=text.plain(sweeps.store_data(store)),
                                                 shifts=len(store.plan.shifts)))
if frame.empty:
    st.info(text.NO_SUITE)
    st.stop()

models = list(dict.fromkeys(frame["model"]))
model = st.sidebar.selectbox("Architecture", models, key="robustness_model")
corruptions = list(dict.fromkeys(frame["corruption"]))
corruption = st.sidebar.selectbox("Corruption", corruptions, key="robustness_corruption")

st.subheader("Clean accuracy against robustness")
left, right = st.columns(2)
left.altair_chart(charts.tradeoff_chart(rows, "corruption_accuracy", "corruption accuracy (15 × 5)" if store is None
                                        else "mean accuracy over the sweep's shifts"), width="stretch")
if store is None:
    right.altair_chart(charts.tradeoff_chart(rows, "pgd20_accuracy", "PGD-20 accuracy (ε 8/255)"), width="stretch")
markers = ", ".join(f"{shape}s: {name}" for name, shape in zip(charts.MODEL_SHAPES.domain, charts.MODEL_SHAPES.range))
st.caption(text.TRADEOFF_CAPTION.format(markers=markers))
csv_download(rows.drop(columns=["description"], errors="ignore"), "zoo.csv", "Download the figures (CSV)")

if store is None:
    st.subheader(f"Does each {model} variant deliver what it is trained for?")
    targets = model_zoo.targets_of(model)
    st.dataframe(targets, hide_index=True, width="stretch",
                 column_config={"measured": st.column_config.NumberColumn(format="%.2f")})
    st.caption(text.TARGETS_CAPTION)
    csv_download(targets, f"targets-{model}.csv", "Download the targets (CSV)")

st.subheader(f"Where each {model} variant helps")
st.altair_chart(charts.gain_heatmap(frame, model), width="stretch")
st.caption(text.GAIN_CAPTION.format(model=model))
csv_download(charts.gain_frame(frame, model), f"gains-{model}.csv", "Download the gains (CSV)")

st.subheader(f"{corruption}, severity by severity")
show_shift(corruption, 32, 32)
st.altair_chart(charts.corruption_curves_chart(frame, model, corruption), width="stretch")
csv_download(frame[(frame["model"] == model) & (frame["corruption"] == corruption)],
             f"curves-{model}-{corruption}.csv", "Download the curves (CSV)")
