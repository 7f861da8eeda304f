"""Variants: one shifted image through every training variant of an architecture, with each one's map."""

from __future__ import annotations

import numpy as np
import streamlit as st

from shiftlab.app import charts, sweep_panel, text
from shiftlab.app.compare import PairPrediction, grid_picture, overlays, row_limits
from shiftlab.app.downloads import png_download
from shiftlab.app.explain import image_pair, method_options, slow_warning
from shiftlab.app.feedback import progress, user_errors
from shiftlab.app.heatmaps import colour_bar
from shiftlab.app.pieces import setup_page, show_shift
from shiftlab.app.sidebar import pick_single_method, variants_of, view_model, view_picture, view_sidebar
from shiftlab.app.thumbnails import display_factor, enlarge

setup_page("variants")
view = view_sidebar("model", "image", "shift", "severity", "seed", variant=False)
method = pick_single_method(view)
shared = st.sidebar.toggle("One colour scale for every variant", value=True, key="variants_shared",
                           help=text.SCALE_HELP)
variants = variants_of(view.arch)
loaded = view_model(view)
picture = view_picture(view, loaded)
show_shift(view.shift, *picture.pixels.shape[:2])
if warning := slow_warning(method, loaded.input_size):
    st.warning(warning)

with user_errors():
    pair = image_pair(picture.pixels, view.shift, view.severity, view.seed, loaded.input_size, picture.offset)
    results = {
        variant: sweep_panel.pair_explanation(view, variant, picture, pair, method, True,
                                              method_options(method, loaded.input_size))
        for variant in progress(variants, len(variants), f"{method} maps done")
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
            st.altair_chart(charts.spectral_levels_chart(result.attribution.extras.spectral_levels, narrow=True),
                            width="stretch")
if shared:
    st.image(colour_bar(limits[0]), caption="one colour scale for every variant", width=320)
st.markdown(text.VARIANTS_SUMMARY.format(kept=kept, n=len(variants), shift=view.shift, severity=view.severity))
st.caption(text.VARIANTS_CAPTION.format(method=method))
png_download(grid_picture([shown]), f"variants-{view.arch}-{view.shift}-{view.severity}.png",
             "Download the maps (PNG)")
