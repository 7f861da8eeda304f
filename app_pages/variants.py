"""Variants: one shifted image through every training variant of an architecture, with each one's map."""

from __future__ import annotations

import numpy as np
import streamlit as st

from shiftlab.app import charts, sweep_panel, text
from shiftlab.app.caches import slow_method_warning
from shiftlab.app.cases import outcome_flag
from shiftlab.app.compare import PairPrediction, grid_picture, overlays, row_limits, shown_maps
from shiftlab.app.downloads import png_download
from shiftlab.app.explain import image_pair, method_options
from shiftlab.app.feedback import progress, user_errors
from shiftlab.app.pieces import scale_bar, setup_page, show_shift
from shiftlab.app.sidebar import (
    pick_absolute,
    pick_single_method,
    variants_of,
    view_label,
    view_model,
    view_picture,
    view_sidebar,
)
from shiftlab.app.thumbnails import display_factor, enlarge

#: variants side by side: three keep each map at least 160 px wide on a 1024-px screen with the sidebar open
PER_ROW = 3

setup_page("variants")
view = view_sidebar("model", "image", "shift", "severity", "seed", variant=False)
method = pick_single_method(view)
shared = st.sidebar.toggle("One colour scale for every variant", value=True, key="variants_shared",
                           help=text.SCALE_HELP)
absolute = pick_absolute([method])
variants = variants_of(view.arch)
loaded = view_model(view)
picture = view_picture(view, loaded)
show_shift(view.shift, *picture.pixels.shape[:2])
if warning := slow_method_warning(view.arch, view.variant, method, images=2 * len(variants)):
    st.warning(warning)

with user_errors():
    pair = image_pair(picture.pixels, view.shift, view.severity, view.seed, loaded.input_size, picture.offset)
    results = {
        variant: sweep_panel.pair_explanation(view, variant, picture, pair, method, True,
                                              method_options(method, loaded.input_size))
        for variant in progress(variants, len(variants), f"{method} maps done")
    }
factor = display_factor(loaded.input_size)
left, right, _ = st.columns(PER_ROW)
left.image(enlarge(pair[0], factor), caption=f"source · {picture.caption}", width="stretch")
right.image(enlarge(pair[1], factor), caption=f"{view.shift}, severity {view.severity}, seed {view.seed}",
            width="stretch")

maps, signed = shown_maps(np.stack([result.attribution.maps[1] for result in results.values()]), method, absolute)
limits = row_limits(maps, shared, signed)
shown = overlays(np.repeat(pair[1:], len(maps), axis=0), maps, limits, factor, signed)
label = view_label(picture, loaded)
predictions = {variant: PairPrediction(result.logits, loaded.classes) for variant, result in results.items()}
outcomes = {variant: prediction.outcome(label) for variant, prediction in predictions.items()}
# rows of PER_ROW variants (a map stays legible on a projector); names, outcomes, maps and bars each in their own row
# of columns, so that text wrapping differently never shifts the maps
for start in range(0, len(variants), PER_ROW):
    chunk = list(results)[start:start + PER_ROW]
    for column, variant in zip(st.columns(PER_ROW), chunk):
        column.markdown(f"**{variant}**" if view.present else f"**`{variant}`**")
    for column, variant in zip(st.columns(PER_ROW), chunk):
        name, after, change = predictions[variant].tracked(label)
        before_class, after_class = predictions[variant].predicted
        line = text.OUTCOME_CHANGE if before_class != after_class else text.OUTCOME_SAME
        column.markdown(f"{outcome_flag(outcomes[variant])}  \n"
                        + line.format(before=text.plain(before_class), after=text.plain(after_class)))
        column.caption(f"P({name}): {after - change:.0%} → {after:.0%}")
    for column, picture_shown in zip(st.columns(PER_ROW), shown[start:start + PER_ROW]):
        column.image(picture_shown, width="stretch")
    for column, variant, lim in zip(st.columns(PER_ROW), chunk, limits[start:start + PER_ROW]):
        with column:
            if not shared:
                scale_bar(lim, signed, text.OWN_SCALE.format(name=variant))
            if method == "wcam":
                st.altair_chart(charts.spectral_levels_chart(results[variant].attribution.extras.spectral_levels,
                                                             narrow=True), width="stretch")
if shared:
    scale_bar(limits[0], signed, "one colour scale for every variant")
if label is None:
    kept = sum(not prediction.flipped for prediction in predictions.values())
    st.markdown(text.VARIANTS_SUMMARY.format(kept=kept, n=len(variants), shift=view.shift, severity=view.severity))
else:
    correct = sum(key in ("stays_correct", "now_correct") for key in outcomes.values())
    st.markdown(text.VARIANTS_CORRECT.format(correct=correct, n=len(variants), label=text.plain(loaded.classes[label]),
                                             shift=view.shift, severity=view.severity))
st.caption(text.VARIANTS_CAPTION.format(method=method))
png_download(grid_picture([shown]), f"variants-{view.arch}-{view.shift}-{view.severity}.png",
             "Download the maps (PNG)")
