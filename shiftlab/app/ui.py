"""Streamlit building blocks shared by the pages: setup, error handling, cached loaders, the view's sidebar.

The pages in ``app_pages/`` hold layout only. What several of them need — the
view read from the URL and the sidebar that edits it, a model loaded once,
cached logits and explanations, progress with a count and the time left,
PNG and CSV downloads — is written once here. Computations live in the
other ``shiftlab.app`` modules, which do not import Streamlit.
"""

from __future__ import annotations

import io
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image

from shiftlab.app import text
from shiftlab.app.cases import case_caption
from shiftlab.app.compare import grid_picture
from shiftlab.app.experiment import (
    LARGE_INPUT_PER_CLASS,
    LARGE_INPUT_SIDE,
    ShiftComparison,
    compare,
    evaluation_set,
    labels_apply,
    metric_name,
    model_inputs,
    predict,
    severity_table,
)
from shiftlab.app.explain import DRIFT_TOP_K, PairExplanation, explain_pair, method_options
from shiftlab.app.gallery import Picture, frame_count, picture
from shiftlab.app.thumbnails import display_factor, enlarge, side_by_side
from shiftlab.app.tour import STEPS, TOUR_SEVERITY, TOUR_SHIFTS, Preset, find_preset
from shiftlab.app.triptych import TriptychSearch, search
from shiftlab.app.view import (
    FULL,
    PHOTO,
    PHOTOS,
    SAMPLE,
    SEED_MAX,
    TARGETS,
    ImageRef,
    Replacement,
    View,
    default_image,
    methods_for,
    model_choices,
    parse_view,
    shift_choices,
)
from shiftlab.attribution import WCAMCost, attribute, estimate_cost
from shiftlab.data import ImageDataset, load_dataset
from shiftlab.errors import DatasetFormatError, DatasetNotFoundError, ShiftlabError
from shiftlab.images import load_image
from shiftlab.inference import top_k as top_k_classes
from shiftlab.metrics import drift_report
from shiftlab.metrics.randomisation import RandomisationCheck, randomisation_check
from shiftlab.models import LoadedModel, get_spec, load_model
from shiftlab.shifts import SEVERITIES, apply, get_shift, list_shifts
from shiftlab.shifts.ood import unavailable_reason
from shiftlab.shifts.params import table_for
from shiftlab.trust import TrustReport, TrustSettings, trust_report

T = TypeVar("T")
#: session-state key of the current view, and prefix of the sidebar widgets that edit it
VIEW_KEY = "view"
WIDGET = "view."
#: session-state key of the tour's step, and the architecture its preset uses
TOUR_KEY = "tour_step"
#: session-state key of the page being drawn
PAGE_KEY = "page"
TOUR_ARCH = "resnet20"
#: the benchmark each corruption parameter table comes from (``shiftlab.shifts.params.table_for``)
PARAMETER_TABLES = {"cifar": "CIFAR-10-C", "imagenet": "ImageNet-C"}


def setup_page(page: str) -> None:
    """The page's title and introduction from ``text.PAGES``, and the tour's panel when a tour is on."""
    title, intro = text.PAGES[page]
    st.session_state[PAGE_KEY] = page
    st.title(title)
    tour_panel(page)
    st.write(intro)


# ---------------------------------------------------------------- the guided tour


@st.cache_data(show_spinner="Looking for an image where robust training matters…")
def cached_tour_preset() -> Preset | None:
    """The tour's preset, computed on the embedded sample with resnet20 baseline and AugMix (None without them)."""
    if not {"baseline", "augmix"} <= set(variants_of(TOUR_ARCH)):
        return None
    data = cached_dataset(SAMPLE)
    clean = {v: cached_logits(TOUR_ARCH, v, SAMPLE) for v in ("baseline", "augmix")}
    shifted = {shift: {v: cached_logits(TOUR_ARCH, v, SAMPLE, shift, TOUR_SEVERITY, 0) for v in ("baseline", "augmix")}
               for shift in TOUR_SHIFTS}
    return find_preset(data.labels, clean, shifted)


def start_tour() -> None:
    """Set the tour's preset view and open its first page."""
    preset = cached_tour_preset()
    view = current_view()
    if preset is not None:
        view = view.with_(arch=TOUR_ARCH, variant="baseline", image=ImageRef(SAMPLE, str(preset.index)),
                          shift=preset.shift, severity=TOUR_SEVERITY, seed=0,
                          methods=("saliency", "gradcam", "integrated_gradients"), target="source")
    set_view(view)
    st.session_state[TOUR_KEY] = 0
    st.switch_page(f"app_pages/{STEPS[0].page}.py", query_params=view.to_query())


def tour_panel(page: str) -> None:
    """The current tour step's text with Next / End buttons, on the page the step belongs to."""
    step_index = st.session_state.get(TOUR_KEY)
    if step_index is None or STEPS[step_index].page != page:
        return
    step = STEPS[step_index]
    with st.container(border=True):
        st.markdown(f"**Guided tour — {step.title}**  \n{step.text}")
        left, right, _ = st.columns([1, 1, 4])
        last = step_index == len(STEPS) - 1
        if right.button("End the tour", key="tour_end") or (last and left.button("Finish", key="tour_finish")):
            del st.session_state[TOUR_KEY]
            st.rerun()
        if not last and left.button(f"Next → {text.PAGES[STEPS[step_index + 1].page][0]}", type="primary",
                                    key="tour_next"):
            st.session_state[TOUR_KEY] = step_index + 1
            st.switch_page(f"app_pages/{STEPS[step_index + 1].page}.py", query_params=current_view().to_query())


@contextmanager
def user_errors() -> Iterator[None]:
    """Show any ``ShiftlabError`` raised inside as an error message and stop the page: no traceback for a user's mistake."""
    try:
        yield
    except ShiftlabError as exc:
        st.error(text.plain(exc))
        st.stop()


# ---------------------------------------------------------------- cached loaders


@st.cache_resource(show_spinner="Loading model…")
def cached_model(arch: str, variant: str) -> LoadedModel:
    """``load_model`` once per process."""
    return load_model(arch, variant)


def input_size(arch: str) -> int:
    """The image side ``arch`` takes, from its spec: no weights loaded (a page asking only this stays fast)."""
    return get_spec(arch).input_size


@st.cache_resource(show_spinner="Loading images…")
def cached_dataset(name: str) -> ImageDataset:
    """``load_dataset(name)`` (test split) once per process."""
    return load_dataset(name)


@st.cache_data(show_spinner=False)
def _full_test_set() -> tuple[int | None, str | None]:
    """(size, None) of the full CIFAR-10 test set, (None, why) when unusable, (None, None) when absent.

    Cached: without it a default install would look for the missing files on every rerun of every page.
    """
    try:
        return len(cached_dataset(FULL)), None
    except DatasetNotFoundError:
        return None, None
    except DatasetFormatError as exc:
        return None, str(exc)


def dataset_sizes() -> dict[str, int]:
    """Images per dataset source present here: the embedded sample, and the full test set when it is found."""
    sizes = {SAMPLE: len(cached_dataset(SAMPLE))}
    full, problem = _full_test_set()
    if full is not None:
        sizes[FULL] = full
    if problem:
        st.sidebar.warning(f"The full CIFAR-10 test set is unusable: {text.plain(problem)}")
    return sizes


def evaluation_images(dataset: str, input_size: int) -> ImageDataset:
    """The images an experiment on ``dataset`` runs on for a model of this input size."""
    return evaluation_set(cached_dataset(dataset), input_size)


@st.cache_data(show_spinner=False, max_entries=64)
def cached_shifted(dataset: str, input_size: int, shift: str, severity: int, seed: int) -> np.ndarray:
    """The evaluation images of ``dataset`` after ``shift`` (at their own resolution)."""
    return apply(shift, evaluation_images(dataset, input_size).images, severity, seed)


@st.cache_data(show_spinner=False, max_entries=512)
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


@st.cache_data(show_spinner=False, max_entries=256)
def cached_explanation(
    arch: str, variant: str, pair: np.ndarray, method: str, same_target: bool, options: dict, _run: dict | None = None
) -> PairExplanation:
    """``explain_pair`` of a (source, shifted) pair, cached on the pair's pixels and every option.

    ``_run`` (not part of the cache key) passes WCAM's ``progress`` callback and ``resume`` result.
    """
    return explain_pair(cached_model(arch, variant), pair, method, same_target, **options, **(_run or {}))


@st.cache_data(show_spinner="Timing the model for the WCAM estimate…", max_entries=32)
def wcam_cost(arch: str, variant: str, options: dict) -> WCAMCost:
    """What a WCAM of a (source, shifted) pair will cost on this model and device, said before it runs."""
    return estimate_cost(cached_model(arch, variant), n_images=2, **options)


def wcam_run(method: str, resume: Any = None) -> dict | None:
    """For WCAM, a progress bar counting perturbed images (and the time left) and the result to resume from."""
    if method != "wcam":
        return None
    bar = st.empty()
    start = time.perf_counter()

    def update(done: int, total: int) -> None:
        left = (time.perf_counter() - start) / max(done, 1) * (total - done)
        if done >= total:  # finished (a later doubling of the design shows the bar again in the same place)
            bar.empty()
            return
        bar.progress(done / max(total, 1), text=f"WCAM: {done:,} / {total:,} perturbed images · about {left:.0f} s left")

    return {"progress": update, "resume": resume}


@st.cache_data(show_spinner=False, max_entries=128)
def cached_maps(arch: str, variant: str, images: np.ndarray, method: str, target: int | None, options: dict) -> np.ndarray:
    """Attribution maps (N×H×W) of model-sized ``images`` for ``target`` (None: each image's predicted class)."""
    return attribute(cached_model(arch, variant), images, method, target=target, **options).maps


#: results kept for every session by ``keep`` (the oldest dropped when more are made)
KEPT_RESULTS = 32


@st.cache_resource
def _kept_results() -> OrderedDict:
    """Long computations' results by key, shared by the sessions; not ``st.cache_data``, whose replay cannot redraw
    the progress bar a computation updates."""
    return OrderedDict()


def is_kept(key: tuple) -> bool:
    """Whether ``keep`` holds the result of ``key`` already (a page then shows it at once)."""
    return key in _kept_results()


def keep(key: tuple, compute: Callable[[], T]) -> T:
    """``compute()``'s result, computed once for ``key`` and kept for every session."""
    kept = _kept_results()
    if key not in kept:
        kept[key] = compute()
        while len(kept) > KEPT_RESULTS:
            kept.popitem(last=False)
    return kept[key]


def trust_measures(arch: str, variant: str, dataset: str, shift: str, severity: int, seed: int,
                   methods: tuple[str, ...], count: int, baseline: str, source: np.ndarray,
                   shifted: np.ndarray) -> TrustReport:
    """The Trust page's report on ``source`` and ``shifted``, the ``count`` images of ``dataset`` the page took
    (``trust.trust_images``, which the other arguments determine), with a progress bar, kept for every session
    (key: ``"trust"`` and every argument but the images)."""
    def compute() -> TrustReport:
        loaded = cached_model(arch, variant)
        options = {method: method_options(method, loaded.input_size) for method in methods}
        return trust_report(loaded, source, shifted, methods, TrustSettings(baseline=baseline), options,
                            work_progress("Methods × conditions measured"))

    return keep(("trust", arch, variant, dataset, shift, severity, seed, methods, count, baseline), compute)


def sanity_check(arch: str, variant: str, dataset: str, images: np.ndarray, method: str,
                 target: np.ndarray) -> RandomisationCheck:
    """The randomisation cascade of ``method`` on model-sized ``images`` (the first of ``dataset``'s trust set) for
    ``target``, kept for every session (key: ``"sanity"``, model, dataset and method)."""
    loaded = cached_model(arch, variant)
    options = method_options(method, loaded.input_size)
    return keep(("sanity", arch, variant, dataset, method),
                lambda: randomisation_check(loaded, images, method, target, **options))


def work_progress(label: str) -> Callable[[int, int], None]:
    """A progress callback for long work: "label: k / total · about N s left", from the rate measured so far."""
    bar = st.progress(0.0, text=f"{label}: starting")
    start = time.perf_counter()

    def update(done: int, total: int) -> None:
        if done >= total:
            bar.empty()
            return
        left = (time.perf_counter() - start) / max(done, 1) * (total - done)
        bar.progress(done / max(total, 1), text=f"{label}: {done} / {total} · about {left:.0f} s left")

    return update


#: images per attribution batch when a page explains a whole image set
SET_CHUNK = 50


@st.cache_data(show_spinner=False, max_entries=512)
def _set_drift_chunk(arch: str, variant: str, dataset: str, shift: str, severity: int, seed: int, method: str,
                     start: int, same_target: bool) -> dict[str, np.ndarray]:
    loaded = cached_model(arch, variant)
    chunk = slice(start, start + SET_CHUNK)
    source = model_inputs(evaluation_images(dataset, loaded.input_size).images[chunk], loaded.input_size)
    shifted = model_inputs(cached_shifted(dataset, loaded.input_size, shift, severity, seed)[chunk], loaded.input_size)
    target = cached_logits(arch, variant, dataset)[chunk].argmax(1)  # the page has these logits already
    options = method_options(method, loaded.input_size)
    maps = [attribute(loaded, source, method, target=target, **options).maps,
            attribute(loaded, shifted, method, target=target if same_target else None, **options).maps]
    return drift_report(*maps, k=DRIFT_TOP_K)


def cached_set_drift(arch: str, variant: str, dataset: str, shift: str, severity: int, seed: int, method: str,
                     limit: int | None = None, same_target: bool = True) -> dict[str, np.ndarray]:
    """Drift between each evaluation image's map and its shifted copy's, for the first ``limit`` images.

    ``same_target`` explains the class predicted on the source in both maps;
    otherwise each map explains its own image's prediction.
    """
    n = len(evaluation_images(dataset, input_size(arch)))
    starts = range(0, min(n, limit or n), SET_CHUNK)
    parts = [_set_drift_chunk(arch, variant, dataset, shift, severity, seed, method, start, same_target)
             for start in progress(starts, len(starts), f"{method} drift, images in batches of {SET_CHUNK}")]
    drift = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    return {name: values[:limit] for name, values in drift.items()}


@st.cache_data(show_spinner=False, max_entries=64)
def cached_triptych(arch: str, variant: str, image: np.ndarray, shift: str, offset: int) -> TriptychSearch:
    """``triptych.search`` once per (model, image, shift)."""
    return search(cached_model(arch, variant), image, shift, offset)


# ---------------------------------------------------------------- the view


def current_view() -> View:
    """The view of this session: parsed from the URL on the session's first run, then kept across pages."""
    if VIEW_KEY not in st.session_state:
        st.session_state[VIEW_KEY] = parse_view(st.query_params.to_dict(), dataset_sizes())
    return st.session_state[VIEW_KEY]


def set_view(view: View) -> None:
    """Make ``view`` current (the sidebar widgets re-read it) and write it to the URL."""
    st.session_state[VIEW_KEY] = view
    for key in [k for k in st.session_state if str(k).startswith(WIDGET)]:
        del st.session_state[key]
    st.query_params.from_dict(view.to_query())


def _bound(name: str, value: Any) -> str:
    """The key of the sidebar widget editing view field ``name``, initialised from the view when first drawn.

    Keys are per page: a page's widgets are new widgets to Streamlit, so each
    page starts from the view rather than from another page's widget state.
    """
    key = f"{WIDGET}{st.session_state.get(PAGE_KEY, '')}.{name}"
    if key not in st.session_state:
        st.session_state[key] = value
    return key


def view_sidebar(*fields: str, variant: bool = True) -> View:
    """Sidebar widgets for the view ``fields`` (of model, image, shift, severity, seed, methods, target).

    Every change updates the view and the URL, so the page can be shared and
    the next page opens on the same choices. ``variant=False`` picks only the
    architecture (the Variants page shows all of its variants).
    """
    view = current_view()
    show_notes(view.notes)
    if "model" in fields:
        view = _pick_model(view, variant)
    if "image" in fields:
        view = view.with_(image=_pick_image(view))
    if "shift" in fields:
        names = shift_choices()
        view = view.with_(shift=st.sidebar.selectbox("Shift", names, key=_bound("shift", view.shift),
                                                     help="Every corruption and edit; see the parameters below."))
    if "severity" in fields:
        view = view.with_(severity=st.sidebar.slider("Severity", min(SEVERITIES), max(SEVERITIES),
                                                     key=_bound("severity", view.severity)))
    if "seed" in fields:
        view = view.with_(seed=int(st.sidebar.number_input("Seed", min_value=0, max_value=SEED_MAX, step=1,
                                                           key=_bound("seed", view.seed),
                                                           help="Fixes every random draw of the shift.")))
    if "methods" in fields:
        view = view.with_(methods=_pick_methods(view))
    if "target" in fields:
        view = view.with_(target=st.sidebar.radio(
            "Maps explain", TARGETS, key=_bound("target", view.target), horizontal=True,
            format_func={"source": "source's class", "own": "each image's class"}.get, help=text.TARGET_HELP))
    st.session_state[VIEW_KEY] = view
    st.query_params.from_dict(view.to_query())
    return view


def show_notes(notes: tuple[Replacement, ...]) -> None:
    """One note for all of a link's unusable values: each (escaped) with what replaced it, the choices folded away."""
    if not notes:
        return
    note, choices = text.url_note(notes)
    st.warning(note)
    with st.expander(text.URL_CHOICES):
        st.markdown(choices)


def _pick_model(view: View, variant: bool) -> View:
    choices = model_choices()
    if variant:
        current = (view.arch, view.variant)
        arch, chosen = st.sidebar.selectbox("Model", choices, format_func=" / ".join,
                                            key=_bound("model", current if current in choices else choices[0]))
    else:
        archs = list(dict.fromkeys(a for a, _ in choices))
        arch = st.sidebar.selectbox("Architecture", archs, key=_bound("arch", view.arch))
        variants = [v for a, v in choices if a == arch]
        chosen = view.variant if view.variant in variants else variants[0]
    if arch == view.arch:
        return view.with_(variant=chosen)
    # a new architecture: keep what still applies to it, reset what does not
    methods = tuple(m for m in view.methods if m in methods_for(arch)) or tuple(methods_for(arch)[:1])
    image = view.image if get_spec(arch).dataset == get_spec(view.arch).dataset else default_image(arch)
    page = st.session_state.get(PAGE_KEY, "")
    for name in ("methods", "image_source", "image_index", "photo"):
        st.session_state.pop(f"{WIDGET}{page}.{name}", None)
    return view.with_(arch=arch, variant=chosen, methods=methods, image=image)


def _pick_image(view: View) -> ImageRef:
    sizes = dataset_sizes()
    sources = [*sizes, PHOTO]
    names = {SAMPLE: f"CIFAR-10 sample · {sizes[SAMPLE]}", FULL: f"CIFAR-10 test set · {sizes.get(FULL, 0):,}",
             PHOTO: "photographs"}
    source = st.sidebar.selectbox("Images", sources, format_func=names.get,
                                  key=_bound("image_source", view.image.source))
    if source == PHOTO:
        key = view.image.key if view.image.source == PHOTO else "coffee"
        return ImageRef(PHOTO, st.sidebar.selectbox("Photo", list(PHOTOS), key=_bound("photo", key)))
    index = view.image.index if view.image.source == source else 0
    chosen = st.sidebar.number_input(f"Image id (0 to {sizes[source] - 1})", 0, sizes[source] - 1, step=1,
                                     key=_bound("image_index", min(index, sizes[source] - 1)))
    return ImageRef(source, str(int(chosen)))


def _pick_methods(view: View) -> tuple[str, ...]:
    allowed = methods_for(view.arch)
    chosen = st.sidebar.multiselect("Attribution methods", allowed, key=_bound("methods", list(view.methods)),
                                    help="; ".join(f"{m}: {text.METHOD_TITLES[m]}" for m in allowed))
    return tuple(chosen) or view.methods


def variants_of(arch: str) -> list[str]:
    """The variants of ``arch`` whose weights are here, declared order first."""
    return [variant for a, variant in model_choices() if a == arch]


def pick_single_method(view: View) -> str:
    """Sidebar choice of one attribution method (Grad-CAM by default), kept for the session, not in the URL."""
    allowed = methods_for(view.arch)
    default = "gradcam" if "gradcam" in allowed else allowed[0]
    return st.sidebar.selectbox("Attribution method", allowed, key=_bound("single_method", default),
                                format_func=lambda m: f"{m} · {text.METHOD_TITLES[m]}")


def view_picture(view: View, loaded: LoadedModel) -> Picture:
    """The view's image (or, when one is uploaded in the sidebar, the upload) as a ``Picture``."""
    upload = st.sidebar.file_uploader(text.UPLOAD_LABEL, key="upload", help=text.UPLOAD_HELP)
    if upload is not None:
        with user_errors():
            pixels = load_image(upload.getvalue(), loaded.input_size)
        if (frames := frame_count(upload.getvalue())) > 1:
            st.info(text.ANIMATED.format(frames=frames))
        st.sidebar.caption(text.UPLOAD_NOT_IN_URL)
        return Picture(pixels, None, f"upload: {text.plain(upload.name)}")
    with user_errors():
        return picture(view.image, cached_dataset, loaded.input_size)


def view_model(view: View) -> LoadedModel:
    """The view's model, loaded once per process."""
    with user_errors():
        return cached_model(view.arch, view.variant)


# ---------------------------------------------------------------- shared page pieces


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


def pick_dataset(view: View) -> str:
    """Sidebar choice of the image set a page evaluates: the view's dataset by default."""
    sizes = dataset_sizes()
    default = view.image.source if view.image.source in sizes else SAMPLE
    return st.sidebar.selectbox("Images", list(sizes), key=_bound("dataset", default),
                                format_func=lambda name: f"{'CIFAR-10 sample' if name == SAMPLE else 'CIFAR-10 test set'}"
                                                         f" · {sizes[name]:,}")


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
                link = view.with_(image=ImageRef(dataset, str(int(i)))).to_query()
                st.markdown(f"[Open in Compare →](compare?{urlencode(link)})")
    if pairs:
        png_download(grid_picture([pairs[k: k + columns] for k in range(0, len(pairs), columns)]), file_name,
                     "Download the grid (PNG)")


def pick_ood_set() -> str:
    """Sidebar choice of the out-of-distribution set among those available here."""
    names = list_shifts(kind="dataset", available_only=True)
    default = "ood_cifar100_sample" if "ood_cifar100_sample" in names else names[0]
    chosen = st.sidebar.selectbox("Out-of-distribution set", names, index=names.index(default), key="ood_set",
                                  help="Dataset shifts: every image replaced by one of another set.")
    for name in sorted(set(list_shifts(kind="dataset")) - set(names)):
        if reason := unavailable_reason(name):
            st.sidebar.caption(f"`{name}` is not offered: {text.plain(reason)}")
    return chosen


def zoo_columns() -> dict[str, Any]:
    """Column titles, formats and help of the Home page's zoo table."""
    number = st.column_config.NumberColumn
    return {"accuracy": number("accuracy", format="%.2f%%", help=text.METRIC_HELP["accuracy"]),
            "macro_f1": number("macro-F1", format="%.4f", help="F1 score averaged over the ten classes"),
            "ece": number("ECE", format="%.4f", help=text.METRIC_HELP["ece"]),
            "nll": number("NLL", format="%.4f", help=text.METRIC_HELP["nll"]),
            "corruption_accuracy": number("corruptions", format="%.2f%%",
                                          help="mean accuracy over 15 corruptions × 5 severities"),
            "pgd20_accuracy": number("PGD-20", format="%.2f%%", help="accuracy under a PGD-20 attack, L∞ ε 8/255"),
            "origin": st.column_config.TextColumn("start", help="scratch, or the model a fine-tuning run started from")}


def model_input(pixels: np.ndarray, size: int) -> np.ndarray:
    """An image resized (shorter side, centre crop) to the model's input size."""
    return model_inputs(pixels[None], size)[0]


def top_k(loaded: LoadedModel, pixels: np.ndarray, k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` most probable classes of a model-sized image, with their probabilities."""
    return top_k_classes(predict(loaded, pixels[None])[0], loaded.classes, k)


def ood_columns() -> dict[str, Any]:
    """Column formats and help of the OOD detection table."""
    number = st.column_config.NumberColumn
    return {"auroc": number("AUROC", format="%.3f", help=text.METRIC_HELP["auroc"]),
            "aupr_in": number("AUPR-in", format="%.3f", help="in-distribution as the positive class"),
            "aupr_out": number("AUPR-out", format="%.3f", help="OOD as the positive class"),
            "fpr_at_95_tpr": number("FPR at 95% TPR", format="%.3f",
                                    help="share of OOD images still accepted when 95 % of in-distribution ones are")}


def drift_columns() -> dict[str, Any]:
    """Column formats of the ID-vs-OOD drift table."""
    number = st.column_config.NumberColumn
    return {"mean IoU": number(format="%.3f", help=text.METRIC_HELP["iou"]), "median IoU": number(format="%.3f"),
            "mean Spearman": number(format="%.3f", help="rank correlation of the two maps; 1 = same ordering")}


def trust_columns() -> dict[str, Any]:
    """Column formats of the Trust page's tables."""
    number = st.column_config.NumberColumn
    area = "area under the curve of the class's probability against the share of pixels perturbed (0 to 1)"
    return {
        "gap_source": number("gap, source", format="%.3f", help="mean gap to random on the source images"),
        "gap_shifted": number("gap, shifted", format="%.3f", help="mean gap to random on the shifted images"),
        "change": number(format="%+.3f", help="shifted minus source: below 0, the maps track the model less"),
        "final_spearman": number("Spearman, all random", format="%.2f",
                                 help="mean Spearman correlation to the trained maps once every layer is random"),
        "deletion_auc": number("deletion", format="%.3f", help=f"deletion: {area}; lower is better"),
        "insertion_auc": number("insertion", format="%.3f", help=f"insertion: {area}; higher is better"),
        "random_deletion_auc": number("deletion, random", format="%.3f", help="the same pixels in random orders"),
        "random_insertion_auc": number("insertion, random", format="%.3f", help="the same pixels in random orders"),
        "gap": number(format="%.3f", help="(random − map) deletion area + (map − random) insertion area"),
        "road_morf": number("ROAD MoRF", format="%.3f", help="mean probability, most important pixels removed first"),
        "road_lerf": number("ROAD LeRF", format="%.3f", help="mean probability, least important pixels removed first"),
    }


def summary_columns() -> dict[str, Any]:
    """Column formats of the per-variant OOD summary."""
    number = st.column_config.NumberColumn
    return {"ID accuracy": number(format="%.3f", help=text.METRIC_HELP["accuracy"]),
            "ID ECE": number(format="%.3f", help=text.METRIC_HELP["ece"]),
            "Grad-CAM IoU ID vs OOD": number(format="%.3f", help=text.METRIC_HELP["iou"]),
            "MSP AUROC": number(format="%.3f", help=text.METRIC_HELP["auroc"]),
            "energy AUROC": number(format="%.3f", help=text.METRIC_HELP["auroc"])}


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
            link = view.with_(image=ImageRef(dataset, str(int(row.image))), shift=row.shift,
                              severity=int(row.severity), seed=int(row.seed)).to_query()
            st.markdown(f"[Open in Compare →](compare?{urlencode(link)})")


def progress(items: Iterable[T], total: int, label: str) -> Iterator[T]:
    """Yield ``items`` while a progress bar shows "label: k / total · about N s left"; removed when done."""
    bar = st.progress(0.0, text=f"{label}: 0 / {total}")
    start = time.perf_counter()
    for done, item in enumerate(items, 1):
        yield item
        elapsed = time.perf_counter() - start
        left = elapsed / done * (total - done)
        bar.progress(min(done / total, 1.0), text=f"{label}: {done} / {total} · about {left:.0f} s left")
    bar.empty()


def png_download(picture: np.ndarray, file_name: str, label: str = "Download PNG") -> None:
    """A button that downloads the uint8 H×W×3 ``picture`` as a PNG."""
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    st.download_button(label, buffer.getvalue(), file_name=file_name, mime="image/png", on_click="ignore",
                       key=f"png-{file_name}")


def csv_download(frame: pd.DataFrame, file_name: str, label: str = "Download CSV") -> None:
    """A button that downloads ``frame`` as CSV."""
    st.download_button(label, frame.to_csv(index=False).encode(), file_name=file_name, mime="text/csv",
                       on_click="ignore", key=f"csv-{file_name}")
