"""The pages' cached loaders and computations, the server's line of long computations, and its measured pace.

Streamlit caches (``st.cache_resource``, ``st.cache_data``) around the
computations of the other ``shiftlab.app`` modules and the core: a model
loaded once per process, a dataset, shifted images, logits, explanations and
maps computed once per argument set (Streamlit computes a value once when
sessions ask for it together). A long computation — estimated above
``QUICK_SECONDS`` at the pace measured on this server now (``pace_book``,
``shiftlab.estimates``) — runs in the server's one ``job_queue`` instead, which
keeps its result for every session and shows each its place in line.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import streamlit as st
import torch

from shiftlab.app import text
from shiftlab.app.experiment import ShiftComparison, compare, evaluation_set, labels_apply, model_inputs, predict
from shiftlab.app.explain import DRIFT_TOP_K, PairExplanation, explain_pair, method_options, slow_warning
from shiftlab.app.feedback import follow, progress
from shiftlab.app.ood import SEVERITY as OOD_SEVERITY
from shiftlab.app.triptych import TriptychSearch, search
from shiftlab.app.view import FULL, SAMPLE
from shiftlab.attribution import attribute, get_method
from shiftlab.data import ImageDataset, load_dataset
from shiftlab.errors import DatasetFormatError, DatasetNotFoundError, ShiftlabError
from shiftlab.estimates import (
    QUICK_SECONDS,
    WCAMEstimate,
    forward_seconds,
    map_seconds,
    record_maps,
    record_wcam,
    wcam_estimate,
)
from shiftlab.folders import folder_datasets
from shiftlab.jobs import DONE, Job, JobQueue, torch_threads
from shiftlab.metrics import drift_report
from shiftlab.metrics.randomisation import RandomisationCheck, randomisation_check
from shiftlab.models import LoadedModel, get_spec, load_model
from shiftlab.pace import PaceBook
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


#: long computations the server runs at once: one, so that on a 2-core laptop two never share the cores
HEAVY_WORKERS = 1


@st.cache_resource
def job_queue() -> JobQueue:
    """The server's one line of long computations (``shiftlab.jobs``): its worker runs torch on every core but
    one, which stays with the sessions' short renders."""
    return JobQueue(HEAVY_WORKERS, threads=max(1, torch.get_num_threads() - 1))


@st.cache_resource
def pace_book() -> PaceBook:
    """The speeds measured on this server (``shiftlab.pace``), shared by the sessions."""
    return PaceBook()


def as_a_job_runs(estimate: Callable[[], T]) -> T:
    """``estimate()`` with torch on the job worker's thread count: a probe it takes measures the work as the
    worker will run it."""
    with torch_threads(job_queue().threads):
        return estimate()


def content_key(pixels: np.ndarray) -> tuple:
    """A short key of an image array's content (its shape and SHA-1)."""
    return pixels.shape, hashlib.sha1(np.ascontiguousarray(pixels).tobytes()).hexdigest()


def options_key(options: dict[str, Any]) -> tuple:
    """Options as a key (each value by its ``repr``)."""
    return tuple(sorted((name, repr(value)) for name, value in options.items()))


@st.cache_data(show_spinner=False, max_entries=256)
def cached_explanation(arch: str, variant: str, pair: np.ndarray, method: str, same_target: bool,
                       options: dict) -> PairExplanation:
    """``explain_pair`` of a (source, shifted) pair, cached on the pair's pixels and every option: a quick one."""
    return explain_pair(cached_model(arch, variant), pair, method, same_target, **options)


def _explain(job: Job, loaded: LoadedModel, pair: np.ndarray, method: str, same_target: bool, options: dict,
             resume: Any) -> PairExplanation:
    """A job's ``explain_pair``, its pace recorded. WCAM reports its perturbed images to the job, out of the
    passes expected here (``wcam_cost``) until it has decided to refine further: the time left counts the
    refinements to come."""
    controls = {}
    if "progress" in get_method(method).run_controls:
        expected = wcam_cost(loaded.arch, loaded.variant, options, resume).expected_passes
        controls = {"progress": lambda done, total: job.report(done, max(total, expected)), "resume": resume}
    started = time.monotonic()
    result = explain_pair(loaded, pair, method, same_target, **options, **controls)
    seconds = time.monotonic() - started
    if controls:
        record_wcam(pace_book(), loaded, len(pair), options, job.progress[0], seconds, resume is not None)
    else:
        record_maps(pace_book(), loaded, method, options, len(pair), seconds)
    return result


def quick_or_queued(key: tuple, seconds: Callable[[], float], quick: Callable[[], T], work: Callable[[Job], T],
                    label: str, unit: str = "done") -> T:
    """``quick()`` when the work is estimated at ``QUICK_SECONDS`` or less here now (``seconds()``), else
    ``work(job)``'s result, from the job queue under ``key`` (once for every session; its place in line, progress
    and time left drawn by ``feedback.follow``)."""
    queue = job_queue()
    if (job := queue.find(key)) is None:
        estimate = seconds()
        if estimate <= QUICK_SECONDS:
            return quick()
        job = queue.submit(key, work, label, estimate)
    return follow(queue, job, unit)


def _explanation_key(arch: str, variant: str, pair: np.ndarray, method: str, same_target: bool,
                     options: dict) -> tuple:
    return "explanation", arch, variant, content_key(pair), method, same_target, options_key(options)


def explanation(arch: str, variant: str, pair: np.ndarray, method: str, same_target: bool, options: dict,
                resume: Any = None) -> PairExplanation:
    """``explain_pair`` of a (source, shifted) pair, once per pixels and options for every session: at once when
    quick here, else in the job queue (``quick_or_queued``). ``resume``, an earlier WCAM of the pair that a
    refinement reuses, is not part of the key."""
    def quick() -> PairExplanation:
        return cached_explanation(arch, variant, pair, method, same_target, options)

    if not get_method(method).many_passes:
        return quick()
    loaded = cached_model(arch, variant)
    return quick_or_queued(_explanation_key(arch, variant, pair, method, same_target, options),
                           lambda: explanation_seconds(arch, variant, method, options, resume), quick,
                           lambda job: _explain(job, loaded, pair, method, same_target, options, resume),
                           text.METHOD_TITLES.get(method, method), "perturbed images" if method == "wcam" else "done")


def explanation_ready(arch: str, variant: str, pair: np.ndarray, method: str, same_target: bool,
                      options: dict) -> bool:
    """Whether the job queue holds ``explanation``'s finished result for these arguments (another session asked
    for it): a page then shows it without asking first."""
    return is_kept(_explanation_key(arch, variant, pair, method, same_target, options))


def explanation_seconds(arch: str, variant: str, method: str, options: dict, resume: Any = None) -> float:
    """Seconds ``method``'s maps of a pair take here now, as a job would run them (a refinement: the designs it
    adds to ``resume``'s)."""
    if method == "wcam":
        return wcam_cost(arch, variant, options, resume).seconds
    loaded = cached_model(arch, variant)
    return as_a_job_runs(lambda: map_seconds(pace_book(), loaded, method, options, 2))


def wcam_cost(arch: str, variant: str, options: dict, resume: Any = None) -> WCAMEstimate:
    """What a WCAM of a (source, shifted) pair will cost on this model here now, said before it runs; a
    refinement of ``resume`` (an earlier run of the pair) is priced for the design points it adds."""
    done = int(resume.extras.nb_design.max()) if resume is not None else 0
    loaded = cached_model(arch, variant)
    return as_a_job_runs(lambda: wcam_estimate(pace_book(), loaded, 2, options, done))


def slow_method_warning(arch: str, variant: str, method: str, images: int = 2) -> str | None:
    """What to say before ``method`` runs on ``images`` images of this model when it will take more than
    ``QUICK_SECONDS`` here now, or None (nothing is timed for a method that runs the model once or twice)."""
    if not get_method(method).many_passes:
        return None
    loaded = cached_model(arch, variant)
    options = method_options(method, loaded.input_size)
    return slow_warning(method, as_a_job_runs(lambda: map_seconds(pace_book(), loaded, method, options, images)))


@st.cache_data(show_spinner=False, max_entries=128)
def _maps(arch: str, variant: str, images: np.ndarray, method: str, target: int | None,
          options: dict) -> np.ndarray:
    return attribute(cached_model(arch, variant), images, method, target=target, **options).maps


def cached_maps(arch: str, variant: str, images: np.ndarray, method: str, target: int | None,
                options: dict) -> np.ndarray:
    """Attribution maps (N×H×W) of model-sized ``images`` for ``target`` (None: each image's predicted class): at
    once when quick here, else in the job queue (``quick_or_queued``)."""
    def quick() -> np.ndarray:
        return _maps(arch, variant, images, method, target, options)

    def work(job: Job) -> np.ndarray:
        started = time.monotonic()
        maps = attribute(loaded, images, method, target=target, **options).maps
        record_maps(pace_book(), loaded, method, options, len(images), time.monotonic() - started)
        return maps

    if not get_method(method).many_passes:
        return quick()
    loaded = cached_model(arch, variant)
    return quick_or_queued(("maps", arch, variant, content_key(images), method, target, options_key(options)),
                           lambda: as_a_job_runs(lambda: map_seconds(pace_book(), loaded, method, options,
                                                                     len(images))),
                           quick, work, text.METHOD_TITLES.get(method, method))


def is_kept(key: tuple) -> bool:
    """Whether the job queue holds the finished result of ``key`` (a page then shows it at once)."""
    job = job_queue().find(key)
    return job is not None and job.state == DONE


def keep(key: tuple, label: str, compute: Callable[[Callable[[int, int], None]], T]) -> T:
    """``compute(progress)``'s result, computed once for ``key`` in the job queue (its place in line, progress
    and time left drawn) and kept for every session."""
    queue = job_queue()
    return follow(queue, queue.submit(key, lambda job: compute(job.report), label))


def trust_measures(arch: str, variant: str, dataset: str, shift: str, severity: int, seed: int,
                   methods: tuple[str, ...], count: int, baseline: str, source: np.ndarray,
                   shifted: np.ndarray) -> TrustReport:
    """The Trust page's report on ``source`` and ``shifted``, the ``count`` images of ``dataset`` the page took
    (``trust.trust_images``, which the other arguments determine), in the job queue, kept for every session
    (key: ``"trust"`` and every argument but the images)."""
    loaded = cached_model(arch, variant)
    options = {method: method_options(method, loaded.input_size) for method in methods}
    return keep(("trust", arch, variant, dataset, shift, severity, seed, methods, count, baseline),
                "Methods × conditions measured",
                lambda report: trust_report(loaded, source, shifted, methods, TrustSettings(baseline=baseline),
                                            options, report))


def sanity_check(arch: str, variant: str, dataset: str, images: np.ndarray, method: str,
                 target: np.ndarray) -> RandomisationCheck:
    """The randomisation cascade of ``method`` on model-sized ``images`` (the first of ``dataset``'s trust set) for
    ``target``, in the job queue, kept for every session (key: ``"sanity"``, model, dataset and method)."""
    loaded = cached_model(arch, variant)
    options = method_options(method, loaded.input_size)
    return keep(("sanity", arch, variant, dataset, method), f"The randomisation check of {method}",
                lambda report: randomisation_check(loaded, images, method, target, **options))


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


#: a part of the OOD page's figures computed here: ("logits", variant, None) the in-distribution predictions,
#: ("logits", variant, ood_set) the OOD images', ("drift", variant, method) a method's drift on the first images
OodPart = tuple[str, str, str | None]


def _ood_part(arch: str, dataset: str, ood_set: str, seed: int, same_target: bool, first: int,
              part: OodPart) -> None:
    """Compute one part into the caches the page reads (``cached_logits``, ``cached_set_drift``'s chunks)."""
    kind, variant, what = part
    if kind == "logits":
        cached_logits(arch, variant, dataset, *((what, OOD_SEVERITY, seed) if what else ()))
        return
    for start in range(0, first, SET_CHUNK):
        _set_drift_chunk(arch, variant, dataset, ood_set, OOD_SEVERITY, seed, what, start, same_target)


def _ood_seconds(arch: str, variant: str, dataset: str, first: int, parts: list[OodPart]) -> float:
    """Seconds the parts take here now, as a job runs them: every variant priced at the view's model's pace."""
    loaded = cached_model(arch, variant)
    images = len(evaluation_images(dataset, loaded.input_size))

    def seconds() -> float:
        book = pace_book()
        return sum(forward_seconds(book, loaded, images) if kind == "logits" else
                   map_seconds(book, loaded, what, method_options(what, loaded.input_size), 2 * first)
                   for kind, _, what in parts)

    return as_a_job_runs(seconds)


def ood_figures(arch: str, variant: str, dataset: str, ood_set: str, seed: int, same_target: bool, first: int,
                parts: list[OodPart]) -> None:
    """Compute the ``parts`` of the OOD page's figures for ``ood_set`` that no store holds (the drift on the
    first ``first`` images), once for every session: at once when quick here, else in the job queue, its
    estimate said before it starts; the page then reads them from the caches."""
    def run(report: Callable[[int, int], None]) -> None:
        for done, part in enumerate(parts):
            report(done, len(parts))
            _ood_part(arch, dataset, ood_set, seed, same_target, first, part)

    quick_or_queued(("ood", arch, dataset, ood_set, seed, same_target, first, tuple(parts)),
                    lambda: _ood_seconds(arch, variant, dataset, first, parts), lambda: run(lambda *_: None),
                    lambda job: run(job.report), f"The figures of {ood_set}", "parts")
