"""shiftlab — home page: the model zoo and a first prediction on a shipped or uploaded image."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from shiftlab.app import ui
from shiftlab.errors import ShiftlabError
from shiftlab.images import fit_to_model, load_image
from shiftlab.inference import predict_logits, top_k
from shiftlab.models import list_variants
from shiftlab.zoo.tables import zoo_rows

st.set_page_config(page_title="shiftlab", page_icon="🔬", layout="wide")


def zoo_section() -> None:
    st.subheader("Model zoo")
    rows = pd.DataFrame(zoo_rows())
    measured = rows[rows["accuracy"].notna()].copy()
    percent_columns = ["accuracy", "corruption_accuracy", "pgd20_accuracy"]
    measured[percent_columns] = measured[percent_columns] * 100  # shown as 91.03%, two decimals like the README
    st.dataframe(
        measured[["model", "variant", "accuracy", "macro_f1", "ece", "nll", "corruption_accuracy", "pgd20_accuracy",
                  "epochs", "start", "description"]],
        hide_index=True,
        column_config={
            "accuracy": st.column_config.NumberColumn("accuracy", format="%.2f%%"),
            "macro_f1": st.column_config.NumberColumn("macro-F1", format="%.4f"),
            "ece": st.column_config.NumberColumn("ECE (15 bins)", format="%.4f"),
            "nll": st.column_config.NumberColumn("NLL", format="%.4f"),
            "corruption_accuracy": st.column_config.NumberColumn("corruption accuracy (15×5)", format="%.2f%%"),
            "pgd20_accuracy": st.column_config.NumberColumn("PGD-20 accuracy (ε 8/255)", format="%.2f%%"),
        },
    )
    st.caption("Measured on the full CIFAR-10 test set by `python -m shiftlab.zoo.evaluate` and read from each model's card.")
    unmeasured = rows[rows["accuracy"].isna()]
    if len(unmeasured):
        st.markdown("**Also available** (no test-set figures here: ImageNet is not shipped): " + "; ".join(
            f"`{r.model}/{r.variant}` — {r.description}" for r in unmeasured.itertuples()))


def choose_image(input_size: int, sample):
    source = st.radio("Image", ["CIFAR-10 sample", "Upload"], horizontal=True)
    if source == "Upload":
        upload = st.file_uploader("An image file (PNG, JPEG, WebP, BMP, TIFF…)")
        if upload is None:
            return None, None
        return load_image(upload.getvalue(), input_size), None
    index = st.slider("Sample image", 0, len(sample) - 1, 0)
    return fit_to_model(sample.images[index], input_size), sample.classes[sample.labels[index]]


def prediction_section() -> None:
    st.subheader("Try a model")
    options = [f"{arch} / {v}" for arch in ("resnet20", "vit_tiny", "efficientnet_lite0") for v in list_variants(arch)]
    if not options:
        st.warning("No model weights found in checkpoints/.")
        return
    arch, variant = st.selectbox("Model", options).split(" / ")
    left, right = st.columns([1, 2])
    try:
        loaded = ui.cached_model(arch, variant)
        with left:
            image, truth = choose_image(loaded.input_size, ui.cached_dataset("cifar10-sample"))
        if image is None:
            return
        ranking = top_k(predict_logits(loaded.model, image[None])[0], loaded.classes, 5)
    except ShiftlabError as exc:
        st.error(str(exc))
        return
    with left:
        st.image(image, caption=f"CIFAR-10 label: {truth}" if truth else "uploaded image", width=224)
    with right:
        chart = pd.DataFrame(ranking, columns=["class", "probability"])
        st.altair_chart(
            alt.Chart(chart).mark_bar().encode(
                x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1])), y=alt.Y("class:N", sort="-x")
            ),
            width="stretch",
        )


st.title("shiftlab")
st.write(
    "See how an image classifier behaves — and why — when its input distribution shifts. "
    "This page lists the shipped models with their measured test-set figures and runs one on an image."
)
zoo_section()
prediction_section()
