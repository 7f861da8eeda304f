"""Pieces several pages show (Streamlit): the page's heading, a shift's description, notes on the images, grids of
source | shifted pairs, the outcome of a shift with its big number, colour bars, and the Home page's first prediction.

The pages in ``app_pages/`` hold layout only; what more than one of them
draws is written once here, from the page table (``pages``), the cached
loaders (``caches``) and the view (``sidebar``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from shiftlab.app import text
from shiftlab.app.caches import cached_dataset
from shiftlab.app.cases import case_caption, outcome_flag
from shiftlab.app.compare import PairPrediction, grid_picture
from shiftlab.app.downloads import csv_download, png_download
from shiftlab.app.experiment import (
    LARGE_INPUT_PER_CLASS,
    LARGE_INPUT_SIDE,
    ShiftComparison,
    labels_apply,
    metric_name,
    model_inputs,
    predict,
    severity_table,
)
from shiftlab.app.heatmaps import colour_bar
from shiftlab.app.pages import COMPARE, page_named
from shiftlab.app.sidebar import PAGE_KEY
from shiftlab.app.thumbnails import display_factor, enlarge, side_by_side
from shiftlab.app.tour import tour_panel
from shiftlab.app.view import ImageRef, View
from shiftlab.data import ImageDataset
from shiftlab.inference import top_k as top_k_classes
from shiftlab.models import LoadedModel, models_file_problem
from shiftlab.shifts import apply, get_shift
from shiftlab.shifts.params import table_for

#: the benchmark each corruption parameter table comes from (``shiftlab.shifts.params.table_for``)
PARAMETER_TABLES = {"cifar": "CIFAR-10-C", "imagenet": "ImageNet-C"}


def setup_page(page: str) -> None:
    """The heading and introduction of page ``page`` (its name in ``pages.PAGES``), and the tour's panel when a tour
    is on."""
    entry = page_named(page)
    st.session_state[PAGE_KEY] = page
    st.title(entry.title)
    tour_panel(page)
    st.write(entry.intro)
    problem = models_file_problem()
    if problem is not None:
        st.warning(text.MODELS_FILE_UNUSED.format(problem=text.plain(str(problem))))


def show_shift(name: str, height: int, width: int) -> None:
    """The shift's one-line description and, folded, the parameters of each severity at this image size."""
    record = get_shift(name)
    st.markdown(f"**{name}** ({record.kind}, {record.family}): {record.description}")
    table = f", {PARAMETER_TABLES[table_for(height, width)]} table" if record.resolution_aware else ""
    with st.expander(f"Severity parameters at {height}×{width} px{table}"):
        frame = severity_table(name, height, width)
        st.dataframe(frame)
        csv_download(frame.reset_index(), f"{name}-parameters.csv")


def note_labels(loaded: LoadedModel, data: ImageDataset) -> None:
    """Say so when the dataset's labels cannot score the model (its classes are not the dataset's)."""
    if not labels_apply(loaded.classes, data.classes):
        st.info(text.UNLABELLED.format(model=loaded.name, n=len(loaded.classes), metric=metric_name(False)))


def note_subset(loaded: LoadedModel, data: ImageDataset) -> None:
    """Say so when a large-input model runs on only the first few images of each class."""
    if loaded.input_size > LARGE_INPUT_SIDE:
        st.info(text.SUBSET.format(model=loaded.name, size=loaded.input_size, k=LARGE_INPUT_PER_CLASS, n=len(data)))


def show_outcome(prediction: PairPrediction, label: int | None, present: bool = False) -> None:
    """What the shift did to the prediction, in words on their colour (``cases.outcome``), and the top-1 class
    before → after under them; a heading when ``present`` (a projector)."""
    flag = outcome_flag(prediction.outcome(label))
    before, after = prediction.predicted
    change = text.OUTCOME_CHANGE if prediction.flipped else text.OUTCOME_SAME
    st.markdown(f"## {flag}" if present else flag)
    st.markdown(change.format(before=text.plain(before), after=text.plain(after)))


def show_tracked(prediction: PairPrediction, label: int | None) -> None:
    """The big number: the label's probability after the shift and its change (green up: towards the right
    answer); without a label, the source's top-1 class's, its change uncoloured."""
    name, after, change = prediction.tracked(label)
    st.metric(text.LABEL_AFTER.format(label=text.plain(name)), f"{after:.0%}", delta=f"{100 * change:+.1f} pp",
              delta_color="off" if label is None else "normal",
              help=text.CONFIDENCE_CHANGE_HELP if label is None else text.LABEL_CHANGE_HELP)


#: a colour bar's width in pixels: drawn at about the size shown, so that its tick labels stay readable
BAR_WIDTH = 200


def scale_bar(limits: tuple[float, float], signed: bool, caption: str, width: int | str = "content") -> None:
    """The colour bar of maps drawn with ``limits`` (diverging, 0 marked, when ``signed``), captioned."""
    st.image(colour_bar(limits, BAR_WIDTH, signed=signed), caption=caption, width=width)


def compare_link(view: View) -> str:
    """A Markdown link opening Compare on ``view``."""
    return f"[Open in {COMPARE.menu_title} →]({COMPARE.href(view.to_query())})"


def pair_grid(comparison: ShiftComparison, data: ImageDataset, shifted: np.ndarray, indices: np.ndarray,
              model_classes: list[str], file_name: str, *, drift: np.ndarray | None = None,
              links: tuple[View, str] | None = None, columns: int = 5) -> None:
    """A grid of source | shifted thumbnails with image ids, labels and predictions, and its PNG download.

    ``drift`` adds each image's attribution drift; ``links`` = (view, dataset)
    adds a link opening each image in Compare on that view.
    """
    factor = display_factor(data.images.shape[1], target=96)
    pairs = [side_by_side(enlarge(data.images[i], factor), enlarge(shifted[i], factor)) for i in indices]
    grid = st.grid(columns, min_column_width=150)
    for i, pair in zip(indices, pairs):
        with grid.cell():
            st.image(pair, width="stretch")
            st.markdown(case_caption(comparison, int(i), model_classes, data.classes[data.labels[i]]))
            if drift is not None:
                st.caption(f"drift (1 − IoU): {drift[i]:.2f}")
            if links is not None:
                view, dataset = links
                st.markdown(compare_link(view.with_(image=ImageRef(dataset, str(int(i))))))
    if pairs:
        png_download(grid_picture([pairs[k: k + columns] for k in range(0, len(pairs), columns)]), file_name,
                     "Download the grid (PNG)")


def sweep_case_grid(view: View, dataset: str, found: pd.DataFrame, columns: int = 5) -> None:
    """Cases read from a sweep: each image source | shifted (recomputed, same bytes), predictions and a Compare link."""
    data = cached_dataset(dataset)
    factor = display_factor(data.images.shape[1], target=96)
    grid = st.grid(columns, min_column_width=150)
    for row in found.itertuples():
        image = data.images[row.image]
        shifted = apply(row.shift, image[None], int(row.severity), int(row.seed), offset=int(row.image))[0]
        with grid.cell():
            st.image(side_by_side(enlarge(image, factor), enlarge(shifted, factor)), width="stretch")
            names = [text.plain(data.classes[i]) for i in (row.label, row.clean_prediction, row.prediction)]
            st.markdown(f"#{row.image} · label **{names[0]}**  \n"
                        f"{names[1]} {row.clean_confidence:.0%} → {names[2]} {row.confidence:.0%}")
            st.markdown(compare_link(view.with_(image=ImageRef(dataset, str(int(row.image))), shift=row.shift,
                                                severity=int(row.severity), seed=int(row.seed))))


def model_input(pixels: np.ndarray, size: int) -> np.ndarray:
    """An image resized (shorter side, centre crop) to the model's input size."""
    return model_inputs(pixels[None], size)[0]


def top_k(loaded: LoadedModel, pixels: np.ndarray, k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` most probable classes of a model-sized image, with their probabilities."""
    return top_k_classes(predict(loaded, pixels[None])[0], loaded.classes, k)
