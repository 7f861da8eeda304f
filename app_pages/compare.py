"""Compare: one image, source | shifted, a row per attribution method on a shared colour scale."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from shiftlab.app import sweep_panel, text
from shiftlab.app.compare import PairPrediction, grid_picture, overlays, row_limits
from shiftlab.app.downloads import csv_download, png_download
from shiftlab.app.explain import image_pair, method_options, options_text, slow_warning
from shiftlab.app.feedback import progress, user_errors
from shiftlab.app.heatmaps import colour_bar
from shiftlab.app.pieces import setup_page, show_shift
from shiftlab.app.sidebar import view_model, view_picture, view_sidebar
from shiftlab.app.thumbnails import display_factor, enlarge

setup_page("compare")
view = view_sidebar("model", "image", "shift", "severity", "seed", "methods", "target")
shared = st.sidebar.toggle("One colour scale per row", value=True, key="shared_scale", help=text.SCALE_HELP)
loaded = view_model(view)
picture = view_picture(view, loaded)
show_shift(view.shift, *picture.pixels.shape[:2])
for method in view.methods:
    if warning := slow_warning(method, loaded.input_size):
        st.warning(warning)

with user_errors():
    pair = image_pair(picture.pixels, view.shift, view.severity, view.seed, loaded.input_size, picture.offset)
    results = {
        method: sweep_panel.pair_explanation(view, view.variant, picture, pair, method, view.target == "source",
                                             method_options(method, loaded.input_size))
        for method in progress(view.methods, len(view.methods), "Attribution methods done")
    }
prediction = PairPrediction(next(iter(results.values())).logits, loaded.classes)
factor = display_factor(loaded.input_size)
widths = [1.2, 2, 2, 1.5]

head = st.columns(widths, vertical_alignment="center")
head[0].markdown(f"**{view.model}**  \n{picture.caption}")
for column, row, title in zip(head[1:3], (0, 1), ("Source", f"Shifted: {view.shift}, severity {view.severity}")):
    column.markdown(f"**{title}**")
    column.image(enlarge(pair[row], factor), width="stretch")
    column.markdown(" · ".join(f"{'**' if i == 0 else ''}{name} {p:.0%}{'**' if i == 0 else ''}"
                               for i, (name, p) in enumerate(prediction.top(row))))
before, after = prediction.predicted
if prediction.flipped:
    head[3].markdown(text.FLIP.format(before=before, after=after))
else:
    head[3].markdown(text.KEPT.format(before=before))
head[3].metric(f"P({before}) after", f"{prediction.source_class_after:.0%}",
               delta=f"{100 * prediction.confidence_change:+.1f} pp", help=text.CONFIDENCE_CHANGE_HELP)

grid_rows, drift_rows = [], []
for method, result in results.items():
    maps = result.attribution.maps
    limits = row_limits(maps, shared)
    pictures = overlays(pair, maps, limits, factor)
    grid_rows.append(pictures)
    drift_rows.append({"method": method, **result.drift})
    st.divider()
    cells = st.columns(widths, vertical_alignment="center")
    cells[0].markdown(f"**`{method}`**  \n{text.METHOD_TITLES[method]}")
    with cells[0].popover("What is this?"):
        st.markdown(text.METHOD_NOTES[method])
        st.caption(options_text(result.attribution.options))
    for column, shown in zip(cells[1:3], pictures):
        column.image(shown, width="stretch")
    with cells[3]:
        if shared:
            st.image(colour_bar(limits[0]), caption="one scale for both maps", width="stretch")
        else:
            st.caption("each map on its own scale")
        for key, (name, meaning) in text.DRIFT_MEASURES.items():
            value = result.drift[key]
            st.markdown(f"{name}: **{'undefined' if math.isnan(value) else f'{value:.3f}'}**", help=meaning)

st.divider()
st.caption(text.COMPARE_CAPTION.format(target=loaded.classes[next(iter(results.values())).attribution.target[0]]
                                       if view.target == "source" else "each image's own top class"))
left, right = st.columns(2)
with left:
    png_download(grid_picture(grid_rows), f"compare-{view.arch}-{view.variant}-{view.shift}-{view.severity}.png",
                 "Download the maps (PNG)")
with right:
    csv_download(pd.DataFrame(drift_rows), f"drift-{view.arch}-{view.variant}-{view.shift}-{view.severity}.csv",
                 "Download the drift figures (CSV)")
