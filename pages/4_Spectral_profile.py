"""Spectral profile: the image scales (coarse shape to fine texture) a prediction rests on, before and after a shift."""

from __future__ import annotations

import streamlit as st

from shiftlab.app import ui
from shiftlab.app.charts import spectral_levels_chart, spectral_subbands_chart
from shiftlab.app.explain import WCAM_DESIGNS, image_pair, is_slow, method_options, prediction_text, wcam_choices
from shiftlab.app.heatmaps import colorize, outline_bands, overlay
from shiftlab.app.thumbnails import display_factor, enlarge, side_by_side

METHOD = "wcam"

ui.setup_page(
    "Spectral profile",
    "WCAM (Kasmi et al. 2023) measures how much the predicted probability depends on each wavelet coefficient, "
    "that is on each position at each scale of the image. Compare where the evidence sits before and after a shift.",
)
st.markdown(
    "**How to read it.** The square on the left of each pair is the image's wavelet transform: the small top-left "
    "block is a blurred miniature of the image, and each larger L-shaped band holds finer detail (horizontal edges "
    "below, vertical edges to the right, diagonal ones in the corner), bright where the prediction depends on it. "
    "The bars add that importance up per scale, coarse to fine: weight on the coarse levels means the model uses "
    "shape and layout, weight on the finest level means it uses texture and fine detail, which noise and blur "
    "destroy first."
)
setup = ui.pick_image_setup()
loaded, image, label, shift, severity, seed = (
    setup.loaded, setup.image, setup.label, setup.shift, setup.severity, setup.seed
)
grids, default_designs = wcam_choices(loaded.input_size)
grid_size = st.sidebar.select_slider("WCAM grid size", grids, value=grids[0], key="grid_size")
nb_design = st.sidebar.select_slider("WCAM Sobol designs", list(WCAM_DESIGNS), value=default_designs, key="nb_design")
options = method_options(METHOD, grid_size=grid_size, nb_design=nb_design)
levels = options["levels"]

ui.show_shift(shift, *image.shape[:2])
st.caption(f"The model runs nb_design × (grid_size² + 2) = {nb_design * (grid_size**2 + 2):,} times per image.")
if is_slow(METHOD, loaded.input_size):
    st.warning(f"{loaded.arch} takes {loaded.input_size}-px input: WCAM takes tens of seconds per image on a CPU.")

with ui.user_errors(), st.spinner("Running WCAM on the source and the shifted image…"):
    pair = image_pair(image, shift, severity, seed, loaded.input_size)
    result = ui.cached_explanation(loaded.arch, loaded.variant, pair, METHOD, True, options)
extras = result.attribution.extras

factor = display_factor(loaded.input_size)
for i in ui.pair_columns(shift, severity, label):
    wavelet = outline_bands(enlarge(colorize(extras["wavelet_map"][i]), factor), levels)
    spatial = enlarge(overlay(pair[i], result.attribution.maps[i]), factor)
    st.image(side_by_side(wavelet, spatial, gap=4), width="stretch")
    st.markdown("Prediction: " + prediction_text(result.logits[i], loaded.classes))
st.caption(
    f"Left: the WCAM in the wavelet domain ({levels} Haar levels, sub-bands outlined); right: the same importance "
    f"projected back onto the pixels. Both explain the class predicted on the source image, "
    f"{loaded.classes[result.attribution.target[0]]}; each map is scaled to its own range."
)

st.subheader("Spectral profile")
left, right = st.columns([2, 3])
with left:
    st.markdown("**Share of importance per level**")
    st.altair_chart(spectral_levels_chart(extras["spectral_levels"]), width="stretch")
with right:
    st.markdown("**Detail levels split by orientation**")
    st.altair_chart(spectral_subbands_chart(extras["spectral_subbands"]))
