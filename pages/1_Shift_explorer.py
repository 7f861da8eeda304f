"""Shift explorer: a model's accuracy and calibration on a set of images before and after one shift."""

from __future__ import annotations

import streamlit as st

from shiftlab.app import ui
from shiftlab.app.charts import reliability_chart, severity_chart
from shiftlab.app.experiment import N_BINS, metric_name, severity_curve
from shiftlab.shifts import SEVERITIES

ui.setup_page(
    "Shift explorer",
    "Pick a model and a distribution shift in the sidebar and compare the model on the same images before "
    "(source) and after (shifted) the shift: accuracy, calibration, how accuracy falls with severity, and examples.",
)
run = ui.shift_experiment()
loaded, comparison, data = run.loaded, run.comparison, run.data
with ui.user_errors():
    by_severity = {
        s: ui.cached_logits(loaded.arch, loaded.variant, run.dataset, run.shift, s, run.seed) for s in SEVERITIES
    }
    curve = severity_curve(data.labels, comparison.labelled, comparison.source.logits, by_severity)
score = metric_name(comparison.labelled)
source, shifted = comparison.source, comparison.shifted

st.subheader(f"{loaded.name} on {len(data):,} images, severity {run.severity}")
cells = st.columns(6 if comparison.labelled else 4)
cells[0].metric(f"{score}, source", f"{source.accuracy():.1%}")
cells[1].metric(
    f"{score}, shifted", f"{shifted.accuracy():.1%}", delta=f"{100 * (shifted.accuracy() - source.accuracy()):+.1f} pp"
)
cells[2].metric("correct → wrong", f"{comparison.correct_to_wrong.sum():,}", help="images the shift broke")
cells[3].metric("wrong → correct", f"{comparison.wrong_to_correct.sum():,}", help="images the shift fixed")
if comparison.labelled:
    cells[4].metric("ECE, source", f"{source.ece():.3f}", help=f"expected calibration error, {N_BINS} equal-width bins")
    cells[5].metric(
        "ECE, shifted", f"{shifted.ece():.3f}", delta=f"{shifted.ece() - source.ece():+.3f}", delta_color="inverse"
    )

left, middle, right = st.columns(3)
if comparison.labelled:
    left.altair_chart(reliability_chart(source.reliability(), "source", "Reliability, source"), width="stretch")
    middle.altair_chart(reliability_chart(shifted.reliability(), "shifted", "Reliability, shifted"), width="stretch")
    left.caption("Bars: accuracy of the images in each confidence bin. On the dashed diagonal, confidence is honest; "
                 "bars below it mean over-confidence.")
else:
    left.info("Reliability diagrams need the dataset's labels, which this model's classes do not match.")
with right:
    st.markdown(f"**{score} vs severity** ({run.shift}, seed {run.seed})")
    st.altair_chart(severity_chart(curve, run.severity, score), width="stretch")

st.subheader("Examples: the first image of each class, source | shifted")
st.caption("Under each pair: the dataset label, then the prediction on the source → on the shifted image, "
           f"green when right, red when wrong (by {score}).")
ui.pair_grid(comparison, data, run.shifted_images, data.first_per_class(1), loaded.classes)
