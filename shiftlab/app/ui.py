"""Streamlit building blocks shared by the pages: setup, error handling, cached loaders, sidebar pickers.

The pages in ``pages/`` hold layout only. What several of them need — a model
loaded once, the cached logits of an experiment, the sidebar pickers of model,
dataset, shift and image, a grid of source | shifted thumbnails — is written
once here. The computations themselves live in ``shiftlab.app.experiment``,
``shiftlab.app.cases``, ``shiftlab.app.explain``, ``shiftlab.app.charts`` and
``shiftlab.app.heatmaps``, which do not import Streamlit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import streamlit as st

from shiftlab.app.cases import case_caption
from shiftlab.app.experiment import (
    LARGE_INPUT_PER_CLASS,
    LARGE_INPUT_SIDE,
    ShiftComparison,
    compare,
    evaluation_set,
    labels_apply,
    metric_name,
    predict,
    severity_table,
)
from shiftlab.app.explain import PairExplanation, explain_pair
from shiftlab.app.thumbnails import display_factor, enlarge, side_by_side
from shiftlab.data import ImageDataset, load_dataset
from shiftlab.errors import DatasetFormatError, DatasetNotFoundError, ShiftlabError
from shiftlab.images import load_image
from shiftlab.models import LoadedModel, get_spec, list_models, list_variants, load_model
from shiftlab.shifts import SEVERITIES, apply, get_shift, list_shifts
from shiftlab.shifts.params import table_for

SAMPLE = "cifar10-sample"
FULL = "cifar10"
#: the dataset whose models the pages prefer
PREFERRED_DATASET = "cifar10"
#: shift kinds that keep an image's class (dataset shifts replace images: the OOD page's business)
CLASS_PRESERVING = ("corruption", "edit")
#: the benchmark each corruption parameter table comes from (``shiftlab.shifts.params.table_for``)
PARAMETER_TABLES = {"cifar": "CIFAR-10-C", "imagenet": "ImageNet-C"}


def setup_page(title: str, intro: str) -> None:
    """Page config (wide layout), title and a one-paragraph introduction."""
    st.set_page_config(page_title=f"{title} · shiftlab", page_icon="🔬", layout="wide")
    st.title(title)
    st.write(intro)


@contextmanager
def user_errors() -> Iterator[None]:
    """Show any ``ShiftlabError`` raised inside as an error message and stop the page: no traceback for a user's mistake."""
    try:
        yield
    except ShiftlabError as exc:
        st.error(str(exc))
        st.stop()


@st.cache_resource(show_spinner="Loading model…")
def cached_model(arch: str, variant: str) -> LoadedModel:
    """``load_model`` once per process."""
    return load_model(arch, variant)


@st.cache_resource(show_spinner="Loading images…")
def cached_dataset(name: str) -> ImageDataset:
    """``load_dataset(name)`` (test split) once per process."""
    return load_dataset(name)


def evaluation_images(dataset: str, input_size: int) -> ImageDataset:
    """The images an experiment on ``dataset`` runs on for a model of this input size."""
    return evaluation_set(cached_dataset(dataset), input_size)


@st.cache_data(show_spinner="Shifting images…", max_entries=32)
def cached_shifted(dataset: str, input_size: int, shift: str, severity: int, seed: int) -> np.ndarray:
    """The evaluation images of ``dataset`` after ``shift`` (at their own resolution)."""
    return apply(shift, evaluation_images(dataset, input_size).images, severity, seed)


@st.cache_data(show_spinner="Running the model…", max_entries=256)
def cached_logits(
    arch: str, variant: str, dataset: str, shift: str | None = None, severity: int = 1, seed: int = 0
) -> np.ndarray:
    """Logits of a model on the evaluation images, unshifted (``shift=None``) or shifted."""
    loaded = cached_model(arch, variant)
    if shift is None:
        images = evaluation_images(dataset, loaded.input_size).images
    else:
        images = cached_shifted(dataset, loaded.input_size, shift, severity, seed)
    return predict(loaded, images)


def shift_comparison(loaded: LoadedModel, dataset: str, shift: str, severity: int, seed: int) -> ShiftComparison:
    """Source vs shifted predictions of ``loaded`` on the evaluation images (cached)."""
    data = evaluation_images(dataset, loaded.input_size)
    source = cached_logits(loaded.arch, loaded.variant, dataset)
    shifted = cached_logits(loaded.arch, loaded.variant, dataset, shift, severity, seed)
    return compare(data.labels, labels_apply(loaded.classes, data.classes), source, shifted)


@st.cache_data(show_spinner="Computing attributions…", max_entries=64)
def cached_explanation(
    arch: str, variant: str, pair: np.ndarray, method: str, same_target: bool, options: dict
) -> PairExplanation:
    """``explain_pair`` of a (source, shifted) pair, cached on the pair's pixels and every option."""
    return explain_pair(cached_model(arch, variant), pair, method, same_target, **options)


def model_choices() -> list[tuple[str, str]]:
    """(arch, variant) of every model with weights here: CIFAR-10 models first, then the others."""
    found = [(arch, variant) for arch in list_models() for variant in list_variants(arch)]
    return sorted(found, key=lambda model: get_spec(model[0]).dataset != PREFERRED_DATASET)


def pick_model() -> LoadedModel:
    """Sidebar model picker (the first CIFAR-10 model by default); loads the model."""
    choices = model_choices()
    arch, variant = st.sidebar.selectbox("Model", choices, format_func=" / ".join, key="model")
    if get_spec(choices[0][0]).dataset != PREFERRED_DATASET:
        st.sidebar.info(f"No {PREFERRED_DATASET} model weights in checkpoints/ yet: the pages fall back to {choices[0][0]}.")
    with user_errors():
        return cached_model(arch, variant)


def _dataset_label(name: str) -> str:
    kind = "sample" if name == SAMPLE else "test set"
    return f"CIFAR-10 {kind} · {len(cached_dataset(name)):,}"


def dataset_choices() -> list[str]:
    """The embedded CIFAR-10 sample, plus the full CIFAR-10 test set when ``load_dataset`` finds it."""
    try:
        cached_dataset(FULL)
    except DatasetNotFoundError:
        return [SAMPLE]
    except DatasetFormatError as exc:
        st.sidebar.warning(f"The full CIFAR-10 test set is unusable: {exc}")
        return [SAMPLE]
    return [SAMPLE, FULL]


def pick_dataset() -> str:
    """Sidebar dataset picker."""
    return st.sidebar.selectbox("Images", dataset_choices(), format_func=_dataset_label, key="dataset")


def pick_shift(kinds: tuple[str, ...] = CLASS_PRESERVING, default: str = "gaussian_noise", label: str = "Shift") -> str:
    """Sidebar picker of the shifts of ``kinds`` whose data are here."""
    names = [name for kind in kinds for name in list_shifts(kind=kind, available_only=True)]
    index = names.index(default) if default in names else 0
    kinds_text = " and ".join(kinds)
    return st.sidebar.selectbox(label, names, index=index, key="shift", help=f"Every {kinds_text} shift available here.")


def pick_severity_and_seed(default_severity: int = 3) -> tuple[int, int]:
    """Sidebar severity slider and seed input (the seed fixes every random draw of the shift)."""
    severity = st.sidebar.slider("Severity", min(SEVERITIES), max(SEVERITIES), default_severity, key="severity")
    seed = st.sidebar.number_input("Seed", min_value=0, value=0, step=1, key="seed")
    return severity, int(seed)


@dataclass(frozen=True)
class ImageSetup:
    """The sidebar choices of a one-image page: model, image (and its label, if any), shift, severity, seed."""

    loaded: LoadedModel
    image: np.ndarray
    label: str | None
    shift: str
    severity: int
    seed: int


def pick_image_setup() -> ImageSetup:
    """Sidebar pickers shared by the one-image pages (Explain, Spectral profile)."""
    loaded = pick_model()
    with user_errors():
        sample = cached_dataset(SAMPLE)
    image, label = pick_image(sample, loaded.input_size)
    shift = pick_shift()
    severity, seed = pick_severity_and_seed()
    return ImageSetup(loaded, image, label, shift, severity, seed)


def show_shift(name: str, height: int, width: int) -> None:
    """The shift's one-line description and, folded, the parameters of each severity at this image size."""
    record = get_shift(name)
    st.markdown(f"**{name}** ({record.kind}, {record.family}): {record.description}")
    table = f", {PARAMETER_TABLES[table_for(height, width)]} table" if record.resolution_aware else ""
    with st.expander(f"Severity parameters at {height}×{width} px{table}"):
        st.dataframe(severity_table(name, height, width))


def note_labels(loaded: LoadedModel, data: ImageDataset) -> None:
    """Say so when the dataset's labels cannot score the model (its classes are not the dataset's)."""
    if not labels_apply(loaded.classes, data.classes):
        st.info(
            f"{loaded.name} predicts {len(loaded.classes):,} classes that are not the dataset's, so its labels cannot "
            f"score it: the page shows {metric_name(False)}, the share of images whose prediction the shift left "
            "unchanged, instead of accuracy."
        )


def note_subset(loaded: LoadedModel, data: ImageDataset) -> None:
    """Say so when a large-input model runs on only the first few images of each class."""
    if loaded.input_size > LARGE_INPUT_SIDE:
        st.info(
            f"{loaded.name} takes {loaded.input_size}-px input, slow on a CPU: the page uses the first "
            f"{LARGE_INPUT_PER_CLASS} images of each class ({len(data):,} images)."
        )


@dataclass(frozen=True)
class ShiftExperiment:
    """What the sidebar picked for a shift experiment, and its (cached) results."""

    loaded: LoadedModel
    dataset: str
    shift: str
    severity: int
    seed: int
    data: ImageDataset
    comparison: ShiftComparison
    shifted_images: np.ndarray


def shift_experiment(default_severity: int = 3) -> ShiftExperiment:
    """Sidebar pickers of model, images, shift, severity and seed; runs the experiment and introduces it on the page."""
    loaded = pick_model()
    dataset = pick_dataset()
    shift = pick_shift()
    severity, seed = pick_severity_and_seed(default_severity)
    with user_errors():
        data = evaluation_images(dataset, loaded.input_size)
        comparison = shift_comparison(loaded, dataset, shift, severity, seed)
        shifted_images = cached_shifted(dataset, loaded.input_size, shift, severity, seed)
    show_shift(shift, *data.images.shape[1:3])
    note_labels(loaded, data)
    note_subset(loaded, data)
    return ShiftExperiment(loaded, dataset, shift, severity, seed, data, comparison, shifted_images)


def pair_columns(shift: str, severity: int, label: str | None) -> Iterator[int]:
    """Two columns headed "Source" and "Shifted"; yields 0 then 1 while inside the first, then the second column."""
    suffix = f" — label **{label}**" if label else ""
    for i, (column, title) in enumerate(zip(st.columns(2), ("Source", f"Shifted: {shift}, severity {severity}"))):
        with column:
            st.markdown(f"**{title}**{suffix}")
            yield i


def pick_image(sample: ImageDataset, size: int) -> tuple[np.ndarray, str | None]:
    """Sidebar choice of a sample image or an upload; returns the image and its label (None for an upload).

    A sample image keeps its own resolution; an upload is decoded and resized to the model's ``size``.
    """
    source = st.sidebar.radio("Image", ["CIFAR-10 sample", "Upload"], horizontal=True, key="image_source")
    if source == "Upload":
        upload = st.sidebar.file_uploader("An image file (PNG, JPEG, WebP, BMP, TIFF…)", key="upload")
        if upload is None:
            st.info("Upload an image in the sidebar.")
            st.stop()
        with user_errors():
            return load_image(upload.getvalue(), size), None
    index = st.sidebar.slider("Sample image", 0, len(sample) - 1, 0, key="image_index")
    return sample.images[index], sample.classes[sample.labels[index]]


def pair_grid(
    comparison: ShiftComparison,
    data: ImageDataset,
    shifted: np.ndarray,
    indices: np.ndarray,
    model_classes: list[str],
    columns: int = 5,
) -> None:
    """A grid of source | shifted thumbnails with labels and source → shifted predictions."""
    factor = display_factor(data.images.shape[1], target=96)
    grid = st.grid(columns, min_column_width=150)
    for i in indices:
        with grid.cell():
            pair = side_by_side(enlarge(data.images[i], factor), enlarge(shifted[i], factor))
            st.image(pair, width="stretch")
            st.markdown(case_caption(comparison, int(i), model_classes, data.classes[data.labels[i]]))
