"""OOD detection: can the model's own scores tell its test images from another dataset's, and do its maps change?"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from shiftlab.app import charts, ood, sweep_panel, text
from shiftlab.app.caches import cached_shifted, evaluation_images
from shiftlab.app.columns import drift_columns, ood_columns, summary_columns
from shiftlab.app.compare import grid_picture
from shiftlab.app.downloads import csv_download, png_download
from shiftlab.app.experiment import labels_apply
from shiftlab.app.feedback import progress, user_errors
from shiftlab.app.pieces import note_labels, note_subset, setup_page
from shiftlab.app.sidebar import pick_dataset, pick_ood_set, variants_of, view_model, view_sidebar
from shiftlab.app.thumbnails import display_factor, enlarge

EXAMPLES = 10

setup_page("ood")
view = view_sidebar("model", "seed", "methods", "target")
dataset = pick_dataset(view)
ood_set = pick_ood_set(view.present)
loaded = view_model(view)
with user_errors():  # what no store holds, computed first: a long computation says its estimate before it starts
    sweep_panel.prepare_ood(view.arch, view.variant, variants_of(view.arch), dataset, ood_set, view.seed,
                            view.methods, view.target == "source")
    data = evaluation_images(dataset, loaded.input_size)
    scores_in, scores_out = sweep_panel.ood_scores(view.arch, view.variant, dataset, ood_set, view.seed)
    ood_images = cached_shifted(dataset, loaded.input_size, ood_set, ood.SEVERITY, view.seed)
    table = ood.detection_table(scores_in, scores_out)

labelled = labels_apply(loaded.classes, data.classes)
st.markdown(ood.describe(ood_set, dataset, len(data), view.seed))
note_labels(loaded, data)
note_subset(loaded, data)
factor = display_factor(ood_images.shape[1], target=64)
examples = [enlarge(image, factor) for image in ood_images[:EXAMPLES]]
st.image(examples)
st.caption(f"The first {len(examples)} OOD images, at the resolution of the in-distribution images.")
png_download(grid_picture([examples]), f"ood-examples-{ood_set}.png", "Download the examples (PNG)")

st.subheader("Detection figures")
st.dataframe(table.rename(index=text.SCORE_LABELS), column_config=ood_columns())
csv_download(table.reset_index(), f"ood-{view.arch}-{view.variant}-{ood_set}.csv", "Download the figures (CSV)")
for column, score in zip(st.columns(len(text.SCORE_LABELS)), text.SCORE_LABELS):
    column.altair_chart(charts.score_histogram(scores_in[score], scores_out[score], score), width="stretch")

st.subheader("Do the maps change on OOD images?")
st.markdown(text.OOD_DRIFT.format(n=ood.DRIFT_IMAGES))
with user_errors():
    drift = {method: sweep_panel.ood_drift(view.arch, view.variant, dataset, ood_set, view.seed, method,
                                           view.target == "source")
             for method in view.methods}
drift_table = ood.drift_table(drift)
st.dataframe(drift_table, hide_index=True, column_config=drift_columns())
csv_download(drift_table, f"ood-drift-{view.arch}-{view.variant}-{ood_set}.csv", "Download the drift (CSV)")

st.subheader(f"Every {view.arch} variant: the reference project's table, recomputed")
rows = []
variants = variants_of(view.arch)
with user_errors():
    for variant in progress(variants, len(variants), "Variants done"):
        figures = sweep_panel.ood_id_figures(view.arch, variant, dataset, view.seed, ood_set) if labelled else None
        gradcam = sweep_panel.ood_drift(view.arch, variant, dataset, ood_set, view.seed, "gradcam",
                                        view.target == "source")
        rows.append(ood.summary_row(variant, figures,
                                    *sweep_panel.ood_scores(view.arch, variant, dataset, ood_set, view.seed), gradcam))
summary = pd.DataFrame(rows)
st.dataframe(summary, hide_index=True, column_config=summary_columns())
st.caption(text.OOD_SUMMARY_NOTE.format(dataset=dataset, ood_set=ood_set, n=ood.DRIFT_IMAGES))
if dataset == sweep_panel.SHIPPED_DATA:
    st.caption(text.OOD_FROM_STORE)
csv_download(summary, f"ood-summary-{view.arch}-{ood_set}.csv", "Download the table (CSV)")
