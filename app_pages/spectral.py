"""Spectral profile: the image scales (coarse shape to fine texture) a prediction rests on, before and after a shift."""

from __future__ import annotations

import streamlit as st

from shiftlab.app import text, ui
from shiftlab.app.charts import spectral_levels_chart, spectral_subbands_chart
from shiftlab.app.compare import grid_picture
from shiftlab.app.explain import WCAM_DESIGNS, image_pair, method_options, prediction_text, slow_warning, wcam_choices
from shiftlab.app.heatmaps import colorize, outline_bands, overlay
from shiftlab.app.thumbnails import display_factor, enlarge, side_by_side

METHOD = "wcam"

ui.setup_page("spectral")
st.markdown(text.SPECTRAL_GUIDE)
view = ui.view_sidebar("model", "image", "shift", "severity", "seed")
loaded = ui.view_model(view)
picture = ui.view_picture(view, loaded)
image, shift, severity, seed = picture.pixels, view.shift, view.severity, view.seed
grids, default_designs = wcam_choices(loaded.input_size)
grid_size = st.sidebar.select_slider("WCAM grid size", grids, value=grids[0], key="grid_size")
nb_design = st.sidebar.select_slider("WCAM Sobol designs", list(WCAM_DESIGNS), value=default_designs, key="nb_design")
options = method_options(METHOD, grid_size=grid_size, nb_design=nb_design)
levels = options["levels"]

ui.show_shift(shift, *image.shape[:2])
st.caption(f"The model runs nb_design × (grid_size² + 2) = {nb_design * (grid_size**2 + 2):,} times per image.")
if warning := slow_warning(METHOD, loaded.input_size):
    st.warning(warning)

with ui.user_errors(), st.spinner("Running WCAM on the source and the shifted image…"):
    pair = image_pair(image, shift, severity, seed, loaded.input_size)
    result = ui.cached_explanation(loaded.arch, loaded.variant, pair, METHOD, True, options)
extras = result.attribution.extras

factor = display_factor(loaded.input_size)
shown = []
for i, (column, title) in enumerate(zip(st.columns(2), ("Source", f"Shifted: {shift}, severity {severity}"))):
    wavelet = outline_bands(enlarge(colorize(extras["wavelet_map"][i]), factor), levels)
    spatial = enlarge(overlay(pair[i], result.attribution.maps[i]), factor)
    shown.append(side_by_side(wavelet, spatial, gap=4))
    column.markdown(f"**{title}** — {picture.caption}")
    column.image(shown[-1], width="stretch")
    column.markdown("Prediction: " + prediction_text(result.logits[i], loaded.classes))
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
ui.png_download(grid_picture([shown]), f"wcam-{view.arch}-{view.variant}-{shift}-{severity}.png", "Download the maps (PNG)")
