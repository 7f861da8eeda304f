"""Triptych: source, a shifted version the model keeps, one it flips — each with its prediction, the outcome and map."""

from __future__ import annotations

import numpy as np
import streamlit as st

from shiftlab.app import text
from shiftlab.app.caches import cached_maps, cached_triptych, slow_method_warning
from shiftlab.app.cases import outcome_flag
from shiftlab.app.compare import PairPrediction, grid_picture, overlays, row_limits, shown_maps
from shiftlab.app.downloads import png_download
from shiftlab.app.explain import method_options, prediction_text
from shiftlab.app.feedback import user_errors
from shiftlab.app.pieces import scale_bar, setup_page, show_shift
from shiftlab.app.sidebar import pick_absolute, pick_single_method, view_label, view_model, view_picture, view_sidebar
from shiftlab.app.thumbnails import display_factor, enlarge
from shiftlab.app.triptych import candidates_grid

setup_page("triptych")
view = view_sidebar("model", "image", "shift")
method = pick_single_method(view)
loaded = view_model(view)
picture = view_picture(view, loaded)
show_shift(view.shift, *picture.pixels.shape[:2])
if warning := slow_method_warning(view.arch, view.variant, method, images=3):
    st.warning(warning)

with user_errors(), st.spinner(f"Trying {len(candidates_grid(view.shift))} severities and seeds of {view.shift}…"):
    found = cached_triptych(view.arch, view.variant, picture.pixels, view.shift, picture.offset)
st.markdown(text.TRIPTYCH_SEARCH.format(n=len(found.candidates), shift=view.shift,
                                        kept=sum(int(c.logits.argmax()) == int(found.source_logits.argmax())
                                                 for c in found.candidates)))
if found.kept is None:
    st.info(text.TRIPTYCH_NONE.format(what="keeps", shift=view.shift))
if found.flipped is None:
    st.info(text.TRIPTYCH_NONE.format(what="flips", shift=view.shift))

panels = [("Source", found.source, found.source_logits, "the image as it is")]
panels += [(title, c.image, c.logits, f"severity {c.severity}, seed {c.seed}")
           for title, c in (("Prediction kept", found.kept), ("Prediction flipped", found.flipped)) if c is not None]
images = np.stack([p[1] for p in panels])
with user_errors():
    maps = cached_maps(view.arch, view.variant, images, method, int(found.source_logits.argmax()),
                       method_options(method, loaded.input_size))
shared = st.sidebar.toggle("One colour scale for the three maps", value=True, key="triptych_shared",
                           help=text.SCALE_HELP)
absolute = pick_absolute([method])
maps, signed = shown_maps(maps, method, absolute)
limits = row_limits(maps, shared, signed)
factor = display_factor(loaded.input_size)
shown = overlays(images, maps, limits, factor, signed)
label = view_label(picture, loaded)
# titles, images, predictions, maps and bars each in their own row of columns: a title or a prediction wrapping
# differently never shifts the pictures
for column, (title, *_) in zip(st.columns(3), panels):
    column.markdown(f"#### {title}")
for column, (_, _, _, where) in zip(st.columns(3), panels):
    column.caption(where)
for column, (_, image, _, _) in zip(st.columns(3), panels):
    column.image(enlarge(image, factor), width="stretch")
for index, (column, (_, _, logits, _)) in enumerate(zip(st.columns(3), panels)):
    if index:
        column.markdown(outcome_flag(PairPrediction(np.stack([found.source_logits, logits]),
                                                    loaded.classes).outcome(label)))
    column.markdown("Prediction: " + prediction_text(logits, loaded.classes))
for column, overlay_picture in zip(st.columns(3), shown):
    column.image(overlay_picture, width="stretch")
if shared:
    scale_bar(limits[0], signed, "one colour scale for the three maps")
else:
    for column, lim, (title, *_) in zip(st.columns(3), limits, panels):
        with column:
            scale_bar(lim, signed, text.OWN_SCALE.format(name=title))
st.caption(text.TRIPTYCH_CAPTION.format(method=method, target=loaded.classes[int(found.source_logits.argmax())]))
png_download(grid_picture([[enlarge(p[1], factor) for p in panels], shown]),
             f"triptych-{view.arch}-{view.variant}-{view.shift}.png", "Download the triptych (PNG)")
