"""Robustness: the zoo's variants side by side, from the figures in their model cards."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from shiftlab.app import ui
from shiftlab.app.charts import MODEL_SHAPES, corruption_curves_chart, gain_heatmap, tradeoff_chart
from shiftlab.shifts import get_shift
from shiftlab.zoo.tables import corruption_frame, zoo_rows, zoo_targets
from shiftlab.zoo.targets import verdict

ui.setup_page(
    "Robustness",
    "What does robust training buy, and what does it cost? Each point and cell below is a figure that "
    "`python -m shiftlab.zoo.evaluate` measured on the full CIFAR-10 test set (10,000 images) and stored in the model's "
    "card: clean accuracy, mean accuracy over the 15 benchmark corruptions × 5 severities, and PGD-20 accuracy "
    "(L∞ ε 8/255) on the first 1,000 test images.",
)
rows = pd.DataFrame(zoo_rows())
frame = corruption_frame()
if frame.empty:
    st.info("No model card holds a corruption suite yet: run `python -m shiftlab.zoo.evaluate --suite corruptions`.")
    st.stop()

models = list(dict.fromkeys(frame["model"]))
model = st.sidebar.selectbox("Architecture", models, key="robustness_model")
corruptions = list(dict.fromkeys(frame["corruption"]))
corruption = st.sidebar.selectbox("Corruption", corruptions, key="robustness_corruption")

st.subheader("Clean accuracy against robustness")
left, right = st.columns(2)
left.altair_chart(tradeoff_chart(rows, "corruption_accuracy", "corruption accuracy (15 × 5)"), width="stretch")
right.altair_chart(tradeoff_chart(rows, "pgd20_accuracy", "PGD-20 accuracy (ε 8/255)"), width="stretch")
markers = ", ".join(f"{shape}s: {name}" for name, shape in zip(MODEL_SHAPES.domain, MODEL_SHAPES.range))
st.caption(
    f"Up is more robust, right is more accurate on clean images ({markers}). Augmentation variants (AugMix, PixMix) "
    "move up the left chart; adversarial training moves up the right one and pays for it in clean accuracy."
)

st.subheader(f"Does each {model} variant deliver what it is trained for?")
targets = pd.DataFrame(zoo_targets())
targets = targets[targets["model"] == model].drop(columns="model")
targets["met"] = targets["met"].map(verdict)
st.dataframe(targets, hide_index=True, width="stretch",
             column_config={"measured": st.column_config.NumberColumn(format="%.2f")})
st.caption(
    "Augmentation variants are judged against this architecture's baseline card; adversarial variants against "
    "fixed floors. Every figure is read from the model cards."
)

st.subheader(f"Where each {model} variant helps")
st.altair_chart(gain_heatmap(frame, model), width="stretch")
st.caption(
    "Mean accuracy over severities 1-5 of each corruption, in percentage points above (green) or below (red) "
    f"{model}/baseline."
)

st.subheader(f"{corruption}, severity by severity")
st.markdown(f"**{corruption}** ({get_shift(corruption).family}): {get_shift(corruption).description}")
st.altair_chart(corruption_curves_chart(frame, model, corruption), width="stretch")
