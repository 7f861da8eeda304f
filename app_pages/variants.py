"""Variants: one shifted image through every training variant of an architecture, with each one's map."""

from __future__ import annotations

import numpy as np
import streamlit as st

from shiftlab.app import charts, sweep_panel, text, ui
from shiftlab.app.compare import PairPrediction, grid_picture, overlays, row_limits
from shiftlab.app.explain import image_pair, method_options, slow_warning
from shiftlab.app.heatmaps import colour_bar
from shiftlab.app.thumbnails import display_factor, enlarge

ui.setup_page("variants")
view = ui.view_sidebar("model", "image", "shift", "severity", "seed", variant=False)
method = ui.pick_single_method(view)
shared = st.sidebar.toggle("One colour scale for every variant", value=True, key="variants_shared",
                           help=text.SCALE_HELP)
variants = ui.variants_of(view.arch)
loaded = ui.view_model(view)
picture = ui.view_picture(view, loaded)
ui.show_shift(view.shift, *picture.pixels.shape[:2])
if warning := slow_warning(method, loaded.input_size):
    st.warning(warning)

with ui.user_errors():
    pair = image_pair(picture.pixels, view.shift, view.severity, view.seed, loaded.input_size, picture.offset)
    results = {
        variant: sweep_panel.pair_explanation(view, variant, picture, pair, method, True,
                                              method_options(method, loaded.input_size))
        for variant in ui.progress(variants, len(variants), f"{method} maps done")
    }
factor = display_factor(loaded.input_size)
left, right, _ = st.columns([1, 1, 2])
left.image(enlarge(pair[0], factor), caption=f"source · {picture.caption}", width="stretch")
right.image(enlarge(pair[1], factor), caption=f"{view.shift}, severity {view.severity}, seed {view.seed}",
            width="stretch")

maps = np.stack([result.attribution.maps[1] for result in results.values()])
limits = row_limits(maps, shared)
shown = overlays(np.repeat(pair[1:], len(maps), axis=0), maps, limits, factor)
kept = 0
for column, (variant, result), overlay_picture in zip(st.columns(len(variants)), results.items(), shown):
    prediction = PairPrediction(result.logits, loaded.classes)
    before, after = prediction.predicted
    kept += not prediction.flipped
    with column:
        st.markdown(f"**`{variant}`**")
        if prediction.flipped:
            st.markdown(f":red[**flipped**] {before} → **{after}**")
        else:
            st.markdown(f":green[**kept**] **{after}**")
        st.caption(f"P({before}): {prediction.probabilities[0].max():.0%} → {prediction.source_class_after:.0%}")
        st.image(overlay_picture, width="stretch")
        if method == "wcam":
            st.altair_chart(charts.spectral_levels_chart(result.attribution.extras["spectral_levels"], narrow=True),
                            width="stretch")
if shared:
    st.image(colour_bar(limits[0]), caption="one colour scale for every variant", width=320)
st.markdown(text.VARIANTS_SUMMARY.format(kept=kept, n=len(variants), shift=view.shift, severity=view.severity))
st.caption(text.VARIANTS_CAPTION.format(method=method))
ui.png_download(grid_picture([shown]), f"variants-{view.arch}-{view.shift}-{view.severity}.png",
                "Download the maps (PNG)")
