"""The pages' cached loaders and computations, and the long results kept for every session.

Streamlit caches (``st.cache_resource``, ``st.cache_data``) around the
computations of the other ``shiftlab.app`` modules and the core: a model
loaded once per process, a dataset, shifted images, logits, explanations and
maps computed once per argument set. ``keep`` holds the results of the
longest computations (the Trust page's) for every session, without
``st.cache_data``'s replay, so their progress bars draw while they run.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import streamlit as st

from shiftlab.app import text
from shiftlab.app.experiment import ShiftComparison, compare, evaluation_set, labels_apply, model_inputs, predict
from shiftlab.app.explain import DRIFT_TOP_K, PairExplanation, explain_pair, method_options
from shiftlab.app.feedback import progress, work_progress
from shiftlab.app.triptych import TriptychSearch, search
from shiftlab.app.view import FULL, SAMPLE
from shiftlab.attribution import WCAMCost, attribute, estimate_cost
from shiftlab.data import ImageDataset, load_dataset
from shiftlab.errors import DatasetFormatError, DatasetNotFoundError, ShiftlabError
from shiftlab.folders import folder_datasets
from shiftlab.metrics import drift_report
from shiftlab.metrics.randomisation import RandomisationCheck, randomisation_check
from shiftlab.models import LoadedModel, get_spec, load_model
from shiftlab.shifts import apply
from shiftlab.trust import TrustReport, TrustSettings, trust_report

T = TypeVar("T")


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
    """Images per dataset source present here: the embedded sample, the full test set when it is found, and the
    image folders of the user's models file (an unusable folder is left out, with a note saying why)."""
    sizes = {SAMPLE: len(cached_dataset(SAMPLE))}
    full, problem = _full_test_set()
    if full is not None:
        sizes[FULL] = full
    if problem:
        st.sidebar.warning(f"The full CIFAR-10 test set is unusable: {text.plain(problem)}")
    for name in folder_datasets():
        try:
            sizes[name] = len(cached_dataset(name))
        except ShiftlabError as error:
            st.sidebar.warning(f"The image folder {text.plain(name)} is unusable: {text.plain(str(error))}")
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


@st.cache_data(show_spinner=False, max_entries=128)
def cached_maps(arch: str, variant: str, images: np.ndarray, method: str, target: int | None,
                options: dict) -> np.ndarray:
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
