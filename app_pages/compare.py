"""Compare: one image, source | shifted, what the shift did to the prediction, a row per attribution method on a
shared colour scale (diverging for a signed method)."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from shiftlab.app import faithfulness, sweep_panel, text
from shiftlab.app.caches import slow_method_warning
from shiftlab.app.compare import PairPrediction, grid_picture, is_signed, overlays, row_limits, shown_maps
from shiftlab.app.downloads import csv_download, png_download
from shiftlab.app.explain import image_pair, method_options, options_text
from shiftlab.app.feedback import progress, user_errors
from shiftlab.app.pieces import scale_bar, setup_page, show_outcome, show_shift, show_tracked
from shiftlab.app.sidebar import pick_absolute, view_label, view_model, view_picture, view_sidebar
from shiftlab.app.thumbnails import display_factor, enlarge

setup_page("compare")
view = view_sidebar("model", "image", "shift", "severity", "seed", "methods", "target")
shared = st.sidebar.toggle("One colour scale per row", value=True, key="shared_scale", help=text.SCALE_HELP)
absolute = pick_absolute(view.methods)
loaded = view_model(view)
picture = view_picture(view, loaded)
show_shift(view.shift, *picture.pixels.shape[:2])
for method in view.methods:
    if warning := slow_method_warning(view.arch, view.variant, method):
        st.warning(warning)

with user_errors():
    pair = image_pair(picture.pixels, view.shift, view.severity, view.seed, loaded.input_size, picture.offset)
    results = {
        method: sweep_panel.pair_explanation(view, view.variant, picture, pair, method, view.target == "source",
                                             method_options(method, loaded.input_size))
        for method in progress(view.methods, len(view.methods), "Attribution methods done")
    }
prediction = PairPrediction(next(iter(results.values())).logits, loaded.classes)
label = view_label(picture, loaded)
factor = display_factor(loaded.input_size)
# a row of images holds nothing else, so that headings wrapping differently never shift them; on a projector the two
# maps of a row take the width and the drift figures go under them
widths = [1, 1] if view.present else [2, 2, 1.5]

st.markdown(f"**{view.model}**  \n{picture.caption}")
flag, number = st.columns([3, 2], vertical_alignment="center")
with flag:
    show_outcome(prediction, label, view.present)
with number:
    show_tracked(prediction, label)
titles = ("Source", f"Shifted: {view.shift}, severity {view.severity}")
for column, title in zip(st.columns(widths), titles):
    column.markdown(f"**{title}**")
for column, row in zip(st.columns(widths), (0, 1)):
    column.image(enlarge(pair[row], factor), width="stretch")
for column, row in zip(st.columns(widths), (0, 1)):
    column.markdown(" · ".join(f"{'**' if i == 0 else ''}{name} {p:.0%}{'**' if i == 0 else ''}"
                               for i, (name, p) in enumerate(prediction.top(row))))


def drift_figures(drift: dict[str, float]) -> None:
    """Each drift measure of a row with its value and what it means."""
    for key, (name, meaning) in text.DRIFT_MEASURES.items():
        value = drift[key]
        st.markdown(f"{name}: **{'undefined' if math.isnan(value) else f'{value:.3f}'}**", help=meaning)


def scales(columns: list, limits: list[tuple[float, float]], signed: bool) -> None:
    """The row's colour bar in the first of ``columns``, or, when each map has its own scale, one per map, each
    in its column."""
    if shared:
        with columns[0]:
            scale_bar(limits[0], signed, text.ONE_SCALE)
        return
    for column, lim, title in zip(columns, limits, ("source", "shifted")):
        with column:
            scale_bar(lim, signed, text.OWN_SCALE.format(name=title))


measured = faithfulness.measure(loaded.arch, view.variant, pair, results)
grid_rows, drift_rows = [], []
for method, result in results.items():
    maps, signed = shown_maps(result.attribution.maps, method, absolute)
    limits = row_limits(maps, shared, signed)
    pictures = overlays(pair, maps, limits, factor, signed)
    grid_rows.append(pictures)
    drift_rows.append({"method": method, **result.drift})
    st.divider()
    title = text.METHOD_TITLES[method]
    st.markdown(f"**{title}**" if view.present else f"**`{method}`** · {title}")
    cells = st.columns(widths)
    for column, shown in zip(cells, pictures):
        column.image(shown, width="stretch")
    scales(st.columns(widths) if view.present else [cells[-1]] * 2, limits, signed)
    with cells[-1] if not view.present else st.container(horizontal=True):
        drift_figures(result.drift)
        wanted = bool(measured) and faithfulness.show_figures(measured.get(method), method)
    if not view.present:
        with cells[-1].popover("What is this?"):
            st.markdown(text.METHOD_NOTES[method])
            st.caption(options_text(result.attribution.options))
    if wanted:
        faithfulness.show_curves(measured[method])

signed_methods = [text.METHOD_TITLES[m] for m in view.methods if is_signed(m)]
if signed_methods and not absolute:
    st.caption(text.SIGNED_CAPTION.format(methods=", ".join(signed_methods)))
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
