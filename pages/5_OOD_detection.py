"""OOD detection: can the model's own scores tell its test images from images of another dataset?"""

from __future__ import annotations

import streamlit as st

from shiftlab.app import ui
from shiftlab.app.charts import score_histogram
from shiftlab.app.experiment import labels_apply, ood_summary
from shiftlab.app.text import SCORE_LABELS
from shiftlab.app.thumbnails import display_factor, enlarge
from shiftlab.metrics.ood import TPR_LEVEL
from shiftlab.shifts import SEVERITIES, get_shift

EXAMPLES = 10

ui.setup_page(
    "OOD detection",
    "A classifier always answers, even for an image of something it was never trained on. Scores computed from its "
    "logits can flag such out-of-distribution (OOD) images; here each score is oriented so that higher = more OOD. "
    "The better a score separates the two histograms, the more reliably the model can say \"I don't know\".",
)
loaded = ui.pick_model()
dataset = ui.pick_dataset()
ood_set = ui.pick_shift(kinds=("dataset",), default="ood_cifar100_sample", label="Out-of-distribution set")
seed = int(st.sidebar.number_input("Seed", min_value=0, value=0, step=1, key="seed"))
severity = max(SEVERITIES)

with ui.user_errors():
    data = ui.evaluation_images(dataset, loaded.input_size)
    logits_in = ui.cached_logits(loaded.arch, loaded.variant, dataset)
    logits_out = ui.cached_logits(loaded.arch, loaded.variant, dataset, ood_set, severity, seed)
    ood_images = ui.cached_shifted(dataset, loaded.input_size, ood_set, severity, seed)
    table = ood_summary(logits_in, logits_out)

record = get_shift(ood_set)
st.markdown(
    f"In-distribution: {len(data):,} images of `{dataset}`. Out-of-distribution: `{ood_set}` at severity {severity}, "
    f"where {record.params[severity]['fraction']:.0%} of the images are replaced by "
    f"`{record.params[severity]['source']}` images (seed {seed})."
)
if not labels_apply(loaded.classes, data.classes):
    st.info(f"{loaded.name} was not trained on the classes of `{dataset}`: neither set is in-distribution for it.")
ui.note_subset(loaded, data)

factor = display_factor(ood_images.shape[1], target=64)
st.image([enlarge(image, factor) for image in ood_images[:EXAMPLES]])
st.caption(f"The first {len(ood_images[:EXAMPLES])} OOD images, at the resolution of the in-distribution images.")

st.subheader("Detection figures")
st.dataframe(
    table.rename(index=SCORE_LABELS),
    column_config={
        "auroc": st.column_config.NumberColumn("AUROC", format="%.3f", help="1 = perfect separation, 0.5 = chance"),
        "aupr_in": st.column_config.NumberColumn("AUPR-in", format="%.3f", help="in-distribution as the positive class"),
        "aupr_out": st.column_config.NumberColumn("AUPR-out", format="%.3f", help="OOD as the positive class"),
        "fpr_at_95_tpr": st.column_config.NumberColumn(
            f"FPR at {TPR_LEVEL:.0%} TPR",
            format="%.3f",
            help=f"share of OOD images still accepted when {TPR_LEVEL:.0%} of in-distribution ones are",
        ),
    },
)
for column, score in zip(st.columns(len(SCORE_LABELS)), SCORE_LABELS):
    column.altair_chart(score_histogram(logits_in, logits_out, score), width="stretch")
