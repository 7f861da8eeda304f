"""Explain: attribution maps of one image before and after a shift, and how far the explanation drifted."""

from __future__ import annotations

import math

import streamlit as st

from shiftlab.app import ui
from shiftlab.app.explain import (
    image_pair,
    is_slow,
    method_options,
    options_text,
    prediction_text,
)
from shiftlab.app.heatmaps import overlay
from shiftlab.app.text import DRIFT_MEASURES, METHOD_NOTES
from shiftlab.app.thumbnails import display_factor, enlarge, side_by_side
from shiftlab.attribution import list_methods

DEFAULT_METHOD = "gradcam"

ui.setup_page(
    "Explain",
    "Why did the model predict what it did, and does the reason survive the shift? Pick an image, a shift and an "
    "attribution method: the maps show which pixels the prediction rests on, before and after the shift.",
)
setup = ui.pick_image_setup()
loaded, image, label, shift, severity, seed = (
    setup.loaded, setup.image, setup.label, setup.shift, setup.severity, setup.seed
)
methods = list_methods(loaded)
method = st.sidebar.selectbox(
    "Attribution method", methods, index=methods.index(DEFAULT_METHOD) if DEFAULT_METHOD in methods else 0, key="method"
)
same_target = st.sidebar.toggle(
    "Explain the source's class in both", value=True, key="same_target",
    help="On: both maps explain the class predicted on the source image, so differences come from the shift. "
         "Off: each map explains its own image's prediction.",
)

options = method_options(method)
st.markdown(f"**{method}**: {METHOD_NOTES[method]}")
st.caption(options_text(options))
ui.show_shift(shift, *image.shape[:2])
if is_slow(method, loaded.input_size):
    st.warning(
        f"{method} runs {loaded.arch} many times per image at {loaded.input_size} px: expect tens of seconds on a CPU."
    )

with ui.user_errors():
    pair = image_pair(image, shift, severity, seed, loaded.input_size)
    result = ui.cached_explanation(loaded.arch, loaded.variant, pair, method, same_target, options)

factor = display_factor(loaded.input_size)
for i in ui.pair_columns(shift, severity, label):
    shown = side_by_side(enlarge(pair[i], factor), enlarge(overlay(pair[i], result.attribution.maps[i]), factor), gap=4)
    st.image(shown, width="stretch")
    st.markdown("Prediction: " + prediction_text(result.logits[i], loaded.classes))
    st.caption(f"Map explains: {loaded.classes[result.attribution.target[i]]}. Left: the model's input; right: the "
               "map over it (brighter = more important; each map scaled to its own range).")

st.subheader("Drift between the two maps")
for cell, (key, (name, meaning)) in zip(st.columns(len(DRIFT_MEASURES)), DRIFT_MEASURES.items()):
    value = result.drift[key]
    cell.metric(name, "undefined" if math.isnan(value) else f"{value:.3f}", help=meaning +
                ("; undefined here because one map is constant" if math.isnan(value) else ""))
