"""Calibration: reliability before and after a shift, temperature scaling, and every variant against severity."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from shiftlab.app import calibration, charts, text, ui
from shiftlab.app.experiment import metric_name

ui.setup_page("calibration")
view = ui.view_sidebar("model", "shift", "severity", "seed")
dataset = ui.pick_dataset(view)
use_temperature = st.sidebar.toggle("Temperature scaling", value=False, key="temperature", help=text.TEMPERATURE_HELP)
loaded = ui.view_model(view)
with ui.user_errors():
    data = ui.evaluation_images(dataset, loaded.input_size)
    comparison = ui.shift_comparison(loaded, dataset, view.shift, view.severity, view.seed)
ui.show_shift(view.shift, *data.images.shape[1:3])
ui.note_labels(loaded, data)
ui.note_subset(loaded, data)
labelled = comparison.labelled
score = metric_name(labelled)
parts = calibration.split(len(data))
reference = comparison.source.reference[parts.evaluated]
logits = {"source": comparison.source.logits[parts.evaluated], "shifted": comparison.shifted.logits[parts.evaluated]}

if labelled:
    st.caption(text.SPLIT_NOTE.format(split=parts.describe()))
    if use_temperature:
        with ui.user_errors():
            scaling = calibration.fit_temperature(comparison.source.reference[parts.held_out],
                                                  comparison.source.logits[parts.held_out])
        st.markdown(text.TEMPERATURE_FITTED.format(t=scaling.temperature))
        before = {condition: calibration.figures(reference, values) for condition, values in logits.items()}
        logits = {condition: scaling.apply(values) for condition, values in logits.items()}
    table = pd.DataFrame([{"condition": c, **calibration.figures(reference, v)} for c, v in logits.items()])
    cells = st.columns(4)
    for cell, name, label in zip(cells, ("accuracy", "ece", "mce", "nll"), ("accuracy", "ECE", "MCE", "NLL")):
        source, shifted = table.loc[0, name], table.loc[1, name]
        cell.metric(f"{label}, source → shifted", f"{source:.3f} → {shifted:.3f}", help=text.METRIC_HELP[name],
                    delta=f"{shifted - source:+.3f}", delta_color="normal" if name == "accuracy" else "inverse")
        if use_temperature and name != "accuracy":
            cell.caption(f"without T: {before['source'][name]:.3f} → {before['shifted'][name]:.3f}")
    left, middle, right = st.columns(3)
    left.altair_chart(charts.reliability_chart(calibration.reliability(reference, logits["source"]), "source",
                                               "Reliability, source"), width="stretch")
    middle.altair_chart(charts.reliability_chart(calibration.reliability(reference, logits["shifted"]), "shifted",
                                                 f"Reliability, {view.shift} {view.severity}"), width="stretch")
    right.altair_chart(charts.confidence_histogram(calibration.confidence_frame(logits)), width="stretch")
    st.caption(text.RELIABILITY_CAPTION.format(min=calibration.MIN_BIN_COUNT))
    ui.csv_download(table, f"calibration-{view.arch}-{view.variant}-{view.shift}-{view.severity}.csv",
                    "Download the figures (CSV)")
else:
    agreement = float((logits["source"].argmax(1) == logits["shifted"].argmax(1)).mean())
    st.metric(f"{score} with the unshifted predictions", f"{agreement:.1%}", help=text.METRIC_HELP["agreement"])

st.subheader(f"Every {view.arch} variant against severity")
variants = ui.variants_of(view.arch)
keys = [(variant, severity) for variant in variants for severity in (0, 1, 2, 3, 4, 5)]
with ui.user_errors():
    curve_logits = {
        (variant, severity): ui.cached_logits(view.arch, variant, dataset, *(() if severity == 0 else
                                                                            (view.shift, severity, view.seed)))
        for variant, severity in ui.progress(keys, len(keys), "Variant × severity done")
    }
curves = calibration.curves_frame(data.labels, curve_logits, labelled)
columns = st.columns(2 if labelled else 1)
for column, measure in zip(columns, ("accuracy", "ECE") if labelled else ("agreement",)):
    column.altair_chart(charts.variant_curves_chart(curves, measure, view.severity), width="stretch")
st.caption(text.CURVES_CAPTION.format(n=len(data), shift=view.shift, seed=view.seed))
ui.csv_download(curves, f"curves-{view.arch}-{view.shift}.csv", "Download the curves (CSV)")

st.subheader("Examples: the first image of each class, source | shifted")
shifted_images = ui.cached_shifted(dataset, loaded.input_size, view.shift, view.severity, view.seed)
ui.pair_grid(comparison, data, shifted_images, data.first_per_class(1), loaded.classes,
             f"examples-{view.shift}-{view.severity}.png")
