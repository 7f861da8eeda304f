"""Spectral profile: the image scales (coarse shape to fine texture) a prediction rests on, before and after a shift.

WCAM runs the model thousands of times, so the page shows the pair, its predictions and what it will take on this
server now first, and computes the WCAM when asked, in the server's job queue (once per view for every session; a
refinement reuses the run, and says its own time first too).
"""

from __future__ import annotations

import streamlit as st

from shiftlab.app import sweep_panel, text
from shiftlab.app.caches import explanation, explanation_ready, wcam_cost
from shiftlab.app.charts import spectral_levels_chart, spectral_subbands_chart
from shiftlab.app.compare import grid_picture
from shiftlab.app.downloads import png_download
from shiftlab.app.experiment import predict
from shiftlab.app.explain import (
    MAX_WCAM_DESIGN,
    PairExplanation,
    image_pair,
    method_options,
    options_text,
    prediction_text,
    refined,
)
from shiftlab.app.feedback import user_errors
from shiftlab.app.heatmaps import colorize, map_limits, outline_bands, overlay
from shiftlab.app.pieces import scale_bar, setup_page, show_shift
from shiftlab.app.sidebar import view_model, view_picture, view_sidebar
from shiftlab.app.thumbnails import display_factor, enlarge, side_by_side
from shiftlab.attribution import Attribution
from shiftlab.jobs import JobCancelled

METHOD = "wcam"

setup_page("spectral")
st.markdown(text.SPECTRAL_GUIDE)
view = view_sidebar("model", "image", "shift", "severity", "seed")
loaded = view_model(view)
picture = view_picture(view, loaded)
image, shift, severity, seed = picture.pixels, view.shift, view.severity, view.seed
options = method_options(METHOD, loaded.input_size)
levels = options["levels"]
show_shift(shift, *image.shape[:2])

with user_errors():
    pair = image_pair(image, shift, severity, seed, loaded.input_size, picture.offset)
    stored = sweep_panel.stored_explanation(view, view.variant, picture, pair, METHOD, options)
    ready = stored is not None or explanation_ready(view.arch, view.variant, pair, METHOD, True, options)
    cost = None if ready else wcam_cost(view.arch, view.variant, options)  # times the model: only if needed
shown_options = "" if view.present else options_text(options)  # an option list is no business of a class
if stored is not None:
    st.caption(text.WCAM_STORED + " " + shown_options)
elif cost is not None:
    st.caption(text.WCAM_COST.format(least=cost.passes, most=cost.max_passes, seconds=cost.seconds,
                                     max_seconds=cost.max_seconds, grid=cost.grid_size, options=shown_options))

#: views whose WCAM was asked for in this session -> refinements asked for since
refinements = st.session_state.setdefault("wcam_refinements", {})
key = (view.model, str(view.image), picture.caption, shift, severity, seed)
factor = display_factor(loaded.input_size)
titles = ("Source", f"Shifted: {shift}, severity {severity}")
if not ready and key not in refinements:
    logits = predict(loaded, pair)
    for i, (column, title) in enumerate(zip(st.columns(2), titles)):
        column.markdown(f"**{title}** — {picture.caption}")
        column.image(enlarge(pair[i], factor), width=320)
        column.markdown("Prediction: " + prediction_text(logits[i], loaded.classes))
    if st.button(text.WCAM_RUN.format(seconds=cost.seconds), type="primary", key="wcam_run"):
        refinements[key] = 0
        st.rerun()
    st.stop()


def resumable(result: PairExplanation) -> Attribution | None:
    """The run a refinement of ``result`` reuses: itself, unless it was read from the store (then run anew)."""
    return result.attribution if result.attribution.extras.resumable else None


try:
    with user_errors():
        result = stored or explanation(view.arch, view.variant, pair, METHOD, True, options)
        for _ in range(refinements.get(key, 0)):
            done = int(result.attribution.extras.nb_design.max())
            result = explanation(view.arch, view.variant, pair, METHOD, True, refined(options, done),
                                 resumable(result))
except JobCancelled as cancelled:  # back to the view before the last request: the button that asked for it
    if refinements[key]:
        refinements[key] -= 1
    else:
        del refinements[key]
    st.toast(str(cancelled))
    st.rerun()
extras = result.attribution.extras

shown = []
for i, title in enumerate(titles):  # a row per image: its wavelet and pixel maps wide enough for a projector
    wavelet = outline_bands(enlarge(colorize(extras.wavelet_map[i]), factor), levels)
    spatial = enlarge(overlay(pair[i], result.attribution.maps[i]), factor)
    shown.append(side_by_side(wavelet, spatial, gap=4))
    st.markdown(f"**{title}** — {picture.caption}")
    wavelet_column, spatial_column, column = st.columns(3)
    panels = ((wavelet_column, wavelet, extras.wavelet_map[i], text.WAVELET_SCALE),
              (spatial_column, spatial, result.attribution.maps[i], text.PIXEL_SCALE))
    for place, picture_shown, values, scale in panels:
        with place:
            st.image(picture_shown, width="stretch")
            scale_bar(map_limits(values), False, scale)
    column.markdown("Prediction: " + prediction_text(result.logits[i], loaded.classes))
    verdict = extras.verdict[i]
    column.markdown(text.CONVERGENCE.format(
        colour="green" if verdict == "stable" else "orange", verdict=verdict,
        agreement=extras.map_agreement[i], distance=extras.profile_distance[i],
        designs=int(extras.nb_design[i]), passes=int(extras.forward_passes[i])), help=text.CONVERGENCE_HELP)
st.caption(text.WCAM_CAPTION.format(levels=levels, target=loaded.classes[result.attribution.target[0]]))
designs_run = int(extras.nb_design.max())
if designs_run >= MAX_WCAM_DESIGN:
    st.caption(text.WCAM_MOST_DESIGNS.format(designs=MAX_WCAM_DESIGN))
elif st.button(text.WCAM_REFINE.format(
        designs=2 * designs_run, done=designs_run,
        seconds=wcam_cost(view.arch, view.variant, refined(options, designs_run), resumable(result)).seconds),
        key="wcam_refine"):
    refinements[key] = refinements.get(key, 0) + 1
    st.rerun()

st.subheader("Spectral profile")
left, right = st.container(), st.container()  # one above the other: the orientation facets need the width
with left:
    st.markdown("**Share of importance per level**")
    st.altair_chart(spectral_levels_chart(extras.spectral_levels, extras.spectral_levels_std), width="stretch")
    st.caption(text.ERROR_BARS)
with right:
    st.markdown("**Detail levels split by orientation**")
    st.altair_chart(spectral_subbands_chart(extras.spectral_subbands))
png_download(grid_picture([shown]), f"wcam-{view.arch}-{view.variant}-{shift}-{severity}.png",
             "Download the maps (PNG)")
