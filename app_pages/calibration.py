"""Calibration: reliability before and after a shift, temperature scaling, and every variant against severity."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from shiftlab.app import calibration, charts, sweep_panel, sweeps, text
from shiftlab.app.caches import cached_logits, cached_shifted, evaluation_images, shift_comparison
from shiftlab.app.downloads import csv_download
from shiftlab.app.experiment import metric_name
from shiftlab.app.feedback import progress, user_errors
from shiftlab.app.pieces import note_labels, note_subset, pair_grid, setup_page, show_shift
from shiftlab.app.sidebar import pick_dataset, variants_of, view_model, view_sidebar
from shiftlab.app.view import View
from shiftlab.metrics import ReliabilityBins


def show_figures(table: pd.DataFrame, before: pd.DataFrame | None) -> None:
    """Accuracy, ECE, MCE and NLL, source → shifted (``before``: the same without temperature scaling)."""
    for cell, name, label in zip(st.columns(4), ("accuracy", "ece", "mce", "nll"), ("accuracy", "ECE", "MCE", "NLL")):
        source, shifted = table.loc[0, name], table.loc[1, name]
        cell.metric(f"{label}, source → shifted", f"{source:.3f} → {shifted:.3f}", help=text.METRIC_HELP[name],
                    delta=f"{shifted - source:+.3f}", delta_color="normal" if name == "accuracy" else "inverse")
        if before is not None and name != "accuracy":
            cell.caption(f"without T: {before.loc[0, name]:.3f} → {before.loc[1, name]:.3f}")


def show_reliability(view: View, source: ReliabilityBins, shifted: ReliabilityBins,
                     histogram: pd.DataFrame | None) -> None:
    """The two reliability diagrams of ``view`` and, when the confidences are at hand, their histogram."""
    left, middle, right = st.columns(3)
    left.altair_chart(charts.reliability_chart(source, "source", "Reliability, source"), width="stretch")
    middle.altair_chart(charts.reliability_chart(shifted, "shifted", f"Reliability, {view.shift} {view.severity}"),
                        width="stretch")
    if histogram is not None:
        right.altair_chart(charts.confidence_histogram(histogram), width="stretch")
    st.caption(text.RELIABILITY_CAPTION.format(min=calibration.MIN_BIN_COUNT))


def show_curves(view: View, curves: pd.DataFrame, labelled: bool, n: int, seed: int) -> None:
    """Accuracy (agreement) and ECE against severity, one line per variant of ``view``'s architecture, and their CSV."""
    st.subheader(f"Every {view.arch} variant against severity")
    for column, measure in zip(st.columns(2 if labelled else 1), ("accuracy", "ECE") if labelled else ("agreement",)):
        column.altair_chart(charts.variant_curves_chart(curves, measure, view.severity), width="stretch")
    st.caption(text.CURVES_CAPTION.format(n=n, shift=view.shift, seed=seed))
    csv_download(curves, f"curves-{view.arch}-{view.shift}.csv", "Download the curves (CSV)")


setup_page("calibration")
view = view_sidebar("model", "shift", "severity", "seed")
store = sweep_panel.pick_results()
variants = variants_of(view.arch)

if store is not None:
    if not store.covers(view.arch, view.variant, view.shift, view.severity):
        st.info(text.SWEEP_MISSES.format(model=view.model, shift=view.shift, severity=view.severity))
        st.stop()
    st.caption(text.FROM_SWEEP.format(path=text.plain(sweeps.store_label(store)),
                                      data=text.plain(sweeps.store_data(store)), seeds=text.plain(store.plan.seeds)))
    with user_errors():
        table = sweeps.figures_from(store, view.arch, view.variant, view.shift, view.severity)
        show_figures(table, None)
        show_reliability(view, sweeps.reliability_from(store, view.arch, view.variant, "source", view.severity),
                         sweeps.reliability_from(store, view.arch, view.variant, view.shift, view.severity), None)
        swept = [v for v in variants if store.covers(view.arch, v, view.shift, view.severity)]
        show_curves(view, sweeps.curves_from(store, view.arch, swept, view.shift), True, store.plan.data.n,
                    store.plan.seeds[0])
    st.stop()

dataset = pick_dataset(view)
use_temperature = st.sidebar.toggle("Temperature scaling", value=False, key="temperature", help=text.TEMPERATURE_HELP)
loaded = view_model(view)
with user_errors():
    data = evaluation_images(dataset, loaded.input_size)
    comparison = shift_comparison(loaded, dataset, view.shift, view.severity, view.seed)
show_shift(view.shift, *data.images.shape[1:3])
note_labels(loaded, data)
note_subset(loaded, data)
labelled = comparison.labelled
parts = calibration.split(len(data))
reference = comparison.source.reference[parts.evaluated]
logits = {"source": comparison.source.logits[parts.evaluated], "shifted": comparison.shifted.logits[parts.evaluated]}

if labelled:
    st.caption(text.SPLIT_NOTE.format(split=parts.describe()))
    before = None
    if use_temperature:
        with user_errors():
            scaling = calibration.fit_temperature(comparison.source.reference[parts.held_out],
                                                  comparison.source.logits[parts.held_out])
        st.markdown(text.TEMPERATURE_FITTED.format(t=scaling.temperature))
        before = pd.DataFrame([{"condition": c, **calibration.figures(reference, v)} for c, v in logits.items()])
        logits = {condition: scaling.apply(values) for condition, values in logits.items()}
    table = pd.DataFrame([{"condition": c, **calibration.figures(reference, v)} for c, v in logits.items()])
    show_figures(table, before)
    show_reliability(view, calibration.reliability(reference, logits["source"]),
                     calibration.reliability(reference, logits["shifted"]), calibration.confidence_frame(logits))
    csv_download(table, f"calibration-{view.arch}-{view.variant}-{view.shift}-{view.severity}.csv",
                 "Download the figures (CSV)")
else:
    agreement = float((logits["source"].argmax(1) == logits["shifted"].argmax(1)).mean())
    st.metric(f"{metric_name(False)} with the unshifted predictions", f"{agreement:.1%}",
              help=text.METRIC_HELP["agreement"])

shipped = sweep_panel.shipped_if_covering(dataset, view.arch, variants, view.shift, view.seed) if labelled else None
if shipped is not None:
    curves = sweeps.curves_from(shipped, view.arch, variants, view.shift)
    st.caption(text.CURVES_FROM_STORE)
else:
    keys = [(variant, severity) for variant in variants for severity in (0, 1, 2, 3, 4, 5)]
    with user_errors():
        curve_logits = {
            (variant, severity): cached_logits(view.arch, variant, dataset, *(() if severity == 0 else
                                                                                (view.shift, severity, view.seed)))
            for variant, severity in progress(keys, len(keys), "Variant × severity done")
        }
    curves = calibration.curves_frame(data.labels, curve_logits, labelled)
show_curves(view, curves, labelled, len(data), view.seed)

st.subheader("Examples: the first image of each class, source | shifted")
shifted_images = cached_shifted(dataset, loaded.input_size, view.shift, view.severity, view.seed)
pair_grid(comparison, data, shifted_images, data.first_per_class(1), loaded.classes,
          f"examples-{view.shift}-{view.severity}.png")
